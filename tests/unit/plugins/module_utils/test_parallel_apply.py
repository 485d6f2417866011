# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduling of a bulk converge: waves by autostart_order, bounded workers, results in input order."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.parallel_apply import (
    MAX_WORKERS, default_workers, resolve_workers, run_waves, waves)


@pytest.mark.parametrize("cpus, expected", [(1, 2), (2, 4), (4, 8), (64, 8), (0, 1)])
def test_the_default_is_two_workers_per_core_at_most_eight(cpus, expected):
    assert default_workers(cpus) == expected
    assert resolve_workers(None, cpus) == expected


@pytest.mark.parametrize("value", [0, -1, MAX_WORKERS + 1, True, "4", 2.5])
def test_a_bad_workers_value_is_refused_by_name(value):
    with pytest.raises(InvalidOption) as caught:
        resolve_workers(value, 2)
    assert caught.value.option == "workers" and caught.value.msg.startswith("option workers: invalid value")


@pytest.mark.parametrize("value", [1, 3, MAX_WORKERS])
def test_a_good_workers_value_is_kept(value):
    assert resolve_workers(value, 2) == value


def test_starts_go_in_waves_by_order_and_the_rest_in_the_first():
    # stop, start@20, start@10, removal, start@10, start@100
    assert waves([None, 20, 10, None, 10, 100]) == [[0, 2, 3, 4], [1], [5]]


def test_without_starts_everything_is_one_wave():
    assert waves([None, None, None]) == [[0, 1, 2]]
    assert waves([]) == []
    assert waves([5]) == [[0]]


class Probe:
    """A task that records when each index ran and how many ran at once."""

    def __init__(self, hold=0.05, fail=()):
        self.hold = hold
        self.fail = set(fail)
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.began = []
        self.events = []
        self.threads = set()

    def __call__(self, index):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.began.append(index)
            self.events.append(("began", index))
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(self.hold)  # long enough for the other workers to take theirs meanwhile
            if index in self.fail:
                raise PartitionError("item %d failed" % index)
            return "result %d" % index
        finally:
            with self.lock:
                self.running -= 1
                self.events.append(("ended", index))


def test_no_more_than_workers_run_at_once_and_results_keep_input_order():
    probe = Probe()
    results = run_waves([list(range(10))], 3, probe)
    assert results == ["result %d" % index for index in range(10)]
    assert probe.most == 3  # bounded, and more than one: they did overlap
    assert sorted(probe.began) == list(range(10)) and probe.began[:3] == [0, 1, 2]  # taken in input order


def test_one_worker_runs_in_the_calling_thread_one_after_another():
    probe = Probe(hold=0)
    assert run_waves([[0, 1, 2]], 1, probe) == ["result 0", "result 1", "result 2"]
    assert probe.most == 1 and probe.began == [0, 1, 2] and probe.threads == {threading.current_thread().name}


def test_a_wave_is_wholly_done_before_the_next_begins():
    probe = Probe()
    results = run_waves(waves([30, 10, None, 10, 20, 30]), 4, probe)
    assert results == ["result %d" % index for index in range(6)]
    # each wave's items began and ended before any item of the next began
    assert sorted(probe.events[:6]) == sorted([("began", 1), ("began", 2), ("began", 3), ("ended", 1), ("ended", 2), ("ended", 3)])
    assert probe.events[6:8] == [("began", 4), ("ended", 4)]
    assert sorted(probe.events[8:]) == [("began", 0), ("began", 5), ("ended", 0), ("ended", 5)]
    assert probe.most == 3  # the first wave's three ran side by side


def test_a_failure_stops_what_has_not_started_and_raises_the_lowest_index():
    probe = Probe(fail=(1, 2))
    with pytest.raises(PartitionError) as caught:
        run_waves([list(range(8))], 3, probe)
    assert caught.value.msg == "item 1 failed"  # what a sequential run would have raised first
    assert set(probe.began) <= set(range(5)) and 7 not in probe.began  # none started after the failure was seen
    assert probe.running == 0  # those running were waited for


def test_a_failure_in_one_wave_starts_no_later_wave():
    probe = Probe(fail=(0,))
    with pytest.raises(PartitionError):
        run_waves([[0, 1], [2]], 2, probe)
    assert 2 not in probe.began


def test_items_that_report_their_own_failure_let_the_others_go_on():
    """keep_going: converge.py's task returns the failure in its outcome instead of raising."""
    def task(index):
        return ("failed", index) if index == 2 else ("ok", index)
    assert run_waves(waves([10, 10, 10, 20]), 4, task) == [("ok", 0), ("ok", 1), ("failed", 2), ("ok", 3)]
