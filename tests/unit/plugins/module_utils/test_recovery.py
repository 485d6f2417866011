# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs killed at the pause points (faults.py) on fake collaborators (fakes.py): the intent stays, and the next run
of any partition, or the boot command, finishes or rolls back what the killed run left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import actions, converge, faults, hostcmd, launch, templates
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.intents import IntentJournal
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeDisk, FakeEngine, use_real_templates

WEB1 = {"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}}


class Killed(BaseException):
    """kill -9 at a pause point: nothing of the run goes on (no handler of ours catches a BaseException)."""


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def kill_at(monkeypatch, point):
    assert point in faults.POINTS

    def pause(name):
        if name == point:
            raise Killed(name)

    for module in (actions, launch, templates):
        monkeypatch.setattr(module, "pause_point", pause)


def killed_run(monkeypatch, engine, point, params):
    kill_at(monkeypatch, point)
    with pytest.raises(Killed):
        Converger(engine).converge(params)
    monkeypatch.undo()
    assert os.listdir(IntentJournal(engine.store).base) == [params["name"] + ".json"], "the intent outlives the kill"


def run(engine, **params):
    plan, report = Converger(engine).converge(params)
    return plan, report


def recovered(plan, name="web1"):
    return [warning for warning in plan.warnings if warning.startswith("partition %s: a run was killed during" % name)]


def test_a_start_killed_before_init_ran_is_rolled_back_even_by_a_run_that_asks_for_stopped(engine, monkeypatch):
    run(engine, state="present", **WEB1)
    killed_run(monkeypatch, engine, "start-created", dict(WEB1, state="started"))
    assert engine.runtime.containers["web1"]["status"] == "created" and engine.cgroup("web1").exists()
    plan, report = run(engine, name="web1", state="stopped")
    assert plan.actions == [] and report["state"] == "stopped"
    assert "stopped it and removed its runtime" in recovered(plan)[0]
    assert engine.runtime.containers == {} and not engine.cgroup("web1").exists()
    assert os.listdir(IntentJournal(engine.store).base) == []


def test_a_start_that_finished_before_the_kill_is_kept(engine):
    run(engine, **WEB1)
    pid = engine.runtime.containers["web1"]["pid"]
    IntentJournal(engine.store).record("web1", ["record", "prepare", "start"], running_before=None)  # killed before clearing it
    plan, report = run(engine, name="web1", state="started")
    assert plan.actions == [] and report["pid"] == pid
    assert "its start had finished" in recovered(plan)[0]


def test_a_stop_killed_after_the_runtime_went_is_finished(engine, monkeypatch):
    run(engine, **WEB1)
    killed_run(monkeypatch, engine, "stop-runtime-gone", {"name": "web1", "state": "stopped"})
    assert engine.runtime.containers["web1"]["status"] == "stopped" and engine.cgroup("web1").exists()
    assert engine.store.load_partition("web1")["running"] is not None
    plan, _report = run(engine, name="web1", state="stopped")
    assert plan.actions == [] and recovered(plan)
    assert engine.runtime.containers == {} and not engine.cgroup("web1").exists()
    assert engine.store.load_partition("web1")["running"] is None


def test_a_removal_killed_after_the_wipe_is_finished_not_brought_back_with_a_blank_disk(engine, monkeypatch):
    run(engine, **WEB1)
    created = engine.store.load_partition("web1")["created"]
    key = engine.tenant_key(WEB1)
    killed_run(monkeypatch, engine, "destroy-wiped", {"name": "web1", "state": "absent"})
    assert engine.store.load_partition("web1") is not None and engine.id_ranges.lookup(key) is not None
    del engine.log[:]
    engine.store.save_partition("web1", dict(engine.store.load_partition("web1"), created="earlier"))
    plan, _report = run(engine, **WEB1)
    assert "finished its removal" in recovered(plan)[0]
    assert plan.actions == ["record", "prepare", "start"], "a new partition, not the half-removed one"
    assert engine.log.index(("destroy", "web1")) < engine.log.index(("create", "web1"))
    assert engine.store.load_partition("web1")["created"] not in ("earlier", None) and created


def test_a_range_release_killed_after_the_copies_went_is_finished_by_a_run_on_another_partition(engine, monkeypatch):
    run(engine, **WEB1)
    run(engine, name="web2", rootfs="debian12", tenant="shop")
    key = engine.tenant_key(WEB1)
    killed_run(monkeypatch, engine, "release-dropped", {"name": "web1", "state": "absent"})
    assert engine.id_ranges.lookup(key) is not None and engine.store.partition_names() == ["web1", "web2"]
    plan, _report = run(engine, name="web2", rootfs="debian12", tenant="shop")
    assert plan.actions == [] and recovered(plan)
    assert engine.id_ranges.lookup(key) is None and engine.store.partition_names() == ["web2"]
    assert engine.id_ranges.lookup(engine.tenant_key({"name": "web2", "tenant": "shop"})) is not None
    assert engine.cgroups.removed_parents == [], "web2 is left"


def test_the_last_removal_killed_before_the_cgroup_parents_went_is_finished(engine, monkeypatch):
    run(engine, **WEB1)
    killed_run(monkeypatch, engine, "destroy-dir-gone", {"name": "web1", "state": "absent"})
    assert engine.store.partition_names() == [] and engine.cgroups.removed_parents == []
    plan, _report = run(engine, name="web1", state="absent")
    assert plan.actions == [] and recovered(plan) and plan.changed, "the host changed, though no action was planned"
    assert engine.cgroups.removed_parents == [engine.parent]
    plan, _report = run(engine, name="web1", state="absent")
    assert not plan.changed and not recovered(plan)


def test_a_killed_first_partition_of_a_tenant_leaves_no_staging_tree_after_a_run_that_asks_for_present(engine, monkeypatch):
    """Killed while the tenant's copy of the template was shifted: a run that prepares nothing still sweeps it."""
    directory = use_real_templates(engine, monkeypatch)
    kill_at(monkeypatch, "shift-copied")
    monkeypatch.setattr(templates, "remove_tree", lambda path: None)  # a kill runs no finally either
    with pytest.raises(Killed):
        run(engine, **WEB1)
    monkeypatch.undo()
    assert [entry for entry in os.listdir(directory) if entry.startswith(".shifting-")]
    plan, report = run(engine, name="web1", state="present")
    assert plan.actions == [] and report["state"] == "stopped" and recovered(plan)
    assert not [entry for entry in os.listdir(directory) if entry.startswith(".shifting-")]


def test_a_disk_reset_killed_after_the_wipe_is_finished_with_the_new_settings(engine, monkeypatch):
    run(engine, **WEB1)

    def killed(disk, lower, owner=None):
        raise Killed("prepare")

    monkeypatch.setattr(FakeDisk, "prepare", killed)
    with pytest.raises(Killed):
        run(engine, name="web1", rootfs="debian12-alt", recreate="options-changed")
    monkeypatch.undo()
    assert engine.store.load_partition("web1")["spec"]["rootfs"] == "debian12"
    plan, report = run(engine, name="web1", state="stopped")
    assert "recorded its new settings" in recovered(plan)[0]
    assert engine.store.load_partition("web1")["spec"]["rootfs"] == "debian12-alt" and report["state"] == "stopped"


def test_check_mode_says_what_is_pending_and_changes_nothing(engine, monkeypatch):
    run(engine, **WEB1)
    killed_run(monkeypatch, engine, "destroy-wiped", {"name": "web1", "state": "absent"})
    plan, _report = Converger(engine.checking()).converge({"name": "web1", "state": "absent"})
    assert [w for w in plan.warnings if "killed during destroy; the next partition run" in w] and plan.changed
    assert os.listdir(IntentJournal(engine.store).base) == ["web1.json"] and engine.store.partition_names() == ["web1"]


def test_a_failed_start_clears_its_intent_it_cleaned_up_itself(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"), fail_create=["web1"])
    with pytest.raises(PartitionError):
        run(engine, **WEB1)
    assert os.listdir(IntentJournal(engine.store).base) == []
    plan, _report = run(engine, name="web1", state="stopped")
    assert recovered(plan) == []


def test_the_boot_command_recovers_first(engine, monkeypatch):
    run(engine, state="present", autostart=True, **WEB1)
    killed_run(monkeypatch, engine, "start-created", dict(WEB1, state="started"))
    results = hostcmd.start_autostart(engine)
    assert results[0][:2] == ("recovery", "done") and "web1" in results[0][2]
    assert results[-1][:2] == ("web1", "started") and engine.runtime.containers["web1"]["status"] == "running"


def test_a_removal_goes_on_without_an_intent_when_the_state_disk_is_full(engine, monkeypatch):
    run(engine, **WEB1)

    def full(*args, **kwargs):
        raise PartitionError("cannot write intents/web1.json: No space left on device", errno=errno.ENOSPC)

    monkeypatch.setattr(IntentJournal, "record", full)
    plan, report = run(engine, name="web1", state="absent")
    assert report["state"] == "absent" and [w for w in plan.warnings if "without an intent" in w]


def test_an_unreadable_intent_is_reported_and_kept(engine):
    run(engine, **WEB1)
    journal = IntentJournal(engine.store)
    os.makedirs(journal.base, exist_ok=True)
    with open(journal.path("web1"), "w") as handle:
        handle.write("{")
    plan, _report = run(engine, name="web1")
    assert [w for w in plan.warnings if "is not valid JSON" in w] and os.path.exists(journal.path("web1"))
    assert not plan.changed, "nothing was done for it"


def test_pause_points_do_nothing_unless_named(tmp_path):
    slept = []
    pid_file = str(tmp_path / "pid")
    assert faults.pause_point("start-created", environ={}, sleep=slept.append) is False
    assert faults.pause_point("start-created", environ={faults.PAUSE_AT: "stop-runtime-gone"}, sleep=slept.append) is False
    assert slept == []
    environ = {faults.PAUSE_AT: "start-created", faults.PAUSE_FILE: pid_file}
    assert faults.pause_point("start-created", environ=environ, sleep=slept.append) is True
    assert open(pid_file).read() == "%d\n" % os.getpid() and len(slept) == faults.PAUSE_SECONDS


def test_the_template_and_network_modules_open_an_engine_only_when_something_is_pending(engine, monkeypatch):
    monkeypatch.setattr(converge.PartitionEngine, "open", classmethod(lambda cls, state_dir: engine))
    assert converge.recover_pending(engine.store.root) == []
    Converger(engine).converge(WEB1)
    killed_run(monkeypatch, engine, "destroy-wiped", {"name": "web1", "state": "absent"})
    monkeypatch.setattr(converge.PartitionEngine, "open", classmethod(lambda cls, state_dir: engine))
    assert [w for w in converge.recover_pending(engine.store.root, check_mode=True) if "killed during destroy" in w]
    assert engine.store.partition_names() == ["web1"]
    assert [w for w in converge.recover_pending(engine.store.root) if "finished its removal" in w]
    assert engine.store.partition_names() == []
