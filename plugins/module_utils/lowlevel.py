# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host primitives the engine's rooms share, each defined once: libc through ctypes (mount, umount2,
setns, openat2, quotactl), the mount table, and forgiving readers of small kernel files.

Every libc call raises OSError with the call's errno, like the os module's own functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ctypes
import ctypes.util
import errno
import os
import re

MNT_DETACH = 2
SYS_OPENAT2 = 437  # x86_64, aarch64 and every architecture but alpha and ia64 (numbers unified since 5.1)
MOUNTINFO = "/proc/self/mountinfo"
_OCTAL_ESCAPE = re.compile(br"\\([0-7]{3})")
_libc = None

Mount = collections.namedtuple("Mount", "root mount_point fstype source options device")
Mount.__new__.__defaults__ = (None,)
Mount.__doc__ = """One line of mountinfo: options are the mount's and the superblock's together; device is st_dev "M:m"."""


def libc():
    """The C library, loaded once, with errno kept for ctypes.get_errno()."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def check(result, what):
    """Raise OSError(errno, 'what: reason') when a libc call returned non-zero."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def mount(source, target, fstype, options, flags=0):
    check(libc().mount(source.encode(), target.encode(), fstype.encode(), flags, options.encode()),
          "mount %s on %s" % (fstype, target))


def umount(target, lazy=False):
    check(libc().umount2(target.encode(), MNT_DETACH if lazy else 0), "umount %s" % target)


def setns(fd, nstype):
    check(libc().setns(fd, nstype), "setns")


class OpenHow(ctypes.Structure):
    """struct open_how of openat2(2)."""
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd, path, flags, mode, resolve, retries=32):
    """The new fd; OSError ENOSYS on kernels before 5.6 (glibc has no wrapper, hence syscall(2)).

    With RESOLVE_IN_ROOT the kernel answers EAGAIN when any rename on the host raced its check of a ".." step;
    that is retried, and EAGAIN raised only when it keeps happening.
    """
    how = OpenHow(flags, mode, resolve)
    for _attempt in range(retries):
        fd = libc().syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_long(dirfd), ctypes.c_char_p(os.fsencode(path)),
                            ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0 or ctypes.get_errno() != errno.EAGAIN:
            break
    check(min(fd, 0), "openat2 %s" % path)  # an fd on success, -1 on failure
    return fd


def unescape(field):
    """A mount table field as text: the kernel writes space, tab, newline and backslash as octal escapes
    (\\040 ...) and passes every other byte through, so other non-ASCII names stay UTF-8."""
    raw = field.encode("utf-8", "surrogateescape") if not isinstance(field, bytes) else field
    return _OCTAL_ESCAPE.sub(lambda match: bytes(bytearray([int(match.group(1), 8)])), raw).decode("utf-8", "surrogateescape")


def parse_mountinfo(text):
    """[Mount] from the text of /proc/<pid>/mountinfo (proc(5)); lines it cannot read are skipped."""
    found = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < separator + 4:
            continue
        options = frozenset(fields[5].split(",")) | frozenset(fields[separator + 3].split(","))
        found.append(Mount(unescape(fields[3]), unescape(fields[4]), fields[separator + 1],
                           unescape(fields[separator + 2]), options, fields[2]))
    return found


def mounts(mountinfo=MOUNTINFO):
    """[Mount] of this process's mount namespace, in mount order."""
    with open(mountinfo, "rb") as handle:
        return parse_mountinfo(handle.read().decode("utf-8", "surrogateescape"))


def _lines_by_mount_point(mountinfo):
    """[(mount point, line)] of the mount table, only the mount point read: a host with hundreds of partitions has
    hundreds of lines, read on every start and stop, and parsing whole lines cost more than the rest of the look."""
    with open(mountinfo, "rb") as handle:
        text = handle.read().decode("utf-8", "surrogateescape")
    found = []
    for line in text.splitlines():
        fields = line.split(" ", 5)
        if len(fields) == 6:
            found.append((unescape(fields[4]) if "\\" in fields[4] else fields[4], line))
    return found


def mount_points(mountinfo=MOUNTINFO):
    """Set of mount points, read once."""
    return set(point for point, _line in _lines_by_mount_point(mountinfo))


def mount_at(path, mountinfo=MOUNTINFO):
    """The Mount whose mount point is path (the last one, which is the visible one), or None."""
    found = parse_mountinfo("\n".join(line for point, line in _lines_by_mount_point(mountinfo) if point == path))
    return found[-1] if found else None


def is_under(path, root):
    """Whether path is root or lies below it (both normalised, no symlinks resolved)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def filesystem_of(path, mountinfo=MOUNTINFO):
    """The Mount holding path (the longest mount point above it; the last one mounted wins a tie), or None."""
    path = os.path.realpath(path)
    best = None
    for entry in mounts(mountinfo):
        if is_under(path, entry.mount_point) and (best is None or len(entry.mount_point) >= len(best.mount_point)):
            best = entry
    return best


def read_text(path):
    """A small file's content, stripped, or None when it cannot be read (absent, no permission, gone)."""
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def to_int(text):
    """int(text), or None for None or text that is no integer."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
