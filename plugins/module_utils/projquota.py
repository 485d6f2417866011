# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Project quotas (XFS, ext4) through quotactl(2) and the FS_IOC_FSSETXATTR ioctl, with ctypes.

A directory gets a project ID and the inherit flag, so everything created below it counts against
that project; the filesystem then refuses writes past the project's block or inode hard limit
(EDQUOT, which programs report as "Disk quota exceeded"). Limits change at any time, so a quota grows
(or shrinks, down to what is used) live.

Usable where the filesystem is mounted with project quotas enforced: XFS with ``prjquota``/``pquota``,
ext4 with the ``project`` and ``quota`` features and ``prjquota``. The kernel needs CONFIG_QUOTA (ext4)
or CONFIG_XFS_QUOTA.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import fcntl
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import check, filesystem_of, libc

PRJQUOTA = 2
Q_GETINFO = 0x800005
Q_GETQUOTA = 0x800007
Q_SETQUOTA = 0x800008
QIF_BLIMITS = 1
QIF_ILIMITS = 4
QUOTA_BLOCK = 1024  # dqb_bhardlimit counts 1 KiB blocks
FS_IOC_FSGETXATTR = 0x801C581F
FS_IOC_FSSETXATTR = 0x401C5820
FS_XFLAG_PROJINHERIT = 0x00000200
ENFORCING_OPTIONS = {"xfs": ("prjquota", "pquota"), "ext4": ("prjquota",)}
MAX_PROJECT_ID = 2 ** 32 - 2  # 2^32 - 1 is "no ID"


class _Dqblk(ctypes.Structure):
    _fields_ = [("dqb_bhardlimit", ctypes.c_uint64), ("dqb_bsoftlimit", ctypes.c_uint64),
                ("dqb_curspace", ctypes.c_uint64), ("dqb_ihardlimit", ctypes.c_uint64),
                ("dqb_isoftlimit", ctypes.c_uint64), ("dqb_curinodes", ctypes.c_uint64),
                ("dqb_btime", ctypes.c_uint64), ("dqb_itime", ctypes.c_uint64), ("dqb_valid", ctypes.c_uint32)]


class _Dqinfo(ctypes.Structure):
    _fields_ = [("dqi_bgrace", ctypes.c_uint64), ("dqi_igrace", ctypes.c_uint64),
                ("dqi_flags", ctypes.c_uint32), ("dqi_valid", ctypes.c_uint32)]


class _Fsxattr(ctypes.Structure):
    _fields_ = [("fsx_xflags", ctypes.c_uint32), ("fsx_extsize", ctypes.c_uint32), ("fsx_nextents", ctypes.c_uint32),
                ("fsx_projid", ctypes.c_uint32), ("fsx_cowextsize", ctypes.c_uint32), ("fsx_pad", ctypes.c_ubyte * 8)]


def _quotactl(command, device, project, buffer):
    cmd = (command << 8) | PRJQUOTA  # QCMD(command, PRJQUOTA)
    check(libc().quotactl(cmd, device.encode(), project, ctypes.byref(buffer)), "quotactl on %s" % device)


class ProjectQuotas:
    """Project quotas of one filesystem (by its block device)."""

    def __init__(self, device, fstype):
        self.device = device
        self.fstype = fstype

    @classmethod
    def for_path(cls, path):
        """ProjectQuotas for the filesystem holding path, or None when it does not enforce project quotas."""
        found = filesystem_of(path)
        if found is None:
            return None
        fstype, device, options = found.fstype, found.source, found.options
        if not options.intersection(ENFORCING_OPTIONS.get(fstype, ())) or not device.startswith("/"):
            return None
        quotas = cls(device, fstype)
        try:
            _quotactl(Q_GETINFO, device, 0, _Dqinfo())
        except OSError:
            return None  # mounted so but no quota support in this kernel, or not readable
        return quotas

    @staticmethod
    def project_id(directory):
        """The project of a partition's layer: its directory's inode number, unique on the filesystem
        while the directory lives (a reused number finds its old project empty, and gets new limits)."""
        inode = os.stat(directory).st_ino
        if inode > MAX_PROJECT_ID:
            raise PartitionError("inode %d of %s is too large for a project ID" % (inode, directory))
        return inode

    @staticmethod
    def assign(directory, project):
        """Give directory the project and the inherit flag (before anything is created below it)."""
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            attr = _Fsxattr()
            fcntl.ioctl(fd, FS_IOC_FSGETXATTR, attr)
            if attr.fsx_projid == project and attr.fsx_xflags & FS_XFLAG_PROJINHERIT:
                return
            attr.fsx_projid = project
            attr.fsx_xflags |= FS_XFLAG_PROJINHERIT
            fcntl.ioctl(fd, FS_IOC_FSSETXATTR, attr)
        finally:
            os.close(fd)

    def set_limits(self, project, limit_bytes, limit_inodes=None):
        """Hard limits of the project; None or 0 removes a limit."""
        block = _Dqblk()
        block.dqb_bhardlimit = block.dqb_bsoftlimit = (limit_bytes or 0) // QUOTA_BLOCK
        block.dqb_ihardlimit = block.dqb_isoftlimit = limit_inodes or 0
        block.dqb_valid = QIF_BLIMITS | QIF_ILIMITS
        try:
            _quotactl(Q_SETQUOTA, self.device, project, block)
        except OSError as exc:
            raise PartitionError("cannot set the project quota %d on %s: %s" % (project, self.device, exc.strerror))

    def usage(self, project):
        """{used_bytes, limit_bytes, used_inodes, limit_inodes} of the project (limits None when unset)."""
        block = _Dqblk()
        try:
            _quotactl(Q_GETQUOTA, self.device, project, block)
        except OSError as exc:
            raise PartitionError("cannot read the project quota %d on %s: %s" % (project, self.device, exc.strerror))
        return {"used_bytes": block.dqb_curspace, "limit_bytes": block.dqb_bhardlimit * QUOTA_BLOCK or None,
                "used_inodes": block.dqb_curinodes, "limit_inodes": block.dqb_ihardlimit or None}
