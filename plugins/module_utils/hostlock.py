# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host lock of a state directory, and its hand-over to a partition's systemd unit.

One run at a time changes a state directory: ``<state_dir>/lock``, flock(2). Under systemd supervision a
partition's unit runs our commands too (start, ExecStop, ExecStopPost), and they take the same lock: a
restart by systemd after a crash, or the clean-up after a ``poweroff`` inside, must not change the state
directory under a run that is changing it.

A run that holds the lock and asks systemd to start or stop a unit then waits for those very commands; if
they waited for the lock in turn, neither would move. So before it asks, the holder leaves a hand-over note
``<state_dir>/handover/<name>`` with its PID, and the unit's commands for that partition go ahead on its
lock. A note counts only while /proc/locks shows that PID holding the lock file, so a note left by a killed
run (or a reused PID) hands nothing over. The holder's notes go when it lets go of the lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time
from contextlib import contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import LockTimeout, PartitionError

POLL_SECONDS = 0.1
PROC_LOCKS = "/proc/locks"


class HostLock:
    def __init__(self, root, proc_locks=PROC_LOCKS):
        self.root = root
        self.path = os.path.join(root, "lock")
        self.handover_dir = os.path.join(root, "handover")
        self.proc_locks = proc_locks

    @contextmanager
    def hold(self, timeout=600.0, on_behalf_of=None):
        """Hold the lock for the block; on_behalf_of: a partition whose unit command this is, which goes ahead
        without the lock while its holder has handed the partition over. Raises LockTimeout after timeout."""
        handle = open(self.path, "a")
        held = False
        try:
            deadline = time.monotonic() + timeout
            while not self._try_lock(handle):
                if on_behalf_of is not None and self.handed_over(on_behalf_of, handle):
                    break
                if time.monotonic() >= deadline:
                    raise LockTimeout("another run holds %s for more than %ss" % (self.path, timeout))
                time.sleep(POLL_SECONDS)
            else:
                held = True
            yield
        finally:
            if held:
                self._drop_notes()
            handle.close()

    def hand_over(self, name):
        """Let the unit commands of partition name run on the lock this process holds (until it lets go)."""
        try:
            if not os.path.isdir(self.handover_dir):
                try:
                    os.mkdir(self.handover_dir, 0o700)
                except FileExistsError:
                    pass  # another thread of this run made it (parallel_apply.py)
            path = os.path.join(self.handover_dir, name)
            staging = "%s.%d.tmp" % (path, os.getpid())  # one thread per partition: unique
            with open(staging, "w") as handle:
                handle.write("%d\n" % os.getpid())
            os.rename(staging, path)
        except OSError as exc:
            raise PartitionError("cannot write the lock hand-over note in %s: %s" % (self.handover_dir, exc.strerror))

    def handed_over(self, name, handle):
        """True when the note for name names a process that holds this lock file now."""
        try:
            with open(os.path.join(self.handover_dir, name)) as note:
                pid = int(note.read().strip() or 0)
        except (OSError, ValueError):
            return False
        return pid > 0 and pid in self.holders(os.fstat(handle.fileno()))

    def holders(self, stat_result):
        """PIDs /proc/locks shows holding a flock on the file of stat_result."""
        wanted = "%02x:%02x:%d" % (os.major(stat_result.st_dev), os.minor(stat_result.st_dev), stat_result.st_ino)
        pids = set()
        try:
            with open(self.proc_locks) as table:
                for line in table:
                    fields = line.split()
                    # "1: FLOCK  ADVISORY  WRITE 4242 00:1f:1234 0 EOF"; blocked waiters are "1: -> FLOCK ..."
                    if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit():
                        pids.add(int(fields[4]))
        except OSError:
            pass
        return pids

    @staticmethod
    def _try_lock(handle):
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return False

    def _drop_notes(self):
        mine = "%d" % os.getpid()
        try:
            names = os.listdir(self.handover_dir)
        except OSError:
            return
        for name in names:
            path = os.path.join(self.handover_dir, name)
            try:
                with open(path) as note:
                    if note.read().strip() != mine and not name.endswith(".tmp"):
                        continue
                os.unlink(path)
            except (OSError, ValueError):
                pass
