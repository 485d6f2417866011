# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A process's descendants, found in /proc, and killing them all without racing their forks or PID reuse.

What a command run by ``runc exec`` starts stays below the runc process: runc is a child subreaper, so even a
double-forked daemon of the command is reparented to it. Killing that tree ends the command and everything it
started, and nothing else of the partition.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal

PROC = "/proc"
_MAX_ROUNDS = 64  # a fork bomb is bounded by the partition's pids limit; each round stops what the last found


def parent_map(proc=PROC):
    """{pid: parent pid} of every process, read from /proc/<pid>/stat (a process that ends meanwhile is left out)."""
    parents = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        ppid = parent_of(int(entry), proc)
        if ppid is not None:
            parents[int(entry)] = ppid
    return parents


def parent_of(pid, proc=PROC):
    """The parent pid from /proc/<pid>/stat, None when the process is gone. The command name may hold any byte,
    ')' too, so the fields are read after its last ')'."""
    try:
        with open("%s/%d/stat" % (proc, pid), "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def descendants(root, parents):
    """Pids below root in parents ({pid: ppid}), parents before children."""
    children = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, queue = [], list(children.get(root, ()))
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def kill_tree(root, proc=PROC):
    """SIGKILL every descendant of root (root itself is left alive); how many were killed.

    Each is held by a pidfd opened while it was still a descendant, so a PID reused meanwhile is never signalled.
    They are all stopped first, round by round until no new one appears (a stopped process forks no more), then
    killed: killing one by one would let the ones not yet killed fork, or be reparented out of reach.
    """
    held = {}
    try:
        for _round in range(_MAX_ROUNDS):
            fresh = [pid for pid in descendants(root, parent_map(proc)) if pid not in held]
            if not fresh:
                break
            for pid in fresh:
                fd = _pidfd(pid)
                if fd is None:
                    continue
                if not _below(pid, root, proc):
                    os.close(fd)  # the pid was reused by a process outside the tree before the pidfd was opened
                    continue
                held[pid] = fd
                _signal(fd, signal.SIGSTOP)
        for fd in held.values():
            _signal(fd, signal.SIGKILL)
        return len(held)
    finally:
        for fd in held.values():
            os.close(fd)


def _below(pid, root, proc):
    """Whether pid's chain of parents, read now, reaches root."""
    seen = set()
    current = parent_of(pid, proc)
    while current is not None and current not in seen:
        if current == root:
            return True
        seen.add(current)
        current = parent_of(current, proc) if current > 1 else None
    return False


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None  # ended meanwhile


def _signal(fd, signum):
    try:
        signal.pidfd_send_signal(fd, signum)
    except OSError:
        pass  # ended meanwhile
