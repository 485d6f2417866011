# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which whole block device holds a directory's files: what an I/O limit (io.max, blkio.throttle) must name.

The kernel takes those limits only for whole devices (a partition's number fails with ENODEV), so a
directory's st_dev is mapped to its disk through /sys/dev/block: a partition to its parent disk; a dm, md or
loop device is its own top. A filesystem without a block device of its own (btrfs, and overlay, tmpfs: st_dev
0:N) is looked up in the mount table: its source, when that is a block device. Only directories the host owns
are looked at (lstat, no link followed): a tenant's tree never decides which device is limited.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import MOUNTINFO, filesystem_of, mounts, read_text

SYS_DEV_BLOCK = "/sys/dev/block"


def whole_disk(major, minor, sys_block=SYS_DEV_BLOCK):
    """'M:m' of the whole device that block device major:minor is or is a partition of; None if sysfs has no such device."""
    entry = os.path.join(sys_block, "%d:%d" % (major, minor))
    if not os.path.isdir(entry):
        return None
    if not os.path.exists(os.path.join(entry, "partition")):
        return "%d:%d" % (major, minor)
    parent = read_text(os.path.join(os.path.dirname(os.path.realpath(entry)), "dev"))  # .../block/sda/sda1 -> sda
    return parent if parent and ":" in parent else None


def _mount_by_device(major, minor, mountinfo):
    """(source, fstype) of the first mount whose st_dev is major:minor, or None."""
    wanted = "%d:%d" % (major, minor)
    try:
        found = mounts(mountinfo)
    except (IOError, OSError):
        return None
    for entry in found:
        if entry.device == wanted:
            return entry.source, entry.fstype
    return None


def _source_disk(source, sys_block):
    """The whole disk of a mount's source when it is a block device node, else None."""
    try:
        st = os.stat(source)
    except (OSError, ValueError):
        return None
    if not stat.S_ISBLK(st.st_mode):
        return None
    return whole_disk(os.major(st.st_rdev), os.minor(st.st_rdev), sys_block)


def device_of(path, mountinfo=MOUNTINFO, sys_block=SYS_DEV_BLOCK):
    """('M:m' of the whole disk holding the directory path, None) or (None, why there is none)."""
    try:
        st_dev = os.lstat(path).st_dev
    except OSError as exc:
        return None, "cannot read %s: %s" % (path, exc.strerror)
    major, minor = os.major(st_dev), os.minor(st_dev)
    found = whole_disk(major, minor, sys_block)
    if found:
        return found, None
    # no block device of its own (btrfs subvolumes have st_devs the mount table does not name: take the path's mount)
    mount = _mount_by_device(major, minor, mountinfo)
    if mount is None:
        try:
            entry = filesystem_of(path, mountinfo)
        except (IOError, OSError):
            entry = None
        mount = (entry.source, entry.fstype) if entry is not None else None
    if mount is None:
        return None, "%s is on device %d:%d, which neither %s nor the mount table knows" % (path, major, minor, sys_block)
    found = _source_disk(mount[0], sys_block)
    if found:
        return found, None
    return None, "%s is on %s without a block device" % (path, mount[1])


def devices_of(paths, mountinfo=MOUNTINFO, sys_block=SYS_DEV_BLOCK):
    """(['M:m' ...] the whole disks holding the directories, each once; [why one has none])."""
    devices, problems = [], []
    for path in paths:
        found, problem = device_of(path, mountinfo, sys_block)
        if found and found not in devices:
            devices.append(found)
        if problem and problem not in problems:
            problems.append(problem)
    return devices, problems
