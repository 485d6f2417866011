# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idmapped mounts (Linux 5.12+; as an overlay's lower layer 5.19+) through the new mount API, by ctypes.

    fd = idmapped_clone(tree, base, size)    # a detached copy of tree's mount where ID n reads as base + n
    attach(fd, target)                       # put it at target (an existing directory)
    refusal(tree) -> None or why not         # whether this host makes one of tree (probed, nothing kept)

The user namespace whose map the mount takes comes from a short-lived child: it unshares one, the parent writes
its maps, opens /proc/CHILD/ns/user and ends it (the namespace lives on as long as the open file does).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import os
import platform
import subprocess

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import libc

# system call numbers: one table for every architecture but alpha and ia64 since 5.1 (x86_64 and aarch64 alike)
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
MS_PRIVATE = 1 << 18
OVERLAY_IDMAPPED_LOWER = (5, 19)  # overlayfs takes an idmapped lower layer since 5.19


class MountAttr(ctypes.Structure):
    """struct mount_attr of mount_setattr(2)."""
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _syscall(number, *args):
    result = libc().syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def kernel_version(release=None):
    """(major, minor) of the running kernel (or of release, e.g. '6.1.0-18-amd64')."""
    numbers = []
    for part in (release or platform.release()).split("-")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit()) or "0"
        numbers.append(int(digits))
    return tuple(numbers + [0] * (2 - len(numbers)))


def id_map_line(base, size):
    """The uid_map/gid_map content mapping 0..size-1 to base..base+size-1."""
    return "0 %d %d\n" % (base, size)


def user_namespace(base, size):
    """An open file of a new user namespace mapping 0..size-1 to base (the caller closes it).

    Its holder is a short-lived ``unshare --user`` process, spawned (fork and exec in C), not forked from Python: the
    list form's worker threads may hold locks a forked copy of this process would wait on forever.
    """
    program = find_program("unshare")
    if program is None:
        raise OSError(errno.ENOENT, "unshare (util-linux) is not installed")
    holder = subprocess.Popen([program, "--user", "--", "/bin/sh", "-c", "echo ready; read -r done"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
    try:
        if holder.stdout.readline() != b"ready\n":  # printed from inside the new namespace: unshare went through
            raise OSError(errno.EPERM, "unshare --user failed in the helper process")
        for kind in ("uid_map", "gid_map"):
            with open("/proc/%d/%s" % (holder.pid, kind), "w") as handle:
                handle.write(id_map_line(base, size))
        return os.open("/proc/%d/ns/user" % holder.pid, os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()  # its read returns: it exits
        holder.stdout.close()
        try:
            holder.kill()
        except OSError:
            pass
        holder.wait()


def idmapped_clone(tree, base, size):
    """An open detached mount of tree (not recursive: the template has no mounts inside) shown through a map of
    0..size-1 to base, private (it propagates nowhere); OSError with the refusing call's errno."""
    tree_fd = _syscall(SYS_OPEN_TREE, ctypes.c_int(AT_FDCWD), ctypes.c_char_p(tree.encode()),
                       ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC))
    try:
        userns = user_namespace(base, size)
        try:
            attr = MountAttr(MOUNT_ATTR_IDMAP, 0, MS_PRIVATE, userns)
            _syscall(SYS_MOUNT_SETATTR, ctypes.c_int(tree_fd), ctypes.c_char_p(b""),
                     ctypes.c_uint(AT_EMPTY_PATH), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
        finally:
            os.close(userns)
    except BaseException:
        os.close(tree_fd)
        raise
    return tree_fd


def attach(tree_fd, target):
    """Attach the detached mount tree_fd at the directory target."""
    _syscall(SYS_MOVE_MOUNT, ctypes.c_int(tree_fd), ctypes.c_char_p(b""), ctypes.c_int(AT_FDCWD),
             ctypes.c_char_p(target.encode()), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))


def refusal(tree, base=None, size=65536, release=None):
    """Why this host cannot give overlayfs an idmapped lower layer of tree, or None when it can (a detached idmapped
    mount of it is made and dropped: nothing stays)."""
    version = kernel_version(release)
    if version < OVERLAY_IDMAPPED_LOWER:
        return "kernel %d.%d is older than 5.19, the first whose overlayfs takes an idmapped lower layer" % version
    try:
        fd = idmapped_clone(tree, base if base is not None else size, size)
    except OSError as exc:
        return explain(exc, tree)
    os.close(fd)
    return None


def explain(exc, tree):
    """The reason an idmapped mount of tree failed, in words."""
    if exc.errno == errno.ENOSYS:
        return "the kernel has no mount_setattr(2) (idmapped mounts need 5.12+)"
    if exc.errno == errno.EINVAL:
        return "the filesystem holding %s does not support idmapped mounts (EINVAL)" % tree
    if exc.errno == errno.EPERM:
        return "idmapped mounts are not permitted here (EPERM: no CAP_SYS_ADMIN in the initial user namespace?)"
    return "an idmapped mount of %s failed: %s" % (tree, os.strerror(exc.errno) if exc.errno else exc)
