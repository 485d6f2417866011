# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import templates
from ansible_collections.linuxvps.partitions.plugins.module_utils.builders import Builder
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, Conflict, InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore


class FakeBuilder(Builder):
    """Writes a small tree, or fails halfway."""

    method = "fake"
    program = "sh"

    def __init__(self, fail=False, version="1"):
        self.fail = fail
        self.version = version

    def options(self):
        return {"method": "fake", "version": self.version}

    def build(self, target, run_command=None, attempts=None, backoff=None):
        os.makedirs(os.path.join(target, "etc/ssh"))
        os.makedirs(os.path.join(target, "usr/lib/systemd/system"))
        os.makedirs(os.path.join(target, "usr/sbin"))
        os.symlink("usr/sbin", os.path.join(target, "sbin"))
        os.symlink("/lib/systemd/systemd", os.path.join(target, "usr/sbin/init"))
        os.symlink("usr/lib", os.path.join(target, "lib"))
        open(os.path.join(target, "usr/lib/systemd/systemd"), "w").close()
        open(os.path.join(target, "usr/lib/systemd/system/ssh.service"), "w").close()
        with open(os.path.join(target, "etc/os-release"), "w") as handle:
            handle.write('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
        with open(os.path.join(target, "etc/machine-id"), "w") as handle:
            handle.write("abc\n")
        open(os.path.join(target, "etc/ssh/ssh_host_rsa_key"), "w").close()
        if self.fail:
            raise BuildError("fake failure")


def store(tmp_path):
    return templates.TemplateStore(StateStore(str(tmp_path / "state")))


def test_build_manifest_and_hygiene(tmp_path):
    ts = store(tmp_path)
    manifest = ts.build("debian12", FakeBuilder())
    assert manifest["distro"] == "debian" and manifest["release"] == "12" and manifest["codename"] == "bookworm"
    assert manifest["init"] == "/usr/lib/systemd/systemd"
    assert manifest["method"] == "fake" and manifest["source"] == templates.source_digest({"method": "fake", "version": "1"})
    root = ts.root("debian12")
    assert os.path.getsize(os.path.join(root, "etc/machine-id")) == 0
    assert os.listdir(os.path.join(root, "etc/ssh")) == []
    assert "ssh-keygen -A" in open(os.path.join(root, "etc/systemd/system/ssh.service.d/linuxvps-host-keys.conf")).read()
    assert ts.manifest("debian12") == manifest


def test_failed_build_leaves_nothing_and_keeps_the_old_template(tmp_path):
    ts = store(tmp_path)
    with pytest.raises(BuildError):
        ts.build("debian12", FakeBuilder(fail=True))
    assert os.listdir(ts.store.rootfs_base) == []
    first = ts.build("debian12", FakeBuilder())
    with pytest.raises(BuildError):
        ts.build("debian12", FakeBuilder(fail=True, version="2"))
    assert ts.manifest("debian12") == first
    assert os.listdir(ts.store.rootfs_base) == ["debian12"]


def test_garbage_of_killed_runs_is_swept(tmp_path):
    ts = store(tmp_path)
    ts.store.ensure_layout()
    os.makedirs(os.path.join(ts.store.rootfs_base, ".build-debian12-x/rootfs/etc"))
    os.makedirs(os.path.join(ts.store.rootfs_base, ".trash-debian12-y/old"))
    ts.build("debian12", FakeBuilder())
    assert os.listdir(ts.store.rootfs_base) == ["debian12"]


def test_converge_idempotence_warning_and_in_use(tmp_path, monkeypatch):
    ts = store(tmp_path)
    monkeypatch.setattr(templates, "make_builder", lambda params: FakeBuilder(version=params.get("version", "1")))
    monkeypatch.setattr(FakeBuilder, "check_installed", lambda self: None)
    params = {"name": "debian12", "state": "present"}
    changed, manifest, warnings, diff = ts.converge(params, check_mode=True)
    assert changed and diff["before"] == {"state": "absent"} and not os.path.exists(ts.store.root)
    assert ts.converge(params)[0] is True
    assert ts.converge(params)[0] is False
    changed, _m, warnings, _d = ts.converge(dict(params, version="2"))
    assert not changed and "force: true" in warnings[0]
    os.makedirs(ts.store.partition_dir("web1"))
    with open(ts.store.partition_document("web1"), "w") as handle:
        json.dump({"name": "web1", "spec": {"rootfs": "debian12"}}, handle)
    with pytest.raises(Conflict) as info:
        ts.converge({"name": "debian12", "state": "absent"})
    assert "web1" in info.value.msg
    with pytest.raises(Conflict):
        ts.converge(dict(params, force=True))
    os.unlink(ts.store.partition_document("web1"))
    assert ts.converge({"name": "debian12", "state": "absent"})[0] is True
    assert ts.converge({"name": "debian12", "state": "absent"})[0] is False


@pytest.mark.parametrize("name", ["../x", "A B", "", "a..b", "-x"])
def test_bad_template_names(name):
    with pytest.raises(InvalidOption):
        templates.validate_template_name(name)


def test_resolve_inside_stays_in_the_tree(tmp_path):
    (tmp_path / "sbin").mkdir()
    os.symlink("/../../../etc/passwd", str(tmp_path / "sbin" / "init"))
    assert templates.resolve_inside(str(tmp_path), "/sbin/init") == str(tmp_path / "etc" / "passwd")
