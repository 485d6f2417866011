# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Current vs desired state of one partition -> ordered actions, warnings and a before/after diff.

Pure: everything it needs is passed in (the recorded document, the runtime status, the live
cgroup limits), so check mode, diff mode and a bulk call all use the same decisions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils.counters import EVENT_COUNTERS, flatten, reset_due
from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.interfaces import identity, live_part
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import (
    CGROUP_RESOURCES,
    IO_LIMITS,
    RESTART_SETTINGS,
    START_RESOURCES,
)

# Settings whose change means a new disk: the partition's data would be lost, so only on request.
DISK_SETTINGS = ("rootfs", "storage", "tenant", "privileged")  # the last two decide the files' owners
TARGET_STATUS = {"started": "running", "restarted": "running", "stopped": "stopped", "frozen": "frozen", "absent": "absent"}


# Every action a plan may hold; actions.py has one handler for each.
ACTIONS = ("destroy", "record", "prepare", "clone", "reset_disk", "start", "stop", "update", "resize_disk", "guard", "update_network",
           "write_keys", "pause", "resume", "reset_counters")


class Plan:
    """Ordered action names, the spec they apply, and what the user is told about them.

    spec is the partition as the plan decided it (None for absent): where a setting could not change without
    a new disk, the recorded value is kept there, so the engine records and applies exactly what was planned.
    """

    def __init__(self, name, before, after, spec=None):
        self.name = name
        self.spec = spec
        self.secrets = None  # {key: value} of secret_env when given: recorded with the spec, never shown
        self.recovered = False  # the run first finished or rolled back what a killed run left (recovery.py)
        self.cloned_from = None  # the partition whose files a new partition starts from (clone_from), recorded with it
        self.clone = None  # the clone's staged copy (clones.CloneStaging), or the error that made none; given by converge.py
        self.actions = []
        self.warnings = []
        self.before = before
        self.after = after

    def add(self, *actions):
        self.actions.extend(actions)

    @property
    def changed(self):
        return bool(self.actions) or self.recovered

    def diff(self):
        return named_diff("partition", self.name, self.before, self.after)


def runtime_status(runtime_state):
    """Runtime state dict (or None) -> running | frozen | stopped."""
    status = (runtime_state or {}).get("status")
    if status == "running":
        return "running"
    if status == "paused":
        return "frozen"
    return "stopped"


def quota_layout(spec):
    """Whether the partition's layer lives in a quota image, and its inode count (fixed at creation)."""
    resources = (spec or {}).get("resources") or {}
    return resources.get("disk") is not None, resources.get("inodes")


def changed_settings(old, new, keys):
    return [key for key in keys if old.get(key) != new.get(key)]


def restart_changes(running_spec, spec):
    """Settings that differ from those the running init was started with."""
    keys = changed_settings(running_spec, spec, RESTART_SETTINGS)
    if identity(running_spec.get("interfaces")) != identity(spec.get("interfaces")):
        keys.append("interfaces")
    keys += ["resources." + key for key in START_RESOURCES
             if running_spec.get("resources", {}).get(key) != spec["resources"].get(key)]
    return keys


def describe(status, spec, live=None):
    """The view of a partition shown in diffs."""
    if status == "absent" or spec is None:
        return {"state": "absent"}
    view = dict(spec, state=status)
    if live is not None:
        # the I/O limits in force are the live ones (read_limits leaves out those without one)
        view["resources"] = dict(((k, v) for k, v in spec["resources"].items() if k not in IO_LIMITS),
                                 **dict((k, v) for k, v in live.items() if k in CGROUP_RESOURCES))
    return view


def plan_partition(desired_state, spec, observed, recreate="never", clone_from=None):
    """Decide what to do for one partition: a Plan whose spec is what its actions apply and record.

    clone_from: the partition a new one's own files are copied from (clones.py); an existing partition keeps its files.

    observed: {"document": dict|None, "status": running|frozen|stopped, "runtime_exists": bool,
               "live": dict|None (limits read from the cgroup, for the diff),
               "pending_writes": [cgroup files whose content differs from spec's resources],
               "unguarded": [running interfaces whose host end lost its guard chain or rules],
               "disk_exists": bool}
    """
    document = observed.get("document")
    status = observed.get("status", "stopped") if (document or observed.get("runtime_exists")) else "absent"
    recorded = (document or {}).get("spec")
    before = describe(status, recorded, observed.get("live") if status in ("running", "frozen") else None)

    if desired_state == "absent":
        plan = Plan(spec and spec.get("name"), before, {"state": "absent"})
        if document or observed.get("runtime_exists") or observed.get("disk_exists"):
            plan.add("destroy")
        return plan

    target = TARGET_STATUS.get(desired_state) or ("stopped" if status == "absent" else status)
    plan = Plan(spec["name"], before, describe(target, spec), spec)
    if document is None and clone_from:
        # the files first, then the document: a run killed in between leaves files without a document, which the
        # next run makes into the partition again (a document over an empty layer would look whole)
        plan.add("clone", "record")
        plan.cloned_from = clone_from
        plan.after = dict(plan.after, cloned_from=clone_from)
    elif document is None:
        plan.add("record", "prepare")
    if document is None:
        if observed.get("runtime_exists"):
            plan.actions.insert(0, "stop")  # a stray container from a killed run
        _plan_run_state(plan, "stopped", target, desired_state)
        return plan

    if clone_from and document.get("cloned_from") != clone_from:
        plan.warnings.append("partition %s exists: clone_from (%s) acts only when a partition is created; its own files "
                             "were left as they are" % (spec["name"], clone_from))
    running_spec = (document.get("running") or {}).get("spec") or recorded
    disk_changes = changed_settings(recorded, spec, DISK_SETTINGS)
    if quota_layout(recorded) != quota_layout(spec):
        disk_changes.append("resources.disk")
    restart_keys = restart_changes(running_spec, spec) if status in ("running", "frozen") else []
    wants_recreate = recreate == "options-changed"

    if disk_changes and not wants_recreate:
        plan.warnings.append(
            "partition %s: %s cannot change without a new disk (its files would be lost); kept the current one. "
            "Use recreate: options-changed to rebuild it." % (spec["name"], ", ".join(disk_changes)))
        kept = dict((k, recorded.get(k)) for k in disk_changes if k in DISK_SETTINGS)
        if "resources.disk" in disk_changes:
            kept["resources"] = dict(spec["resources"], disk=recorded["resources"].get("disk"), inodes=recorded["resources"].get("inodes"))
        spec = dict(spec, **kept)
        plan.spec = spec
        plan.after = describe(target, spec)
        restart_keys = [key for key in restart_keys if key not in disk_changes]

    if disk_changes and wants_recreate:
        # Record only after the old disk is gone: a run killed in between redoes the reset.
        if status in ("running", "frozen"):
            plan.add("stop")
        plan.add("reset_disk", "record")
        _plan_run_state(plan, "stopped", target, desired_state)
        return plan
    if (recorded.get("resources") or {}).get("disk") != spec["resources"].get("disk"):
        plan.add("resize_disk")  # the same layout: the image grows in place
    if spec != recorded:
        plan.add("record")
    if restart_keys and desired_state != "restarted" and target in ("running", "frozen"):
        if wants_recreate:
            plan.add("stop")
            _plan_run_state(plan, "stopped", target, desired_state)
            return plan
        plan.warnings.append(
            "partition %s: %s changed; the running partition keeps the old value until it restarts "
            "(state: restarted, or recreate: options-changed)." % (spec["name"], ", ".join(restart_keys)))
    if target in ("running", "frozen") and status in ("running", "frozen") and desired_state != "restarted":
        # Live first: a change the kernel refuses (memory below usage) is then never recorded.
        position = plan.actions.index("record") if "record" in plan.actions else len(plan.actions)
        if observed.get("unguarded"):
            plan.actions.insert(position, "guard")  # the running interfaces' guards first: update_network then applies the new ones
            position += 1
        if observed.get("pending_writes"):
            plan.actions.insert(position, "update")
            position += 1
        if ("interfaces" not in restart_keys
                and live_part(running_spec.get("interfaces")) != live_part(spec.get("interfaces"))):
            plan.actions.insert(position, "update_network")
            position += 1
        if (running_spec.get("authorized_keys") or []) != (spec.get("authorized_keys") or []):
            plan.actions.insert(position, "write_keys")
    if status == "stopped" and target == "stopped" and document.get("running"):
        # the document says it runs, the runtime says not (a stop whose save failed on a full disk, an init that
        # exited): the host wins; stopping clears what the container left and records it stopped
        plan.add("stop")
    _plan_run_state(plan, status, target, desired_state)
    return plan


def _plan_run_state(plan, status, target, desired_state):
    """Append the run-state transitions from status to target."""
    if desired_state == "restarted" and status in ("running", "frozen"):
        plan.add("stop")
        status = "stopped"
    if status == target:
        return
    if target == "stopped":
        plan.add("stop")
    elif status == "stopped":
        plan.add("start")
        if target == "frozen":
            plan.add("pause")
    elif target == "running":
        plan.add("resume")
    else:
        plan.add("pause")


def plan_counter_reset(plan, counters_view):
    """With reset_counters: reset the partition's counters last (after a restart the plan makes, so its new life starts
    at zero), when they counted an event since the last reset (counters.reset_due); the diff shows the event counters."""
    if plan.spec is None or counters_view is None or not reset_due(counters_view):
        return
    plan.add("reset_counters")
    before = dict((field, value) for field, value in flatten(counters_view).items() if field in EVENT_COUNTERS and value is not None)
    plan.before = dict(plan.before, counters=dict(before, since=counters_view.get("since")))
    plan.after = dict(plan.after, counters=dict(dict.fromkeys(before, 0), since="(reset by this run)"))
