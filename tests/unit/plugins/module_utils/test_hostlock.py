# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# The host lock and its hand-over, on real flock(2) and the real /proc/locks: two opens of the lock file
# conflict even within one process, so the holder and the unit command can both be played here.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import LockTimeout
from ansible_collections.linuxvps.partitions.plugins.module_utils.hostlock import HostLock


def test_a_unit_command_waits_for_a_run_that_did_not_hand_its_partition_over(tmp_path):
    with HostLock(str(tmp_path)).hold():
        HostLock(str(tmp_path)).hand_over("other")
        with pytest.raises(LockTimeout, match="holds .*/lock for more than 0.3s"):
            with HostLock(str(tmp_path)).hold(timeout=0.3, on_behalf_of="web"):
                pass


def test_a_unit_command_runs_on_the_lock_of_the_run_that_handed_its_partition_over(tmp_path):
    ran = []
    with HostLock(str(tmp_path)).hold():
        HostLock(str(tmp_path)).hand_over("web")
        with HostLock(str(tmp_path)).hold(timeout=5, on_behalf_of="web"):
            ran.append("web")
        # the command let go of nothing it did not hold: the holder's note is still there
        assert os.path.exists(str(tmp_path / "handover" / "web"))
    assert ran == ["web"]
    assert os.listdir(str(tmp_path / "handover")) == []  # the holder's notes went with its lock


def test_a_note_from_a_run_that_no_longer_holds_the_lock_hands_nothing_over(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()  # a killed run's PID: it holds nothing (and may even be reused by a process that holds nothing)
    (tmp_path / "handover").mkdir()
    (tmp_path / "handover" / "web").write_text(u"%d\n" % child.pid)
    with HostLock(str(tmp_path)).hold():
        with pytest.raises(LockTimeout):
            with HostLock(str(tmp_path)).hold(timeout=0.3, on_behalf_of="web"):
                pass
    (tmp_path / "handover" / "web").write_text(u"garbage")
    with HostLock(str(tmp_path)).hold(timeout=1, on_behalf_of="web"):
        pass  # free: taken normally


def test_holders_reads_flock_lines_for_the_file_only(tmp_path):
    locks = tmp_path / "locks"
    stat_result = os.stat(str(tmp_path))
    me = "%02x:%02x:%d" % (os.major(stat_result.st_dev), os.minor(stat_result.st_dev), stat_result.st_ino)
    locks.write_text(u"1: FLOCK  ADVISORY  WRITE 4242 %s 0 EOF\n"
                     u"1: -> FLOCK  ADVISORY  WRITE 4343 %s 0 EOF\n"
                     u"2: POSIX  ADVISORY  WRITE 4444 %s 0 EOF\n"
                     u"3: FLOCK  ADVISORY  WRITE 4545 00:01:1 0 EOF\n" % (me, me, me))
    assert HostLock(str(tmp_path), proc_locks=str(locks)).holders(stat_result) == {4242}
