# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxcfs: the partition's own view of its limits in /proc and /sys/devices/system/cpu.

lxcfs (a FUSE file system the host runs, mounted at /var/lib/lxcfs) answers each reader from the reader's own
cgroups: bound over a partition's /proc/meminfo, ``free`` inside shows the partition's memory limit. The host
role runs it; this module only finds out whether it serves here, and which files a partition gets bound.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption

LXCFS_ROOT = "/var/lib/lxcfs"
MOUNTINFO = "/proc/self/mountinfo"
FSTYPE = "fuse.lxcfs"
# LXC's set, and exactly the files under /proc that runc 1.1's checkProcMount lets a bind mount cover.
PROC_FILES = ("cpuinfo", "diskstats", "loadavg", "meminfo", "slabinfo", "stat", "swaps", "uptime")
SYS_CPU = "sys/devices/system/cpu"
MOUNT_OPTIONS = ["rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"]
# A hung lxcfs would hang the read (FUSE waits for its daemon): a module must not wait for it.
READ_TIMEOUT = 5.0


def _unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out, index = [], 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit() and len(field[index + 1:index + 4]) == 3:
            out.append(chr(int(field[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def mount_type(mountinfo_text, mount_point):
    """The file system type mounted last (the one seen) at mount_point, or None when nothing is mounted there."""
    found = None
    for line in mountinfo_text.splitlines():
        fields = line.split(" ")
        if " - " not in line or len(fields) < 5:
            continue
        post = line.split(" - ", 1)[1].split(" ")
        if _unescape(fields[4]) == mount_point and post:
            found = post[0]
    return found


def is_mounted(mountinfo_text, root=LXCFS_ROOT):
    return mount_type(mountinfo_text, root) == FSTYPE


def _read_with_timeout(path, timeout):
    """The first bytes of path, or None when it cannot be read (ENOTCONN of a dead daemon) or not in time."""
    result = {}

    def read():
        try:
            with open(path, "rb") as handle:
                result["data"] = handle.read(4096)
        except (IOError, OSError):
            pass

    worker = threading.Thread(target=read)
    worker.daemon = True  # a hung FUSE read never keeps the module from ending
    worker.start()
    worker.join(timeout)
    return result.get("data")


def serves(root=LXCFS_ROOT, timeout=READ_TIMEOUT):
    """Whether the lxcfs mounted at root answers: its meminfo reads with a MemTotal line."""
    data = _read_with_timeout(os.path.join(root, "proc", "meminfo"), timeout)
    return bool(data) and data.startswith(b"MemTotal:")


def available(mountinfo=MOUNTINFO, root=LXCFS_ROOT, timeout=READ_TIMEOUT):
    """Whether partitions can have the lxcfs view here: root is a live fuse.lxcfs mount."""
    try:
        with open(mountinfo) as handle:
            text = handle.read()
    except (IOError, OSError):
        return False
    return is_mounted(text, root) and serves(root, timeout)


def bind_mounts(root=LXCFS_ROOT):
    """OCI mounts of the lxcfs files present under root over the partition's /proc and /sys/devices/system/cpu."""
    mounts = []
    for name in PROC_FILES:
        source = os.path.join(root, "proc", name)
        if os.path.isfile(source):
            mounts.append(_mount("/proc/" + name, source))
    cpu = os.path.join(root, SYS_CPU)
    if os.path.isdir(cpu):
        mounts.append(_mount("/" + SYS_CPU, cpu))
    return mounts


def _mount(destination, source):
    return {"destination": destination, "type": "bind", "source": source, "options": list(MOUNT_OPTIONS)}


def wanted(setting, is_available):
    """Whether a partition gets the view: setting is the spec's lxcfs (True, False or None = where available).
    Raises InvalidOption naming lxcfs when it asks for the view where lxcfs does not serve."""
    if setting and not is_available:
        raise InvalidOption("lxcfs", True, "lxcfs does not serve %s on this host: install and run it (the host role does, "
                                           "host_lxcfs: true), or leave lxcfs out to use it only where available" % LXCFS_ROOT)
    return bool(is_available) if setting is None else bool(setting)
