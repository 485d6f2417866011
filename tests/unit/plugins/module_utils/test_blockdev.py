# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which whole disk holds a directory: fake /sys/dev/block trees and mount tables, and this host's real one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
from types import SimpleNamespace

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev

# name -> (dev, parent disk or None for a whole device); sysfs nests a partition in its disk's directory
DEVICES = {"sda": ("8:0", None), "sda1": ("8:1", "sda"), "sdb": ("8:16", None), "sdb2": ("8:18", "sdb"),
           "dm-0": ("253:0", None), "md0": ("9:0", None), "md0p1": ("259:1", "md0"), "loop3": ("7:3", None)}
MOUNTINFO = """20 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 20 0:45 / /srv/pool rw,relatime - btrfs /fake/dev/sdb2 rw,space_cache=v2
31 20 0:46 / /run/overlay rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
32 20 0:47 / /srv/gone rw,relatime - btrfs /fake/dev/missing rw
"""


def sys_tree(tmp_path):
    """/sys/devices/... with dev and partition files, and /sys/dev/block/M:m links into it, like the kernel's."""
    sys_block = tmp_path / "sys" / "dev" / "block"
    sys_block.mkdir(parents=True)
    for name, (dev, parent) in DEVICES.items():
        directory = tmp_path / "sys" / "devices" / "block" / (parent + "/" + name if parent else name)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "dev").write_text(dev + "\n")
        if parent:
            (directory / "partition").write_text("1\n")
        os.symlink(os.path.relpath(str(directory), str(sys_block)), str(sys_block / dev))
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO)
    return str(sys_block), str(mountinfo)


def fake_stats(monkeypatch, dirs, nodes=None):
    """os.lstat of the directories in dirs gives their st_dev ('M:m'); os.stat of nodes gives block devices."""
    real_lstat, real_stat = os.lstat, os.stat

    def dev(text):
        major, minor = text.split(":")
        return os.makedev(int(major), int(minor))

    def lstat(path, *args, **kwargs):
        if path in dirs:
            return SimpleNamespace(st_dev=dev(dirs[path]), st_mode=stat.S_IFDIR | 0o755)
        return real_lstat(path, *args, **kwargs)

    def fake_stat(path, *args, **kwargs):
        if path in (nodes or {}):
            return SimpleNamespace(st_mode=stat.S_IFBLK | 0o660, st_rdev=dev(nodes[path]))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(os, "stat", fake_stat)


@pytest.mark.parametrize("major, minor, whole", [
    (8, 0, "8:0"), (8, 1, "8:0"), (8, 18, "8:16"),  # a partition is limited on its disk
    (253, 0, "253:0"), (9, 0, "9:0"), (7, 3, "7:3"),  # dm, md and loop devices are their own top
    (259, 1, "9:0"),  # a partition of an md array
    (0, 45, None), (65, 0, None),  # anonymous, or no such device
])
def test_whole_disk(tmp_path, major, minor, whole):
    sys_block, _mountinfo = sys_tree(tmp_path)
    assert blockdev.whole_disk(major, minor, sys_block) == whole


def test_device_of_a_directory_on_a_partition_and_on_btrfs(tmp_path, monkeypatch):
    sys_block, mountinfo = sys_tree(tmp_path)
    fake_stats(monkeypatch, {"/var/lib/linuxvps": "8:1", "/srv/pool/linuxvps": "0:45", "/srv/pool/sub/x": "0:99"},
               {"/fake/dev/sdb2": "8:18"})
    assert blockdev.device_of("/var/lib/linuxvps", mountinfo, sys_block) == ("8:0", None)
    # btrfs: an anonymous st_dev, found in the mount table, whose source is a partition of sdb
    assert blockdev.device_of("/srv/pool/linuxvps", mountinfo, sys_block) == ("8:16", None)
    # a subvolume's st_dev no mount names: the mount that holds the path
    assert blockdev.device_of("/srv/pool/sub/x", mountinfo, sys_block) == ("8:16", None)


def test_no_block_device_says_why(tmp_path, monkeypatch):
    sys_block, mountinfo = sys_tree(tmp_path)
    fake_stats(monkeypatch, {"/run/overlay/x": "0:46", "/srv/gone/x": "0:47"})
    assert blockdev.device_of("/run/overlay/x", mountinfo, sys_block) == (None, "/run/overlay/x is on overlay without a block device")
    assert blockdev.device_of("/srv/gone/x", mountinfo, sys_block) == (None, "/srv/gone/x is on btrfs without a block device")
    found, why = blockdev.device_of(str(tmp_path / "missing"), mountinfo, sys_block)
    assert found is None and why.startswith("cannot read %s" % (tmp_path / "missing"))


def test_devices_of_dedupes_in_order(tmp_path, monkeypatch):
    sys_block, mountinfo = sys_tree(tmp_path)
    fake_stats(monkeypatch, {"/a": "8:1", "/b": "7:3", "/c": "8:0", "/d": "0:46", "/e": "0:46"})
    assert blockdev.devices_of(["/a", "/b", "/c", "/d", "/e"], mountinfo, sys_block) == (
        ["8:0", "7:3"], ["/d is on overlay without a block device", "/e is on overlay without a block device"])


def test_a_link_is_never_followed(tmp_path):
    """lstat: a link in a host directory names the link's own filesystem, never where it points (here /proc)."""
    os.symlink("/proc/self", str(tmp_path / "link"))
    assert blockdev.device_of(str(tmp_path / "link")) == blockdev.device_of(str(tmp_path))
    assert blockdev.device_of(str(tmp_path / "link"))[1] != "%s is on proc without a block device" % (tmp_path / "link")
    assert blockdev.device_of("/proc/self/") == (None, "/proc/self/ is on proc without a block device")  # the control


def test_this_hosts_root_and_proc():
    found, why = blockdev.device_of("/")
    if found is None:
        pytest.skip("/ has no block device here: %s" % why)
    assert why is None and os.path.isdir(os.path.join(blockdev.SYS_DEV_BLOCK, found))
    assert not os.path.exists(os.path.join(blockdev.SYS_DEV_BLOCK, found, "partition"))
    assert blockdev.device_of("/proc") == (None, "/proc is on proc without a block device")
