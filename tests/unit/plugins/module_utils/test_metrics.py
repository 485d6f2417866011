# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus text of partition reports: families with HELP and TYPE, counters named _total, label values
escaped, no sample for a null value or an unlimited limit, counters before usage, older reports without counters
or tenants; and linuxvps-metrics' arguments, file replacement and loop."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import hostcmd, metrics
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "partition_info_counters.json")
SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


@pytest.fixture
def info():
    with open(FIXTURE) as handle:
        return json.load(handle)


def parse(text):
    """{(name, ((label, value), ...)): value} and {name: type}, failing on what the text format forbids."""
    samples, types, helps = {}, {}, set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helps, "second HELP for " + name
            helps.add(name)
        elif line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split(" ")
            assert name in helps and name not in types
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            assert name in types, "sample before its TYPE: " + line
            labels = tuple((key, re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), raw))
                           for key, raw in LABEL.findall(labels or ""))
            assert (name, labels) not in samples, "duplicate series " + line
            samples[(name, labels)] = float(value)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items(), key=lambda item: ["partition", "tenant"].index(item[0])))))


def test_names_types_and_counter_suffixes(info):
    samples, types = parse(metrics.exposition(info["partitions"], info["tenants"]))
    for name, kind in types.items():
        assert name.startswith(("linuxvps_partition_", "linuxvps_tenant_"))
        assert (kind == "counter") == name.endswith("_total"), name
    assert types["linuxvps_partition_memory_bytes"] == "gauge"
    assert types["linuxvps_partition_oom_kills_total"] == "counter"
    planned = set("linuxvps_partition_" + suffix for suffix, _k, _t, _c, _u in metrics.SERIES) | {"linuxvps_partition_up"}
    assert set(name for name in types if name.startswith("linuxvps_partition_")) == planned


def test_values_come_from_counters(info):
    samples, _types = parse(metrics.exposition(info["partitions"], info["tenants"]))
    assert value(samples, "linuxvps_partition_memory_bytes", partition="web1", tenant="acme") == 16777216
    assert value(samples, "linuxvps_partition_memory_peak_bytes", partition="web1", tenant="acme") == 33554432
    assert value(samples, "linuxvps_partition_cpu_seconds_total", partition="web1", tenant="acme") == 1.25
    assert value(samples, "linuxvps_partition_cpu_throttled_periods_total", partition="web1", tenant="acme") == 7
    assert value(samples, "linuxvps_partition_pids_peak", partition="web1", tenant="acme") == 57
    assert value(samples, "linuxvps_partition_oom_kills_total", partition="web1", tenant="acme") == 1
    assert value(samples, "linuxvps_partition_io_write_bytes_total", partition="web1", tenant="acme") == 8192
    # a stopped partition keeps its cumulative counters, and says it is down
    assert value(samples, "linuxvps_partition_up", partition="db1", tenant="acme") == 0
    assert value(samples, "linuxvps_partition_cpu_seconds_total", partition="db1", tenant="acme") == 20.5
    assert value(samples, "linuxvps_tenant_memory_limit_hits_total", tenant="acme") == 9
    assert value(samples, "linuxvps_tenant_cpu_limit_cpus", tenant="acme") == 2
    assert value(samples, "linuxvps_tenant_partitions", tenant="acme") == 2


def test_null_and_unlimited_give_no_sample(info):
    samples, _types = parse(metrics.exposition(info["partitions"], info["tenants"]))
    assert value(samples, "linuxvps_partition_memory_bytes", partition="db1", tenant="acme") is None
    assert value(samples, "linuxvps_partition_memory_limit_bytes", partition="db1", tenant="acme") is None
    assert value(samples, "linuxvps_partition_disk_limit_bytes", partition="db1", tenant="acme") is None
    assert value(samples, "linuxvps_tenant_disk_bytes", tenant="acme") is None
    # cpu.maxheld is null by definition: there is no CPU peak series at all
    assert not any(name.endswith("cpu_peak") for name, _labels in samples)
    text = metrics.exposition(info["partitions"], info["tenants"])
    assert "Inf" not in text and "NaN" not in text and "None" not in text


def test_label_values_are_escaped(info):
    text = metrics.exposition(info["partitions"], info["tenants"])
    assert 'tenant="b\\"ad\\\\ten\\nant"' in text
    samples, _types = parse(text)
    assert value(samples, "linuxvps_partition_memory_bytes", partition="solo", tenant='b"ad\\ten\nant') == 1024


@pytest.mark.parametrize("given, shown", [
    (0, "0"), (5, "5"), (True, "1"), (False, "0"), (2.0, "2"), (0.031, "0.031"), (1e-06, "1e-06"),
    (None, None), (float("inf"), None), (float("nan"), None), ("12", None), ({}, None)])
def test_value_formatting(given, shown):
    assert metrics.format_value(given) == shown


def test_older_reports_without_counters_or_tenants():
    """Reports of an older collection: usage only, no tenants list; stopped ones have only disk."""
    partitions = [
        {"name": "old", "state": "running", "config": {"tenant": "t1"},
         "usage": {"memory": {"current": 100, "peak": 200, "limit": None, "failcnt": 0, "oom_kills": 2},
                   "cpu": {"usage_seconds": 3.5, "throttled_periods": None, "throttled_seconds": None, "quota_cpus": None},
                   "pids": {"current": 4, "limit": 100, "limit_hits": 0}, "io": {"read_bytes": 1, "write_bytes": 2},
                   "disk": {"used_bytes": 10, "limit_bytes": None, "used_inodes": None, "limit_inodes": None}}},
        {"name": "off", "state": "stopped", "usage": {"disk": {"used_bytes": None}}},
    ]
    samples, types = parse(metrics.exposition(partitions))
    assert value(samples, "linuxvps_partition_memory_bytes", partition="old", tenant="t1") == 100
    assert value(samples, "linuxvps_partition_oom_kills_total", partition="old", tenant="t1") == 2
    assert value(samples, "linuxvps_partition_memory_limit_bytes", partition="old", tenant="t1") is None
    assert value(samples, "linuxvps_partition_pids_peak", partition="old", tenant="t1") is None
    # without a tenant the partition is its own (the spec's default)
    assert value(samples, "linuxvps_partition_up", partition="off", tenant="off") == 0
    assert value(samples, "linuxvps_tenant_partitions", tenant="t1") == 1
    assert "linuxvps_tenant_memory_bytes" not in types
    assert metrics.exposition([]) == ""


def test_counters_decide_even_when_null(info):
    """A field the counters hold as null is not taken from usage: counters span lives, usage only this one."""
    report = dict(info["partitions"][0])
    report["counters"] = dict(report["counters"], memory=dict(report["counters"]["memory"], failcnt=None))
    samples, _types = parse(metrics.exposition([report]))
    assert value(samples, "linuxvps_partition_memory_limit_hits_total", partition="web1", tenant="acme") is None


# ---- linuxvps-metrics' arguments and file (hostcmd.py) ----------------------------------------------------------
@pytest.mark.parametrize("args, parsed", [
    (["/s", "/d/f.prom"], ("/s", "/d/f.prom", None)),
    (["--every", "15", "/s", "/d/f.prom"], ("/s", "/d/f.prom", 15.0)),
    (["--every", "0.5", "/s", "/f"], None),
    (["--every", "nan", "/s", "/f"], None),
    (["--every", "inf", "/s", "/f"], None),
    (["--every", "x", "/s", "/f"], None),
    (["--every", "15", "/s"], None),
    (["/s"], None),
    ([], None),
])
def test_metrics_arguments(args, parsed):
    assert hostcmd._metrics_args(args) == parsed


def test_metrics_usage_exit_code(capsys):
    assert hostcmd.main(["metrics", "--every", "0", "/s", "/f"]) == 2
    assert capsys.readouterr().err.startswith("usage: linuxvps-metrics ")


def test_file_replaced_whole_and_nothing_left(tmp_path):
    target = tmp_path / "linuxvps.prom"
    target.write_text("old\n")
    before = os.stat(str(target)).st_ino
    hostcmd.write_metrics_file(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert os.stat(str(target)).st_ino != before  # a rename, not a rewrite in place
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(str(tmp_path))) == ["linuxvps.prom"]


def test_file_in_a_missing_directory_fails_typed(tmp_path):
    with pytest.raises(PartitionError) as caught:
        hostcmd.write_metrics_file(str(tmp_path / "none" / "linuxvps.prom"), "x\n")
    assert "cannot write" in caught.value.msg


def test_a_failed_round_does_not_end_the_loop(monkeypatch, capsys):
    calls = []

    def write(state_dir, path):
        calls.append(path)
        if len(calls) == 1:
            raise PartitionError("state directory is gone")
        return ["partition x is left out"]

    monkeypatch.setattr(hostcmd, "write_metrics", write)
    monkeypatch.setattr(hostcmd.time, "sleep", lambda seconds: None)
    assert hostcmd.run_metrics("/s", "/f", every=1.0, rounds=3) == 0
    assert len(calls) == 3
    err = capsys.readouterr().err
    assert "state directory is gone" in err and "partition x is left out" in err

    def fail(state_dir, path):
        raise PartitionError("no")

    monkeypatch.setattr(hostcmd, "write_metrics", fail)
    assert hostcmd.run_metrics("/s", "/f") == 1


def test_part_b_output():
    """partition_info as part B's branch returned it on a real host: partitions with counters, tenants with
    counters null (no tenant cgroup yet) and totals."""
    with open(os.path.join(os.path.dirname(__file__), "fixtures", "partition_info_part_b.json")) as handle:
        info = json.load(handle)
    samples, _types = parse(metrics.exposition(info["partitions"], info["tenants"]))
    for report in info["partitions"]:
        labels = dict(partition=report["name"], tenant=report["tenant"])
        assert value(samples, "linuxvps_partition_memory_peak_bytes", **labels) == report["counters"]["memory"]["maxheld"]
        assert value(samples, "linuxvps_partition_cpu_seconds_total", **labels) == report["counters"]["cpu"]["held"]
        assert value(samples, "linuxvps_partition_up", **labels) == (report["state"] == "running")
    for tenant in info["tenants"]:
        assert tenant["counters"] is None
        assert value(samples, "linuxvps_tenant_partitions", tenant=tenant["name"]) == len(tenant["partitions"])
        assert value(samples, "linuxvps_tenant_memory_bytes", tenant=tenant["name"]) == tenant["totals"]["memory"]["held"]
        assert value(samples, "linuxvps_tenant_memory_limit_hits_total", tenant=tenant["name"]) == tenant["totals"]["memory"]["failcnt"]
        assert value(samples, "linuxvps_tenant_memory_limit_bytes", tenant=tenant["name"]) is None  # undeclared: unlimited


def test_tenant_counters_win_over_totals(info):
    tenant = dict(info["tenants"][0], totals={"memory": {"held": 1, "maxheld": None, "limit": None, "failcnt": 77}})
    samples, _types = parse(metrics.exposition([], [tenant]))
    assert value(samples, "linuxvps_tenant_memory_limit_hits_total", tenant="acme") == 9
    samples, _types = parse(metrics.exposition([], [dict(tenant, counters=None)]))
    assert value(samples, "linuxvps_tenant_memory_limit_hits_total", tenant="acme") == 77
