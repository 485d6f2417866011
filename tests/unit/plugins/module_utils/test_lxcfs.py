# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxcfs.py: is lxcfs serving (a fake mountinfo and a fake lxcfs tree), which files a partition gets, and the option."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import threading

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import lxcfs, oci
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import Launcher
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import restart_changes
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import HOST, make_spec

ROOT_LINE = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
LXCFS_LINE = "43 22 0:41 / %s rw,nosuid,nodev,relatime shared:20 - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other\n"
TMPFS_LINE = "44 43 0:42 / %s rw,relatime shared:21 - tmpfs tmpfs rw\n"


def fake_lxcfs(tmp_path, files=lxcfs.PROC_FILES, cpu=True, meminfo="MemTotal:       262144 kB\n"):
    """A tree shaped like lxcfs's at tmp_path/lxcfs, and a mountinfo naming it as a fuse.lxcfs mount."""
    root = tmp_path / "lxcfs"
    (root / "proc").mkdir(parents=True)
    for name in files:
        (root / "proc" / name).write_text(meminfo if name == "meminfo" else "x\n")
    if cpu:
        (root / "sys/devices/system/cpu").mkdir(parents=True)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(ROOT_LINE + LXCFS_LINE % root)
    return str(root), str(mountinfo)


def test_a_live_lxcfs_mount_is_available(tmp_path):
    root, mountinfo = fake_lxcfs(tmp_path)
    assert lxcfs.available(mountinfo, root)


def test_a_directory_that_is_not_a_lxcfs_mount_is_not(tmp_path):
    root, mountinfo = fake_lxcfs(tmp_path)
    with open(mountinfo, "w") as handle:
        handle.write(ROOT_LINE)  # the package's empty /var/lib/lxcfs, nothing mounted
    assert not lxcfs.available(mountinfo, root)


def test_a_later_mount_over_lxcfs_hides_it(tmp_path):
    root, mountinfo = fake_lxcfs(tmp_path)
    with open(mountinfo, "a") as handle:
        handle.write(TMPFS_LINE % root)
    assert lxcfs.mount_type(open(mountinfo).read(), root) == "tmpfs"
    assert not lxcfs.available(mountinfo, root)


def test_a_mount_whose_meminfo_does_not_read_is_not_available(tmp_path):
    """A dead daemon leaves its mount behind, and every read fails with ENOTCONN."""
    root, mountinfo = fake_lxcfs(tmp_path, meminfo="")
    assert not lxcfs.available(mountinfo, root)
    os.remove(os.path.join(root, "proc", "meminfo"))
    assert not lxcfs.available(mountinfo, root)


def test_a_read_that_hangs_gives_up(tmp_path, monkeypatch):
    """A hung daemon blocks the read: availability does not wait for it."""
    root, mountinfo = fake_lxcfs(tmp_path)
    never = threading.Event()
    real_open = open

    def hanging_open(path, *args, **kwargs):
        if str(path).endswith("meminfo"):
            never.wait(5)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", hanging_open)
    try:
        assert not lxcfs.available(mountinfo, root, timeout=0.2)
    finally:
        never.set()


def test_mount_points_with_escaped_characters_are_read(tmp_path):
    text = ROOT_LINE + LXCFS_LINE % "/var/lib/lx\\040cfs"
    assert lxcfs.is_mounted(text, "/var/lib/lx cfs")
    assert not lxcfs.is_mounted(text, "/var/lib/lxcfs")


def test_a_missing_mountinfo_means_unavailable(tmp_path):
    assert not lxcfs.available(str(tmp_path / "none"), str(tmp_path))


def test_bind_mounts_cover_the_files_present_read_only(tmp_path):
    root, _mountinfo = fake_lxcfs(tmp_path, files=("meminfo", "uptime", "cpuinfo"))
    mounts = lxcfs.bind_mounts(root)
    assert [m["destination"] for m in mounts] == ["/proc/cpuinfo", "/proc/meminfo", "/proc/uptime", "/sys/devices/system/cpu"]
    assert mounts[1]["source"] == os.path.join(root, "proc", "meminfo")
    for mount in mounts:
        assert mount["type"] == "bind"
        assert set(["rbind", "ro", "nosuid", "nodev", "noexec"]) <= set(mount["options"])


def test_only_paths_runc_allows_over_proc(tmp_path):
    root, _mountinfo = fake_lxcfs(tmp_path, files=lxcfs.PROC_FILES + ("vmstat",), cpu=False)
    destinations = [m["destination"] for m in lxcfs.bind_mounts(root)]
    assert "/proc/vmstat" not in destinations  # runc 1.1's checkProcMount would refuse the container
    assert len(destinations) == 8 and "/sys/devices/system/cpu" not in destinations


@pytest.mark.parametrize("setting, here, expected", [
    (None, True, True), (None, False, False), (True, True, True), (False, True, False), (False, False, False)])
def test_wanted(setting, here, expected):
    assert lxcfs.wanted(setting, here) is expected


def test_build_config_puts_the_lxcfs_files_after_the_kernel_views(tmp_path):
    root, _mountinfo = fake_lxcfs(tmp_path)
    config = oci.build_config(make_spec(), "r", "/p/n", None, lxcfs_mounts=lxcfs.bind_mounts(root))
    destinations = [m["destination"] for m in config["mounts"]]
    assert destinations.index("/proc/meminfo") > destinations.index("/proc")
    assert destinations.index("/sys/devices/system/cpu") > destinations.index("/sys")
    assert "/proc/meminfo" not in [m["destination"] for m in oci.build_config(make_spec(), "r", "/p/n", None)["mounts"]]


def test_the_option_is_recorded_only_when_set_and_needs_a_restart():
    assert "lxcfs" not in make_spec()  # documents made before the option compare equal
    assert make_spec(lxcfs=False)["lxcfs"] is False
    assert restart_changes(make_spec(), make_spec(lxcfs=False)) == ["lxcfs"]
    assert restart_changes(make_spec(lxcfs=True), make_spec(lxcfs=True)) == []


def host_with_lxcfs(engine, served):
    facts = copy.copy(HOST)
    facts.lxcfs = served
    engine._host_facts = facts
    return engine


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def test_true_without_lxcfs_fails_naming_the_option_before_anything_changes(engine):
    host_with_lxcfs(engine, False)
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge({"name": "web1", "rootfs": "debian12", "lxcfs": True})
    assert caught.value.option == "lxcfs"
    assert engine.store.load_partition("web1") is None
    assert engine.log == []


def test_a_recorded_true_is_refused_when_a_start_needs_lxcfs_and_not_otherwise(engine):
    host_with_lxcfs(engine, True)
    Converger(engine).converge({"name": "web1", "rootfs": "debian12", "lxcfs": True, "state": "stopped"})
    host_with_lxcfs(engine, False)
    plan, _report = Converger(engine).converge({"name": "web1", "state": "stopped"})  # nothing to start: no need
    assert plan.actions == []
    del engine.log[:]
    with pytest.raises(InvalidOption, match="lxcfs"):
        Converger(engine).converge({"name": "web1", "state": "started"})
    assert engine.log == []


def test_launch_records_whether_the_view_is_on(engine, tmp_path, monkeypatch):
    root, _mountinfo = fake_lxcfs(tmp_path)
    monkeypatch.setattr(lxcfs, "LXCFS_ROOT", root)
    monkeypatch.setattr(lxcfs.bind_mounts, "__defaults__", (root,))
    host_with_lxcfs(engine, True)
    Converger(engine).converge({"name": "web1", "rootfs": "debian12"})
    Converger(engine).converge({"name": "web2", "rootfs": "debian12", "lxcfs": False})
    assert engine.store.load_partition("web1")["running"]["lxcfs"] is True
    assert engine.store.load_partition("web2")["running"]["lxcfs"] is False
    config = engine.disk(engine.store.load_partition("web1")["spec"]).bundle + "/config.json"
    assert '"/proc/meminfo"' in open(config).read()


def test_a_launch_that_needs_lxcfs_where_it_does_not_serve_fails_before_anything(engine):
    """A start the converge did not plan (the boot command, a systemd unit) checks again, before it makes anything."""
    host_with_lxcfs(engine, True)
    Converger(engine).converge({"name": "web1", "rootfs": "debian12", "lxcfs": True, "state": "stopped"})
    host_with_lxcfs(engine, False)
    del engine.log[:]
    with pytest.raises(InvalidOption, match="option lxcfs"):
        Launcher(engine).launch(engine.store.load_partition("web1"), None)
    assert engine.log == []
