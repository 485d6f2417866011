# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""check_report.py DOM_HTML INFO_JSON HOST PARTITION...: the HTML report, as Chromium rendered it (--dump-dom), shows
what partition_info says: each named partition in its tenant's section, its state, and per resource the held, peak
and limit amounts and the bar (held rect width = held / limit x the full width, capped; the peak mark where the
peak is); each tenant with its partition counts and totals (from partition_info's tenants list where it has one:
the tenant cgroup's own counters, else its totals; without a list, the sums of its partitions' held values).
Exit 1 naming each mismatch."""

import json
import os
import sys
from html.parser import HTMLParser

BAR = 240.0
# resource: (unit, usage section, held, maxheld, limit, failcnt) for reports without counters
USAGE = {
    "memory": ("bytes", "memory", "current", "peak", "limit", "failcnt"),
    "swap": ("bytes", "swap", "current", None, "limit", None),
    "pids": ("count", "pids", "current", None, "limit", "limit_hits"),
    "cpu": ("seconds", "cpu", "usage_seconds", None, "quota_cpus", "throttled_periods"),
    "disk": ("bytes", "disk", "used_bytes", None, "limit_bytes", None),
    "inodes": ("count", "disk", "used_inodes", None, "limit_inodes", None),
}
DASH = "\u2013"
# Memory held is read fuzzy, even of a frozen partition: the kernel charges memory to a cgroup in per-CPU batches
# of 64 pages and a batch can be given back between two reads (cgroup-v1 memory.txt 5.5, "usage_in_bytes").
FUZZ = 64 * os.sysconf("SC_PAGE_SIZE") * (os.cpu_count() or 1)


class Report(HTMLParser):
    """{(host, tenant or None, partition or None): {"meta": text, "state": text, "rows": {resource: cells}}}."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.sections, self.stack, self.host, self.tenant, self.partition = {}, [], None, None, None
        self.row, self.cell, self.text_into = None, None, None

    def key(self):
        return (self.host, self.tenant, self.partition)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            kind = attrs.get("class")
            self.stack.append(kind)
            if kind == "host":
                self.host, self.tenant, self.partition = attrs["data-host"], None, None
            elif kind == "tenant":
                self.tenant, self.partition = attrs["data-tenant"], None
            elif kind == "partition":
                self.partition = attrs["data-partition"]
                self.tenant = self.tenant if self.tenant is not None else "(none)"
                if attrs.get("data-tenant") != self.tenant and self.tenant != "(none)":
                    raise ValueError("partition %s (tenant %s) inside tenant %s's section"
                                     % (self.partition, attrs.get("data-tenant"), self.tenant))
            self.sections.setdefault(self.key(), {"meta": "", "state": None, "rows": {}})
        elif tag == "tr" and "data-resource" in attrs:
            self.row = {"held_rect": None, "maxheld_rect": None}
            self.sections[self.key()]["rows"][attrs["data-resource"]] = self.row
        elif tag == "td" and self.row is not None:
            self.cell = attrs.get("class")
            self.row[self.cell] = ""
        elif tag == "rect" and self.row is not None:
            classes = (attrs.get("class") or "").split()
            if "held" in classes:
                self.row["held_rect"] = float(attrs["width"])
            if "maxheld" in classes:
                self.row["maxheld_rect"] = float(attrs["x"])
        elif tag == "p" and "meta" in (attrs.get("class") or "") and self.stack:
            self.text_into = "meta"
        elif tag == "span" and "state" in (attrs.get("class") or ""):
            self.text_into = "state"

    def handle_endtag(self, tag):
        if tag == "section":
            kind = self.stack.pop()
            if kind == "partition":
                self.partition = None
            elif kind == "tenant":
                self.tenant = None
        elif tag == "tr":
            self.row = None
        elif tag == "td":
            self.cell = None
        elif tag in ("p", "span"):
            self.text_into = None

    def handle_data(self, data):
        if self.cell is not None and self.cell in ("held", "maxheld", "limit", "failcnt") and self.row is not None:
            self.row[self.cell] += data.strip()
        elif self.text_into is not None and self.stack:
            section = self.sections[self.key()]
            section[self.text_into] = ((section[self.text_into] or "") + data).strip()


def amount(value, unit):
    if value is None:
        return DASH
    if unit == "bytes":
        return "%.1f MiB" % (value / 1048576.0)
    if unit == "seconds":
        return "%.2f s" % value
    if unit == "cpus":
        return ("%g CPUs" % value)
    return "%d" % int(value)


def rows_of(report):
    counters = report.get("counters")
    rows = {}
    for resource, (unit, section, held, maxheld, limit, failcnt) in USAGE.items():
        if isinstance(counters, dict) and isinstance(counters.get(resource), dict):
            source = counters[resource]
            rows[resource] = (unit, source.get("held"), source.get("maxheld"), source.get("limit"), source.get("failcnt"))
        else:
            source = (report.get("usage") or {}).get(section) or {}
            rows[resource] = (unit, source.get(held), source.get(maxheld) if maxheld else None, source.get(limit),
                              source.get(failcnt) if failcnt else None)
    return rows


def mib(text):
    return float(text.split()[0]) * 1048576 if text and text.endswith(" MiB") else None


def compare(where, shown, rows, errors, members=1):
    for resource, (unit, held, maxheld, limit, failcnt) in rows.items():
        fuzz = FUZZ * members if resource in ("memory", "swap") and held is not None else 0
        row = shown["rows"].get(resource)
        if held is None and limit is None and maxheld is None:
            if row is not None:
                errors.append("%s %s: a row for nothing known" % (where, resource))
            continue
        if row is None:
            errors.append("%s: no %s row" % (where, resource))
            continue
        want = {"held": amount(held, unit), "maxheld": amount(maxheld, unit),
                "limit": amount(limit, "cpus" if resource == "cpu" else unit),
                "failcnt": DASH if failcnt is None else str(failcnt)}
        for cell, text in want.items():
            if cell == "held" and fuzz and mib(row.get(cell)) is not None:
                if abs(mib(row.get(cell)) - held) > fuzz + 0.05 * 1048576:  # the kernel's batching + one decimal
                    errors.append("%s %s held: shows %r, partition_info says %r" % (where, resource, row.get(cell), text))
            elif row.get(cell) != text:
                errors.append("%s %s %s: shows %r, partition_info says %r" % (where, resource, cell, row.get(cell), text))
        barred = resource != "cpu" and limit and held is not None
        if barred:
            width = round(min(held / float(limit), 1.0) * BAR, 2)
            if row["held_rect"] is None or abs(row["held_rect"] - width) > 0.006 + fuzz * BAR / float(limit):
                errors.append("%s %s bar: %s wide, want %.2f (%s of %s)" % (where, resource, row["held_rect"], width, held, limit))
            if maxheld is not None:
                mark = round(max(min(maxheld / float(limit), 1.0) * BAR - 2, 0), 2)
                if row["maxheld_rect"] is None or abs(row["maxheld_rect"] - mark) > 0.006:
                    errors.append("%s %s peak mark at %s, want %.2f" % (where, resource, row["maxheld_rect"], mark))
        elif row["held_rect"] is not None:
            errors.append("%s %s: a bar without a limit" % (where, resource))


def main(argv):
    parser = Report()
    with open(argv[1]) as handle:
        parser.feed(handle.read())
    with open(argv[2]) as handle:
        info = json.load(handle)
    host, names = argv[3], argv[4:]
    partitions = dict((p["name"], p) for p in info["partitions"])
    errors = []
    for name in names:
        report = partitions[name]
        shown = parser.sections.get((host, report["tenant"], name))
        if shown is None:
            errors.append("%s: not shown in tenant %s's section of host %s" % (name, report["tenant"], host))
            continue
        if shown["state"] != report["state"]:
            errors.append("%s: state %r, partition_info says %r" % (name, shown["state"], report["state"]))
        compare(name, shown, rows_of(report), errors)
    tenants = info.get("tenants")
    if tenants is None:  # no tenants list: totals summed over each tenant's partitions
        grouped = {}
        for report in info["partitions"]:
            grouped.setdefault(report["tenant"], []).append(report)
        tenants = []
        for tenant, members in grouped.items():
            summed = {}
            for resource, (unit, _section, _h, _m, _l, _f) in USAGE.items():
                helds = [rows_of(m)[resource][1] for m in members if rows_of(m)[resource][1] is not None]
                hits = [rows_of(m)[resource][4] for m in members if rows_of(m)[resource][4] is not None]
                summed[resource] = (unit, sum(helds) if helds else None, None, None, sum(hits) if hits else None)
            tenants.append({"name": tenant, "rows": summed, "partitions": len(members),
                            "running": len([m for m in members if m["state"] in ("running", "frozen")])})
    else:
        # the tenant cgroup's own counters where it has one, else its partitions' totals
        tenants = [{"name": t["name"], "rows": rows_of({"counters": t["counters"] if isinstance(t.get("counters"), dict) else t.get("totals") or {}}),
                    "partitions": len(t.get("partitions") or []),
                    "running": t["running"] if isinstance(t.get("running"), int) else len(t.get("running") or [])} for t in tenants]
    wanted = set(partitions[name]["tenant"] for name in names)
    for tenant in tenants:
        if tenant["name"] not in wanted:
            continue
        shown = parser.sections.get((host, tenant["name"], None))
        if shown is None:
            errors.append("tenant %s: no section" % tenant["name"])
            continue
        counts = "%d partition%s, %d running" % (tenant["partitions"], "" if tenant["partitions"] == 1 else "s", tenant["running"])
        if not shown["meta"].startswith(counts):
            errors.append("tenant %s: says %r, want %r" % (tenant["name"], shown["meta"], counts))
        compare("tenant " + tenant["name"], shown, tenant["rows"], errors, max(1, tenant["partitions"]))
    for error in errors:
        print("FAIL: " + error)
    if not errors:
        print("ok: %d partitions and %d tenants shown as partition_info says" % (len(names), len(wanted)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
