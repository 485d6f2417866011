# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beancounters: what read_counters() takes from fake v1 and v2 trees, the ledger's arithmetic (counters.py), and
the ledger kept across stops, crashes, reboots and resets by the engine (partition_counters.py, on fakes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import counters, partition_counters
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import common
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter, tenants
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.test_cgroups import (
    partition,
    read,
    v1_host,
    v2_host,
    write_tree,
)

MIB = 2 ** 20


# ---- read_counters on fake trees ------------------------------------------------------------------
def test_v1_counters(tmp_path):
    host, _root = v1_host(tmp_path)
    found = partition(host, "web1").read_counters()
    assert found["memory"] == {"held": 16777216, "maxheld": 33554432, "limit": None, "failcnt": 3}
    assert found["swap"] == {"held": 4096, "maxheld": None, "limit": None, "failcnt": None}
    assert found["pids"] == {"held": 7, "maxheld": None, "limit": None, "failcnt": 5}
    assert found["cpu"] == {"held": 1.5, "maxheld": None, "limit": None, "failcnt": 4, "throttled_seconds": 2.5}
    assert found["oom_kills"] == 2
    # no pids.peak, no swap peak on v1, OOM kills lost with removed sub-cgroups: each said to be a lower bound
    assert found["approximate"] == ["oom_kills", "pids.maxheld", "swap.maxheld"]


def test_v1_counters_sum_the_payload_and_take_the_kernels_pids_peak(tmp_path):
    host, root = v1_host(tmp_path)
    write_tree(root / "memory" / "linuxvps" / "web1" / "payload", {"memory.oom_control": "oom_kill_disable 0\noom_kill 3"})
    write_tree(root / "pids" / "linuxvps" / "web1", {"pids.peak": "61"})
    write_tree(root / "pids" / "linuxvps" / "web1" / "payload", {"pids.events": "max 4"})
    found = partition(host, "web1").read_counters()
    assert found["oom_kills"] == 5 and found["pids"]["failcnt"] == 9 and found["pids"]["maxheld"] == 61
    assert "pids.maxheld" not in found["approximate"]


def test_v1_a_swap_limit_makes_the_failcnts_lower_bounds(tmp_path):
    host, root = v1_host(tmp_path)
    write_tree(root / "memory" / "linuxvps" / "web1", {"memory.limit_in_bytes": str(96 * MIB), "memory.memsw.limit_in_bytes": str(96 * MIB)})
    found = partition(host, "web1").read_counters()
    assert found["swap"]["limit"] == 0
    assert {"memory.failcnt", "swap.failcnt"} <= set(found["approximate"])


def test_v1_reset_peaks_restarts_the_kernels_memory_peak(tmp_path):
    host, root = v1_host(tmp_path)
    assert partition(host, "web1").reset_peaks() == ["memory.maxheld"]
    assert read(root / "memory" / "linuxvps" / "web1" / "memory.max_usage_in_bytes") == "0"
    assert partition(host, "web9").reset_peaks() == []


def test_v2_counters_hierarchical_and_local(tmp_path):
    host, root = v2_host(tmp_path)
    write_tree(root / "linuxvps" / "web1", {"memory.events.local": "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0",
                                            "memory.swap.events": "high 0\nmax 7\nfail 0", "memory.swap.peak": "8192"})
    cg = partition(host, "web1")
    found = cg.read_counters()
    assert found["memory"] == {"held": 16777216, "maxheld": 33554432, "limit": None, "failcnt": 6}
    assert found["swap"] == {"held": 4096, "maxheld": 8192, "limit": None, "failcnt": 7}
    assert found["cpu"] == {"held": 2.5, "maxheld": None, "limit": None, "failcnt": 2, "throttled_seconds": 0.7}
    assert found["oom_kills"] == 1 and found["approximate"] == ["pids.maxheld"]
    assert cg.read_counters(local=True)["memory"]["failcnt"] == 2
    assert cg.reset_peaks() == []


def test_v2_pids_hits_before_6_12_are_summed_over_the_tree(tmp_path):
    """Before 6.12 pids.events counts a refused fork in the forking task's cgroup (the payload and below)."""
    host, root = v2_host(tmp_path)
    write_tree(root / "linuxvps" / "web1" / "payload", {"pids.events": "max 4"})
    write_tree(root / "linuxvps" / "web1" / "payload" / "svc", {"pids.events": "max 3"})
    cg = partition(host, "web1")
    assert cg.read_counters()["pids"]["failcnt"] == 7
    assert cg.read_usage()["pids"]["limit_hits"] == 7  # the usage view had the same bug: it read only the top


def test_v2_pids_hits_since_6_12_are_read_at_the_limit(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path)
    write_tree(root / "linuxvps" / "web1", {"pids.events": "max 9", "pids.events.local": "max 2"})
    write_tree(root / "linuxvps" / "web1" / "payload", {"pids.events": "max 4", "pids.events.local": "max 4"})
    cg = partition(host, "web1")
    assert cg.read_counters()["pids"]["failcnt"] == 9
    assert cg.read_counters(local=True)["pids"]["failcnt"] == 2
    # mounted with pids_localevents the kernel counts at the origin again
    monkeypatch.setattr(host, "mount_options", lambda: frozenset(["pids_localevents"]))
    assert cg.read_counters()["pids"]["failcnt"] == 13


def test_v2_oom_kills_with_memory_localevents_are_summed(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path)
    write_tree(root / "linuxvps" / "web1" / "payload", {"memory.events": "max 0\noom_kill 2"})
    cg = partition(host, "web1")
    assert cg.read_counters()["oom_kills"] == 1  # hierarchical: the top already counts what is below
    monkeypatch.setattr(host, "mount_options", lambda: frozenset(["memory_localevents"]))
    assert cg.read_counters()["oom_kills"] == 3


def test_a_tenants_deep_tree_is_walked_within_bounds_and_links_are_not_followed(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path)
    outside = tmp_path / "outside"
    write_tree(outside, {"pids.events": "max 1000"})
    os.symlink(str(outside), str(root / "linuxvps" / "web1" / "link"))
    deep = root / "linuxvps" / "web1"
    for level in range(common.WALK_DEPTH + 3):
        deep = deep / ("d%d" % level)
        write_tree(deep, {"pids.events": "max 1"})
    cg = partition(host, "web1")
    found = cg.read_counters()
    assert found["pids"]["failcnt"] == common.WALK_DEPTH  # the levels within the bound, nothing through the link
    assert "pids.failcnt" in found["approximate"]
    monkeypatch.setattr(common, "WALK_ENTRIES", 3)
    assert cg.read_counters()["pids"]["failcnt"] == 2 and cg.walk_cut


# ---- the ledger ---------------------------------------------------------------------------------
def live(**fields):
    """Flat live fields (counters.flatten of read_counters()), zero unless given."""
    base = dict((field, 0) for field in counters.CUMULATIVE + counters.PEAKS)
    base.update(("%s.held" % resource, 0) for resource in counters.RESOURCES)
    base["approximate"] = []
    base.update((key.replace("__", "."), value) for key, value in fields.items())
    return base


def test_fold_adds_cumulative_fields_keeps_the_highest_peak_and_is_idempotent():
    ledger = counters.new_ledger("T0")
    values, approximate = counters.life_values(ledger, "b/1", live(oom_kills=2, memory__maxheld=100, cpu__held=1.5))
    ledger = counters.fold(ledger, "b/1", values, approximate)
    assert counters.fold(ledger, "b/1", values) is ledger  # never twice
    values, _approximate = counters.life_values(ledger, "b/2", live(oom_kills=1, memory__maxheld=50, cpu__held=1.0))
    ledger = counters.fold(ledger, "b/2", values)
    assert ledger["closed"]["oom_kills"] == 3 and ledger["closed"]["memory.maxheld"] == 100
    assert ledger["closed"]["cpu.held"] == 2.5 and ledger["folded"] == ["b/1", "b/2"]
    view = counters.counters_view(ledger, "b/3", live(oom_kills=1, memory__held=10, memory__maxheld=20), None, {"memory.held": 10})
    assert view["oom_kills"] == 4 and view["memory"]["maxheld"] == 100 and view["memory"]["held"] == 10 and view["since"] == "T0"


def test_a_sample_of_a_life_that_ended_without_a_stop_is_folded_once():
    ledger = counters.new_ledger("T0")
    sample = counters.next_sample(ledger, None, "b/1", live(oom_kills=2, pids__held=40), "T1")
    sample = counters.next_sample(ledger, sample, "b/1", live(oom_kills=3, pids__held=5), "T2")
    assert sample["peaks"]["pids.maxheld"] == 40  # the highest any sample saw
    assert not counters.stale_sample(ledger, sample, "b/1")  # still running
    assert counters.stale_sample(ledger, sample, None)
    folded = counters.fold_sample(ledger, sample)
    assert folded["closed"]["oom_kills"] == 3 and folded["closed"]["pids.maxheld"] == 40
    assert not counters.stale_sample(folded, sample, None)
    # a sample from before a reset never counts after it
    assert not counters.stale_sample(counters.reset(ledger, "T9"), sample, None)


def test_a_reset_during_a_life_subtracts_what_it_had_counted():
    ledger = counters.fold(counters.new_ledger("T0"), "b/1", dict(live(oom_kills=5)))
    now = live(oom_kills=2, memory__held=30, memory__maxheld=90, cpu__held=7.0)
    ledger = counters.reset(ledger, "T5", "b/2", now)
    assert ledger["closed"] == {} and ledger["since"] == "T5" and ledger["folded"] == ["b/1"]
    later = live(oom_kills=3, memory__held=20, memory__maxheld=90, cpu__held=8.0)
    view = counters.counters_view(ledger, "b/2", later, None, {"memory.held": 20})
    assert view["oom_kills"] == 1 and view["cpu"]["held"] == 1.0
    # the kernel's peak still holds what came before the reset: only what is held (and sampled) since counts
    assert view["memory"]["maxheld"] == 20 and "memory.maxheld" in view["approximate"]
    exact = counters.reset(counters.new_ledger("T0"), "T5", "b/2", now, reset_peaks=["memory.maxheld"])
    assert "memory.maxheld" not in counters.counters_view(exact, "b/2", later, None, {"memory.held": 20})["approximate"]
    ledger = counters.fold(ledger, "b/2", counters.life_values(ledger, "b/2", later)[0])
    assert ledger["offsets"] is None and ledger["closed"]["oom_kills"] == 1


def test_reset_is_due_only_after_an_event():
    view = counters.counters_view(counters.new_ledger("T0"), "b/1", live(cpu__held=50.0, memory__maxheld=10))
    assert not counters.reset_due(view)
    assert counters.reset_due(counters.counters_view(counters.new_ledger("T0"), "b/1", live(pids__failcnt=1)))


def test_null_fields_stay_null_and_are_never_called_approximate():
    view = counters.counters_view(counters.new_ledger("T0"), "b/1", dict(live(), **{"swap.held": None, "swap.maxheld": None}))
    assert view["swap"]["maxheld"] is None and view["swap"]["held"] is None
    assert "swap.maxheld" not in view["approximate"]


# ---- tenants -------------------------------------------------------------------------------------
def report(name, tenant, state="running", **fields):
    return {"name": name, "state": state, "config": {"tenant": tenant},
            "counters": counters.counters_view(counters.new_ledger("T0"), "b/1", live(**fields), None,
                                               dict((k.replace("__", "."), v) for k, v in fields.items() if k.endswith("held")))}


def test_tenants_sum_their_partitions_next_to_their_limits():
    reports = [report("a1", "acme", memory__held=10, oom_kills=1, cpu__held=2.0), report("a2", "acme", "stopped", oom_kills=2),
               report("g1", "globex", memory__held=5)]
    documents = {"acme": {"resources": {"memory": 300, "pids": 50}, "max_partitions": 3}, "initech": {"resources": {}}}
    found = dict((entry["name"], entry) for entry in tenants(reports, documents, lambda name: {"oom_kills": 9} if name == "acme" else None))
    assert sorted(found) == ["acme", "globex", "initech"]
    acme = found["acme"]
    assert acme["declared"] and acme["limits"] == {"memory": 300, "pids": 50} and acme["max_partitions"] == 3
    assert acme["partitions"] == ["a1", "a2"] and acme["running"] == 1
    assert acme["usage"]["memory"] == 10 and acme["usage"]["cpu"] == 2.0
    assert acme["totals"]["oom_kills"] == 3 and acme["totals"]["memory"]["limit"] == 300 and acme["totals"]["memory"]["maxheld"] is None
    assert acme["counters"] == {"oom_kills": 9}
    assert not found["globex"]["declared"] and found["globex"]["limits"] is None and found["globex"]["counters"] is None
    assert found["initech"]["partitions"] == [] and found["initech"]["usage"]["memory"] is None


# ---- on the engine (fakes) -------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(partition_counters, "boot_id", lambda: "boot-1")
    return FakeEngine(str(tmp_path / "state"))


def kernel(engine, name, **fields):
    """Make the partition's fake cgroup count fields (resource__key=value, oom_kills=...)."""
    counted = {}
    for key, value in fields.items():
        if "__" in key:
            resource, field = key.split("__")
            counted.setdefault(resource, {})[field] = value
        else:
            counted[key] = value
    engine.cgroups.kernel[engine.cgroup(name).path] = counted


def info(engine, name="web1", record=False):
    return Reporter(engine, record_samples=record).info(name)[0]["counters"]


def converge(engine, **params):
    return Converger(engine).converge(dict({"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}}, **params))


def test_counters_survive_a_restart_and_a_reboot_without_a_stop(engine, monkeypatch):
    converge(engine)
    kernel(engine, "web1", oom_kills=2, memory__held=10, memory__maxheld=100)
    assert info(engine)["oom_kills"] == 2
    converge(engine, state="restarted")  # the stop folds the first life
    kernel(engine, "web1", oom_kills=1, memory__held=5, memory__maxheld=50)
    counted = info(engine, record=True)  # the read leaves the second life's sample
    assert counted["oom_kills"] == 3 and counted["memory"]["maxheld"] == 100
    # a power cut: the container and cgroup are gone, the document still says it runs
    engine.runtime.containers.clear()
    engine.cgroup("web1").remove()
    monkeypatch.setattr(partition_counters, "boot_id", lambda: "boot-2")
    assert info(engine)["oom_kills"] == 3  # the report folds the sample as the next start will
    converge(engine)  # the start folds it into the ledger
    kernel(engine, "web1", oom_kills=0)
    assert info(engine)["oom_kills"] == 3
    with open(os.path.join(engine.store.partition_dir("web1"), "counters.json")) as handle:
        ledger = json.load(handle)
    assert len(ledger["folded"]) == 2 and ledger["closed"]["oom_kills"] == 3


def test_reset_counters_is_a_planned_change_once_then_none(engine):
    converge(engine)
    kernel(engine, "web1", oom_kills=2, cpu__held=3.0)
    plan, _report = Converger(engine.checking()).converge({"name": "web1", "reset_counters": True})
    assert plan.actions == ["reset_counters"] and plan.diff()["before"]["counters"]["oom_kills"] == 2
    assert info(engine)["oom_kills"] == 2  # check mode reset nothing
    plan, report_after = converge(engine, reset_counters=True)
    assert plan.changed and plan.actions == ["reset_counters"]
    assert info(engine)["oom_kills"] == 0
    kernel(engine, "web1", oom_kills=2, cpu__held=9.0)  # CPU time goes on: no event, nothing to reset
    plan, _report = converge(engine, reset_counters=True)
    assert not plan.changed and info(engine)["cpu"]["held"] == 6.0
    assert "counters" not in report_after  # the partition module's report is unchanged


def test_a_stopped_partitions_counters_show_no_holding_and_the_limits_a_start_applies(engine):
    converge(engine)
    kernel(engine, "web1", oom_kills=1, memory__held=10, pids__maxheld=7)
    converge(engine, state="stopped")
    counted = info(engine)
    assert counted["oom_kills"] == 1 and counted["memory"]["held"] is None and counted["memory"]["limit"] == 256 * MIB
    assert counted["pids"]["maxheld"] == 7


def test_a_stop_counts_what_the_runtimes_delete_takes_with_the_payload(engine, monkeypatch):
    """runc's delete removes the payload cgroup, where v1 counts the OOM kills: the stop reads before it."""
    converge(engine)
    kernel(engine, "web1", oom_kills=2, cpu__held=1.0)
    stop = engine.runtime.stop

    def stop_and_delete(name, signal, timeout):
        stop(name, signal, timeout)
        kernel(engine, "web1", oom_kills=0, cpu__held=1.5)  # the payload's counts gone, the limit cgroup's grown

    monkeypatch.setattr(engine.runtime, "stop", stop_and_delete)
    converge(engine, state="stopped")
    counted = info(engine)
    assert counted["oom_kills"] == 2 and counted["cpu"]["held"] == 1.5


def test_counting_never_fails_a_stop(engine, monkeypatch):
    converge(engine)

    def unreadable(local=False):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(engine.cgroup("web1"), "read_counters", unreadable)
    plan, _report = converge(engine, state="stopped")
    assert plan.actions == ["stop"] and engine.store.load_partition("web1")["running"] is None


def test_only_a_sample_that_counts_news_is_worth_an_fsync():
    life = "boot/2026-12-01T10:00:00Z"
    first = {"life": life, "values": {"memory.failcnt": 0, "oom_kills": 0, "cpu.held": 1.0}, "peaks": {}}
    busier = dict(first, values=dict(first["values"], **{"cpu.held": 9.0}), peaks={"memory.maxheld": 5})
    hit = dict(first, values=dict(first["values"], **{"memory.failcnt": 1}))
    assert counters.sample_counts_news(None, first)
    assert not counters.sample_counts_news(first, busier)  # held values and peaks only
    assert counters.sample_counts_news(first, hit)
    assert counters.sample_counts_news(first, dict(first, life="boot/2026-12-01T11:00:00Z"))
