# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's rooms (converge, actions, launch, report, hostcmd) on fake collaborators (fakes.py): what each
run records, applies and reports, and in which order it calls the runtime and the cgroups."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import threading

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import hostcmd, launch, net, state
from ansible_collections.linuxvps.partitions.plugins.module_utils.actions import PartitionActions
from ansible_collections.linuxvps.partitions.plugins.module_utils.console import UNBOUNDED_WARNING, FileConsole, RingConsole
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import Launcher
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, InvalidOption, NetworkError, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import ACTIONS
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeDisk, FakeEngine, FakeHostNet, use_real_templates

MIB = 1024 * 1024


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def started(engine, name="web1", **params):
    plan, report = Converger(engine).converge(dict({"name": name, "rootfs": "debian12", "resources": {"memory": "256M"}}, **params))
    del engine.log[:]
    return plan, report


def test_every_planned_action_has_a_handler(engine):
    assert set(PartitionActions(engine).handlers) == set(ACTIONS)


def test_a_new_partition_is_recorded_prepared_and_launched_under_its_limits(engine):
    plan, report = Converger(engine).converge({"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}})
    assert plan.actions == ["record", "prepare", "start"]
    base = engine.id_ranges.lookup(engine.tenant_key(plan.spec))
    assert engine.log == [("prepare", "web1", "debian12@%d" % base), ("prepare", "web1", "debian12@%d" % base),
                          ("mount", "web1", "debian12@%d" % base), ("limits", "/%s/web1.tenant" % engine.parent),
                          ("limits", "/%s/web1.tenant/web1" % engine.parent), ("create", "web1"), ("start", "web1")]
    document = engine.store.load_partition("web1")
    assert document["spec"] == plan.spec and document["running"]["spec"] == plan.spec
    assert report["state"] == "running" and report["pid"] == engine.runtime.containers["web1"]["pid"]
    assert report["id_base"] == base and report["cgroup"] == document["running"]["cgroup"] == "/%s/web1.tenant/web1" % engine.parent


def test_a_disk_setting_changed_without_recreate_is_kept_while_a_live_limit_applies(engine):
    """The plan owns its spec: the refused rootfs is neither recorded nor reported, the memory limit is applied."""
    _plan, first = started(engine)
    ask = {"name": "web1", "rootfs": "debian12-alt", "resources": {"memory": "512M"}}
    plan, report = Converger(engine).converge(ask)
    assert plan.actions == ["update", "record"]
    assert [w for w in plan.warnings if "rootfs" in w and "recreate: options-changed" in w]
    assert plan.spec["rootfs"] == "debian12" and plan.diff()["after"]["rootfs"] == "debian12"
    document = engine.store.load_partition("web1")
    assert document["spec"]["rootfs"] == "debian12"
    assert document["spec"]["resources"]["memory"] == 512 * MIB
    assert engine.cgroup("web1").limits["memory"] == 512 * MIB
    assert engine.log == [("limits", "/%s/web1.tenant/web1" % engine.parent)]  # live: no stop, no new disk
    assert report["config"]["rootfs"] == "debian12" and report["pid"] == first["pid"]

    again, _report = Converger(engine).converge(ask)
    assert again.actions == [] and [w for w in again.warnings if "rootfs" in w]

    rebuilt, after = Converger(engine).converge(dict(ask, recreate="options-changed"))
    assert rebuilt.actions == ["stop", "reset_disk", "record", "start"]
    assert engine.store.load_partition("web1")["spec"]["rootfs"] == "debian12-alt"
    assert FakeDisk.disks[engine.store.partition_dir("web1")].startswith(engine.templates.root + "/debian12-alt@")
    assert after["config"]["rootfs"] == "debian12-alt" and after["pid"] != first["pid"]


@pytest.mark.parametrize("setting, value", [("tenant", "other"), ("storage", "copy"), ("privileged", True)])
def test_every_disk_setting_is_kept_without_recreate(engine, setting, value):
    started(engine)
    plan, report = Converger(engine).converge({"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}, setting: value})
    assert plan.actions == []
    assert engine.store.load_partition("web1")["spec"].get(setting) == report["config"].get(setting) != value


def test_check_mode_changes_nothing_and_tells_the_state_it_would_leave(engine):
    checking = engine.checking()
    plan, report = Converger(checking).converge({"name": "web1", "rootfs": "debian12"})
    assert plan.actions == ["record", "prepare", "start"]
    assert report["state"] == "running" and report["pid"] is None and report["runtime"] == "runc"  # what would start it
    assert engine.log == [] and engine.store.partition_names() == [] and engine.runtime.containers == {}
    _plan, report = Converger(checking).converge({"name": "web1", "state": "absent"})
    assert report["state"] == "absent" and "runtime" not in report


def test_check_mode_on_a_running_partition_keeps_its_pid(engine):
    _plan, first = started(engine)
    plan, report = Converger(engine.checking()).converge({"name": "web1", "rootfs": "debian12", "resources": {"memory": "300M"}})
    assert plan.actions == ["update", "record"] and report["pid"] == first["pid"]
    assert engine.log == [] and engine.cgroup("web1").limits["memory"] == 256 * MIB


def test_a_bulk_stop_signals_every_partition_before_stopping_each(engine):
    started(engine, "web1")
    started(engine, "web2")
    outcomes = Converger(engine).converge_many([{"name": "web1", "state": "stopped"}, {"name": "web2", "state": "absent"}])
    assert [outcome.plan.actions for outcome in outcomes] == [["stop"], ["destroy"]]
    assert engine.log[:2] == [("kill", "web1"), ("kill", "web2")]
    assert ("stop", "web1") in engine.log and ("destroy", "web2") in engine.log
    assert engine.store.partition_names() == ["web1"]
    assert outcomes[0].report["state"] == "stopped" and outcomes[1].report["state"] == "absent"


def test_a_failed_item_is_reported_and_the_others_go_on(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"), fail_create=["bad"])
    outcomes = Converger(engine).converge_many([{"name": "bad", "rootfs": "debian12"}, {"name": "good", "rootfs": "debian12"}])
    assert outcomes[0].failed and "container init failed" in outcomes[0].error.msg
    assert outcomes[0].error.msg.startswith("partitions[0] (bad): command runc create bad failed")
    assert not outcomes[1].failed and outcomes[1].report["state"] == "running"
    assert "bad" not in engine.runtime.containers  # the failed launch took its container down
    assert ("delete", "bad") in engine.log


def test_bad_input_fails_before_anything_changes(engine):
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge_many([{"name": "web1", "rootfs": "debian12"}, {"name": "web1", "rootfs": "debian12"}])
    assert caught.value.option == "partitions" and "(partitions[0], partitions[1])" in caught.value.msg
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge_many([{"name": "web1", "rootfs": "debian12"}, {"name": "web2", "rootfs": "missing"}])
    assert caught.value.option == "rootfs"
    assert engine.log == [] and engine.store.partition_names() == []


@pytest.mark.parametrize("items, start", [
    ([{"name": "web1"}, {"name": "web2", "resources": {"memory": "12XB"}}], "partitions[1] (web2): option resources.memory: invalid value '12XB'"),
    ([{"name": "web1"}, {"name": "web2"}, {"name": "A B"}], "partitions[2] ('A B'): option name: invalid value 'A B'"),
    ([{"name": "web1", "rootfs": "missing"}], "partitions[0] (web1): option rootfs: invalid value 'missing'"),
])
def test_a_list_form_error_names_the_item(engine, items, start):
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge_many([dict({"rootfs": "debian12"}, **item) for item in items])
    assert caught.value.msg.startswith(start)
    assert caught.value.details["item"]["index"] == len(items) - 1
    assert engine.log == [] and engine.store.partition_names() == []


def test_the_single_form_names_no_item(engine):
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge({"name": "web1", "rootfs": "debian12", "resources": {"memory": "12XB"}})
    assert caught.value.msg.startswith("option resources.memory:") and "item" not in caught.value.details


def test_warnings_name_limits_the_host_cannot_enforce_and_only_those_set(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"), unenforced=("cpu_weight", "cpus"))  # cpu_weight stays at its default
    plan, _report = Converger(engine.checking()).converge({"name": "web1", "rootfs": "debian12", "resources": {"cpus": 0.5}})
    assert [w for w in plan.warnings if "not enforced" in w] == ["partition web1: resources.cpus is not enforced on this host: not here"]


def test_a_start_without_rotatelogs_or_systemd_warns_that_the_console_is_bounded_only_at_start(engine):
    plan, _report = Converger(engine.checking()).converge({"name": "web1", "rootfs": "debian12"})
    assert plan.warnings.count(UNBOUNDED_WARNING) == 1 and "web1" not in UNBOUNDED_WARNING  # one text for a whole call
    engine.console_pump = "/usr/bin/rotatelogs"
    plan, _report = Converger(engine.checking()).converge({"name": "web1", "rootfs": "debian12"})
    assert UNBOUNDED_WARNING not in plan.warnings
    engine.console_pump = None
    started(engine)
    plan, _report = Converger(engine).converge({"name": "web1", "rootfs": "debian12", "state": "stopped"})
    assert UNBOUNDED_WARNING not in plan.warnings  # only starts say it


def test_the_console_is_the_ring_where_rotatelogs_is_and_the_file_elsewhere(engine):
    launcher = PartitionActions(engine).launcher
    assert isinstance(launcher.console("web1"), FileConsole)
    engine.console_pump = "/usr/bin/rotatelogs"
    ring = launcher.console("web1")
    assert isinstance(ring, RingConsole) and ring.command[0] == "/usr/bin/rotatelogs"
    assert ring.path == engine.console_log("web1") == os.path.join(engine.store.partition_dir("web1"), "console.log")


def test_destroying_a_tenants_last_partition_releases_its_range_and_the_shared_parents(engine):
    started(engine, "web1", tenant="shop")
    started(engine, "web2", tenant="shop")
    base = engine.id_ranges.lookup(engine.tenant_key({"name": "web1", "tenant": "shop"}))
    Converger(engine).converge({"name": "web1", "state": "absent"})
    assert engine.id_ranges.lookup(engine.tenant_key({"name": "web1", "tenant": "shop"})) == base
    assert engine.templates.dropped == [] and engine.cgroups.removed_parents == []
    Converger(engine).converge({"name": "web2", "state": "absent"})
    assert engine.id_ranges.ranges == {} and engine.templates.dropped == [base]
    assert engine.cgroups.removed_parents == [engine.parent]


def test_a_range_is_released_after_its_files_and_copies_and_before_the_directory_goes(engine):
    started(engine)
    key = engine.tenant_key({"name": "web1"})
    base = engine.id_ranges.lookup(key)
    Converger(engine).converge({"name": "web1", "state": "absent"})
    order = [entry for entry in engine.log if entry[0] in ("wipe", "drop_shifted", "release", "destroy")]
    assert order == [("wipe", "web1"), ("drop_shifted", base), ("release", key), ("destroy", "web1")]


def test_a_failed_drop_of_the_shifted_copies_keeps_the_range_and_the_partition_for_the_next_run(engine, monkeypatch):
    started(engine)
    key = engine.tenant_key({"name": "web1"})
    base = engine.id_ranges.lookup(key)

    def failing(base):
        raise PartitionError("disk error")

    monkeypatch.setattr(engine.templates, "drop_shifted", failing)
    with pytest.raises(PartitionError):
        Converger(engine).converge({"name": "web1", "state": "absent"})
    assert engine.id_ranges.lookup(key) == base and engine.store.partition_names() == ["web1"]
    monkeypatch.undo()
    plan, _report = Converger(engine).converge({"name": "web1", "state": "absent"})
    # the failed removal's intent is kept: the next run, whatever it asks, finishes it first
    assert plan.actions == [] and [w for w in plan.warnings if "finished its removal" in w]
    assert engine.templates.dropped == [base]
    assert engine.id_ranges.ranges == {} and engine.store.partition_names() == []


def test_the_staging_tree_of_a_killed_shift_is_swept_by_the_next_partition_start(engine, monkeypatch):
    """The first start of a tenant was killed while its copy of the template was shifted; the next one sweeps it."""
    directory = use_real_templates(engine, monkeypatch)
    os.makedirs(os.path.join(directory, ".shifting-100000-killed", "tree", "etc"))
    plan, _report = Converger(engine).converge({"name": "web1", "rootfs": "debian12"})
    base = engine.id_ranges.lookup(engine.tenant_key(plan.spec))
    assert sorted(os.listdir(directory)) == [".shift.lock", "manifest.json", "rootfs", "shifted-%d" % base, "shifted-%d.complete" % base]
    assert FakeDisk.disks[engine.store.partition_dir("web1")] == os.path.join(directory, "shifted-%d" % base)


def test_reports_of_stopped_and_unknown_partitions(engine):
    Converger(engine).converge({"name": "web1", "rootfs": "debian12", "state": "stopped"})
    reporter = Reporter(engine)
    (report,) = reporter.info()
    assert report["state"] == "stopped" and report["pid"] is None and report["started"] is None
    assert report["usage"]["disk"]["used_bytes"] == 0 and "memory" not in report["usage"]
    assert reporter.report("nothing") == {"name": "nothing", "state": "absent", "pid": None}


def test_autostart_restores_order_and_survives_a_broken_partition(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"), fail_create=["b-broken"])
    items = [{"name": "c-late", "autostart_order": 20}, {"name": "b-broken", "autostart_order": 10},
             {"name": "a-first", "autostart_order": 10}, {"name": "d-manual", "autostart": False}]
    Converger(engine).converge_many([dict({"autostart": True}, rootfs="debian12", state="present", **item) for item in items])
    results = hostcmd.start_autostart(engine)
    assert [(name, outcome) for name, outcome, _error in results] == [("a-first", "started"), ("b-broken", "failed"), ("c-late", "started")]
    assert "container init failed" in results[1][2]
    assert sorted(engine.runtime.containers) == ["a-first", "c-late"]
    assert [name for name, outcome, _error in hostcmd.start_autostart(engine) if outcome == "running"] == ["a-first", "c-late"]


def test_autostart_starts_partitions_of_one_order_side_by_side(engine, monkeypatch):
    """Two partitions of the same autostart_order are created at once: each waits in create() for the other."""
    Converger(engine).converge_many([{"name": name, "rootfs": "debian12", "state": "present", "autostart": True}
                                     for name in ("web1", "web2")])
    both = threading.Barrier(2, timeout=10)
    real_create = engine.runtime.create

    def create(name, *args):
        both.wait()  # broken (an error) when the other never comes
        return real_create(name, *args)

    monkeypatch.setattr(engine.runtime, "create", create)
    monkeypatch.setattr(hostcmd, "default_workers", lambda: 2)
    results = hostcmd.start_autostart(engine)
    assert [(name, outcome) for name, outcome, _error in results] == [("web1", "started"), ("web2", "started")]


def test_autostart_starts_the_others_when_one_cannot_be_planned(engine, monkeypatch):
    """The boot command plans all autostart partitions together; one that cannot be planned fails alone."""
    Converger(engine).converge_many([{"name": name, "rootfs": "debian12", "state": "present", "autostart": True}
                                     for name in ("a-web", "b-bad", "c-web")])
    real_plan = Converger.plan

    def plan(self, params, *args, **kwargs):
        if params["name"] == "b-bad":
            raise InvalidOption("rootfs", "gone", "no such template")
        return real_plan(self, params, *args, **kwargs)

    monkeypatch.setattr(Converger, "plan", plan)
    results = hostcmd.start_autostart(engine)
    assert [(name, outcome) for name, outcome, _error in results] == [("a-web", "started"), ("b-bad", "failed"), ("c-web", "started")]
    assert "no such template" in results[1][2] and sorted(engine.runtime.containers) == ["a-web", "c-web"]


def test_the_unit_stop_command_leaves_nothing_running(engine):
    started(engine)
    hostcmd.unit_stop(engine, "web1")
    assert engine.runtime.containers == {} and engine.store.load_partition("web1")["running"] is None
    assert not engine.cgroup("web1").exists()


def test_host_command_usage(capsys):
    assert hostcmd.main(["bogus"]) == 2
    assert "usage" in capsys.readouterr().err


def corrupt(engine, name):
    with open(engine.store.partition_document(name), "w") as handle:
        handle.write('{"name": "%s", "spec": {"na' % name)  # cut short, as by a full disk or an editor


def test_a_corrupt_document_blocks_only_its_own_partition(engine):
    started(engine, "web1")
    started(engine, "web2")
    corrupt(engine, "web2")
    with pytest.raises(CorruptDocument):
        Converger(engine).converge({"name": "web2", "rootfs": "debian12"})
    routed = {"name": "web1", "rootfs": "debian12", "interfaces": [{"mode": "routed", "addresses": ["10.213.50.9"]}]}
    plan, _report = Converger(engine.checking()).converge(routed)
    assert [w for w in plan.warnings if "addresses of partition web2 are not known" in w]
    warnings = []
    assert [report["name"] for report in Reporter(engine).info(warnings=warnings)] == ["web1"]
    assert "web2" in warnings[0] and "state: absent" in warnings[0]
    with pytest.raises(CorruptDocument):
        Reporter(engine).info("web2")


def test_absent_removes_a_partition_whose_document_is_corrupt(engine):
    started(engine, "web1")
    corrupt(engine, "web1")
    plan, report = Converger(engine).converge({"name": "web1", "state": "absent"})
    assert plan.actions == ["destroy"] and [w for w in plan.warnings if "removing what is found by its name" in w]
    assert report["state"] == "absent" and engine.store.partition_names() == []
    assert engine.runtime.containers == {} and ("stop", "web1") in engine.log


def test_autostart_reports_a_corrupt_document_and_starts_the_others(engine):
    Converger(engine).converge_many([{"name": name, "rootfs": "debian12", "state": "present", "autostart": True} for name in ("web1", "web2")])
    corrupt(engine, "web1")
    results = hostcmd.start_autostart(engine)
    assert [(name, outcome) for name, outcome, _error in results] == [("web1", "failed"), ("web2", "started")]
    assert "not valid JSON" in results[0][2]


def test_ranges_are_kept_while_a_document_cannot_be_read_and_freed_with_the_next_destroy(engine):
    started(engine, "web1")
    started(engine, "web2")
    started(engine, "web3", tenant="shop")
    corrupt(engine, "web2")
    key = dict((name, engine.tenant_key({"name": name})) for name in ("web1", "web2"))
    Converger(engine).converge({"name": "web1", "state": "absent"})
    assert engine.id_ranges.lookup(key["web1"]) is not None, "web2's tenant cannot be read: it might be web1"
    Converger(engine).converge({"name": "web2", "state": "absent"})
    assert sorted(engine.id_ranges.ranges) == [engine.tenant_key({"name": "web3", "tenant": "shop"})]
    assert len(engine.templates.dropped) == 2  # web1's and web2's copies went with their ranges


def test_a_start_whose_document_cannot_be_saved_leaves_the_partition_stopped(engine, monkeypatch):
    Converger(engine).converge({"name": "web1", "rootfs": "debian12", "state": "present"})
    save = engine.store.save_partition

    def full_disk(name, document):
        if document.get("running"):
            raise PartitionError("cannot write %s: No space left on device" % engine.store.partition_document(name))
        save(name, document)

    monkeypatch.setattr(engine.store, "save_partition", full_disk)
    with pytest.raises(PartitionError) as caught:
        Converger(engine).converge({"name": "web1", "state": "started"})
    assert "No space left" in caught.value.msg
    assert engine.runtime.containers == {} and engine.store.load_partition("web1")["running"] is None


def test_a_start_that_fails_before_the_runtime_leaves_nothing_mounted(engine, monkeypatch):
    """A full disk fails a start as early as the overlay (overlayfs mounts it read-only): a mount left behind
    would fail every start after the space is back."""
    Converger(engine).converge({"name": "web1", "rootfs": "debian12", "state": "present"})
    configure_identity = launch.configure_identity

    def read_only(root, hostname, owner=None):
        raise PartitionError("/etc/hostname in partition tree %s: cannot write it: Read-only file system" % root)

    monkeypatch.setattr(launch, "configure_identity", read_only)
    with pytest.raises(PartitionError):
        Converger(engine).converge({"name": "web1", "state": "started"})
    assert ("mount", "web1", "debian12@100000") in engine.log, "the failure came after the mount"
    assert FakeDisk.mounted == set() and engine.runtime.containers == {}
    assert engine.store.load_partition("web1")["running"] is None
    monkeypatch.setattr(launch, "configure_identity", configure_identity)
    plan, report = Converger(engine).converge({"name": "web1", "state": "started"})
    assert plan.actions == ["start"] and report["state"] == "running"


def full_disk(monkeypatch):
    """Every state document write fails as on a full disk."""
    def no_space(path, data, mode=0o600):
        raise PartitionError("cannot write %s: No space left on device" % path, path=path)
    monkeypatch.setattr(state, "write_json_atomic", no_space)


def test_absent_removes_a_running_partition_from_a_full_disk(engine, monkeypatch):
    started(engine)
    full_disk(monkeypatch)
    plan, report = Converger(engine).converge({"name": "web1", "state": "absent"})
    assert plan.actions == ["destroy"] and report["state"] == "absent"
    assert engine.runtime.containers == {} and engine.store.partition_names() == [] and FakeDisk.mounted == set()


def test_a_stop_whose_document_cannot_be_saved_is_recorded_by_the_next_converge(engine, monkeypatch):
    started(engine)
    write = state.write_json_atomic
    full_disk(monkeypatch)
    with pytest.raises(PartitionError) as caught:
        Converger(engine).converge({"name": "web1", "state": "stopped"})
    assert "No space left" in caught.value.msg and engine.store.partition_document("web1") in caught.value.msg
    assert engine.runtime.containers == {} and engine.store.load_partition("web1")["running"] is not None
    monkeypatch.setattr(state, "write_json_atomic", write)  # space again
    plan, report = Converger(engine).converge({"name": "web1", "state": "stopped"})
    assert plan.changed and plan.actions == ["stop"] and report["state"] == "stopped"
    assert engine.store.load_partition("web1")["running"] is None
    plan, _report = Converger(engine).converge({"name": "web1", "state": "stopped"})
    assert plan.actions == []


# ---- the guards on the host ends of partition interfaces ------------------------------------------------
BRIDGED = {"interfaces": [{"network": "lvbr0", "addresses": ["10.213.0.2"]}]}


@pytest.fixture
def host_net(engine, monkeypatch):
    engine.store.save_network("lvbr0", {"name": "lvbr0", "ipv4": "10.213.0.1/24", "ipv6": None, "nat": False, "uplink": None})
    return FakeHostNet(engine.log).install(monkeypatch)


def test_a_guard_lost_to_an_nft_flush_is_planned_in_check_mode_and_restored_by_the_next_run(engine, host_net):
    started(engine, "web1", **BRIDGED)
    chain = "if_" + engine.host_ifname("web1", "eth0")
    rules = len(host_net.chains[chain])

    def empty_chain():
        del host_net.chains[chain][:]  # the chain as it is now: each run below makes it anew

    def delete_one_rule():
        host_net.chains[chain].pop()

    for lose in (host_net.flush, empty_chain, delete_one_rule):
        lose()  # `nft flush ruleset`, `nft flush table`, one rule deleted
        ask = dict({"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}}, **BRIDGED)
        checked, report = Converger(engine.checking()).converge(ask)
        assert checked.actions == ["guard"] and report["state"] == "running"
        assert len(host_net.chains.get(chain) or []) < rules and engine.log == []  # check mode changed nothing
        plan, report = Converger(engine).converge(ask)
        assert plan.actions == ["guard"] and report["pid"] == engine.runtime.containers["web1"]["pid"]
        assert engine.log == [("nft rule", chain)] * rules  # the guard only: no restart, no new veth
        assert len(host_net.chains[chain]) == rules
        del engine.log[:]
        assert Converger(engine.checking()).converge(ask)[0].actions == []
        assert Converger(engine).converge(ask)[0].actions == [] and engine.log == []


def test_one_nft_listing_serves_every_partition_of_a_call_and_stopped_ones_need_none(engine, host_net):
    for name, address in (("web1", "10.213.0.2"), ("web2", "10.213.0.3"), ("web3", "10.213.0.4")):
        started(engine, name, interfaces=[{"network": "lvbr0", "addresses": [address]}])
    Converger(engine).converge({"name": "web3", "state": "stopped"})
    host_net.flush()
    host_net.listings = 0
    items = [{"name": name, "rootfs": "debian12", "state": state} for name, state in (("web1", "started"), ("web2", "started"), ("web3", "stopped"))]
    outcomes = Converger(engine.checking()).converge_many(items)
    assert [outcome.plan.actions for outcome in outcomes] == [["guard"], ["guard"], []]
    assert host_net.listings == 1
    assert Reporter(engine).report("web3")["state"] == "stopped" and host_net.listings == 1  # stopped: nothing to read


def test_an_idempotent_call_lists_the_runtime_once_and_reports_read_no_guards_or_limits(engine, host_net, monkeypatch):
    for name, address in (("web1", "10.213.0.2"), ("web2", "10.213.0.3")):
        started(engine, name, interfaces=[{"network": "lvbr0", "addresses": [address]}])
    listings, limits = [], []
    real_list = engine.runtime.list
    monkeypatch.setattr(engine.runtime, "list", lambda: listings.append(1) or real_list())
    for cgroup in engine.cgroups.cgroups.values():
        monkeypatch.setattr(cgroup, "read_limits", lambda cgroup=cgroup: limits.append(cgroup.path) or dict(cgroup.limits))
    items = [{"name": name, "rootfs": "debian12", "resources": {"memory": "256M"},
              "interfaces": [{"network": "lvbr0", "addresses": [address]}]} for name, address in (("web1", "10.213.0.2"), ("web2", "10.213.0.3"))]
    host_net.listings = 0
    outcomes = Converger(engine).converge_many(items)
    assert [outcome.plan.actions for outcome in outcomes] == [[], []] and [o.report["state"] for o in outcomes] == ["running"] * 2
    assert len(listings) == 1 and host_net.listings == 1 and len(limits) == 2  # the plan's reads, once each
    # the control: a call that changes something reads the host again for its reports (a runtime listing, no guards)
    del listings[:], limits[:]
    host_net.listings = 0
    items[1]["resources"] = {"memory": "512M"}
    outcomes = Converger(engine).converge_many(items)
    assert [outcome.plan.actions for outcome in outcomes] == [[], ["update", "record"]]
    assert len(listings) == 2 and host_net.listings == 1 and len(limits) == 2
    # partition_info reads neither guards nor limits: a report shows neither
    del listings[:], limits[:]
    host_net.listings = 0
    reports = Reporter(engine).info()
    assert [report["state"] for report in reports] == ["running"] * 2
    assert len(listings) == 1 and host_net.listings == 0 and limits == []


def test_a_partition_without_interfaces_reads_no_guards(engine, host_net):
    started(engine, "web1")
    assert Converger(engine).converge({"name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}})[0].actions == []
    assert host_net.listings == 0


def test_two_state_directories_name_their_partitions_links_apart_and_remove_only_their_own(tmp_path, monkeypatch):
    first, second = FakeEngine(str(tmp_path / "one")), FakeEngine(str(tmp_path / "two"))
    host_net = FakeHostNet(first.log).install(monkeypatch)
    for engine in (first, second):
        engine.store.save_network("lvbr0", {"name": "lvbr0", "ipv4": "10.213.0.1/24", "ipv6": None, "nat": False, "uplink": None})
        started(engine, "web1", **BRIDGED)
    ends = [engine.host_ifname("web1", "eth0") for engine in (first, second)]
    assert len(set(ends)) == 2 and sorted(host_net.links) == sorted(ends)
    # the control: the naming before identities gives both the one name, so either start removed the other's link
    legacy = [net.legacy_host_ifname("web1", "eth0") for _engine in (first, second)]
    assert legacy[0] == legacy[1] and legacy[0] not in ends
    macs = [engine.store.load_partition("web1")["spec"]["interfaces"][0]["mac"] for engine in (first, second)]
    assert macs[0] != macs[1]
    Converger(first).converge({"name": "web1", "state": "absent"})
    assert host_net.detached == [ends[0]] and list(host_net.links) == [ends[1]]


def test_the_running_record_names_its_host_ends_and_a_start_of_an_earlier_version_is_stopped_by_its_old_names(engine, host_net):
    started(engine, "web1", **BRIDGED)
    document = engine.store.load_partition("web1")
    assert document["running"]["host_interfaces"] == {"eth0": engine.host_ifname("web1", "eth0")}
    legacy = net.legacy_host_ifname("web1", "eth0")
    running = dict(document["running"])
    del running["host_interfaces"]  # as an earlier version recorded it, running with its naming
    engine.store.save_partition("web1", dict(document, running=running))
    host_net.links = {legacy: "web1/eth0"}
    assert engine.host_interfaces("web1", engine.store.load_partition("web1")) == {"eth0": legacy}
    assert Reporter(engine).report("web1")["interfaces"][0]["host_interface"] == legacy
    Converger(engine).converge({"name": "web1", "state": "stopped"})
    assert host_net.detached == [legacy] and host_net.links == {}
    Converger(engine).converge({"name": "web1", "state": "started"})  # started again: the names of now
    assert list(host_net.links) == [engine.host_ifname("web1", "eth0")]
    assert Reporter(engine).report("web1")["interfaces"][0]["host_interface"] == engine.host_ifname("web1", "eth0")


def test_the_identity_is_made_once_by_the_first_run_that_writes_and_check_mode_makes_none(engine):
    Converger(engine.checking()).converge({"name": "web1", "rootfs": "debian12"})
    assert engine.store.identity() is None
    started(engine, "web1")
    identity = engine.store.identity()
    assert identity and engine.identity == identity
    started(engine, "web2")
    assert engine.store.identity() == identity


def test_a_host_end_that_cannot_go_keeps_no_container_mount_or_cgroup(engine, host_net, monkeypatch):
    started(engine, "web1", **BRIDGED)

    def refuse(host, partition, ifname, owner):
        raise NetworkError("refusing to remove %s: it belongs to another state directory" % host)

    monkeypatch.setattr(net, "detach", refuse)
    with pytest.raises(NetworkError, match="refusing to remove"):
        Converger(engine).converge({"name": "web1", "state": "stopped"})
    assert ("delete", "web1") in engine.log and engine.runtime.containers == {}


def test_a_launch_outside_a_run_makes_the_identity_its_links_are_named_and_marked_by(engine, host_net):
    """A partition's systemd unit may start it before any run since the upgrade made the identity: the names and
    marks of its links must be those every later run uses, never a provisional one."""
    started(engine, "web1", **BRIDGED)
    os.unlink(engine.store.identity_file)
    Converger(engine).converge({"name": "web1", "state": "stopped"})
    os.unlink(engine.store.identity_file)
    Launcher(engine).launch(engine.store.load_partition("web1"), None)
    made = engine.store.identity()
    assert made and engine.store.load_partition("web1")["running"]["host_interfaces"] == {"eth0": net.host_ifname(made, "web1", "eth0")}


@pytest.mark.parametrize("alias", [None, net.Owner("f" * 32).mark("network/lvbr0")])
def test_a_partition_may_not_join_a_recorded_network_whose_bridge_is_not_ours(engine, host_net, alias):
    engine.store.save_network("lvbr0", dict(engine.store.load_network("lvbr0"), bridge="made"))
    host_net.bridges["lvbr0"] = {"exists": True, "kind": "bridge", "alias": alias, "owner": net.Owner.of(alias), "addresses": []}
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge(dict({"name": "web1", "rootfs": "debian12"}, **BRIDGED))
    assert caught.value.option == "interfaces[0].network" and caught.value.value == "lvbr0"
    assert engine.log == [] and engine.store.load_partition("web1") is None


def test_secret_env_reaches_init_only(engine):
    ask = {"name": "web1", "rootfs": "debian12", "env": {"MODE": "prod"}, "secret_env": {"DB_PASSWORD": "s3cret-value"}}
    plan, report = Converger(engine).converge(ask)
    with open(engine.store.partition_document("web1")) as handle:
        assert "s3cret-value" not in handle.read()
    assert "s3cret-value" not in repr(plan.diff()) and "s3cret-value" not in repr(report)
    assert report["config"]["secret_env"]["DB_PASSWORD"].startswith("pbkdf2-sha256:")
    secrets = engine.store.secrets_file("web1")
    assert os.stat(secrets).st_mode & 0o777 == 0o600 and engine.store.load_secrets("web1", plan.spec["secret_env"]) == {"DB_PASSWORD": "s3cret-value"}
    config = os.path.join(engine.store.partition_dir("web1"), "bundle", "config.json")
    assert os.stat(config).st_mode & 0o777 == 0o600
    with open(config) as handle:
        assert "DB_PASSWORD=s3cret-value" in json.load(handle)["process"]["env"]

    same, _report = Converger(engine).converge(ask)
    assert same.actions == []
    changed, _report = Converger(engine).converge(dict(ask, secret_env={"DB_PASSWORD": "other"}))
    assert changed.actions == ["record"] and [w for w in changed.warnings if "secret_env changed" in w]
    assert engine.store.load_secrets("web1", changed.spec["secret_env"]) == {"DB_PASSWORD": "other"}
    kept, _report = Converger(engine).converge({"name": "web1"})
    assert kept.actions == [] and engine.store.load_secrets("web1", kept.spec["secret_env"]) == {"DB_PASSWORD": "other"}
    with pytest.raises(PartitionError) as caught:  # values no recorded fingerprint stands for (a kill between the saves)
        engine.store.load_secrets("web1", plan.spec["secret_env"])
    assert "DB_PASSWORD" in caught.value.msg and "other" not in caught.value.msg


def test_a_secret_may_not_also_be_plain(engine):
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge({"name": "web1", "rootfs": "debian12", "env": {"A": "1"}, "secret_env": {"A": "2"}})
    assert caught.value.option == "secret_env"
    assert engine.store.partition_names() == []


def test_a_call_reads_the_hosts_addresses_and_the_recorded_claims_once(engine, monkeypatch):
    dumps, scans = [], []
    monkeypatch.setattr(net, "host_addresses", lambda: dumps.append(1) or ["10.213.50.1"])
    documents = engine.store.partition_documents
    monkeypatch.setattr(engine.store, "partition_documents", lambda: scans.append(1) or documents())
    items = [{"name": "web%d" % index, "rootfs": "debian12", "interfaces": [{"mode": "routed", "addresses": ["10.213.50.%d" % (index + 10)]}]}
             for index in range(3)]
    outcomes = Converger(engine.checking()).converge_many(items)
    assert [outcome.plan.actions for outcome in outcomes] == [["record", "prepare", "start"]] * 3
    assert (len(dumps), len(scans)) == (1, 1)
    with pytest.raises(InvalidOption) as caught:
        Converger(engine.checking()).converge({"name": "web9", "rootfs": "debian12", "interfaces": [{"mode": "routed", "addresses": ["10.213.50.1"]}]})
    assert "an address of the host" in caught.value.msg


def test_io_limits_bind_on_the_disks_of_host_owned_directories(engine, monkeypatch):
    """The whole disk under the partition's directory, its image's layer and its template; looked up only where
    I/O limits are set, passed to the cgroup at start and on live changes."""
    from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev
    looked_up = []
    monkeypatch.setattr(blockdev, "devices_of", lambda paths: looked_up.append(paths) or (["8:0"], []))
    spec = {"name": "web1", "rootfs": "debian12", "resources": {"memory": 256 * MIB}}
    assert engine.io_devices(spec) == ([], []) and looked_up == []
    started(engine, resources={"memory": "256M", "io_write_bps": "4M"})
    state = engine.store.root
    assert looked_up[-1] == [os.path.join(state, "partitions", "web1"), os.path.join(state, "rootfs", "debian12")]
    assert engine.cgroup("web1").devices == ["8:0"]
    os.makedirs(os.path.join(state, "partitions", "web1", "layer"))
    assert engine.tenant_io_devices([dict(spec, name="web1")]) == (["8:0"], [])
    assert looked_up[-1] == [state, os.path.join(state, "partitions", "web1"), os.path.join(state, "partitions", "web1", "layer"),
                             os.path.join(state, "rootfs", "debian12")]


def test_io_limits_on_a_filesystem_without_a_block_device_warn(engine, monkeypatch):
    from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev
    monkeypatch.setattr(blockdev, "devices_of", lambda paths: ([], ["%s is on tmpfs without a block device" % paths[0]]))
    plan, _report = started(engine, resources={"io_read_bps": "4M", "io_write_iops": 100})
    assert [w for w in plan.warnings if "io_" in w] == [
        "partition web1: resources.io_read_bps, resources.io_write_iops not enforced on this host: %s is on tmpfs without a "
        "block device" % engine.store.root]  # planned before its directory exists: the state directory's


def test_others_addresses_look_up_in_place_as_the_merged_dict_did():
    from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import OthersAddresses
    recorded = {"10.213.0.2": "web1", "10.213.0.3": "web2", "10.213.0.4": "web3"}
    claimed = {"10.213.0.4": "web4"}
    others = OthersAddresses(recorded, claimed, "web2")
    merged = dict((ip, owner) for ip, owner in list(recorded.items()) + list(claimed.items()) if owner != "web2")
    for ip in list(recorded) + ["10.213.0.9"]:
        assert others.get(ip) == merged.get(ip)
    assert others.get("10.213.0.3") is None and others.get("10.213.0.4") == "web4"
    claimed["10.213.0.9"] = "web5"  # claimed later in the same call: seen without a new copy
    assert others.get("10.213.0.9") == "web5"


def test_a_list_naming_a_partition_twice_is_refused_naming_the_items(engine):
    items = [{"name": name, "rootfs": "debian12"} for name in ("web1", "web2", "web1", "web3", "web2")]
    with pytest.raises(InvalidOption) as caught:
        Converger(engine).converge_many(items)
    assert "web1, web2" in caught.value.msg and "partitions[0]" in caught.value.msg and "partitions[4]" in caught.value.msg
    assert engine.log == [] and engine.store.partition_names() == []  # refused before anything changed


def test_an_empty_list_converges_nothing(engine):
    assert Converger(engine).converge_many([]) == [] and Converger(engine.checking()).converge_many([]) == []
    assert engine.log == [] and not os.path.exists(engine.store.root)
