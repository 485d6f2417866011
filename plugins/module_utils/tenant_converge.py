# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging a tenant: observe its document and its cgroup (or slice), plan, apply, under the host lock.

Everything is validated and planned before anything changes; ``_apply`` is the one place that changes the host,
and in check mode nothing is. Present: the document is saved first (a run killed after it leaves a record the next
run converges, and every partition started meanwhile gets the limits it records), then the tenant's cgroup is made
and its limits written (live: the partitions in it keep running), or under systemd its slice's unit file written
and applied; reset_counters comes last (tenant_counters.py). Absent: refused while a partition names the tenant;
the cgroup (or slice) goes before the tenant's counters, and they before the document.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups
from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import Conflict, InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import plan_counter_reset
from ansible_collections.linuxvps.partitions.plugins.module_utils.slices import SliceManager, slice_unit_text
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_counters import TenantCounters
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenants import members, normalise_tenant

DOCUMENT_KEYS = ("name", "resources", "max_partitions")


class TenantPlan:
    """Ordered actions for one tenant, the settings they apply, and what the user is told."""

    def __init__(self, name, spec, before, after):
        self.name = name
        self.spec = spec  # None when absent
        self.before = before
        self.after = after
        self.actions = []
        self.warnings = []

    @property
    def changed(self):
        return bool(self.actions)

    def add(self, action):
        self.actions.append(action)

    def diff(self):
        return named_diff("tenant", self.name, self.before, self.after)


def describe(spec, state="present"):
    """The tenant as diffs and reports show it."""
    if spec is None:
        return {"state": "absent"}
    return dict(((key, spec.get(key)) for key in DOCUMENT_KEYS), state=state)


class TenantConverger:
    """Brings one engine's tenants to the state asked for."""

    def __init__(self, engine):
        self.engine = engine
        self.slices = SliceManager(engine.supervisor.systemctl) if engine.supervisor is not None else None
        self.counters = TenantCounters(engine)

    # ---- what exists now -------------------------------------------------------------------------
    def observe(self, name):
        engine = self.engine
        documents = engine.store.partition_documents()
        observed = {"document": engine.store.load_tenant(name), "partitions": members(documents, name),
                    "slice": None, "unit_text": None, "active": False, "cgroup": None, "exists": False}
        # the disks the tenant's I/O limits bind on: the state directory's and every member's (blockdev.py)
        observed["devices"] = engine.tenant_io_devices(
            [document["spec"] for member, document, _corrupt in documents if member in observed["partitions"]])[0]
        if self.slices is not None:
            observed["slice"] = engine.tenant_slice(name)
            observed["unit_text"] = self.slices.read(observed["slice"])
            observed["active"] = self.slices.active(observed["slice"])
        cgroup = engine.tenant_cgroup(name)
        if cgroup is not None:
            observed["cgroup"] = cgroup
            observed["exists"] = cgroup.exists()
        observed["counter_files"] = self.counters.has_files(name)
        return observed

    # ---- converging --------------------------------------------------------------------------------
    def converge(self, params):
        """Validate, observe, plan and apply; returns (plan, report). Raises what fails, before any change when the input is bad."""
        engine = self.engine
        state = params.get("state") or "present"
        spec = normalise_tenant(params, engine.host_facts) if state == "present" else None
        name = spec["name"] if spec else validate_name(params.get("name"), "name")
        with engine.store.lock(create=not engine.check_mode):
            observed = self.observe(name)
            plan = self.plan(name, spec, observed)
            if spec is not None and params.get("reset_counters"):
                plan_counter_reset(plan, self.counters.view(name, observed["cgroup"], spec["resources"]))
            if plan.changed and not engine.check_mode:
                self._apply(plan, observed)
        return plan, self.report(name, spec, observed)

    def plan(self, name, spec, observed):
        """What to do; changes nothing."""
        document = observed["document"]
        before = describe(document)
        if document is not None:
            before["partitions"] = observed["partitions"]
        if spec is None:
            return self._plan_absent(name, observed, before)
        plan = TenantPlan(name, spec, before, dict(describe(spec), partitions=observed["partitions"]))
        limit = spec["max_partitions"]
        if limit is not None and len(observed["partitions"]) > limit:
            raise InvalidOption("max_partitions", limit, "tenant %s has %d partitions already: %s" % (
                name, len(observed["partitions"]), ", ".join(observed["partitions"])))
        if document is None or describe(document) != describe(spec):
            plan.actions.append("record")
        if self.slices is not None:
            if observed["unit_text"] != self._unit_text(spec, observed["devices"]) or not observed["active"]:
                plan.actions.append("slice")
        else:
            cgroup = observed["cgroup"]
            if not observed["exists"]:
                plan.actions.extend(["create", "limits"])
            elif cgroup.plan_writes(spec["resources"], observed["devices"]):
                plan.actions.append("limits")
        plan.warnings.extend(self._warnings(spec, observed))
        return plan

    def _plan_absent(self, name, observed, before):
        plan = TenantPlan(name, None, before, {"state": "absent"})
        if observed["partitions"]:
            raise Conflict("tenant %s has partitions: %s; remove them (or give them another tenant) first"
                           % (name, ", ".join(observed["partitions"])), partitions=observed["partitions"])
        if self.slices is not None:
            if observed["unit_text"] is not None or observed["active"]:
                plan.actions.append("remove_slice")
        elif observed["exists"]:
            plan.actions.append("remove_cgroup")
        if observed["document"] is not None or observed["counter_files"]:
            plan.actions.append("forget")
        return plan

    def _unit_text(self, spec, devices):
        return slice_unit_text(spec["name"], self.engine.store.root, spec["resources"], devices)

    def _warnings(self, spec, observed):
        """Limits this host cannot enforce, and running partitions its limits do not bind yet."""
        name, warnings = spec["name"], []
        if observed["cgroup"] is not None:
            for key, why in observed["cgroup"].unsupported(spec["resources"]):
                warnings.append("tenant %s: resources.%s is not enforced on this host: %s" % (name, key, why))
        inside = cgroups.tenant_path(self.engine.parent, name, systemd=self.slices is not None) + "/"
        outside = []
        for partition in observed["partitions"]:
            running = (self.engine.store.load_partition(partition) or {}).get("running")
            if running and not (running.get("cgroup") or "").startswith(inside):
                outside.append(partition)
        if outside:
            warnings.append("tenant %s: partitions %s run outside the tenant's cgroup (started by an earlier version): the "
                            "tenant's limits bind them once they are restarted" % (name, ", ".join(outside)))
        return warnings

    # ---- the one change point ----------------------------------------------------------------------
    def _apply(self, plan, observed):
        engine, spec = self.engine, plan.spec
        for action in plan.actions:
            if action == "record":
                engine.store.save_tenant(plan.name, dict((key, spec[key]) for key in DOCUMENT_KEYS))
            elif action == "create":
                self.counters.begin(plan.name, observed["cgroup"])  # a life a reboot ended, from its sample
                observed["cgroup"].create()
            elif action == "limits":
                observed["cgroup"].apply_limits(spec["resources"], observed["devices"])
            elif action == "slice":
                self.counters.begin(plan.name, observed["cgroup"])
                self.slices.apply(observed["slice"], self._unit_text(spec, observed["devices"]), spec["resources"],
                                  observed["devices"])
            elif action == "remove_slice":
                self.slices.remove(observed["slice"])
            elif action == "remove_cgroup":
                observed["cgroup"].remove()
                if not engine.store.partition_names():
                    # the last partition's removal left the parent to this tenant's cgroup: it goes once empty
                    engine.cgroups.remove_parent(engine.parent)
            elif action == "reset_counters":
                self.counters.reset(plan.name, engine.tenant_cgroup(plan.name))
            elif action == "forget":
                self.counters.forget(plan.name)
                engine.store.remove_tenant(plan.name)

    def report(self, name, spec, observed):
        """The tenant module's "tenant" result."""
        path = cgroups.tenant_path(self.engine.parent, name, systemd=self.slices is not None)
        if spec is None:
            return {"name": name, "state": "absent", "resources": {}, "max_partitions": None, "partitions": [],
                    "cgroup": None, "slice": None}
        return dict(describe(spec), partitions=observed["partitions"], cgroup=path, slice=observed["slice"])
