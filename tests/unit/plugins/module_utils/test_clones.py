# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""clone_from: refusals naming the option, the plan, the copy staged outside the host lock and moved in under it,
the fresh identity of the copy, and the sweep of what a killed clone left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import clones
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import plan_partition
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import make_spec
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.test_plan import observed


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


class FakeStaging:
    """What clones.stage returns, recording what happened to it (and whether the host lock was free meanwhile)."""

    def __init__(self, engine, source, spec, base):
        self.engine, self.source, self.spec, self.base = engine, source, spec, base
        self.lock_free = _host_lock_free(engine)
        self.adopted = self.released = False

    def refuse_unfit(self, source, spec, base):
        if (source, base) != (self.source, self.base):
            raise PartitionError("unfit")

    def adopt(self, disk):
        os.makedirs(os.path.join(disk.dir, "upper", "root"))
        with open(os.path.join(disk.dir, "upper", "root", "copied"), "w") as handle:
            handle.write(self.source)
        self.adopted = True

    def release(self):
        self.released = True


def _host_lock_free(engine):
    fd = os.open(os.path.join(engine.store.root, "lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        assert exc.errno in (errno.EAGAIN, errno.EACCES)
        return False
    finally:
        os.close(fd)


@pytest.fixture
def staged(monkeypatch):
    made = []

    def stage(engine, source, spec, base):
        made.append(FakeStaging(engine, source, spec, base))
        return made[-1]

    monkeypatch.setattr(clones, "stage", stage)
    return made


def make(engine, name="web1", **params):
    return Converger(engine).converge(dict({"name": name, "rootfs": "debian12", "command": ["sleep", "1d"]}, **params))


# ---- the plan -----------------------------------------------------------------------------------------------------
def test_a_new_clone_copies_its_files_before_its_document_is_written():
    plan = plan_partition("started", make_spec(name="web2"), observed(), clone_from="web1")
    assert plan.actions == ["clone", "record", "start"]
    assert plan.cloned_from == "web1" and plan.after["cloned_from"] == "web1" and plan.before == {"state": "absent"}


def test_clone_from_on_an_existing_partition_changes_nothing_and_says_so_unless_it_is_its_source():
    spec = make_spec(name="web2")
    plan = plan_partition("started", spec, observed("running", spec), clone_from="web1")
    assert plan.actions == [] and plan.cloned_from is None
    assert [w for w in plan.warnings if "clone_from (web1) acts only when a partition is created" in w]
    obs = observed("running", spec)
    obs["document"]["cloned_from"] = "web1"
    assert plan_partition("started", spec, obs, clone_from="web1").warnings == []


# ---- refusals: named, before anything changes ------------------------------------------------------------------------
@pytest.mark.parametrize("params, words", [
    ({"clone_from": "nosuch"}, "no such partition"),
    ({"clone_from": "web2"}, "names the partition itself"),
    ({"clone_from": "web1", "rootfs": "debian12-alt"}, "rootfs debian12"),
    ({"clone_from": "web1", "storage": "copy"}, "storage overlay"),
    ({"clone_from": "Bad_Name"}, "DNS label"),
])
def test_bad_clone_from_is_refused_naming_the_option_before_anything_changes(engine, staged, params, words):
    make(engine)
    before = sorted(os.listdir(engine.store.partitions_base))
    with pytest.raises(InvalidOption) as caught:
        make(engine, "web2", **dict({"rootfs": None}, **params))
    assert "clone_from" in caught.value.msg and words in caught.value.msg
    assert sorted(os.listdir(engine.store.partitions_base)) == before and not staged


def test_rootfs_and_storage_default_to_the_sources():
    class Store:
        root = "/state"

        @staticmethod
        def load_partition(name):
            return {"spec": {"rootfs": "alpine", "storage": "copy"}} if name == "web1" else None

    params = clones.clone_params({"name": "web2", "clone_from": "web1", "rootfs": None, "storage": None}, Store)
    assert (params["rootfs"], params["storage"]) == ("alpine", "copy")


# ---- converge: staged without the lock, moved in under it -------------------------------------------------------------
def test_the_copy_is_made_without_the_host_lock_and_moved_in_before_the_document(engine, staged):
    make(engine, state="started")
    plan, report = make(engine, "web2", clone_from="web1", rootfs=None, tenant="acme")
    assert plan.actions == ["clone", "record", "start"]
    (staging,) = staged
    assert staging.lock_free and staging.adopted and staging.released
    assert (staging.source, staging.spec["name"]) == ("web1", "web2")
    assert staging.base == engine.id_ranges.lookup(engine.tenant_key(plan.spec))  # the clone's range, taken before the copy
    document = engine.store.load_partition("web2")
    assert document["cloned_from"] == "web1" and report["cloned_from"] == "web1" and report["state"] == "running"
    with open(os.path.join(engine.store.partition_dir("web2"), "upper", "root", "copied")) as handle:
        assert handle.read() == "web1"


def test_a_second_run_changes_nothing_and_copies_nothing(engine, staged):
    make(engine)
    make(engine, "web2", clone_from="web1", rootfs=None)
    plan, report = make(engine, "web2", clone_from="web1", rootfs=None)
    assert plan.actions == [] and not plan.changed and len(staged) == 1 and report["cloned_from"] == "web1"


def test_a_new_disk_forgets_the_clones_source(engine, staged):
    make(engine)
    make(engine, "web2", clone_from="web1", rootfs=None)
    plan, report = make(engine, "web2", tenant="acme", recreate="options-changed")
    assert "reset_disk" in plan.actions and report["cloned_from"] is None
    assert "cloned_from" not in engine.store.load_partition("web2")


def test_check_mode_copies_nothing_and_says_what_it_would_clone(engine, staged):
    make(engine)
    plan, report = Converger(engine.checking()).converge({"name": "web2", "clone_from": "web1", "command": ["sleep", "1d"]})
    assert plan.actions == ["clone", "record", "start"] and plan.diff()["after"]["cloned_from"] == "web1"
    assert report["cloned_from"] == "web1" and not staged and engine.store.load_partition("web2") is None


def test_a_failed_copy_fails_its_item_only_in_the_list_form(engine, monkeypatch):
    make(engine)

    def stage(engine, source, spec, base):
        raise PartitionError("partition %s: %s is busy" % (spec["name"], source))

    monkeypatch.setattr(clones, "stage", stage)
    outcomes = Converger(engine).converge_many([
        {"name": "web2", "clone_from": "web1", "command": ["sleep", "1d"]},
        {"name": "web3", "rootfs": "debian12", "command": ["sleep", "1d"]},
    ])
    assert outcomes[0].failed and outcomes[0].error.msg.startswith("partitions[0] (web2): partition web2: web1 is busy")
    assert not outcomes[1].failed and engine.store.load_partition("web3") is not None
    assert engine.store.load_partition("web2") is None


# ---- the staging directory ------------------------------------------------------------------------------------------
class Store:
    def __init__(self, root):
        self.root = root


def test_a_staging_directory_is_held_by_its_run_and_swept_once_no_run_holds_it(tmp_path):
    store = Store(str(tmp_path))
    held = clones.CloneStaging(store, "web2")
    held.claim()
    os.makedirs(os.path.join(held.dir, "upper", "etc"))
    with pytest.raises(PartitionError, match="another run is making it"):
        clones.CloneStaging(store, "web2").claim()
    killed = clones.CloneStaging(store, "web3")
    killed.claim()
    os.makedirs(os.path.join(killed.dir, "upper.partial"))
    os.close(killed._fd)  # the run was killed: its lock went with it  # pylint: disable=protected-access
    clones.sweep(store)
    assert os.path.isdir(held.dir) and not os.path.exists(killed.dir)
    held.release()
    assert os.listdir(held.base) == []  # no staging directory, no lock file


def test_adopt_moves_the_own_files_into_the_partition_directory(tmp_path):
    store = Store(str(tmp_path))
    staging = clones.CloneStaging(store, "web2")
    staging.claim()
    os.makedirs(os.path.join(staging.dir, "upper", "srv"))

    class Disk:
        dir = str(tmp_path / "partitions" / "web2")

    staging.adopt(Disk)
    assert os.path.isdir(os.path.join(Disk.dir, "upper", "srv"))
    staging.release()
    assert not os.path.exists(staging.dir)


def test_refuse_unfit_names_what_changed(tmp_path):
    staging = clones.CloneStaging(Store(str(tmp_path)), "web2")
    spec = make_spec(name="web2")
    staging.source, staging.fits = "web1", ("overlay", (False, None), 1065536)
    staging.refuse_unfit("web1", spec, 1065536)
    with pytest.raises(PartitionError, match="run again"):
        staging.refuse_unfit("web1", spec, 2000000)


# ---- the fresh identity -----------------------------------------------------------------------------------------------
def test_the_copy_loses_machine_id_dbus_id_and_ssh_host_keys_and_keeps_the_rest(tmp_path):
    tree = str(tmp_path / "upper")
    for directory in ("etc/ssh", "var/lib/dbus", "root"):
        os.makedirs(os.path.join(tree, directory))
    files = {"etc/machine-id": "0123456789abcdef0123456789abcdef\n", "var/lib/dbus/machine-id": "0123\n",
             "etc/ssh/ssh_host_ed25519_key": "secret", "etc/ssh/ssh_host_ed25519_key.pub": "pub",
             "etc/ssh/sshd_config": "Port 22\n", "root/data": "kept"}
    for path, content in files.items():
        with open(os.path.join(tree, path), "w") as handle:
            handle.write(content)
    clones.fresh_identity(tree, None)
    assert os.path.getsize(os.path.join(tree, "etc/machine-id")) == 0
    assert sorted(os.listdir(os.path.join(tree, "etc/ssh"))) == ["sshd_config"]
    assert not os.path.lexists(os.path.join(tree, "var/lib/dbus/machine-id"))
    with open(os.path.join(tree, "root/data")) as handle:
        assert handle.read() == "kept"


def test_a_machine_id_link_is_removed_never_followed(tmp_path):
    tree = str(tmp_path / "upper")
    os.makedirs(os.path.join(tree, "etc"))
    outside = tmp_path / "host-machine-id"
    outside.write_text(u"host\n")
    os.symlink(str(outside), os.path.join(tree, "etc", "machine-id"))
    clones.fresh_identity(tree, None)
    assert not os.path.lexists(os.path.join(tree, "etc", "machine-id")) and outside.read_text() == u"host\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_what_the_hygiene_writes_into_a_clone_belongs_to_its_root(tmp_path):
    tree = str(tmp_path / "upper")
    os.makedirs(os.path.join(tree, "usr/lib/systemd/system"))
    open(os.path.join(tree, "usr/lib/systemd/system/ssh.service"), "w").close()
    clones.fresh_identity(tree, 1065536)
    for path in ("etc", "etc/systemd", "etc/systemd/system", "etc/systemd/system/ssh.service.d",
                 "etc/systemd/system/ssh.service.d/linuxvps-host-keys.conf"):
        st = os.lstat(os.path.join(tree, path))
        assert (st.st_uid, st.st_gid) == (1065536, 1065536), path
