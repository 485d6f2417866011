# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import templates
from ansible_collections.linuxvps.partitions.plugins.module_utils.builders import Builder, DebootstrapBuilder
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, Conflict, InvalidOption, NotFound
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


def test_no_symlink_in_a_tarball_tree_reaches_the_host(tmp_path):
    """A planted etc/ssh -> host directory, or etc -> host /etc, must not make hygiene delete or truncate there."""
    host = tmp_path / "host"
    (host / "ssh").mkdir(parents=True)
    (host / "ssh" / "ssh_host_rsa_key").write_text("host key")
    (host / "machine-id").write_text("host id\n")
    one = tmp_path / "one"
    (one / "etc").mkdir(parents=True)
    os.symlink(str(host / "ssh"), str(one / "etc" / "ssh"))
    os.symlink(str(host / "machine-id"), str(one / "etc" / "machine-id"))
    templates.first_boot_hygiene(str(one))
    two = tmp_path / "two"
    two.mkdir()
    os.symlink(str(host), str(two / "etc"))
    templates.first_boot_hygiene(str(two))
    assert (host / "ssh" / "ssh_host_rsa_key").read_text() == "host key"
    assert (host / "machine-id").read_text() == "host id\n"


def test_dbus_machine_id(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "machine-id").write_text("abc\n")
    dbus = tmp_path / "var" / "lib" / "dbus"
    dbus.mkdir(parents=True)
    (dbus / "machine-id").write_text("abc\n")
    templates.first_boot_hygiene(str(tmp_path))
    assert not os.path.lexists(str(dbus / "machine-id"))
    assert (tmp_path / "etc" / "machine-id").read_text() == ""
    os.symlink("/etc/machine-id", str(dbus / "machine-id"))  # Debian's own link follows the emptied file
    templates.first_boot_hygiene(str(tmp_path))
    assert os.readlink(str(dbus / "machine-id")) == "/etc/machine-id"
    os.unlink(str(dbus / "machine-id"))
    os.symlink("/var/lib/stale-id", str(dbus / "machine-id"))
    templates.first_boot_hygiene(str(tmp_path))
    assert not os.path.lexists(str(dbus / "machine-id"))


def test_no_ssh_means_nothing_written(tmp_path):
    (tmp_path / "etc").mkdir()
    templates.first_boot_hygiene(str(tmp_path))
    assert os.listdir(str(tmp_path / "etc")) == []


def test_symlink_loops_resolve_to_nothing(tmp_path):
    (tmp_path / "sbin").mkdir()
    os.symlink("init", str(tmp_path / "sbin" / "init"))
    assert templates.resolve_inside(str(tmp_path), "/sbin/init") is None
    assert templates.init_path(str(tmp_path)) is None
    (tmp_path / "etc").mkdir()
    os.symlink("os-release", str(tmp_path / "etc" / "os-release"))
    assert templates.read_os_release(str(tmp_path)) == {}


def test_arch_from_the_tree(tmp_path):
    status = tmp_path / "var" / "lib" / "dpkg"
    status.mkdir(parents=True)
    (status / "status").write_text("Package: base-files\nArchitecture: arm64\n\nPackage: dpkg\nStatus: install ok installed\n"
                                   "Architecture: arm64\n\n")
    assert templates.tree_arch(str(tmp_path)) == "arm64"
    alpine = tmp_path / "alpine"
    (alpine / "etc" / "apk").mkdir(parents=True)
    (alpine / "etc" / "apk" / "arch").write_text("aarch64\n")
    assert templates.tree_arch(str(alpine)) == "aarch64"
    assert templates.tree_arch(str(tmp_path / "nothing")) is None


def fake_debootstrap(commands):
    """A run_command (AnsibleModule style) that 'runs' debootstrap by writing a tiny Debian tree."""

    def run_command(cmd):
        commands.append(cmd)
        target = cmd[-2]
        FakeBuilder().build(target)
        os.makedirs(os.path.join(target, "var/lib/dpkg"))
        with open(os.path.join(target, "var/lib/dpkg/status"), "w") as handle:
            handle.write("Package: dpkg\nArchitecture: amd64\n")
        return 0, "I: Base system installed successfully.", ""
    return run_command


def test_converge_runs_the_builder_with_the_injected_run_command(tmp_path, monkeypatch):
    monkeypatch.setattr(DebootstrapBuilder, "check_installed", lambda self: None)
    commands = []
    ts = templates.TemplateStore(StateStore(str(tmp_path / "state")), run_command=fake_debootstrap(commands))
    params = {"name": "debian12", "method": "debootstrap", "release": "bookworm", "variant": "minbase",
              "mirror": "http://deb.debian.org/debian", "packages": ["systemd-sysv", "dbus", "iproute2"]}
    changed, manifest, warnings, diff = ts.converge(params)
    assert changed and not warnings
    assert len(commands) == 1 and commands[0][:3] == ["debootstrap", "--variant=minbase", "--include=dbus,iproute2,systemd-sysv"]
    assert commands[0][-3] == "bookworm" and commands[0][-1] == "http://deb.debian.org/debian"
    assert os.path.basename(os.path.dirname(commands[0][-2])).startswith(".build-debian12-")
    assert manifest["arch"] == "amd64" and manifest["mirror"] == "http://deb.debian.org/debian"
    assert manifest["variant"] == "minbase" and manifest["packages"] == ["dbus", "iproute2", "systemd-sysv"]
    assert manifest["distro"] == "debian" and manifest["release"] == "12" and manifest["size_bytes"] >= 0
    assert diff["before"] == {"state": "absent"} and diff["after"]["state"] == "present"
    assert ts.exists("debian12") and ts.get("debian12") == (ts.root("debian12"), manifest)
    assert ts.converge(params)[0] is False and len(commands) == 1
    changed, _m, warnings, _d = ts.converge(dict(params, packages=["openssh-server"]))
    assert not changed and len(commands) == 1 and "packages" in warnings[0] and "force: true" in warnings[0]
    changed, manifest2, _w, _d = ts.converge(dict(params, packages=["openssh-server"], force=True))
    assert changed and len(commands) == 2 and manifest2["packages"] == ["openssh-server"]
    assert os.listdir(ts.store.rootfs_base) == ["debian12"]


def test_check_mode_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(DebootstrapBuilder, "check_installed", lambda self: None)
    commands = []
    ts = templates.TemplateStore(StateStore(str(tmp_path / "state")), run_command=fake_debootstrap(commands))
    params = {"name": "debian12", "release": "bookworm"}
    changed, after, _w, diff = ts.converge(params, check_mode=True)
    assert changed and after["release"] == "bookworm" and diff["after"]["state"] == "present"
    assert commands == [] and not os.path.exists(ts.store.root)
    ts.converge(params)
    before = sorted(os.listdir(ts.store.rootfs_base))
    assert ts.converge(dict(params, force=True), check_mode=True)[0] is True
    assert ts.converge({"name": "debian12", "state": "absent"}, check_mode=True)[0] is True
    assert len(commands) == 1 and sorted(os.listdir(ts.store.rootfs_base)) == before and ts.exists("debian12")


def test_a_missing_template(tmp_path):
    ts = store(tmp_path)
    assert not ts.exists("nope") and ts.manifest("nope") is None
    with pytest.raises(NotFound):
        ts.get("nope")
    assert ts.converge({"name": "nope", "state": "absent"})[0] is False
    assert not os.path.exists(ts.store.root)  # removing what is not there makes no state directory


def test_any_run_sweeps_garbage_of_killed_runs(tmp_path, monkeypatch):
    ts = store(tmp_path)
    monkeypatch.setattr(templates, "make_builder", lambda params: FakeBuilder())
    monkeypatch.setattr(FakeBuilder, "check_installed", lambda self: None)
    ts.converge({"name": "debian12"})
    os.makedirs(os.path.join(ts.store.rootfs_base, ".build-other-abc/rootfs"))
    os.makedirs(os.path.join(ts.store.rootfs_dir("debian12"), ".shifting-100000-x/tree"))
    assert ts.converge({"name": "debian12"}, check_mode=True)[0] is False
    assert ".build-other-abc" in os.listdir(ts.store.rootfs_base)  # check mode changes nothing
    assert ts.converge({"name": "debian12"})[0] is False
    assert os.listdir(ts.store.rootfs_base) == ["debian12"]
    assert sorted(os.listdir(ts.store.rootfs_dir("debian12"))) == ["manifest.json", "rootfs"]


def test_an_exception_in_the_builder_leaves_nothing(tmp_path):
    class Exploding(FakeBuilder):
        def build(self, target, run_command=None, attempts=None, backoff=None):
            FakeBuilder.build(self, target)
            raise KeyboardInterrupt()

    ts = store(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        ts.build("debian12", Exploding())
    assert os.listdir(ts.store.rootfs_base) == []
