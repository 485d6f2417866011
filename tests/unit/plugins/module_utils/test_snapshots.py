# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""snapshots.py on fake collaborators (real files, real cp): take while frozen, roll back with a restart, delete; bad
input refused naming the option with nothing changed; a killed restore finished by the next call; a partition's
removal names its snapshots."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import snapshots
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import PartitionBusy, interrupted_replacement
from ansible_collections.linuxvps.partitions.plugins.module_utils.snapshots import SnapshotManager, list_snapshots
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def partition(engine, name="web1", **params):
    Converger(engine).converge(dict({"name": name, "rootfs": "debian12"}, **params))
    del engine.log[:]
    return engine.disk({"name": name}).upper


def snapshot(engine, name="before", state="present", partition_name="web1"):
    return SnapshotManager(engine).converge({"partition": partition_name, "name": name, "state": state})


def write(root, relative, text):
    path = os.path.join(root, relative)
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write(text)


def read(root, relative):
    path = os.path.join(root, relative)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


@pytest.mark.parametrize("bad", ["", "a/b", "..", "a..b", ".hidden", "-x", "x" * 65, None, "sp ace", "new\nline"])
def test_a_bad_snapshot_name_is_refused_naming_the_option(engine, bad):
    partition(engine)
    with pytest.raises(InvalidOption) as caught:
        snapshot(engine, bad)
    assert caught.value.option == "name" and caught.value.value == bad
    assert engine.log == [] and list_snapshots(engine.store.partition_dir("web1")) == []


def test_an_unknown_partition_or_state_is_refused_naming_the_option(engine):
    with pytest.raises(InvalidOption, match="option partition: invalid value 'nope': no such partition"):
        snapshot(engine, partition_name="nope")
    partition(engine)
    with pytest.raises(InvalidOption, match="option state"):
        snapshot(engine, state="taken")


def test_present_copies_the_running_partition_frozen_and_is_ok_the_second_time(engine):
    root = partition(engine)
    write(root, "etc/app.conf", "v1\n")
    checked = SnapshotManager(engine.checking()).converge({"partition": "web1", "name": "before", "state": "present"})
    assert checked[0] is True and checked[1]["snapshot"] == {"name": "before", "created": None, "size": None, "state": "present"}
    assert engine.log == [] and list_snapshots(engine.store.partition_dir("web1")) == []

    changed, result, warnings, diff = snapshot(engine)
    assert changed and warnings == [] and engine.log == [("pause", "web1"), ("resume", "web1")]
    assert [entry["name"] for entry in result["snapshots"]] == ["before"] and result["snapshot"]["state"] == "present"
    assert result["snapshot"]["created"] and result["snapshot"]["size"] > 0
    assert diff["before"] == {"snapshots": []} and diff["after"] == {"snapshots": ["before"]}
    copy = os.path.join(engine.store.partition_dir("web1"), "snapshots", "before", "files")
    assert read(copy, "etc/app.conf") == "v1\n"
    assert engine.runtime.state("web1")["status"] == "running"

    del engine.log[:]
    again = snapshot(engine)
    assert again[0] is False and again[1]["snapshot"] == result["snapshot"] and engine.log == []
    checked = SnapshotManager(engine.checking()).converge({"partition": "web1", "name": "before", "state": "present"})
    assert checked[0] is False


def test_restored_brings_back_what_was_and_drops_what_came_after_restarting_the_partition(engine):
    root = partition(engine)
    write(root, "etc/app.conf", "v1\n")
    snapshot(engine)
    write(root, "etc/app.conf", "v2\n")
    write(root, "var/new", "after\n")
    work = engine.disk({"name": "web1"}).work
    write(work, "index/stale", "x")
    del engine.log[:]

    checked = SnapshotManager(engine.checking()).converge({"partition": "web1", "name": "before", "state": "restored"})
    assert checked[0] is True and read(root, "var/new") == "after\n" and engine.log == []

    changed, result, _warnings, diff = snapshot(engine, state="restored")
    assert changed and diff["after"] == {"snapshots": ["before"], "restored_from": "before"}
    assert read(root, "etc/app.conf") == "v1\n" and read(root, "var/new") is None
    assert os.listdir(work) == []
    assert ("stop", "web1") in engine.log and engine.log[-1] == ("start", "web1")
    assert engine.runtime.state("web1")["status"] == "running"
    assert [entry["name"] for entry in result["snapshots"]] == ["before"]  # kept
    assert interrupted_replacement(engine.store.partition_dir("web1")) is None


def test_a_frozen_partition_comes_back_frozen_and_a_stopped_one_stays_stopped(engine):
    root = partition(engine)
    snapshot(engine)
    engine.runtime.pause("web1")
    write(root, "later", "x")
    snapshot(engine, state="restored")
    assert engine.runtime.state("web1")["status"] == "paused" and read(root, "later") is None
    Converger(engine).converge({"name": "web1", "state": "stopped"})
    write(root, "later", "x")
    del engine.log[:]
    snapshot(engine, state="restored")
    assert engine.runtime.state("web1") is None and read(root, "later") is None
    assert not [entry for entry in engine.log if entry[0] in ("start", "create", "stop")]


def test_an_unknown_snapshot_is_refused_naming_the_option_with_the_host_unchanged(engine):
    root = partition(engine)
    write(root, "data", "mine\n")
    snapshot(engine, "other")
    del engine.log[:]
    refusal = r"option name: invalid value 'before': partition web1 has no snapshot of that name \(it has: other\)"
    with pytest.raises(InvalidOption, match=refusal):
        snapshot(engine, state="restored")
    assert engine.log == [] and read(root, "data") == "mine\n" and engine.runtime.state("web1")["status"] == "running"


def test_a_snapshot_of_another_disk_layout_or_above_the_quota_is_refused(engine):
    partition(engine)
    snapshot(engine)
    path = os.path.join(engine.store.partition_dir("web1"), "snapshots", "before", "snapshot.json")
    document = snapshots.read_json(path)
    snapshots.write_json_atomic(path, dict(document, storage="copy"))
    with pytest.raises(InvalidOption, match="option name.*storage copy; the partition now has storage overlay"):
        snapshot(engine, state="restored")
    snapshots.write_json_atomic(path, dict(document, size=10 << 30))
    document_of_web1 = engine.store.load_partition("web1")
    spec = dict(document_of_web1["spec"], resources=dict(document_of_web1["spec"]["resources"], disk=1 << 30))
    engine.store.save_partition("web1", dict(document_of_web1, spec=spec))
    with pytest.raises(InvalidOption, match="more than the partition's disk quota"):
        snapshot(engine, state="restored")


def test_absent_deletes_it_once(engine):
    partition(engine)
    snapshot(engine)
    snapshot(engine, "second")
    changed, result, _warnings, diff = snapshot(engine, state="absent")
    assert changed and [entry["name"] for entry in result["snapshots"]] == ["second"]
    assert result["snapshot"] == {"name": "before", "created": None, "size": None, "state": "absent"}
    assert not os.path.exists(os.path.join(engine.store.partition_dir("web1"), "snapshots", "before"))
    assert diff["before"] == {"snapshots": ["before", "second"]} and diff["after"] == {"snapshots": ["second"]}
    assert snapshot(engine, state="absent")[0] is False


def test_what_a_killed_take_left_is_swept_and_not_listed(engine):
    partition(engine)
    directory = os.path.join(engine.store.partition_dir("web1"), "snapshots")
    os.makedirs(os.path.join(directory, "before", "files.partial"))
    os.makedirs(os.path.join(directory, ".trash-x", "old"))
    assert list_snapshots(engine.store.partition_dir("web1")) == []
    snapshot(engine)
    assert sorted(os.listdir(directory)) == ["before"]
    assert sorted(os.listdir(os.path.join(directory, "before"))) == ["files", "snapshot.json"]


def test_a_killed_restore_keeps_the_partition_down_and_the_next_call_finishes_it(engine, monkeypatch):
    root = partition(engine)
    write(root, "data", "v1\n")
    snapshot(engine)
    write(root, "data", "v2\n")
    real_copy = snapshots.copy_tree

    def killed(source, destination):
        raise PartitionError("killed")
    monkeypatch.setattr(snapshots, "copy_tree", killed)
    with pytest.raises(PartitionError, match="killed"):
        snapshot(engine, state="restored")
    assert engine.runtime.state("web1") is None  # stopped for the restore; the failure does not start it on half its files
    assert interrupted_replacement(engine.store.partition_dir("web1"))["was"] == "running"
    with pytest.raises(PartitionBusy, match="restore of snapshot before did not finish"):
        Converger(engine).converge({"name": "web1", "state": "started"})
    with pytest.raises(InvalidOption, match="an interrupted restore of partition web1 needs this snapshot"):
        snapshot(engine, state="absent")

    monkeypatch.setattr(snapshots, "copy_tree", real_copy)
    changed, _result, warnings, _diff = snapshot(engine, "second")
    assert changed and warnings == ["partition web1: finished the interrupted restore of snapshot before"]
    assert read(root, "data") == "v1\n" and engine.runtime.state("web1")["status"] == "running"
    assert interrupted_replacement(engine.store.partition_dir("web1")) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_a_restore_after_the_range_changed_shifts_the_owners_to_the_new_one(engine):
    root = partition(engine)
    write(root, "data", "v1\n")
    snapshot(engine)
    base = engine.recorded_id_base(engine.store.load_partition("web1")["spec"])
    old = base + 10 * 65536  # the range the partition had when the snapshot was taken
    directory = os.path.join(engine.store.partition_dir("web1"), "snapshots", "before")
    document = snapshots.read_json(os.path.join(directory, "snapshot.json"))
    snapshots.write_json_atomic(os.path.join(directory, "snapshot.json"), dict(document, id_base=old))
    os.chown(os.path.join(directory, "files"), old, old)
    os.chown(os.path.join(directory, "files", "data"), old + 33, old + 33)
    os.unlink(os.path.join(root, "data"))
    snapshot(engine, state="restored")
    assert read(root, "data") == "v1\n"
    assert (os.stat(root).st_uid, os.stat(os.path.join(root, "data")).st_uid) == (base, base + 33)


def test_removing_the_partition_names_its_snapshots(engine):
    partition(engine)
    snapshot(engine)
    snapshot(engine, "second")
    plan = Converger(engine.checking()).converge({"name": "web1", "state": "absent"})[0]
    assert "partition web1: removing it removes its snapshot(s) before, second" in plan.warnings
    assert plan.diff()["before"]["snapshots"] == ["before", "second"]
    plan = Converger(engine).converge({"name": "web1", "state": "absent"})[0]
    assert "partition web1: removing it removes its snapshot(s) before, second" in plan.warnings
    assert not os.path.exists(engine.store.partition_dir("web1"))
    partition(engine, "web2")
    plan = Converger(engine).converge({"name": "web2", "state": "absent"})[0]
    assert not [warning for warning in plan.warnings if "snapshot" in warning] and "snapshots" not in plan.diff()["before"]


def test_a_snapshot_removed_by_another_run_before_the_restore_locks_is_refused_with_the_files_untouched(engine, monkeypatch):
    root = partition(engine)
    write(root, "data", "v1\n")
    snapshot(engine)
    write(root, "data", "v2\n")
    manager = SnapshotManager(engine)
    real_take = manager._refuse_unrestorable

    def removed_meanwhile(files, name):
        real_take(files, name)
        snapshot(engine, state="absent")  # another run, between the check and the lock
    monkeypatch.setattr(manager, "_refuse_unrestorable", removed_meanwhile)
    with pytest.raises(InvalidOption, match="option name: invalid value 'before'"):
        manager.converge({"partition": "web1", "name": "before", "state": "restored"})
    assert read(root, "data") == "v2\n" and engine.runtime.state("web1")["status"] == "running"
    assert interrupted_replacement(engine.store.partition_dir("web1")) is None
