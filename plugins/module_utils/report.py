# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules return about partitions: settings, state, places on the host, usage. Reads only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import net
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import NotFound
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import describe
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name


class Reporter:
    """Reports of one engine's partitions."""

    def __init__(self, engine):
        self.engine = engine

    def report(self, name, observed=None, usage=False):
        """The `partition` dict returned to users (and each item of partition_info)."""
        engine = self.engine
        observed = observed or engine.observe(name)
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
            started=None if stopped else running.get("started"),
            runtime=running.get("runtime") or engine.runtime.name,
            cgroup=engine.cgroup(name).path,
            unit=engine.unit(name),
            console_log=None if engine.supervisor else engine.console_log(name),
            config=spec,
            id_base=engine.recorded_id_base(spec),
            interfaces=self._interfaces(name, document, spec, stopped),
        )
        if usage:
            view["usage"] = self.usage(name, spec, observed)
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
            observed = self.engine.observe(item, reads)
            if observed["corrupt"] is not None and warnings is not None:
                warnings.append("partition %s is left out: %s (state: absent removes it)" % (item, observed["corrupt"].msg))
            if observed["document"] is not None:
                reports.append(self.report(item, observed, usage=True))
        return reports
