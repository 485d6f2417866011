# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import describe, plan_partition, runtime_status
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import CGROUP_RESOURCES
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import make_spec


def observed(status=None, recorded=None, running_spec=None, live=None):
    """What the engine would observe; status None means the partition does not exist."""
    if status is None:
        return {"document": None, "status": "stopped", "runtime_exists": False, "live": None, "disk_exists": False}
    document = {"name": recorded["name"], "spec": recorded,
                "running": {"spec": running_spec or recorded} if status != "stopped" else None}
    if live is None and status != "stopped":
        live = dict((k, v) for k, v in (running_spec or recorded)["resources"].items() if k in CGROUP_RESOURCES)
    return {"document": document, "status": status, "runtime_exists": status != "stopped",
            "live": live, "pending_writes": [], "disk_exists": True}


@pytest.mark.parametrize("desired, expected", [
    ("present", ["record", "prepare"]),
    ("stopped", ["record", "prepare"]),
    ("started", ["record", "prepare", "start"]),
    ("restarted", ["record", "prepare", "start"]),
    ("frozen", ["record", "prepare", "start", "pause"]),
    ("absent", []),
])
def test_new_partition(desired, expected):
    plan = plan_partition(desired, make_spec(), observed())
    assert plan.actions == expected
    assert plan.before == {"state": "absent"}


@pytest.mark.parametrize("status, desired, expected", [
    ("running", "started", []),
    ("running", "present", []),
    ("running", "stopped", ["stop"]),
    ("running", "restarted", ["stop", "start"]),
    ("running", "frozen", ["pause"]),
    ("running", "absent", ["destroy"]),
    ("frozen", "started", ["resume"]),
    ("frozen", "frozen", []),
    ("frozen", "stopped", ["stop"]),
    ("stopped", "started", ["start"]),
    ("stopped", "stopped", []),
    ("stopped", "present", []),
    ("stopped", "frozen", ["start", "pause"]),
    ("stopped", "absent", ["destroy"]),
])
def test_transitions(status, desired, expected):
    s = make_spec()
    plan = plan_partition(desired, s, observed(status, s))
    assert plan.actions == expected
    assert plan.changed is bool(expected)
    assert plan.before["state"] == status


def test_live_resource_change_updates_without_restart():
    old = make_spec(resources={"memory": "256M"})
    new = make_spec(resources={"memory": "512M", "pids": 100})
    obs = observed("running", old)
    obs["pending_writes"] = [("memory.limit_in_bytes", "/x", "536870912"), ("pids.max", "/y", "100")]
    plan = plan_partition("started", new, obs)
    assert plan.actions == ["update", "record"]
    assert plan.before["resources"]["memory"] == 256 * 2 ** 20
    assert plan.after["resources"]["memory"] == 512 * 2 ** 20
    assert not plan.warnings


def test_live_drift_is_repaired_even_when_recorded_matches():
    s = make_spec(resources={"memory": "256M"})
    obs = observed("running", s)
    obs["pending_writes"] = [("memory.limit_in_bytes", "/sys/fs/cgroup/memory/p/web1/memory.limit_in_bytes", "268435456")]
    assert plan_partition("started", s, obs).actions == ["update"]
    assert plan_partition("stopped", s, obs).actions == ["stop"]


def test_stopped_partition_records_resources_only():
    old = make_spec(resources={"memory": "256M"})
    new = make_spec(resources={"memory": "512M"})
    assert plan_partition("stopped", new, observed("stopped", old)).actions == ["record"]


def test_restart_setting_warns_without_recreate_and_is_idempotent():
    old = make_spec()
    new = make_spec(hostname="shop", resources={"nofile": 1024})
    plan = plan_partition("started", new, observed("running", old))
    assert plan.actions == ["record"]
    assert "hostname" in plan.warnings[0] and "resources.nofile" in plan.warnings[0]
    again = plan_partition("started", new, observed("running", new, running_spec=old))
    assert again.actions == [] and again.warnings


def test_restart_setting_with_recreate_restarts():
    old = make_spec()
    new = make_spec(hostname="shop")
    plan = plan_partition("started", new, observed("running", old), recreate="options-changed")
    assert plan.actions == ["record", "stop", "start"]
    frozen = plan_partition("frozen", new, observed("frozen", old), recreate="options-changed")
    assert frozen.actions == ["record", "stop", "start", "pause"]


def test_rootfs_change_needs_recreate_and_then_resets_the_disk():
    old = make_spec()
    new = make_spec(rootfs="debian13")
    plan = plan_partition("started", new, observed("running", old))
    assert plan.actions == [] and "rootfs" in plan.warnings[0]
    assert plan.after["rootfs"] == "debian12"
    plan = plan_partition("started", new, observed("running", old), recreate="options-changed")
    assert plan.actions == ["stop", "reset_disk", "record", "start"]
    plan = plan_partition("stopped", new, observed("stopped", old), recreate="options-changed")
    assert plan.actions == ["reset_disk", "record"]


def test_stray_runtime_without_document_is_cleaned():
    obs = observed()
    obs["runtime_exists"] = True
    assert plan_partition("started", make_spec(), obs).actions == ["stop", "record", "prepare", "start"]
    obs["disk_exists"] = True
    assert plan_partition("absent", make_spec(), obs).actions == ["destroy"]


def test_runtime_status():
    assert runtime_status({"status": "running"}) == "running"
    assert runtime_status({"status": "paused"}) == "frozen"
    assert runtime_status({"status": "created"}) == "stopped"
    assert runtime_status(None) == "stopped"


@pytest.mark.parametrize("setting, value", [("rootfs", "debian13"), ("storage", "copy"), ("tenant", "other"), ("privileged", True)])
def test_the_plan_owns_the_spec_it_decided_on(setting, value):
    """A disk setting refused without recreate stays recorded in plan.spec; the rest of the change goes through."""
    recorded = make_spec()
    desired = make_spec(**{setting: value, "resources": {"memory": "512M"}})
    plan = plan_partition("started", desired, observed("running", recorded))
    assert plan.spec[setting] == recorded.get(setting) and plan.after[setting] == recorded.get(setting)
    assert plan.spec["resources"]["memory"] == 512 * 1024 ** 2
    assert plan.actions == ["record"] and setting in plan.warnings[0]
    rebuilt = plan_partition("started", desired, observed("running", recorded), recreate="options-changed")
    assert rebuilt.spec == desired and rebuilt.actions == ["stop", "reset_disk", "record", "start"]


def _bridged(*addresses):
    return {"name": "eth0", "network": "br0", "mode": "bridge", "addresses": list(addresses), "gateway": "10.213.0.1",
            "gateway6": None, "mac": "02:00:00:00:00:01", "mtu": None, "rate": None, "dns": None}


@pytest.mark.parametrize("status, desired, expected", [
    ("running", "started", ["guard"]),
    ("running", "present", ["guard"]),
    ("frozen", "frozen", ["guard"]),
    ("frozen", "started", ["guard", "resume"]),
    ("running", "frozen", ["guard", "pause"]),
    ("running", "restarted", ["stop", "start"]),  # the start guards anew
    ("running", "stopped", ["stop"]),
    ("running", "absent", ["destroy"]),
])
def test_a_running_partition_that_lost_its_guard_gets_it_back_unless_it_stops(status, desired, expected):
    s = dict(make_spec(), interfaces=[_bridged("10.213.0.2/24")])
    obs = dict(observed(status, s), unguarded=["eth0"])
    plan = plan_partition(desired, s, obs)
    assert plan.actions == expected and plan.changed


def test_a_stopped_partition_has_no_guard_to_restore():
    s = dict(make_spec(), interfaces=[_bridged("10.213.0.2/24")])
    assert plan_partition("stopped", s, observed("stopped", s)).actions == []
    assert plan_partition("started", s, observed("stopped", s)).actions == ["start"]


def test_the_running_guards_come_back_before_a_live_network_change_and_the_record():
    old = dict(make_spec(), interfaces=[_bridged("10.213.0.2/24")])
    new = dict(make_spec(resources={"memory": "512M"}), interfaces=[_bridged("10.213.0.2/24", "10.213.0.3/24")])
    obs = dict(observed("running", old), unguarded=["eth0"], pending_writes=[("memory.max", "/x", "536870912")])
    assert plan_partition("started", new, obs).actions == ["guard", "update", "update_network", "record"]
    assert plan_partition("started", old, dict(obs, unguarded=[], pending_writes=[])).actions == []


def test_a_document_that_says_running_while_the_runtime_does_not_is_repaired_by_a_stop():
    """A stop whose save failed (a full disk), or an init that exited: the runtime wins, the document follows."""
    seen = observed("stopped", make_spec())
    seen["document"] = dict(seen["document"], running={"spec": seen["document"]["spec"]})
    for state in ("stopped", "present"):
        plan = plan_partition(state, make_spec(), seen)
        assert plan.actions == ["stop"] and plan.after["state"] == "stopped"
    assert plan_partition("started", make_spec(), seen).actions == ["start"]
    assert plan_partition("stopped", make_spec(), observed("stopped", make_spec())).actions == []


@pytest.mark.parametrize("desired, status", [("started", None), ("stopped", "running"), ("absent", "running")])
def test_the_diff_is_headed_with_the_partition(desired, status):
    spec = make_spec()
    recorded = None if status is None else spec
    diff = plan_partition(desired, spec, observed(status, recorded)).diff()
    assert diff["before_header"] == diff["after_header"] == "partition %s" % spec["name"]
    assert set(diff) == {"before", "after", "before_header", "after_header"}


def test_io_limits_shown_are_the_ones_in_force():
    """A running partition's diff shows the I/O limits the kernel holds (read_limits leaves out those without one)."""
    spec = make_spec()
    spec["resources"] = dict(spec["resources"], io_write_bps=4 * 2 ** 20)
    live = dict((k, v) for k, v in spec["resources"].items() if k in CGROUP_RESOURCES)
    assert describe("running", spec, live)["resources"]["io_write_bps"] == 4 * 2 ** 20
    del live["io_write_bps"]  # reset behind our back
    assert "io_write_bps" not in describe("running", spec, live)["resources"]
    assert describe("running", spec, dict(live, io_read_iops=50))["resources"]["io_read_iops"] == 50
    assert describe("stopped", spec)["resources"]["io_write_bps"] == 4 * 2 ** 20  # not running: as recorded
