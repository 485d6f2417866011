# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""projquota.py: which filesystem holds a path and whether it enforces project quotas; the ctypes layouts.

Quotas are enforced for real in the systemd VM (tests/vm), whose state directory is XFS with prjquota:
this CI kernel has no quota support.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes

from ansible_collections.linuxvps.partitions.plugins.module_utils import projquota
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import PartitionDisk

MOUNTINFO = u"""\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 7:0 / /var/lib/linuxvps rw,relatime shared:9 - xfs /dev/loop0 rw,attr2,inode64,logbufs=8,prjquota
31 22 7:1 / /srv/plain rw,relatime shared:10 - xfs /dev/loop1 rw,attr2,inode64,noquota
32 22 0:50 / /srv/with\\040space rw,relatime shared:11 - ext4 /dev/loop2 rw,prjquota
"""


def write_mountinfo(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return str(path)


def test_the_longest_mount_point_holding_the_path_wins(tmp_path):
    info = write_mountinfo(tmp_path)
    found = projquota.filesystem_of("/var/lib/linuxvps/partitions/web1", info)
    assert (found.mount_point, found.fstype, found.source) == ("/var/lib/linuxvps", "xfs", "/dev/loop0")
    assert "prjquota" in found.options
    assert projquota.filesystem_of("/var/lib/linuxvpsx", info).mount_point == "/"
    assert projquota.filesystem_of("/srv/with space/a", info).source == "/dev/loop2"


def test_no_project_quotas_without_the_mount_option(tmp_path, monkeypatch):
    info = write_mountinfo(tmp_path)
    real = projquota.filesystem_of
    monkeypatch.setattr(projquota, "filesystem_of", lambda path: real(path, info))
    monkeypatch.setattr(projquota, "_quotactl", lambda *args: None)
    assert projquota.ProjectQuotas.for_path("/srv/plain/x") is None  # noquota
    assert projquota.ProjectQuotas.for_path("/x") is None  # ext4 without prjquota
    found = projquota.ProjectQuotas.for_path("/var/lib/linuxvps/partitions")
    assert (found.device, found.fstype) == ("/dev/loop0", "xfs")


def test_a_kernel_without_quota_support_means_no_project_quotas(tmp_path, monkeypatch):
    info = write_mountinfo(tmp_path)
    real = projquota.filesystem_of
    monkeypatch.setattr(projquota, "filesystem_of", lambda path: real(path, info))

    def refuse(*args):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(projquota, "_quotactl", refuse)
    assert projquota.ProjectQuotas.for_path("/var/lib/linuxvps/partitions") is None


def test_structures_match_the_kernels_layouts():
    assert ctypes.sizeof(projquota._Dqblk) == 72  # struct if_dqblk
    assert ctypes.sizeof(projquota._Fsxattr) == 28  # struct fsxattr: the ioctl numbers encode this size
    assert (projquota.FS_IOC_FSGETXATTR >> 16) & 0x3FFF == 28


def test_an_existing_image_keeps_its_kind_and_a_bare_layer_is_a_project(tmp_path, monkeypatch):
    monkeypatch.setattr(projquota.ProjectQuotas, "for_path", classmethod(lambda cls, path: None))
    disk = PartitionDisk(str(tmp_path / "p1"), "overlay", quota={"disk": 1 << 30, "inodes": None})
    assert disk.quota_kind == "image"  # new, and the host has no project quotas
    (tmp_path / "p1").mkdir()
    (tmp_path / "p1" / "layer").mkdir()
    assert PartitionDisk(str(tmp_path / "p1"), "overlay", quota={"disk": 1 << 30}).quota_kind == "project"
    (tmp_path / "p1" / "disk.img").write_text(u"")
    assert PartitionDisk(str(tmp_path / "p1"), "overlay", quota={"disk": 1 << 30}).quota_kind == "image"
    assert PartitionDisk(str(tmp_path / "p1"), "overlay").quota_kind is None
