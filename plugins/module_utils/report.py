# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules return about partitions: settings, state, places on the host, usage. Reads only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import counters, net
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, NotFound
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_counters import PartitionCounters
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import describe
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_counters import TenantCounters


class Reporter:
    """Reports of one engine's partitions."""

    def __init__(self, engine, record_samples=False):
        self.engine = engine
        self.counters = PartitionCounters(engine)
        self.record_samples = record_samples  # keep each running partition's counters as its sample (partition_counters.py)

    def report(self, name, observed=None, usage=False):
        """The `partition` dict returned to users (and each item of partition_info)."""
        with self.engine.cgroups.reading():  # usage and counters read the same cgroup files: each is read once
            return self._report(name, observed, usage)

    def _report(self, name, observed, usage):
        engine = self.engine
        observed = observed or engine.observe(name, limits=False, guards=False)
        document = observed["document"]
        if document is None:
            return {"name": name, "state": "absent", "pid": None}
        spec = document["spec"]
        running = document.get("running") or {}
        stopped = observed["status"] == "stopped"
        view = describe(observed["status"], spec)
        view.update(
            pid=observed["pid"],
            created=document.get("created"),
            cloned_from=document.get("cloned_from"),
            started=None if stopped else running.get("started"),
            runtime=running.get("runtime") or (document or {}).get("runtime") or engine.runtime.name,
            cgroup=engine.cgroup(name).path,
            unit=engine.unit(name),
            console_log=None if engine.supervisor else engine.console_log(name),
            config=spec,
            id_base=engine.recorded_id_base(spec),
            template_access=engine.template_access(spec, running=None if stopped else running),
            interfaces=self._interfaces(name, document, spec, stopped),
        )
        if usage:
            view["usage"] = self.usage(name, spec, observed)
            view["counters"] = self.counters.view(name, document, observed["status"] != "stopped", view["usage"]["disk"],
                                                  record_sample=self.record_samples)
        return view

    def _interfaces(self, name, document, spec, stopped):
        """The spec's interfaces with their host end (as running, or as a start would name it) and its counters."""
        hosts = self.engine.host_interfaces(name, {"spec": spec} if stopped else document)
        views = []
        for iface in spec.get("interfaces") or []:
            host = hosts.get(iface["name"]) or self.engine.host_ifname(name, iface["name"])
            views.append(dict(iface, host_interface=host, **(dict.fromkeys(net.COUNTERS) if stopped else net.counters(host))))
        return views

    # False: a disk without a quota reports no used_bytes rather than walking its files (the metrics command reads
    # every partition every 15 s: its work must not grow with what tenants store)
    walk_disks = True

    def usage(self, name, spec, observed):
        """Counters of the partition's cgroup while it runs, and its disk use."""
        cgroup = self.engine.cgroup(name)
        result = cgroup.read_usage() if observed["status"] != "stopped" and cgroup.exists() else {}
        disk = self.engine.disk(spec)
        result["disk"] = disk.usage() or {"used_bytes": disk.size_bytes() if self.walk_disks else None, "limit_bytes": None,
                                          "used_inodes": None, "limit_inodes": None}
        return result

    def info(self, name=None, warnings=None):
        """Reports with usage for one partition (NotFound if unknown, CorruptDocument if unreadable) or all, sharing
        one runtime listing; listing all, a partition whose document cannot be read is left out with a warning."""
        store = self.engine.store
        if name is not None:
            validate_name(name)
            if store.load_partition(name) is None:
                raise NotFound("partition %s does not exist in %s" % (name, store.root))
        reads = self.engine.read_host()
        reports = []
        for item in [name] if name is not None else store.partition_names():
            observed = self.engine.observe(item, reads, limits=False, guards=False)  # what a report shows, no more
            if observed["corrupt"] is not None and warnings is not None:
                warnings.append("partition %s is left out: %s (state: absent removes it)" % (item, observed["corrupt"].msg))
            if observed["document"] is not None:
                reports.append(self.report(item, observed, usage=True))
        return reports

    # ---- tenants ------------------------------------------------------------------------------------
    def tenant_documents(self, warnings=None):
        """{tenant: its document} of the declared tenants (the tenant module's); an unreadable one is left out, warned."""
        store, documents = self.engine.store, {}
        for tenant in store.tenant_names():
            try:
                document = store.load_tenant(tenant)
            except CorruptDocument as exc:
                if warnings is not None:
                    warnings.append("tenant %s is left out: %s" % (tenant, exc.msg))
                continue
            if document is not None:
                documents[tenant] = document
        return documents

    def tenant_counters(self, tenant, document=None):
        """The tenant's own counters (hits of the tenant's own limits, over its cgroup's lives: tenant_counters.py), or
        None when it has neither a cgroup nor a ledger."""
        return TenantCounters(self.engine).view(tenant, self.engine.tenant_cgroup(tenant), (document or {}).get("resources"),
                                                record_sample=self.record_samples)

    def tenants(self, reports, warnings=None):
        """partition_info's `tenants` for these partition reports: tenants() with this host's documents and cgroups."""
        documents = self.tenant_documents(warnings)
        return tenants(reports, documents, lambda tenant: self.tenant_counters(tenant, documents.get(tenant)))


def _sum(values):
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def tenants(reports, documents=None, tenant_counters=None):
    """One entry per tenant that a document declares or a reported partition's spec.tenant names, sorted by name:
    {name, declared, limits, max_partitions, partitions, running, usage (what its partitions hold now, summed),
    totals (its partitions' counters summed), counters (the tenant's own, ledger and cgroup, from tenant_counters(name);
    null without either)}. Pure: documents {tenant: document} and tenant_counters are the host's, passed in."""
    documents = documents or {}
    members = {}
    for report in reports:
        tenant = (report.get("config") or {}).get("tenant") or report.get("tenant") or report["name"]
        members.setdefault(tenant, []).append(report)
    result = []
    for name in sorted(set(members) | set(documents)):
        document = documents.get(name)
        partitions = sorted(members.get(name, []), key=lambda report: report["name"])
        views = [report.get("counters") or {} for report in partitions]
        flats = [counters.flatten(view) for view in views]
        usage = dict((resource, _sum(flat.get(resource + ".held") for flat in flats)) for resource in counters.RESOURCES + ("cpu",))
        totals = dict((resource, {"held": usage[resource], "maxheld": None, "limit": None,
                                  "failcnt": _sum(flat.get(resource + ".failcnt") for flat in flats)})
                      for resource in counters.RESOURCES)
        totals["cpu"] = {"held": usage["cpu"], "maxheld": None, "limit": None,
                         "failcnt": _sum(flat.get("cpu.failcnt") for flat in flats),
                         "throttled_seconds": _sum(flat.get("cpu.throttled_seconds") for flat in flats)}
        totals["oom_kills"] = _sum(flat.get("oom_kills") for flat in flats)
        totals["approximate"] = sorted(set(field for view in views for field in view.get("approximate") or ()))
        limits = (document or {}).get("resources")
        for resource, key in (("memory", "memory"), ("swap", "swap"), ("pids", "pids"), ("cpu", "cpus")):
            totals[resource]["limit"] = (limits or {}).get(key)
        result.append({
            "name": name,
            "declared": document is not None,
            "limits": limits,
            "max_partitions": (document or {}).get("max_partitions"),
            "partitions": [report["name"] for report in partitions],
            "running": sum(1 for report in partitions if report.get("state") in ("running", "frozen")),
            "usage": usage,
            "totals": totals,
            "counters": tenant_counters(name) if tenant_counters is not None else None,
        })
    return result
