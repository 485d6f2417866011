# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import templates
from ansible_collections.linuxvps.partitions.plugins.module_utils.builders import Builder, DebootstrapBuilder, TarballBuilder
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, Conflict, InvalidOption, NotFound
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import Mount
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
    assert diff["before_header"] == diff["after_header"] == "rootfs debian12"  # --diff shows which template
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


@pytest.mark.parametrize("name", ["../x", "A B", "", "a..b", "-x", "debian12\n", "/", "../partitions/x/upper"])
def test_bad_template_names(name):
    with pytest.raises(InvalidOption) as caught:
        templates.validate_template_name(name)
    assert caught.value.option == "name"
    with pytest.raises(InvalidOption) as caught:
        templates.validate_template_name(name, "rootfs")
    assert caught.value.option == "rootfs"


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
    assert len(commands) == 1
    assert commands[0][:4] == ["debootstrap", "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg",
                               "--variant=minbase", "--include=dbus,iproute2,systemd-sysv"]
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
    assert sorted(os.listdir(ts.store.rootfs_dir("debian12"))) == [".shift.lock", "manifest.json", "rootfs"]


def test_an_exception_in_the_builder_leaves_nothing(tmp_path):
    class Exploding(FakeBuilder):
        def build(self, target, run_command=None, attempts=None, backoff=None):
            FakeBuilder.build(self, target)
            raise KeyboardInterrupt()

    ts = store(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        ts.build("debian12", Exploding())
    assert os.listdir(ts.store.rootfs_base) == []


@pytest.fixture
def shifting(tmp_path, monkeypatch):
    """A store with one template, whose shifts are logged (as [(tree, base, marker there then)]) instead of chowning."""
    ts = store(tmp_path)
    ts.build("debian12", FakeBuilder())
    ts.shifts = []
    marker = os.path.join(ts.store.rootfs_dir("debian12"), "shifted-100000.complete")
    monkeypatch.setattr(templates, "shift_ownership", lambda tree, base: ts.shifts.append((tree, base, os.path.exists(marker))))
    return ts


def test_a_shifted_copy_is_made_once_and_marked_whole_last(shifting):
    final = shifting.shifted_root("debian12", 100000)
    assert final == os.path.join(shifting.store.rootfs_dir("debian12"), "shifted-100000")
    assert os.path.isfile(os.path.join(final, "etc/os-release")) and os.path.isfile(final + ".complete")
    ((tree, base, marked),) = shifting.shifts
    assert os.path.basename(os.path.dirname(tree)).startswith(".shifting-100000-") and base == 100000 and not marked
    assert shifting.shifted_root("debian12", 100000) == final and len(shifting.shifts) == 1


def test_a_shifted_copy_without_its_marker_is_made_again_not_used(shifting):
    """A kill between the rename and the marker, or a copy from before markers: nothing proves it whole."""
    final = os.path.join(shifting.store.rootfs_dir("debian12"), "shifted-100000")
    os.makedirs(os.path.join(final, "etc"))
    open(os.path.join(final, "half"), "w").close()
    assert shifting.shifted_root("debian12", 100000) == final
    assert not os.path.exists(os.path.join(final, "half")) and os.path.isfile(os.path.join(final, "etc/os-release"))
    assert len(shifting.shifts) == 1 and os.path.isfile(final + ".complete")


def test_an_unmarked_copy_a_running_partition_sits_on_is_kept(shifting, monkeypatch):
    """Copies made before markers existed are whole; one a mounted overlay uses is marked, never removed under it."""
    final = os.path.join(shifting.store.rootfs_dir("debian12"), "shifted-100000")
    os.makedirs(final)
    open(os.path.join(final, "in-use"), "w").close()
    overlay = Mount("/", "/state/partitions/web1/bundle/rootfs", "overlay", "overlay", frozenset(["rw", "lowerdir=" + final]))
    monkeypatch.setattr(templates, "mounts", lambda: [overlay])
    assert shifting.shifted_root("debian12", 100000) == final
    assert os.path.exists(os.path.join(final, "in-use")) and os.path.isfile(final + ".complete") and shifting.shifts == []


def test_a_copy_whose_drop_was_interrupted_is_never_used(shifting, monkeypatch):
    directory = shifting.store.rootfs_dir("debian12")
    final = shifting.shifted_root("debian12", 100000)
    other = shifting.shifted_root("debian12", 165536)

    def killed_halfway(path):
        for top, _dirs, files in os.walk(path):
            if "os-release" in files:
                os.unlink(os.path.join(top, "os-release"))

    monkeypatch.setattr(templates, "remove_tree", killed_halfway)
    shifting.drop_shifted(100000)
    monkeypatch.undo()
    monkeypatch.setattr(templates, "shift_ownership", lambda tree, base: None)
    assert not os.path.exists(final) and not os.path.exists(final + ".complete")
    assert shifting.shifted_root("debian12", 100000) == final and os.path.isfile(os.path.join(final, "etc/os-release"))
    assert sorted(os.listdir(directory)) == [".shift.lock", "manifest.json", "rootfs", "shifted-100000", "shifted-100000.complete",
                                             "shifted-165536", "shifted-165536.complete"]
    shifting.drop_shifted(100000)
    assert os.path.isfile(os.path.join(other, "etc/os-release"))
    assert sorted(os.listdir(directory)) == [".shift.lock", "manifest.json", "rootfs", "shifted-165536", "shifted-165536.complete"]


def test_a_staging_tree_another_run_is_shifting_now_is_not_swept(shifting):
    directory = shifting.store.rootfs_dir("debian12")
    os.makedirs(os.path.join(directory, ".shifting-100000-live", "tree"))
    with open(os.path.join(directory, ".shift.lock"), "a") as other_run:
        fcntl.flock(other_run.fileno(), fcntl.LOCK_EX)
        shifting.sweep()
        assert ".shifting-100000-live" in os.listdir(directory)
    shifting.sweep()
    assert ".shifting-100000-live" not in os.listdir(directory)


def tiny_tarball():
    """A gzipped tarball of a tree with an os-release, as bytes."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        release = b'ID=tiny\nVERSION_ID="1.0"\n'
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(release)
        tar.addfile(info, io.BytesIO(release))
    return data.getvalue()


def python_tar(cmd):
    """run_command standing in for tar --extract."""
    with tarfile.open(cmd[cmd.index("--file") + 1]) as tar:
        tar.extractall(cmd[cmd.index("--directory") + 1])
    return 0, "", ""


def test_a_local_tarball_with_its_checksum(tmp_path):
    body = tiny_tarball()
    src = tmp_path / "tiny.tar.gz"
    src.write_bytes(body)
    ts = templates.TemplateStore(StateStore(str(tmp_path / "state")), run_command=python_tar)
    good = "sha256:" + hashlib.sha256(body).hexdigest()
    manifest = ts.build("tiny", TarballBuilder(str(src), good))
    assert manifest["distro"] == "tiny" and manifest["src"] == str(src) and manifest["checksum"] == good
    assert ts.manifest("tiny")["options"]["checksum"] == good
    with pytest.raises(BuildError) as info:
        ts.build("other", TarballBuilder(str(src), "sha256:" + "0" * 64))
    assert "expected sha256:" + "0" * 64 in info.value.msg and "got " + good in info.value.msg
    assert os.listdir(ts.store.rootfs_base) == ["tiny"]  # no staging directory, no template


def test_a_tarball_from_a_url(tmp_path):
    body = tiny_tarball()
    ts = templates.TemplateStore(StateStore(str(tmp_path / "state")), run_command=python_tar)
    url = "https://images.example/tiny.tar.gz"
    good = "sha256:" + hashlib.sha256(body).hexdigest()
    manifest = ts.build("tiny", TarballBuilder(url, good, opener=lambda url, timeout: io.BytesIO(body)))
    assert manifest["distro"] == "tiny" and manifest["src"] == url and manifest["checksum"] == good
    assert "download.tar.gz" not in os.listdir(ts.store.rootfs_dir("tiny"))  # the download was not kept
    for checksum, limit in (("sha256:" + "1" * 64, 1 << 20), (good, len(body) - 1)):
        with pytest.raises(BuildError):
            ts.build("other", TarballBuilder(url, checksum, opener=lambda url, timeout: io.BytesIO(body), max_bytes=limit))
        assert os.listdir(ts.store.rootfs_base) == ["tiny"]


def test_a_url_without_checksum_is_refused_before_anything_is_made(tmp_path):
    ts = store(tmp_path)
    with pytest.raises(InvalidOption) as info:
        ts.converge({"name": "tiny", "method": "tarball", "src": "https://images.example/tiny.tar.gz"})
    assert info.value.option == "checksum"
    assert not os.path.exists(ts.store.root)


def test_shifting_keeps_every_id_inside_the_tenants_range(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name, owner in (("root", 0), ("user", 1000), ("nobody", 65534), ("huge", 2000000), ("edge", 65536)):
        path = tree / name
        path.write_text(u"")
        os.lchown(str(path), owner, owner)
    os.symlink("user", str(tree / "link"))
    os.lchown(str(tree / "link"), 3000000, 1000)
    base = 1 << 20
    templates.shift_ownership(str(tree), base)
    owners = dict((entry, os.lstat(str(tree / entry)).st_uid - base) for entry in ("root", "user", "nobody", "huge", "edge", "link"))
    assert owners == {"root": 0, "user": 1000, "nobody": 65534, "huge": 65534, "edge": 65534, "link": 65534}
    assert os.lstat(str(tree / "link")).st_gid == base + 1000
