# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""check_metrics.py PROM_FILE INFO_JSON [PARTITION...]: the metrics file says what partition_info says.

Strict parse of the text format as node_exporter's textfile collector reads it (HELP and TYPE before the samples,
one family block per name, no series twice: promtool 2.42 lets a repeated sample line pass), then, for the named
partitions (frozen by the test, so nothing moves between the two reads), every series against partition_info's
value: its counters where it has them, else its usage. A null or an unlimited limit must have no sample; disk use
without a quota must have none either (the command never walks a partition's files). Exit 1 naming each mismatch.
"""

import json
import os
import re
import sys

# Memory held is read fuzzy, even of a frozen partition: the kernel charges memory to a cgroup in per-CPU batches
# of 64 pages and a batch can be given back between two reads (cgroup-v1 memory.txt 5.5, "usage_in_bytes").
FUZZY = ("memory_bytes", "swap_bytes")
FUZZ = 64 * os.sysconf("SC_PAGE_SIZE") * (os.cpu_count() or 1)
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# series suffix: (path in counters, path in usage)
SERIES = {
    "memory_bytes": (("memory", "held"), ("memory", "current")),
    "memory_peak_bytes": (("memory", "maxheld"), ("memory", "peak")),
    "memory_limit_bytes": (("memory", "limit"), ("memory", "limit")),
    "memory_limit_hits_total": (("memory", "failcnt"), ("memory", "failcnt")),
    "oom_kills_total": (("oom_kills",), ("memory", "oom_kills")),
    "swap_bytes": (("swap", "held"), ("swap", "current")),
    "swap_limit_bytes": (("swap", "limit"), ("swap", "limit")),
    "pids": (("pids", "held"), ("pids", "current")),
    "pids_peak": (("pids", "maxheld"), None),
    "pids_limit": (("pids", "limit"), ("pids", "limit")),
    "pids_limit_hits_total": (("pids", "failcnt"), ("pids", "limit_hits")),
    "cpu_seconds_total": (("cpu", "held"), ("cpu", "usage_seconds")),
    "cpu_limit_cpus": (("cpu", "limit"), ("cpu", "quota_cpus")),
    "cpu_throttled_periods_total": (("cpu", "failcnt"), ("cpu", "throttled_periods")),
    "cpu_throttled_seconds_total": (("cpu", "throttled_seconds"), ("cpu", "throttled_seconds")),
    "disk_limit_bytes": (("disk", "limit"), ("disk", "limit_bytes")),
    "inodes_limit": (("inodes", "limit"), ("disk", "limit_inodes")),
    "io_read_bytes_total": (None, ("io", "read_bytes")),
    "io_write_bytes_total": (None, ("io", "write_bytes")),
}


def parse(text):
    """{(name, labels): value}; raises ValueError on what the format or the textfile collector refuses."""
    samples, types, helps, closed, current = {}, {}, set(), set(), None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split(" ")[2]
            if name in closed:
                raise ValueError("line %d: family %s appears twice" % (number, name))
            if current not in (None, name):
                closed.add(current)
            current = name
            if line.startswith("# HELP "):
                helps.add(name)
            else:
                types[name] = line.split(" ")[3]
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ValueError("line %d: not a sample: %r" % (number, line))
        name, labels, value = match.groups()
        if name != current or name not in helps or name not in types:
            raise ValueError("line %d: %s has no HELP and TYPE just before it" % (number, name))
        if types[name] == "counter" and not name.endswith("_total"):
            raise ValueError("line %d: counter %s does not end in _total" % (number, name))
        key = (name, tuple(LABEL.findall(labels or "")))
        if key in samples:
            raise ValueError("line %d: series %s{%s} appears twice" % (number, name, labels))
        samples[key] = float(value)
    return samples


def dig(data, path):
    for key in path or ():
        data = data.get(key) if isinstance(data, dict) else None
    return data if path else None


def expected(report, counters_path, usage_path):
    """partition_info's value: from counters where they hold the field (even null), else from usage."""
    counters = report.get("counters")
    if counters_path and isinstance(counters, dict):
        parent = dig(counters, counters_path[:-1]) if len(counters_path) > 1 else counters
        if isinstance(parent, dict) and counters_path[-1] in parent:
            return parent[counters_path[-1]]
    return dig(report.get("usage"), usage_path)


def differ(suffix, want, got, fuzz=FUZZ):
    """Whether a sample is missing, extra or off (held memory: by more than the kernel's batching explains)."""
    if (want is None) != (got is None):
        return True
    if want is None:
        return False
    allowed = fuzz if suffix in FUZZY else 1e-9 * max(1.0, abs(want))
    return abs(float(want) - got) > allowed


def check(samples, info, names):
    errors = []
    partitions = dict((p["name"], p) for p in info["partitions"])
    up = dict((dict(labels)["partition"], value) for (name, labels), value in samples.items() if name == "linuxvps_partition_up")
    if sorted(up) != sorted(partitions):
        errors.append("partitions in the file %s, in partition_info %s" % (sorted(up), sorted(partitions)))
    for name in names:
        report = partitions.get(name)
        if report is None:
            errors.append("%s: not in partition_info" % name)
            continue
        labels = (("partition", name), ("tenant", report["tenant"]))
        want_up = 1.0 if report["state"] in ("running", "frozen") else 0.0
        if samples.get(("linuxvps_partition_up", labels)) != want_up:
            errors.append("%s: up is %s, want %s" % (name, samples.get(("linuxvps_partition_up", labels)), want_up))
        for suffix, (counters_path, usage_path) in SERIES.items():
            want = expected(report, counters_path, usage_path)
            got = samples.get(("linuxvps_partition_" + suffix, labels))
            if differ(suffix, want, got):
                errors.append("%s: %s is %s, partition_info says %s" % (name, suffix, got, want))
        disk = (report.get("usage") or {}).get("disk") or {}
        got = samples.get(("linuxvps_partition_disk_bytes", labels))
        if disk.get("limit_bytes") is None and got is not None:
            errors.append("%s: disk_bytes given without a quota (the command must not walk its files)" % name)
        if disk.get("limit_bytes") is not None and got != disk.get("used_bytes"):
            errors.append("%s: disk_bytes %s, partition_info says %s" % (name, got, disk.get("used_bytes")))
    tenants = {}
    for report in info["partitions"]:
        tenants[report["tenant"]] = tenants.get(report["tenant"], 0) + 1
    for tenant in info.get("tenants") or []:
        tenants[tenant["name"]] = len(tenant.get("partitions") or [])
        for suffix, (counters_path, _usage_path) in SERIES.items():
            if counters_path is None:
                continue
            own = tenant.get("counters")  # the tenant cgroup's own, else its partitions' totals
            want = expected({"counters": own if isinstance(own, dict) else tenant.get("totals")}, counters_path, None)
            got = samples.get(("linuxvps_tenant_" + suffix, (("tenant", tenant["name"]),)))
            if differ(suffix, want, got, FUZZ * max(1, len(tenant.get("partitions") or []))):
                errors.append("tenant %s: %s is %s, partition_info says %s" % (tenant["name"], suffix, got, want))
    for tenant, count in tenants.items():
        got = samples.get(("linuxvps_tenant_partitions", (("tenant", tenant),)))
        if got != count:
            errors.append("tenant %s: partitions %s, want %s" % (tenant, got, count))
    return errors


def main(argv):
    with open(argv[1]) as handle:
        text = handle.read()
    with open(argv[2]) as handle:
        info = json.load(handle)
    try:
        samples = parse(text)
    except ValueError as exc:
        print("FAIL: %s" % exc)
        return 1
    errors = check(samples, info, argv[3:])
    for error in errors:
        print("FAIL: %s" % error)
    if not errors:
        print("ok: %d series match partition_info" % len(samples))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
