# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bulk converge with several workers (converge.py over parallel_apply.py), on the fake engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine

ITEMS = [{"name": "c-late", "autostart_order": 20}, {"name": "b-early", "autostart_order": 10},
         {"name": "a-early", "autostart_order": 10}, {"name": "d-default"}, {"name": "e-late", "autostart_order": 20},
         {"name": "f-early", "autostart_order": 10}]


def items(**common):
    return [dict(dict({"rootfs": "debian12"}, **common), **item) for item in ITEMS]


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def test_outcomes_are_per_item_and_in_input_order_whatever_the_workers(tmp_path):
    seen = []
    for workers in (1, 4):
        engine = FakeEngine(str(tmp_path / ("state%d" % workers)))
        outcomes = Converger(engine).converge_many(items(), workers=workers)
        seen.append([(outcome.plan.name, outcome.plan.actions, outcome.plan.changed, outcome.report["state"]) for outcome in outcomes])
        assert sorted(engine.runtime.containers) == sorted(item["name"] for item in ITEMS)
    assert seen[0] == seen[1]
    assert [name for name, _actions, _changed, _state in seen[1]] == [item["name"] for item in ITEMS]
    assert all(changed and state == "running" for _name, _actions, changed, state in seen[1])


def test_a_lower_autostart_order_is_wholly_started_before_a_higher_one_begins(engine):
    Converger(engine).converge_many(items(), workers=4)
    runtime = [entry for entry in engine.log if entry[0] in ("create", "start")]
    assert len(runtime) == 2 * len(ITEMS)
    waves = [{"a-early", "b-early", "f-early"}, {"c-late", "e-late"}, {"d-default"}]  # d-default: order 100
    for lower, higher in zip(waves, waves[1:]):
        assert max(runtime.index(("start", name)) for name in lower) < min(runtime.index(("create", name)) for name in higher)


def test_a_failing_item_is_reported_on_it_while_the_others_converge(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"), fail_create=["e-late"])
    outcomes = Converger(engine).converge_many(items(), workers=3)
    failed = [outcome.plan.name for outcome in outcomes if outcome.failed]
    assert failed == ["e-late"]
    assert outcomes[4].error.msg.startswith("partitions[4] (e-late): command runc create e-late failed")
    assert sorted(engine.runtime.containers) == ["a-early", "b-early", "c-late", "d-default", "f-early"]
    assert engine.store.load_partition("e-late")["running"] is None  # its failed launch left it recorded, stopped


def test_stops_and_removals_go_side_by_side_and_leave_nothing(engine):
    Converger(engine).converge_many(items(), workers=4)
    del engine.log[:]
    outcomes = Converger(engine).converge_many([{"name": item["name"], "state": "absent"} for item in ITEMS], workers=4)
    assert [outcome.plan.actions for outcome in outcomes] == [["destroy"]] * len(ITEMS)
    assert [entry for entry in engine.log if entry[0] == "kill"][:len(ITEMS)] == engine.log[:len(ITEMS)]  # all signalled first
    assert engine.runtime.containers == {} and engine.store.partition_names() == []
    # by the removals that found nothing left: two threads finishing together may both find it so (an rmdir of a
    # parent already gone is nothing)
    assert set(engine.cgroups.removed_parents) == {engine.parent}
    assert engine.id_ranges.ranges == {}


def test_a_removal_keeps_the_range_another_item_of_the_call_is_about_to_use(engine):
    Converger(engine).converge({"name": "old", "rootfs": "debian12", "tenant": "shop"})
    key = engine.tenant_key({"name": "old", "tenant": "shop"})
    base = engine.id_ranges.lookup(key)
    del engine.log[:]
    # the removal comes first: the new partition of the same tenant has no document yet when its range is looked at
    outcomes = Converger(engine).converge_many([{"name": "old", "state": "absent"},
                                                {"name": "new", "rootfs": "debian12", "tenant": "shop"}], workers=2)
    assert not any(outcome.failed for outcome in outcomes)
    assert ("release", key) not in engine.log and engine.templates.dropped == []
    assert engine.id_ranges.lookup(key) == base and engine.store.partition_names() == ["new"]
    assert Converger(engine).actions.kept_ranges == set()


def test_a_removal_keeps_the_idmapped_mount_another_item_of_the_call_starts_on(engine):
    engine.templates.refusal = None  # the host makes idmapped mounts
    Converger(engine).converge({"name": "old", "rootfs": "debian12", "tenant": "shop"})
    Converger(engine).converge({"name": "gone", "rootfs": "debian12", "tenant": "solo"})
    del engine.templates.log[:]
    outcomes = Converger(engine).converge_many([{"name": "old", "state": "absent"}, {"name": "gone", "state": "absent"},
                                                {"name": "new", "rootfs": "debian12", "tenant": "shop"}], workers=1)
    # one worker: the removals come first, so new has no document when they look (with more, a thread may take the
    # mount away between new's making it and its overlay mount)
    assert not any(outcome.failed for outcome in outcomes)
    dropped = [entry for entry in engine.templates.log if entry[0] == "drop_idmapped"]
    # shop's mount stays for new (control: solo's, which no item of the call uses, goes)
    solo_base = [entry[2] for entry in dropped]
    assert len(dropped) == 1 and dropped[0][1] == "debian12"
    assert engine.id_ranges.lookup(engine.tenant_key({"name": "new", "tenant": "shop"})) not in solo_base
    assert Converger(engine).actions.kept_templates == set()
