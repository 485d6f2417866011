# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cgroups package against fixture trees shaped like real v1 (hybrid) and v2 hosts, plus this host's real v1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import threading

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import common, v1, v2
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError

MIB = 2 ** 20
UNLIMITED_V1 = "9223372036854771712"
V1_FILES = {
    "memory": {"memory.limit_in_bytes": UNLIMITED_V1, "memory.memsw.limit_in_bytes": UNLIMITED_V1,
               "memory.usage_in_bytes": "16777216", "memory.memsw.usage_in_bytes": "16781312",
               "memory.max_usage_in_bytes": "33554432", "memory.failcnt": "3",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2", "cgroup.procs": "101\n102"},
    "cpu": {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000", "cpu.shares": "1024",
            "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 2500000000\nnr_bursts 0\nburst_time 0"},
    "cpuacct": {"cpuacct.usage": "1500000000"},
    "cpuset": {"cpuset.cpus": "0-3", "cpuset.mems": "0"},
    "pids": {"pids.max": "max", "pids.current": "7", "pids.events": "max 5"},
    "blkio": {"blkio.bfq.weight": "100",
              "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Read 1\nTotal 12289"},
}
V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory pids", "cgroup.subtree_control": "", "cgroup.procs": "201",
    "memory.max": "max", "memory.swap.max": "max", "memory.current": "16777216", "memory.peak": "33554432",
    "memory.swap.current": "4096", "memory.events": "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\noom_group_kill 0",
    "cpu.max": "max 100000", "cpu.weight": "100",
    "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 3\nnr_throttled 2\nthrottled_usec 700000",
    "cpuset.cpus": "", "cpuset.cpus.effective": "0-3", "pids.max": "max", "pids.current": "3", "pids.events": "max 0",
    "io.weight": "default 100",
    "io.stat": "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=5 wbytes=0 rios=1 wios=0 dbytes=0 dios=0",
}
# /proc/self/mountinfo of a hybrid host ({root} is the fixture's /sys/fs/cgroup); v1 controllers are superblock options.
V1_MOUNTINFO = """22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:26 / {root} ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755,inode64
32 31 0:27 / {root}/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / {root}/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
34 31 0:29 / {root}/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
{cpu_lines}37 31 0:32 / {root}/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset
38 31 0:33 / {root}/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
39 31 0:34 / {root}/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,blkio
40 31 0:35 / {root}/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,net_cls,net_prio
41 31 0:36 / {root}/devices rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,devices
"""
SEPARATE_CPU = ("35 31 0:30 / {root}/cpu rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu\n"
                "36 31 0:31 / {root}/cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuacct\n")
COMOUNTED_CPU = "35 31 0:30 / {root}/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct\n"
V2_MOUNTINFO = """22 28 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
31 22 0:26 / {root} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""


def write_tree(base, files):
    os.makedirs(str(base), exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(str(base), name), "w") as handle:
            handle.write(content + "\n")


def read(path):
    with open(str(path)) as handle:
        return handle.read()


def v1_host(tmp_path, comounted=False, memsw=True, bfq=True, unmounted=()):
    """A hybrid host with partition /linuxvps/web1 on every hierarchy, the unmounted controllers' left out of
    the mount table; returns (host, fake /sys/fs/cgroup)."""
    root = tmp_path / "cgroup"
    mounts = V1_MOUNTINFO.format(root=root, cpu_lines=(COMOUNTED_CPU if comounted else SEPARATE_CPU).format(root=root))
    mounts = "".join(line for line in mounts.splitlines(True) if line.split()[-1].split(",")[-1] not in unmounted)
    for controller in ("systemd", "unified", "devices", "net_cls,net_prio") + tuple(V1_FILES):
        mount = "cpu,cpuacct" if comounted and controller in ("cpu", "cpuacct") else controller
        files = dict((k, v) for k, v in V1_FILES.get(controller, {}).items() if memsw or "memsw" not in k)
        if not bfq:
            files.pop("blkio.bfq.weight", None)
        for level in ("linuxvps", "linuxvps/web1"):  # every non-root cgroup has its controllers' files
            write_tree(root / mount / level, files)
    write_tree(root / "cpuset", {"cpuset.cpus": "0-3", "cpuset.mems": "0"})
    write_tree(root / "memory", {"memory.limit_in_bytes": UNLIMITED_V1, "memory.usage_in_bytes": "999"})
    (tmp_path / "mountinfo").write_text(mounts)
    return cgroups.detect(str(tmp_path / "mountinfo"), root=str(root)), root


def v2_host(tmp_path, partition_files=None):
    root = tmp_path / "cgroup"
    write_tree(root, {"cpuset.cpus.effective": "0-3", "cgroup.controllers": "cpuset cpu io memory pids",
                      "cgroup.subtree_control": "cpu io memory pids", "memory.stat": "anon 0"})
    write_tree(root / "linuxvps", dict(V2_FILES, **{"cgroup.procs": "", "cgroup.subtree_control": "cpuset cpu io memory pids"}))
    write_tree(root / "linuxvps" / "web1", V2_FILES if partition_files is None else partition_files)
    (tmp_path / "mountinfo").write_text(V2_MOUNTINFO.format(root=root))
    return cgroups.detect(str(tmp_path / "mountinfo"), root=str(root)), root


def partition(host, name, parent="linuxvps"):
    return host.partition(cgroups.partition_path(parent, name))


def patch_writes(monkeypatch, write):
    """Send every cgroup file write to write (each module of the package holds its own name for _write)."""
    for module in (common, v1, v2):
        monkeypatch.setattr(module, "_write", write)


def resources(**values):
    base = dict.fromkeys(("memory", "swap", "cpus", "cpuset", "pids", "nofile"))
    base.update(cpu_weight=100, io_weight=100)
    base.update(values)
    return base


def names(writes):
    return [name for name, _path, _value in writes]


# ---- detection ---------------------------------------------------------------------------------
def test_detect_v1_separate_cpu_and_cpuacct(tmp_path):
    host, root = v1_host(tmp_path)
    assert host.version == 1
    assert host.controller_dir("memory") == str(root / "memory")
    assert host.controller_dir("cpu") == str(root / "cpu") and host.controller_dir("cpuacct") == str(root / "cpuacct")
    assert host.unified == str(root / "unified")
    assert str(root / "systemd") in host.hierarchies() and str(root / "net_cls,net_prio") in host.hierarchies()
    assert host.online_cpus() == [0, 1, 2, 3]


def test_detect_v1_comounted_cpu_cpuacct_by_mount_options(tmp_path):
    host, root = v1_host(tmp_path, comounted=True)
    assert host.version == 1
    assert host.controller_dir("cpu") == host.controller_dir("cpuacct") == str(root / "cpu,cpuacct")
    assert host.controller_dir("net_prio") == str(root / "net_cls,net_prio")
    usage = partition(host, "web1").read_usage()
    assert usage["cpu"]["usage_seconds"] == 1.5 and usage["cpu"]["throttled_periods"] == 4


def test_detect_v2(tmp_path):
    host, root = v2_host(tmp_path)
    assert host.version == 2 and host.unified == str(root) and host.v1_mounts == {}
    assert host.hierarchies() == [str(root)]
    assert host.online_cpus() == [0, 1, 2, 3]
    assert host.controller_dir("memory") == host.controller_dir("io") == str(root)


def test_detect_prefers_mounts_under_root_and_unescapes(tmp_path):
    root = tmp_path / "sys fs"
    write_tree(root / "cgroup", {"cgroup.controllers": "cpu memory pids"})
    elsewhere = tmp_path / "container" / "rootfs"
    write_tree(elsewhere, {"cgroup.controllers": ""})
    (tmp_path / "mountinfo").write_text(
        "30 1 0:26 / %s rw - cgroup2 cgroup2 rw\n31 1 0:27 / %s/memory rw - cgroup cgroup rw,memory\n"
        "32 1 0:28 / %s rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n" % (elsewhere, elsewhere, str(root / "cgroup").replace(" ", "\\040")))
    host = cgroups.detect(str(tmp_path / "mountinfo"), root=str(root / "cgroup"))
    assert host.version == 2 and host.unified == str(root / "cgroup")
    # nothing under root: whatever is mounted elsewhere is used
    assert cgroups.detect(str(tmp_path / "mountinfo"), root="/nonexistent").version == 1


def test_detect_refuses_unusable_hosts(tmp_path):
    empty = tmp_path / "none"
    empty.write_text("22 1 0:5 / /proc rw - proc proc rw\n")
    with pytest.raises(CgroupError, match="no usable cgroup hierarchy"):
        cgroups.detect(str(empty), root=str(tmp_path))
    # hybrid leftovers: cgroup2 without controllers and no v1 memory controller
    write_tree(tmp_path / "unified", {"cgroup.controllers": ""})
    hybrid = tmp_path / "hybrid"
    hybrid.write_text("30 1 0:26 / %s/unified rw - cgroup2 cgroup2 rw\n31 1 0:27 / %s/cpu rw - cgroup cgroup rw,cpu\n" % (tmp_path, tmp_path))
    with pytest.raises(CgroupError):
        cgroups.detect(str(hybrid), root=str(tmp_path))
    with pytest.raises(CgroupError, match="cannot read"):
        cgroups.detect(str(tmp_path / "missing"))


def test_online_cpus_falls_back_to_the_online_file(tmp_path):
    host, root = v1_host(tmp_path)
    (root / "cpuset" / "cpuset.cpus").write_text("\n")
    (tmp_path / "online").write_text("0-1,4\n")
    host.online_file = str(tmp_path / "online")
    assert host.online_cpus() == [0, 1, 4]


def test_partition_path_is_resolved_in_one_place():
    assert cgroups.partition_path("linuxvps-0badf00d", "web1") == "/linuxvps-0badf00d/web1"
    assert cgroups.partition_path("/linuxvps/", "web1") == "/linuxvps/web1"
    # a partition its systemd unit supervises keeps its limits inside the unit's delegated subtree
    assert cgroups.partition_path("linuxvps", "web1", "linuxvps-web1.service") == "/linuxvps.slice/linuxvps-web1.service/partition"
    for bad in ("..", "a/b", "", "."):
        with pytest.raises(CgroupError):
            cgroups.partition_path("linuxvps", bad)
    host = cgroups.V1Host({"memory": "/x/memory"}, None)
    assert host.partition("/linuxvps/web1").file("memory", "memory.max") == "/x/memory/linuxvps/web1/memory.max"
    assert host.partition("/linuxvps/web1").file("pids", "pids.max") is None  # pids not mounted
    for bad in ("linuxvps/web1", "/linuxvps//web1", "/linuxvps/../web1", "/linuxvps/./web1", "/linuxvps/web1/", "/", ""):
        with pytest.raises(CgroupError, match="invalid cgroup path"):
            host.partition(bad)


def test_cgroup_parent_is_one_per_state_directory():
    assert cgroups.cgroup_parent("/var/lib/linuxvps") == cgroups.cgroup_parent("/var/lib/linuxvps/") == "linuxvps"
    assert cgroups.cgroup_parent("/srv/lvp") == cgroups.cgroup_parent("/srv//lvp/") == "linuxvps-" + hashlib.sha1(b"/srv/lvp").hexdigest()[:8]
    assert cgroups.cgroup_parent("/srv/lvp") != cgroups.cgroup_parent("/srv/lvp2")


# ---- v1 ----------------------------------------------------------------------------------------
def test_v1_read_limits_and_usage(tmp_path):
    host, _root = v1_host(tmp_path)
    cg = partition(host, "web1")
    assert cg.exists() and not partition(host, "web9").exists()
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100,
                                "cpuset": None, "pids": None, "io_weight": 100}
    usage = cg.read_usage()
    assert usage["memory"] == {"current": 16777216, "peak": 33554432, "limit": None, "failcnt": 3, "oom_kills": 2}
    assert usage["swap"] == {"current": 4096, "limit": None}
    assert usage["cpu"] == {"usage_seconds": 1.5, "throttled_periods": 4, "throttled_seconds": 2.5, "quota_cpus": None}
    assert usage["pids"] == {"current": 7, "limit": None, "limit_hits": 5}
    assert usage["io"] == {"read_bytes": 4097, "write_bytes": 8192}
    assert cg.pids() == [101, 102]


def test_v1_limits_in_spec_units(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    write_tree(root / "memory" / "linuxvps" / "web1", {"memory.limit_in_bytes": str(512 * MIB), "memory.memsw.limit_in_bytes": str(768 * MIB)})
    write_tree(root / "cpu" / "linuxvps" / "web1", {"cpu.cfs_quota_us": "150000", "cpu.shares": "512"})
    write_tree(root / "cpuset" / "linuxvps" / "web1", {"cpuset.cpus": "1-2"})
    write_tree(root / "pids" / "linuxvps" / "web1", {"pids.max": "64", "pids.events": "max 0"})
    write_tree(root / "blkio" / "linuxvps" / "web1", {"blkio.bfq.weight": "250"})
    assert cg.read_limits() == {"memory": 512 * MIB, "swap": 256 * MIB, "cpus": 1.5, "cpu_weight": 50,
                                "cpuset": "1-2", "pids": 64, "io_weight": 250}
    usage = cg.read_usage()
    assert usage["memory"]["limit"] == 512 * MIB and usage["swap"]["limit"] == 256 * MIB
    assert usage["cpu"]["quota_cpus"] == 1.5 and usage["pids"]["limit"] == 64 and usage["pids"]["limit_hits"] == 0


def test_v1_payload_events_count_towards_the_partition(tmp_path):
    host, root = v1_host(tmp_path)
    write_tree(root / "memory" / "linuxvps" / "web1" / "payload", {"memory.oom_control": "oom_kill_disable 0\noom_kill 3", "cgroup.procs": "300\n101"})
    write_tree(root / "pids" / "linuxvps" / "web1" / "payload", {"pids.events": "max 4"})
    cg = partition(host, "web1")
    usage = cg.read_usage()
    assert usage["memory"]["oom_kills"] == 5 and usage["pids"]["limit_hits"] == 9
    assert cg.pids() == [101, 102, 300]


def test_reading_reads_each_file_and_walks_each_tree_once(tmp_path, monkeypatch):
    host, root = v1_host(tmp_path)
    write_tree(root / "memory" / "linuxvps" / "web1" / "payload", {"memory.oom_control": "oom_kill 3"})
    opened = []
    real_read = common._read
    monkeypatch.setattr(common, "_read", lambda path: opened.append(path) or real_read(path))
    cg = partition(host, "web1")
    with host.reading():
        usage, counters = cg.read_usage(), cg.read_counters()
        with host.reading():  # nested: the outer one's reads still count
            again = partition(host, "web1").read_usage()
    assert usage == again and usage["memory"]["oom_kills"] == counters["oom_kills"] == 5
    assert opened and len(opened) == len(set(opened))  # usage and counters share files: none read twice
    del opened[:]
    cg.read_usage()
    once = len(opened)
    cg.read_usage()
    assert once and len(opened) == 2 * once
    # outside reading(), every read goes to the file again: a value written in between is seen
    write_tree(root / "memory" / "linuxvps" / "web1" / "payload", {"memory.oom_control": "oom_kill 4"})
    assert cg.read_usage()["memory"]["oom_kills"] == 6


def test_reading_is_per_thread(tmp_path):
    """A thread that writes limits while another reads within reading() still sees the files as they are."""
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    limit = root / "memory" / "linuxvps" / "web1" / "memory.limit_in_bytes"
    seen = []
    with host.reading():
        first = cg.read_limits()["memory"]
        write_tree(limit.parent, {"memory.limit_in_bytes": str(512 * MIB)})
        worker = threading.Thread(target=lambda: seen.append(partition(host, "web1").read_limits()["memory"]))
        worker.start()
        worker.join()
        assert cg.read_limits()["memory"] == first  # this thread: what it read first
    assert seen == [512 * MIB] and first != seen[0]
    assert cg.read_limits()["memory"] == 512 * MIB


def test_reading_keeps_a_cut_walk_said(tmp_path, monkeypatch):
    host, root = v1_host(tmp_path)
    for index in range(4):
        write_tree(root / "pids" / "linuxvps" / "web1" / ("s%d" % index), {"pids.events": "max 1"})
    monkeypatch.setattr(common, "WALK_ENTRIES", 3)
    cg = partition(host, "web1")
    with host.reading():
        first = cg.read_counters()
        second = partition(host, "web1").read_counters()  # the walk comes from the memo: still said to be cut
    assert "pids.failcnt" in first["approximate"] and first["approximate"] == second["approximate"]


def test_v1_missing_files_read_as_none(tmp_path):
    host, _root = v1_host(tmp_path)
    cg = partition(host, "absent")
    assert cg.read_limits() == dict.fromkeys(("memory", "swap", "cpus", "cpu_weight", "cpuset", "pids", "io_weight"))
    usage = cg.read_usage()
    assert usage["memory"]["current"] is None and usage["memory"]["oom_kills"] is None
    assert usage["cpu"]["usage_seconds"] is None and usage["cpu"]["throttled_seconds"] is None
    assert usage["io"] == {"read_bytes": None, "write_bytes": None}
    assert cg.plan_writes(resources(memory=MIB)) == [] and cg.pids() == []


def test_v1_plan_from_unlimited_to_limits(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    wanted = resources(memory=512 * MIB, swap=256 * MIB, cpus=0.5, cpu_weight=200, cpuset="1-2", pids=64, io_weight=300)
    writes = cg.plan_writes(wanted)
    # from no limit to a limit: the memory limit drops first (memsw is still unlimited), memsw follows
    assert [(name, value) for name, _path, value in writes] == [
        ("memory.limit_in_bytes", "536870912"), ("memory.memsw.limit_in_bytes", "805306368"), ("cpu.cfs_quota_us", "50000"),
        ("cpu.shares", "2048"), ("cpuset.cpus", "1-2"), ("pids.max", "64"), ("blkio.bfq.weight", "300")]
    assert writes[0][1] == str(root / "memory" / "linuxvps" / "web1" / "memory.limit_in_bytes")
    cg.apply_limits(wanted)
    assert read(root / "memory" / "linuxvps" / "web1" / "memory.memsw.limit_in_bytes") == "805306368"
    assert read(root / "cpu" / "linuxvps" / "web1" / "cpu.cfs_quota_us") == "50000"
    assert read(root / "blkio" / "linuxvps" / "web1" / "blkio.bfq.weight") == "300"
    assert cg.plan_writes(wanted) == []
    assert cg.read_limits() == {"memory": 512 * MIB, "swap": 256 * MIB, "cpus": 0.5, "cpu_weight": 200,
                                "cpuset": "1-2", "pids": 64, "io_weight": 300}


def test_v1_memsw_order_follows_the_direction(tmp_path):
    host, _root = v1_host(tmp_path)
    cg = partition(host, "web1")
    cg.apply_limits(resources(memory=512 * MIB, swap=0))

    def plan(**values):
        return [(name, value) for name, _p, value in cg.plan_writes(resources(**values)) if name.startswith("memory.")]

    # shrinking: the limit first, so memsw never drops below it
    assert plan(memory=256 * MIB, swap=0) == [("memory.limit_in_bytes", str(256 * MIB)), ("memory.memsw.limit_in_bytes", str(256 * MIB))]
    # growing: memsw first
    assert plan(memory=1024 * MIB, swap=MIB) == [("memory.memsw.limit_in_bytes", str(1025 * MIB)), ("memory.limit_in_bytes", str(1024 * MIB))]
    # more swap, same memory: only memsw
    assert plan(memory=512 * MIB, swap=64 * MIB) == [("memory.memsw.limit_in_bytes", str(576 * MIB))]
    # back to unlimited: memsw first
    assert plan() == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]
    # memory limited, swap unlimited
    assert plan(memory=512 * MIB) == [("memory.memsw.limit_in_bytes", "-1")]


def test_v1_page_alignment_and_period(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    (root / "cpu" / "linuxvps" / "web1" / "cpu.cfs_period_us").write_text("50000\n")
    assert cg.read_limits()["cpus"] is None
    (root / "cpu" / "linuxvps" / "web1" / "cpu.cfs_quota_us").write_text("25000\n")
    assert cg.read_limits()["cpus"] == 0.5  # read with the file's own period
    assert names(cg.plan_writes(resources(memory=100000000, cpus=0.5)))[-3:] == ["memory.limit_in_bytes", "cpu.cfs_period_us", "cpu.cfs_quota_us"]
    cg.apply_limits(resources(memory=100000000, cpus=0.5))
    assert read(root / "memory" / "linuxvps" / "web1" / "memory.limit_in_bytes") == str(100000000 // cgroups.PAGE * cgroups.PAGE)
    assert read(root / "cpu" / "linuxvps" / "web1" / "cpu.cfs_period_us") == "100000"
    assert cg.plan_writes(resources(memory=100000000, cpus=0.5)) == []


def test_v1_full_cpuset_reads_as_none_and_is_written_for_none(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    (root / "cpuset" / "linuxvps" / "web1" / "cpuset.cpus").write_text("1,2\n")
    assert cg.read_limits()["cpuset"] == "1-2"
    assert [(n, v) for n, _p, v in cg.plan_writes(resources())] == [("cpuset.cpus", "0-3")]
    write_tree(root / "cpuset" / "linuxvps" / "web1" / "payload", {"cpuset.cpus": "1-2"})
    cg.apply_limits(resources(cpuset="2-3"))
    assert read(root / "cpuset" / "linuxvps" / "web1" / "payload" / "cpuset.cpus") == "2-3"
    cg.apply_limits(resources())
    assert cg.read_limits()["cpuset"] is None
    assert read(root / "cpuset" / "linuxvps" / "web1" / "payload" / "cpuset.cpus") == "0-3"


def test_v1_without_swap_accounting(tmp_path):
    host, _root = v1_host(tmp_path, memsw=False)
    cg = partition(host, "web1")
    assert cg.unsupported(resources(memory=2 ** 30, swap=MIB)) == [
        ("swap", "the kernel does not account swap (boot with swapaccount=1)")]
    assert "memory.memsw.limit_in_bytes" not in names(cg.plan_writes(resources(memory=2 ** 30, swap=MIB)))
    cg.apply_limits(resources(memory=2 ** 30, swap=MIB))
    assert cg.read_limits()["memory"] == 2 ** 30 and cg.read_limits()["swap"] is None


def test_v1_swap_needs_memory(tmp_path):
    host, _root = v1_host(tmp_path)
    cg = partition(host, "web1")
    assert [key for key, _why in cg.unsupported(resources(swap=MIB))] == ["swap"]
    assert cg.unsupported(resources(memory=MIB, swap=MIB)) == []


def test_v1_io_weight_unsupported_without_weight_file(tmp_path):
    host, _root = v1_host(tmp_path, bfq=False)
    cg = partition(host, "web1")
    assert cg.unsupported(resources(io_weight=500)) == [("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)")]
    assert cg.unsupported(resources()) == []  # the default weight is what every cgroup gets anyway
    assert cg.read_limits()["io_weight"] is None
    assert "blkio.bfq.weight" not in names(cg.plan_writes(resources(io_weight=500)))
    cg.apply_limits(resources(io_weight=500))
    assert cg.read_limits()["io_weight"] is None


def test_v1_unsupported_before_the_cgroup_exists(tmp_path):
    """The blkio root has no weight file (CFTYPE_NOT_ON_ROOT): judge by an existing cgroup below it."""
    host, _root = v1_host(tmp_path)
    cg = partition(host, "web2")
    assert not cg.exists()
    assert cg.unsupported(resources(memory=MIB, swap=MIB, cpus=1, cpu_weight=50, cpuset="1", pids=5, io_weight=500)) == []
    host_without_bfq, _root2 = v1_host(tmp_path / "b", bfq=False)
    assert [k for k, _w in partition(host_without_bfq, "web2").unsupported(resources(io_weight=500))] == ["io_weight"]


def test_v1_legacy_cfq_weight_mapping(tmp_path):
    host, root = v1_host(tmp_path, bfq=False)
    base = root / "blkio" / "linuxvps" / "web1"
    (base / "blkio.weight").write_text("500\n")
    cg = partition(host, "web1")
    assert cg.read_limits()["io_weight"] == 100
    cg.apply_limits(resources(io_weight=150))
    assert read(base / "blkio.weight") == "750"
    assert cg.read_limits()["io_weight"] == 150 and cg.plan_writes(resources(io_weight=150)) == []
    cg.apply_limits(resources(io_weight=9000))
    assert read(base / "blkio.weight") == "1000" and cg.plan_writes(resources(io_weight=9000)) == []


def test_write_errors_name_the_file_and_value(tmp_path, monkeypatch):
    host, _root = v1_host(tmp_path)
    cg = partition(host, "web1")

    def busy(path, value):
        raise CgroupError("cannot write", file=path, value=value, errno=errno.EBUSY, reason="Device or resource busy")

    patch_writes(monkeypatch, busy)
    with pytest.raises(CgroupError) as caught:
        cg.apply_limits(resources(memory=8 * MIB, swap=0))
    assert caught.value.msg.startswith("cannot set memory.limit_in_bytes of partition cgroup /linuxvps/web1 to 8388608: "
                                       "Device or resource busy (the partition uses more memory")
    assert caught.value.details["file"].endswith("/memory/linuxvps/web1/memory.limit_in_bytes")


# ---- v2 ----------------------------------------------------------------------------------------
def test_v2_read_limits_and_usage(tmp_path):
    host, _root = v2_host(tmp_path)
    cg = partition(host, "web1")
    assert cg.exists()
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100,
                                "cpuset": None, "pids": None, "io_weight": 100}
    usage = cg.read_usage()
    assert usage["memory"] == {"current": 16777216, "peak": 33554432, "limit": None, "failcnt": 6, "oom_kills": 1}
    assert usage["swap"] == {"current": 4096, "limit": None}
    assert usage["cpu"] == {"usage_seconds": 2.5, "throttled_periods": 2, "throttled_seconds": 0.7, "quota_cpus": None}
    assert usage["pids"] == {"current": 3, "limit": None, "limit_hits": 0}
    assert usage["io"] == {"read_bytes": 1459205, "write_bytes": 314773504}
    assert cg.pids() == [201]


def test_v2_limits_in_spec_units(tmp_path):
    files = dict(V2_FILES, **{"memory.max": "1073741824", "memory.swap.max": "0", "cpu.max": "25000 50000", "cpu.weight": "250",
                              "cpuset.cpus": "0,2-3", "pids.max": "100", "pids.events": "max 7", "io.weight": "default 40\n8:0 300"})
    host, _root = v2_host(tmp_path, files)
    cg = partition(host, "web1")
    assert cg.read_limits() == {"memory": 2 ** 30, "swap": 0, "cpus": 0.5, "cpu_weight": 250, "cpuset": "0,2-3", "pids": 100, "io_weight": 40}
    usage = cg.read_usage()
    assert usage["memory"]["limit"] == 2 ** 30 and usage["swap"]["limit"] == 0 and usage["cpu"]["quota_cpus"] == 0.5
    assert usage["pids"] == {"current": 3, "limit": 100, "limit_hits": 7}


def test_v2_apply_formats_and_round_trip(tmp_path):
    host, root = v2_host(tmp_path)
    cg = partition(host, "web1")
    wanted = resources(memory=2 ** 30, swap=2 ** 29, cpus=1.5, cpu_weight=50, cpuset="0,2", pids=100, io_weight=700)
    assert [(n, v) for n, _p, v in cg.plan_writes(wanted)] == [
        ("memory.max", "1073741824"), ("memory.swap.max", "536870912"), ("cpu.max", "150000 100000"), ("cpu.weight", "50"),
        ("cpuset.cpus", "0,2"), ("pids.max", "100"), ("io.weight", "default 700")]
    cg.apply_limits(wanted)
    base = root / "linuxvps" / "web1"
    assert read(base / "cpu.max") == "150000 100000" and read(base / "io.weight") == "default 700"
    assert cg.read_limits() == {"memory": 2 ** 30, "swap": 2 ** 29, "cpus": 1.5, "cpu_weight": 50,
                                "cpuset": "0,2", "pids": 100, "io_weight": 700}
    assert cg.plan_writes(wanted) == []
    cg.apply_limits(resources())
    assert read(base / "cpu.max") == "max 100000" and read(base / "memory.max") == "max" and read(base / "pids.max") == "max"
    assert read(base / "cpuset.cpus") == "\n"  # an empty write still reaches the kernel
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100,
                                "cpuset": None, "pids": None, "io_weight": 100}
    assert cg.plan_writes(resources()) == []


def test_v2_cpu_max_quota(tmp_path):
    host, root = v2_host(tmp_path)
    cg = partition(host, "web1")
    assert [(n, v) for n, _p, v in cg.plan_writes(resources(cpus=0.25))] == [("cpu.max", "25000 100000")]
    (root / "linuxvps" / "web1" / "cpu.max").write_text("max\n")  # "max" alone is valid: same as "max 100000"
    assert cg.read_limits()["cpus"] is None
    assert [(n, v) for n, _p, v in cg.plan_writes(resources())] == [("cpu.max", "max 100000")]


def test_v2_the_payload_mirrors_the_cpu_quota_in_a_safe_order(tmp_path):
    """The payload is the partition's cgroup root: lxcfs and cgroup-aware runtimes read the quota there."""
    host, root = v2_host(tmp_path)
    write_tree(root / "linuxvps" / "web1" / "payload", {"cpu.max": "max 100000"})
    cg = partition(host, "web1")
    assert [(n, v) for n, _p, v in cg.plan_writes(resources(cpus=1))] == [
        ("payload/cpu.max", "100000 100000"), ("cpu.max", "100000 100000")]  # shrinking: the payload first
    cg.apply_limits(resources(cpus=1))
    assert read(root / "linuxvps" / "web1" / "payload" / "cpu.max") == "100000 100000"
    assert cg.plan_writes(resources(cpus=1)) == []
    assert names(cg.plan_writes(resources(cpus=2))) == ["cpu.max", "payload/cpu.max"]  # growing: the limit first
    assert names(cg.plan_writes(resources())) == ["cpu.max", "payload/cpu.max"]


def test_v1_the_payload_mirrors_the_cpu_quota_below_its_parent(tmp_path):
    host, root = v1_host(tmp_path)
    write_tree(root / "cpu" / "linuxvps" / "web1" / "payload", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"})
    cg = partition(host, "web1")
    cg.apply_limits(resources(cpus=1))
    assert read(root / "cpu" / "linuxvps" / "web1" / "payload" / "cpu.cfs_quota_us") == "100000"
    writes = [(n, v) for n, _p, v in cg.plan_writes(resources(cpus=0.5)) if "cfs" in n]
    assert writes == [("payload/cpu.cfs_quota_us", "50000"), ("cpu.cfs_quota_us", "50000")]


def test_no_payload_no_mirror(tmp_path):
    host, _root = v2_host(tmp_path)
    assert names(partition(host, "web1").plan_writes(resources(cpus=1))) == ["cpu.max"]


def test_v2_bfq_weight_is_clamped_without_endless_changes(tmp_path):
    files = dict(V2_FILES, **{"io.bfq.weight": "default 100"})
    del files["io.weight"]
    host, root = v2_host(tmp_path, files)
    base = root / "linuxvps" / "web1"
    cg = partition(host, "web1")
    assert cg.read_limits()["io_weight"] == 100 and cg.unsupported(resources(io_weight=5000)) == []
    cg.apply_limits(resources(io_weight=5000))
    assert read(base / "io.bfq.weight") == "default 1000"
    assert cg.plan_writes(resources(io_weight=5000)) == []
    assert cg.read_limits()["io_weight"] == 1000


def test_v2_both_weight_files_are_written(tmp_path):
    host, _root = v2_host(tmp_path, dict(V2_FILES, **{"io.bfq.weight": "default 100"}))
    cg = partition(host, "web1")
    assert [(n, v) for n, _p, v in cg.plan_writes(resources(io_weight=2000))] == [("io.weight", "default 2000"), ("io.bfq.weight", "default 1000")]
    cg.apply_limits(resources(io_weight=2000))
    assert cg.read_limits()["io_weight"] == 2000


def test_v2_unsupported_io_weight_and_swap(tmp_path):
    files = dict((k, v) for k, v in V2_FILES.items() if k not in ("io.weight", "memory.swap.max", "memory.swap.current"))
    host, _root = v2_host(tmp_path, files)
    cg = partition(host, "web1")
    assert cg.read_limits()["io_weight"] is None and cg.read_limits()["swap"] is None
    assert cg.unsupported(resources(swap=MIB, io_weight=500)) == [
        ("swap", "the kernel does not account swap (boot with swapaccount=1)"),
        ("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)")]
    cg.apply_limits(resources(swap=MIB, io_weight=500))  # the files it lacks are left out
    assert cg.read_usage()["swap"] == {"current": None, "limit": None}


def test_v2_unsupported_before_the_cgroup_exists(tmp_path):
    """v2 roots have no memory.max, cpuset.cpus or io.weight: judge by a cgroup below that has the controller."""
    everything = resources(memory=MIB, swap=MIB, cpus=1, cpu_weight=50, cpuset="1", pids=5, io_weight=500)
    host, _root = v2_host(tmp_path)
    assert partition(host, "web2").unsupported(everything) == []  # judged on /linuxvps
    # an existing sibling (systemd's init.scope) with io but no weight file: no iocost, no BFQ
    fresh = tmp_path / "fresh"
    write_tree(fresh, {"cgroup.controllers": "cpu io memory pids", "cpuset.cpus.effective": "0-1"})
    write_tree(fresh / "init.scope", {"cgroup.controllers": "cpu io memory pids", "memory.max": "max", "memory.swap.max": "max",
                                      "cpu.max": "max 100000", "cpu.weight": "100", "pids.max": "max", "io.stat": ""})
    (tmp_path / "mountinfo2").write_text(V2_MOUNTINFO.format(root=fresh))
    cg = partition(cgroups.detect(str(tmp_path / "mountinfo2"), root=str(fresh)), "web1")
    assert cg.unsupported(everything) == [("cpuset", "the cpuset controller is not available"),
                                          ("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)")]
    # nothing below the root with controllers: what the root offers (create() enables it; files are then checked)
    os.unlink(str(fresh / "init.scope" / "cgroup.controllers"))
    assert [key for key, _why in cg.unsupported(everything)] == ["cpuset"]
    assert cg.unsupported(resources(memory=MIB, swap=MIB, cpus=1, cpu_weight=50, pids=5)) == []


def test_v2_memory_below_usage_is_refused_instead_of_oom(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path, dict(V2_FILES, **{"memory.reclaim": ""}))
    cg = partition(host, "web1")
    written = []
    original = common._write

    def record(path, value):
        written.append((os.path.basename(path), value))
        original(path, value)

    patch_writes(monkeypatch, record)
    with pytest.raises(CgroupError) as caught:
        cg.apply_limits(resources(memory=8 * MIB))
    assert "cannot set memory.max of partition cgroup /linuxvps/web1 to 8388608" in caught.value.msg
    assert "uses 16777216 bytes" in caught.value.msg
    assert written == [("memory.reclaim", str(8 * MIB))]  # asked the kernel to reclaim, never wrote memory.max
    assert read(root / "linuxvps" / "web1" / "memory.max") == "max\n"
    cg.apply_limits(resources(memory=32 * MIB))
    assert cg.read_limits()["memory"] == 32 * MIB


# ---- a fresh host: nothing below a hierarchy's root yet ---------------------------------------
def test_v1_pids_on_a_fresh_host_is_enforced(tmp_path):
    """The kernel never puts pids.max in a root cgroup (CFTYPE_NOT_ON_ROOT): a mounted pids hierarchy
    whose root has neither pids.max nor children still gives the partition's cgroup one."""
    host, root = v1_host(tmp_path)
    shutil.rmtree(str(root / "pids" / "linuxvps"))
    assert os.listdir(str(root / "pids")) == []
    assert partition(host, "web2").unsupported(resources(pids=64)) == []
    unmounted, _root = v1_host(tmp_path / "without", unmounted=("pids",))
    assert partition(unmounted, "web2").unsupported(resources(pids=64)) == [("pids", "the pids controller is not available")]


def test_v1_bfq_weight_on_a_fresh_host(tmp_path):
    """blkio.bfq.weight is not on the root either, but BFQ's statistics files are: they show BFQ is there."""
    host, root = v1_host(tmp_path)
    shutil.rmtree(str(root / "blkio" / "linuxvps"))
    cg = partition(host, "web2")
    assert cg.unsupported(resources(io_weight=500)) == [("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)")]
    write_tree(root / "blkio", {"blkio.bfq.io_service_bytes": "Total 0"})
    assert cg.unsupported(resources(io_weight=500)) == []
    # a cgroup below the root that exists says it first: here one without any weight file
    write_tree(root / "blkio" / "system.slice", {"blkio.throttle.io_service_bytes": "Total 0"})
    assert [key for key, _why in cg.unsupported(resources(io_weight=500))] == ["io_weight"]


def test_v2_fresh_host_is_judged_by_the_roots_controllers(tmp_path):
    root = tmp_path / "cgroup"
    write_tree(root, {"cgroup.controllers": "cpuset cpu io memory pids", "cgroup.subtree_control": "", "cpuset.cpus.effective": "0-1"})
    (tmp_path / "mountinfo").write_text(V2_MOUNTINFO.format(root=root))
    everything = resources(memory=MIB, swap=MIB, cpus=1, cpu_weight=50, cpuset="1", pids=5, io_weight=500)
    cg = partition(cgroups.detect(str(tmp_path / "mountinfo"), root=str(root)), "web1")
    assert [name for name in os.listdir(str(root)) if os.path.isdir(str(root / name))] == []
    assert cg.unsupported(everything) == []
    (root / "cgroup.controllers").write_text("cpu io memory\n")
    assert cg.unsupported(everything) == [("cpuset", "the cpuset controller is not available"),
                                          ("pids", "the pids controller is not available")]


# ---- mappings ----------------------------------------------------------------------------------
def test_cpu_weight_round_trips():
    for weight in range(1, 10001):
        assert cgroups.shares_to_weight(cgroups.weight_to_shares(weight)) == weight
    assert cgroups.weight_to_shares(100) == 1024 and cgroups.weight_to_shares(1) == 10 and cgroups.weight_to_shares(10000) == 102400
    assert cgroups.shares_to_weight(2) == 1 and cgroups.shares_to_weight(262144) == 10000
    for shares in (2, 3, 100, 1000, 1024, 5000, 102400):  # shares -> weight -> shares is stable after one step
        once = cgroups.weight_to_shares(cgroups.shares_to_weight(shares))
        assert cgroups.weight_to_shares(cgroups.shares_to_weight(once)) == once


@pytest.mark.parametrize("name, exact, low, high", [
    ("io.weight", range(1, 10001), 1, 10000), ("io.bfq.weight", range(1, 1001), 1, 1000),
    ("blkio.bfq.weight", range(1, 1001), 1, 1000), ("blkio.weight", range(2, 201), 10, 1000),
])
def test_io_weight_mappings(name, exact, low, high):
    for weight in exact:
        assert cgroups.io_weight_from_file(name, cgroups.io_weight_to_file(name, weight)) == weight
    for value in range(low, high + 1):  # file -> weight -> file: no endless changes
        once = cgroups.io_weight_to_file(name, cgroups.io_weight_from_file(name, value))
        assert cgroups.io_weight_to_file(name, cgroups.io_weight_from_file(name, once)) == once
    assert cgroups.io_weight_to_file(name, 1) == low and cgroups.io_weight_to_file(name, 10000) == high
    assert cgroups.io_weight_to_file(name, 100) == (500 if name == "blkio.weight" else 100)


# ---- create / remove ---------------------------------------------------------------------------
def test_remove_every_hierarchy(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web1")
    for mount in host.hierarchies():
        for top, _dirs, files in os.walk(os.path.join(mount, "linuxvps")):
            for name in files:
                os.unlink(os.path.join(top, name))  # real cgroup dirs hold only virtual files
    os.makedirs(str(root / "memory" / "linuxvps" / "web1" / "payload" / "init.scope"))
    cg.remove()
    cg.remove()  # nothing left: ENOENT is fine
    assert not cg.exists()
    assert not any(os.path.exists(os.path.join(mount, "linuxvps", "web1")) for mount in host.hierarchies())
    host.remove_parent("linuxvps")
    assert not os.path.exists(str(root / "memory" / "linuxvps"))


def test_has_children_looks_at_every_hierarchy(tmp_path):
    """A tenant's cgroup with a partition below it on any hierarchy stays (the kernel refuses to remove it)."""
    host, root = v1_host(tmp_path)
    os.makedirs(str(root / "pids" / "linuxvps" / "shop.tenant"))
    (root / "pids" / "linuxvps" / "shop.tenant" / "pids.max").write_text("max\n")  # files are no children
    assert not host.has_children("/linuxvps/shop.tenant")
    os.makedirs(str(root / "memory" / "linuxvps" / "shop.tenant" / "web1"))
    assert host.has_children("/linuxvps/shop.tenant") and host.has_children("linuxvps")
    assert not host.has_children("/linuxvps/absent.tenant")


def test_remove_busy_raises(tmp_path, monkeypatch):
    host, _root = v1_host(tmp_path)

    def busy(path):
        raise OSError(errno.EBUSY, "Device or resource busy", path)

    monkeypatch.setattr(os, "rmdir", busy)
    with pytest.raises(CgroupError, match="cannot remove cgroup .*web1: Device or resource busy"):
        partition(host, "web1").remove()


def test_create_prepares_v1_cpuset_and_delegates_payload(tmp_path):
    host, root = v1_host(tmp_path)
    cg = partition(host, "web2")
    # a real kernel makes the files, empty; the fixture makes them for the levels it cannot mkdir itself
    write_tree(root / "cpuset" / "linuxvps", {"cpuset.cpus": "", "cpuset.mems": ""})
    cg.create(owner=os.getuid())
    assert cg.exists() and cg.payload_path == "/linuxvps/web2/payload"
    assert read(root / "cpuset" / "linuxvps" / "cpuset.cpus") == "0-3" and read(root / "cpuset" / "linuxvps" / "cpuset.mems") == "0"
    assert all(os.path.isdir(os.path.join(mount, "linuxvps", "web2", "payload")) for mount in host.hierarchies())


def test_create_enables_v2_controllers_above_the_payload_only(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path)
    (root / "cgroup.subtree_control").write_text("memory\n")
    (root / "linuxvps" / "cgroup.subtree_control").write_text("\n")
    written = []
    original = common._write

    def record(path, value):
        written.append((os.path.relpath(path, str(root)), value))
        original(path, value)

    real_mkdir = os.mkdir

    def mkdir(path, *args):
        real_mkdir(path, *args)
        if not path.endswith("payload"):  # what the kernel shows in a new cgroup
            write_tree(path, {"cgroup.controllers": "cpu io memory pids", "cgroup.subtree_control": ""})

    patch_writes(monkeypatch, record)
    monkeypatch.setattr(os, "mkdir", mkdir)
    partition(host, "web3").create()
    assert written == [("cgroup.subtree_control", "+cpuset"), ("cgroup.subtree_control", "+cpu"), ("cgroup.subtree_control", "+io"),
                       ("cgroup.subtree_control", "+pids"),
                       ("linuxvps/cgroup.subtree_control", "+cpuset"), ("linuxvps/cgroup.subtree_control", "+cpu"),
                       ("linuxvps/cgroup.subtree_control", "+io"),
                       ("linuxvps/cgroup.subtree_control", "+memory"), ("linuxvps/cgroup.subtree_control", "+pids"),
                       ("linuxvps/web3/cgroup.subtree_control", "+cpu"), ("linuxvps/web3/cgroup.subtree_control", "+io"),
                       ("linuxvps/web3/cgroup.subtree_control", "+memory"), ("linuxvps/web3/cgroup.subtree_control", "+pids")]
    assert os.listdir(str(root / "linuxvps" / "web3" / "payload")) == []  # no controllers enabled in the payload itself


# ---- this host's real cgroup v1 ----------------------------------------------------------------
def _real_v1_host():
    if os.geteuid() != 0:
        return None
    try:
        host = cgroups.detect()
    except CgroupError:
        return None
    return host if host.version == 1 else None


@pytest.fixture
def real_v1():
    host = _real_v1_host()
    if host is None:
        pytest.skip("needs root on a cgroup v1 host")
    parent = "linuxvps-unittest-%d" % os.getpid()
    children = []
    yield host, partition(host, "p1", parent), children
    for child in children:
        child.kill()
        child.wait()
    partition(host, "p1", parent).remove()
    host.remove_parent(parent)
    assert [m for m in host.hierarchies() if os.path.exists(os.path.join(m, parent))] == []


def test_real_v1_cgroup_on_this_host(real_v1):
    host, cg, children = real_v1
    cg.create()
    assert cg.exists()
    online = host.online_cpus()
    wanted = resources(memory=64 * MIB, swap=16 * MIB, cpus=0.25, cpu_weight=300, cpuset=str(online[0]), pids=32, io_weight=300)
    unsupported = dict(cg.unsupported(wanted))
    # unlimited -> limited: the memory limit before memsw, the payload's mirror of the quota before the quota
    expected = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "payload/cpu.cfs_quota_us", "cpu.cfs_quota_us",
                "cpu.shares", "cpuset.cpus", "pids.max", "blkio.bfq.weight"]
    for key, name in (("swap", "memory.memsw.limit_in_bytes"), ("io_weight", "blkio.bfq.weight")):
        if key in unsupported:
            expected.remove(name)
    if len(online) == 1:
        expected.remove("cpuset.cpus")
    assert names(cg.plan_writes(wanted)) == expected
    cg.apply_limits(wanted)
    limits = cg.read_limits()
    assert (limits["memory"], limits["cpus"], limits["cpu_weight"], limits["pids"]) == (64 * MIB, 0.25, 300, 32)
    assert limits["swap"] == (16 * MIB if "swap" not in unsupported else None)
    assert limits["cpuset"] == (str(online[0]) if len(online) > 1 else None)
    assert limits["io_weight"] == (300 if "io_weight" not in unsupported else None)
    assert cg.plan_writes(wanted) == []
    payload = cg.payload_path.lstrip("/")
    assert read(os.path.join(host.controller_dir("cpuset"), payload, "cpuset.cpus")).strip() == str(online[0])

    # a process in the payload, touching 24 MiB after it moved in
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nsys.stdin.readline()\nb = b'x' * (24 << 20)\n"
                              "print('ready', flush=True)\ntime.sleep(120)\n"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    children.append(child)
    for controller in ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio"):
        with open(os.path.join(host.controller_dir(controller), payload, "cgroup.procs"), "w") as handle:
            handle.write(str(child.pid))
    child.stdin.write(b"go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == b"ready"
    assert cg.pids() == [child.pid]
    usage = cg.read_usage()
    assert usage["memory"]["current"] >= 24 * MIB and usage["memory"]["limit"] == 64 * MIB and usage["memory"]["peak"] >= 24 * MIB
    assert usage["pids"] == {"current": 1, "limit": 32, "limit_hits": 0}
    assert usage["cpu"]["usage_seconds"] > 0 and usage["cpu"]["quota_cpus"] == 0.25
    assert usage["memory"]["oom_kills"] == 0 and usage["io"]["read_bytes"] is not None

    # below what it uses: the kernel refuses (EBUSY), and the error says which file and value
    with open("/proc/swaps") as handle:
        no_swap = len(handle.read().strip().splitlines()) <= 1
    with pytest.raises(CgroupError, match="to 8388608: .*busy"):
        cg.apply_limits(resources(memory=8 * MIB, swap=0))
    if no_swap:
        assert cg.read_limits()["memory"] == 64 * MIB
    with pytest.raises(CgroupError, match="Device or resource busy"):
        cg.remove()  # the payload still holds the process

    # grow past the current limit (memsw first), then back to no limits at all
    cg.apply_limits(resources(memory=128 * MIB, swap=64 * MIB))
    assert cg.read_limits()["memory"] == 128 * MIB
    cg.apply_limits(resources())
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100, "cpuset": None, "pids": None,
                                "io_weight": None if "io_weight" in unsupported else 100}
    assert cg.plan_writes(resources()) == []


def test_real_v1_parent_is_removed_only_once_empty(real_v1):
    """The state directory's parent goes with its last partition; while a cgroup (its own or anyone's) is in it,
    the kernel keeps it on every hierarchy."""
    host, cg, _children = real_v1
    parent = cg.path.strip("/").split("/")[0]
    cg.create()
    assert host.has_children(parent)
    host.remove_parent(parent)
    assert all(os.path.isdir(os.path.join(mount, parent, "p1")) for mount in host.hierarchies())
    cg.remove()
    assert not host.has_children(parent)
    host.remove_parent(parent)
    assert not host.has_children(parent)  # gone: nothing below it either
    assert [mount for mount in host.hierarchies() if os.path.exists(os.path.join(mount, parent))] == []


# ---- I/O bandwidth and IOPS ----------------------------------------------------------------------
THROTTLE = ("blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device")


def kernel_io_writes(monkeypatch):
    """Writes to io.max and blkio.throttle files behave as the kernel's: one device's line per write, merged with the
    others; all "max" (v2) or 0 (v1) removes the line. Returns the list of (file name, value) written."""
    written = []
    original = common._write

    def write(path, value):
        name = os.path.basename(path)
        written.append((name, value))
        if name != "io.max" and name not in THROTTLE:
            return original(path, value)
        device, _sep, rest = value.partition(" ")
        lines = dict(line.split(" ", 1) for line in read(path).splitlines() if line.strip())
        lines.pop(device, None)
        if rest not in ("0", "rbps=max wbps=max riops=max wiops=max"):
            lines[device] = rest
        with open(path, "w") as handle:
            handle.write("".join("%s %s\n" % item for item in sorted(lines.items())))
        return None

    patch_writes(monkeypatch, write)
    return written


def test_v1_io_limits_go_on_the_payload_live_and_are_reset(tmp_path, monkeypatch):
    host, root = v1_host(tmp_path)
    for level in ("linuxvps/web1", "linuxvps/web1/payload"):
        write_tree(root / "blkio" / level, dict.fromkeys(THROTTLE, ""))
    cg = partition(host, "web1")
    written = kernel_io_writes(monkeypatch)
    wanted = resources(io_write_bps=4 * MIB, io_read_iops=100)
    assert cg.unsupported(wanted) == []
    assert cg.plan_writes(wanted) == []  # devices unknown (None): I/O limits are left alone
    assert [(n, v) for n, _p, v in cg.plan_writes(wanted, ["254:0"])] == [
        ("blkio.throttle.write_bps_device", "254:0 4194304"), ("blkio.throttle.read_iops_device", "254:0 100")]
    assert all("/payload/" in path for _n, path, _v in cg.plan_writes(wanted, ["254:0"]))  # flat on v1: where the tasks are
    cg.apply_limits(wanted, ["254:0"])
    assert read(root / "blkio" / "linuxvps" / "web1" / "payload" / "blkio.throttle.write_bps_device") == "254:0 4194304\n"
    assert read(root / "blkio" / "linuxvps" / "web1" / "blkio.throttle.write_bps_device") == "\n"
    assert cg.plan_writes(wanted, ["254:0"]) == []
    assert dict((k, v) for k, v in cg.read_limits().items() if k.startswith("io_")) == {
        "io_weight": 100, "io_write_bps": 4 * MIB, "io_read_iops": 100}
    # a second device (a quota image's loop device), then the first one gone: its lines go
    cg.apply_limits(wanted, ["254:0", "7:3"])
    cg.apply_limits(resources(io_write_bps=8 * MIB, io_read_iops=100), ["7:3"])
    assert read(root / "blkio" / "linuxvps" / "web1" / "payload" / "blkio.throttle.write_bps_device") == "7:3 8388608\n"
    del written[:]
    cg.apply_limits(resources(), [])
    assert written == [("blkio.throttle.write_bps_device", "7:3 0"), ("blkio.throttle.read_iops_device", "7:3 0")]
    assert not set(cg.read_limits()) & {"io_read_bps", "io_write_bps", "io_read_iops", "io_write_iops"}
    assert cg.plan_writes(resources(), []) == []


def test_v1_io_limits_where_they_cannot_bind(tmp_path):
    host, root = v1_host(tmp_path)
    wanted = resources(io_write_bps=4 * MIB)
    # a host without blk-throttle
    assert partition(host, "web1").unsupported(wanted) == [("io_write_bps", "the kernel has no blk-throttle (CONFIG_BLK_DEV_THROTTLING)")]
    write_tree(root / "blkio" / "linuxvps" / "web1", dict.fromkeys(THROTTLE, ""))
    write_tree(root / "blkio" / "linuxvps" / "web1" / "payload", dict.fromkeys(THROTTLE, ""))
    assert partition(host, "web1").unsupported(wanted) == []
    # a tenant's level: blk-throttle is flat on v1, a limit there binds none of the partitions below
    tenant = host.partition("/linuxvps/acme", payload=False)
    write_tree(root / "blkio" / "linuxvps" / "acme", dict.fromkeys(THROTTLE, ""))
    assert tenant.unsupported(wanted) == [("io_write_bps", "blk-throttle is not hierarchical on cgroup v1: set it on each partition")]
    assert tenant.plan_writes(wanted, ["254:0"]) == []


def cg_keys(found):
    return [key for key, _why in found]


def test_v1_payload_is_not_delegated_on_blkio(tmp_path, monkeypatch):
    host, root = v1_host(tmp_path)
    write_tree(root / "cpuset" / "linuxvps", {"cpuset.cpus": "0-3", "cpuset.mems": "0"})
    chowned = []
    monkeypatch.setattr(os, "chown", lambda path, uid, gid: chowned.append(os.path.relpath(path, str(root)).split(os.sep)[0]))
    partition(host, "web2").create(owner=123456)
    assert "blkio" not in chowned
    assert set(chowned) == set(os.path.basename(mount) for mount in host.hierarchies()) - {"blkio"}


def test_v1_delegated_payload_is_said_to_leak(tmp_path, monkeypatch):
    """A partition started by a version that delegated its blkio payload can move out of the limits until it restarts."""
    host, root = v1_host(tmp_path)
    payload = root / "blkio" / "linuxvps" / "web1" / "payload"
    for level in (payload.parent, payload):
        write_tree(level, dict.fromkeys(THROTTLE, ""))
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        found = real_stat(path, *args, **kwargs)
        if str(path) == str(payload):
            return os.stat_result((found.st_mode, found.st_ino, found.st_dev, found.st_nlink, found.st_uid + 1,
                                   found.st_gid, found.st_size, 0, 0, 0))
        return found

    monkeypatch.setattr(os, "stat", stat)
    assert [(key, "until it restarts" in why) for key, why in partition(host, "web1").unsupported(resources(io_read_bps=MIB))] == [
        ("io_read_bps", True)]
    assert partition(host, "web1").unsupported(resources()) == []


def test_v2_io_max_on_the_limit_cgroup(tmp_path, monkeypatch):
    host, root = v2_host(tmp_path, dict(V2_FILES, **{"io.max": ""}))
    cg = partition(host, "web1")
    written = kernel_io_writes(monkeypatch)
    wanted = resources(io_read_bps=4 * MIB, io_write_iops=50)
    assert cg.unsupported(wanted) == []
    assert cg.plan_writes(wanted, ["8:0"]) == [
        ("io.max", str(root / "linuxvps" / "web1" / "io.max"), "8:0 rbps=4194304 wbps=max riops=max wiops=50")]
    cg.apply_limits(wanted, ["8:0", "7:3"])
    assert cg.plan_writes(wanted, ["8:0", "7:3"]) == []
    assert dict((k, v) for k, v in cg.read_limits().items() if k.startswith("io_") and k != "io_weight") == {
        "io_read_bps": 4 * MIB, "io_write_iops": 50}
    del written[:]
    cg.apply_limits(resources(io_read_bps=4 * MIB), ["8:0"])
    assert written == [("io.max", "7:3 rbps=max wbps=max riops=max wiops=max"), ("io.max", "8:0 rbps=4194304 wbps=max riops=max wiops=max")]
    cg.apply_limits(resources(), [])
    assert read(root / "linuxvps" / "web1" / "io.max") == ""


def test_v2_io_limits_unsupported_without_io_max(tmp_path):
    host, _root = v2_host(tmp_path)  # the io controller without blk-throttle: no io.max
    cg = partition(host, "web1")
    assert cg.unsupported(resources(io_write_bps=MIB, io_read_iops=20)) == [
        ("io_read_iops", "the kernel has no blk-throttle (CONFIG_BLK_DEV_THROTTLING)"),
        ("io_write_bps", "the kernel has no blk-throttle (CONFIG_BLK_DEV_THROTTLING)")]
    assert cg.plan_writes(resources(io_write_bps=MIB), ["8:0"]) == []
    tenant = host.partition("/linuxvps", payload=False)  # hierarchical on v2: a tenant's level can hold them
    write_tree(tmp_path / "cgroup" / "linuxvps", {"io.max": ""})
    assert tenant.unsupported(resources(io_write_bps=MIB)) == []


def test_real_v1_io_limits_on_this_hosts_disk(real_v1):
    """The kernel takes our lines on the payload of a real blkio hierarchy, reads them back as planned, and
    refuses a device that is no whole disk."""
    from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev
    host, cg, _children = real_v1
    device, why = blockdev.device_of("/")
    if device is None:
        pytest.skip(why)
    cg.create()
    wanted = resources(io_read_bps=4 * MIB, io_write_bps=MIB, io_read_iops=100, io_write_iops=50)
    if cg.unsupported(wanted):
        pytest.skip("no blk-throttle: %s" % cg.unsupported(wanted))
    cg.apply_limits(wanted, [device])
    assert cg.plan_writes(wanted, [device]) == []
    assert dict((k, cg.read_limits()[k]) for k in ("io_read_bps", "io_write_bps", "io_read_iops", "io_write_iops")) == {
        "io_read_bps": 4 * MIB, "io_write_bps": MIB, "io_read_iops": 100, "io_write_iops": 50}
    payload = os.path.join(host.controller_dir("blkio"), cg.payload_path.lstrip("/"))
    assert read(os.path.join(payload, "blkio.throttle.write_bps_device")).strip() == "%s %d" % (device, MIB)
    assert read(os.path.join(os.path.dirname(payload), "blkio.throttle.write_bps_device")).strip() == ""
    with pytest.raises(CgroupError, match="no such whole block device"):
        cg.apply_limits(wanted, [device, "1:3"])  # /dev/null's numbers: no block device
    cg.apply_limits(resources(), [])
    assert cg.plan_writes(resources(), []) == [] and "io_write_bps" not in cg.read_limits()
