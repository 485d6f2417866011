# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partition reports (partition_info's items) and tenants as Prometheus text exposition (format 0.0.4), for
node_exporter's textfile collector. Pure: no I/O.

Each value comes from the partition's ``counters`` (OpenVZ-style, kept across restarts) where the report has them,
else from its ``usage`` (reports of older versions have no counters): a report shows what it has. A null value,
and a limit that is unlimited, gives no sample (never +Inf): "no limit" is the absence of the series.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

PREFIX = "linuxvps_"

# (name after linuxvps_partition_ / linuxvps_tenant_, type, help, path in counters, path in usage).
# A path is a tuple of keys; None: that source never has it.
SERIES = (
    ("memory_bytes", "gauge", "Memory held now (bytes).", ("memory", "held"), ("memory", "current")),
    ("memory_peak_bytes", "gauge", "Most memory held since the counters started (bytes).",
     ("memory", "maxheld"), ("memory", "peak")),
    ("memory_limit_bytes", "gauge", "Memory limit (bytes); no sample when unlimited.", ("memory", "limit"), ("memory", "limit")),
    ("memory_limit_hits_total", "counter", "Times the memory limit was hit.", ("memory", "failcnt"), ("memory", "failcnt")),
    ("oom_kills_total", "counter", "Processes killed by the OOM killer.", ("oom_kills",), ("memory", "oom_kills")),
    ("swap_bytes", "gauge", "Swap held now (bytes).", ("swap", "held"), ("swap", "current")),
    ("swap_limit_bytes", "gauge", "Swap limit (bytes); no sample when unlimited.", ("swap", "limit"), ("swap", "limit")),
    ("pids", "gauge", "Processes and threads now.", ("pids", "held"), ("pids", "current")),
    ("pids_peak", "gauge", "Most processes and threads since the counters started.", ("pids", "maxheld"), None),
    ("pids_limit", "gauge", "Limit of processes and threads; no sample when unlimited.", ("pids", "limit"), ("pids", "limit")),
    ("pids_limit_hits_total", "counter", "Forks refused at the pids limit.", ("pids", "failcnt"), ("pids", "limit_hits")),
    ("cpu_seconds_total", "counter", "CPU time used (seconds).", ("cpu", "held"), ("cpu", "usage_seconds")),
    ("cpu_limit_cpus", "gauge", "CPU quota in CPUs; no sample when unlimited.", ("cpu", "limit"), ("cpu", "quota_cpus")),
    ("cpu_throttled_periods_total", "counter", "Scheduler periods in which the CPU quota throttled it.",
     ("cpu", "failcnt"), ("cpu", "throttled_periods")),
    ("cpu_throttled_seconds_total", "counter", "Time throttled by the CPU quota (seconds).",
     ("cpu", "throttled_seconds"), ("cpu", "throttled_seconds")),
    ("disk_bytes", "gauge", "Disk space held by its own files (bytes).", ("disk", "held"), ("disk", "used_bytes")),
    ("disk_limit_bytes", "gauge", "Disk quota (bytes); no sample without one.", ("disk", "limit"), ("disk", "limit_bytes")),
    ("inodes", "gauge", "Inodes held by its own files.", ("inodes", "held"), ("disk", "used_inodes")),
    ("inodes_limit", "gauge", "Inode quota; no sample without one.", ("inodes", "limit"), ("disk", "limit_inodes")),
    ("io_read_bytes_total", "counter", "Bytes read from block devices.", None, ("io", "read_bytes")),
    ("io_write_bytes_total", "counter", "Bytes written to block devices.", None, ("io", "write_bytes")),
)
RUNNING_STATES = ("running", "frozen")


def escape_label(value):
    """A label value as the text format quotes it: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text):
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """The sample value, or None when there is none to give (null, not a number, infinite)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)
    return None


def _dig(data, path):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _has(data, path):
    """Whether the report's source holds the field (even as null): then it decides, the other source does not."""
    for key in path[:-1]:
        data = data.get(key) if isinstance(data, dict) else None
    return isinstance(data, dict) and path[-1] in data


def pick(report, counters_path, usage_path):
    """One value of a partition or tenant report: from its counters where they have the field, else from usage."""
    counters = report.get("counters")
    if counters_path is not None and isinstance(counters, dict) and _has(counters, counters_path):
        return _dig(counters, counters_path)
    if usage_path is not None:
        return _dig(report.get("usage"), usage_path)
    return None


def partition_tenant(report):
    """The tenant a partition belongs to: its spec's tenant (its own name when none is set)."""
    return report.get("tenant") or _dig(report, ("config", "tenant")) or report.get("name")


class Exposition:
    """Metric families in the order they were first given, each with its samples."""

    def __init__(self):
        self.families = {}
        self.order = []

    def add(self, name, kind, text, labels, value):
        formatted = format_value(value)
        if formatted is None:
            return
        if name not in self.families:
            self.families[name] = (kind, text, [])
            self.order.append(name)
        rendered = ",".join('%s="%s"' % (key, escape_label(val)) for key, val in labels)
        self.families[name][2].append("%s{%s} %s" % (name, rendered, formatted) if rendered else "%s %s" % (name, formatted))

    def text(self):
        lines = []
        for name in self.order:
            kind, text, samples = self.families[name]
            lines.append("# HELP %s %s" % (name, escape_help(text)))
            lines.append("# TYPE %s %s" % (name, kind))
            lines.extend(samples)
        return "\n".join(lines) + "\n" if lines else ""


def exposition(partitions, tenants=None):
    """The text file for partition reports (each with name, state, tenant and counters and/or usage) and the
    tenants list of partition_info (each with name, partitions and counters or totals); tenants None (older
    reports): the tenants' partition counts from the reports, no other tenant series."""
    out = Exposition()
    partitions = sorted(partitions or [], key=lambda report: report["name"])
    prefix = PREFIX + "partition_"
    for report in partitions:
        labels = (("partition", report["name"]), ("tenant", partition_tenant(report)))
        out.add(prefix + "up", "gauge", "1 while the partition runs (or is frozen), 0 while it is stopped.", labels,
                1 if report.get("state") in RUNNING_STATES else 0)
    for suffix, kind, text, counters_path, usage_path in SERIES:
        for report in partitions:
            labels = (("partition", report["name"]), ("tenant", partition_tenant(report)))
            out.add(prefix + suffix, kind, "Partition: " + text, labels, pick(report, counters_path, usage_path))
    _tenant_series(out, partitions, tenants)
    return out.text()


def _tenant_series(out, partitions, tenants):
    prefix = PREFIX + "tenant_"
    if tenants is None:
        counts = {}
        for report in partitions:
            counts[partition_tenant(report)] = counts.get(partition_tenant(report), 0) + 1
        tenants = [{"name": name, "partitions": count} for name, count in counts.items()]
    tenants = sorted(tenants, key=lambda tenant: tenant["name"])
    for tenant in tenants:
        members = tenant.get("partitions")
        out.add(prefix + "partitions", "gauge", "Partitions the tenant has.", (("tenant", tenant["name"]),),
                len(members) if isinstance(members, list) else members)
    for suffix, kind, text, counters_path, _usage_path in SERIES:
        if counters_path is None:
            continue
        for tenant in tenants:
            out.add(prefix + suffix, kind, "Tenant (its own cgroup where it has one, else its partitions summed): " + text,
                    (("tenant", tenant["name"]),), pick({"counters": tenant_counters(tenant)}, counters_path, None))


def tenant_counters(tenant):
    """A tenant's counters: its own cgroup's (hits of the tenant's own limits) where it has one, else its partitions'
    summed (``totals``, with the tenant's declared limits)."""
    if isinstance(tenant.get("counters"), dict):
        return tenant["counters"]
    return tenant.get("totals")
