# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroups.py against fixture trees shaped like real v1 (hybrid) and v2 hosts, plus this host's real v1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError

UNLIMITED_V1 = "9223372036854771712"
V1_FILES = {
    "memory": {"memory.limit_in_bytes": UNLIMITED_V1, "memory.memsw.limit_in_bytes": UNLIMITED_V1,
               "memory.usage_in_bytes": "16777216", "memory.memsw.usage_in_bytes": "16781312",
               "memory.max_usage_in_bytes": "33554432", "memory.failcnt": "3",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2", "cgroup.procs": "101\n102"},
    "cpu": {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000", "cpu.shares": "1024",
            "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 2500000000"},
    "cpuacct": {"cpuacct.usage": "1500000000"},
    "cpuset": {"cpuset.cpus": "0-3"},
    "pids": {"pids.max": "max", "pids.current": "7", "pids.events": "max 5"},
    "blkio": {"blkio.bfq.weight": "100",
              "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:16 Read 1\nTotal 12289"},
}
V2_FILES = {
    "memory.max": "max", "memory.swap.max": "max", "memory.current": "16777216", "memory.peak": "33554432",
    "memory.swap.current": "4096", "memory.events": "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1",
    "cpu.max": "max 100000", "cpu.weight": "100",
    "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 3\nnr_throttled 2\nthrottled_usec 700000",
    "cpuset.cpus": "", "pids.max": "max", "pids.current": "3", "pids.events": "max 0",
    "io.weight": "default 100", "io.stat": "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2\n8:16 rbytes=5 wbytes=0 rios=1 wios=0",
    "cgroup.procs": "201",
}


def write_tree(base, files):
    os.makedirs(base, exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(base, name), "w") as handle:
            handle.write(content + "\n")


def v1_host(tmp_path, comounted=False, memsw=True):
    root = tmp_path / "cgroup"
    lines = []
    for controller, files in V1_FILES.items():
        mount_name = "cpu,cpuacct" if comounted and controller in ("cpu", "cpuacct") else controller
        options = mount_name if mount_name != "cpu,cpuacct" else "cpu,cpuacct"
        mount = root / mount_name
        files = dict(files)
        if not memsw:
            files = dict((k, v) for k, v in files.items() if "memsw" not in k)
        write_tree(str(mount / "linuxvps" / "web1"), files)
        write_tree(str(mount), {"cpuset.cpus": "0-3"} if controller == "cpuset" else {})
        lines.append("cgroup %s cgroup rw,nosuid,nodev,noexec,relatime,%s 0 0" % (mount, options))
    lines.append("cgroup2 %s/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0" % root)
    lines.append("cgroup %s/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0" % root)
    mounts = tmp_path / "mounts"
    mounts.write_text("\n".join(sorted(set(lines))) + "\n")
    return cgroups.detect(str(mounts)), root


def v2_host(tmp_path):
    root = tmp_path / "cgroup"
    write_tree(str(root), {"cpuset.cpus.effective": "0-3", "cgroup.controllers": "cpuset cpu io memory pids"})
    write_tree(str(root / "linuxvps" / "web1"), V2_FILES)
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\ncgroup2 %s cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n" % root)
    return cgroups.detect(str(mounts)), root


def resources(**values):
    base = dict.fromkeys(("memory", "swap", "cpus", "cpuset", "pids", "nofile"))
    base.update(cpu_weight=100, io_weight=100)
    base.update(values)
    return base


def test_detect_v1_hybrid_and_comounted(tmp_path):
    host, root = v1_host(tmp_path)
    assert host.version == 1
    assert host.controller_dir("memory") == str(root / "memory")
    assert host.unified == str(root / "unified")
    assert host.online_cpus() == [0, 1, 2, 3]
    comounted, root2 = v1_host(tmp_path / "b", comounted=True)
    assert comounted.controller_dir("cpu") == comounted.controller_dir("cpuacct") == str(root2 / "cpu,cpuacct")


def test_detect_v2_and_nothing(tmp_path):
    host, root = v2_host(tmp_path)
    assert host.version == 2 and host.unified == str(root)
    assert host.online_cpus() == [0, 1, 2, 3]
    empty = tmp_path / "none"
    empty.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(CgroupError):
        cgroups.detect(str(empty))


def test_v1_read_limits_and_usage(tmp_path):
    host, _root = v1_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    assert cg.exists()
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100,
                                "cpuset": None, "pids": None, "io_weight": 100}
    usage = cg.read_usage()
    assert usage["memory"] == {"current": 16777216, "peak": 33554432, "limit": None, "failcnt": 3, "oom_kills": 2}
    assert usage["swap"] == {"current": 4096, "limit": None}
    assert usage["cpu"] == {"usage_seconds": 1.5, "throttled_periods": 4, "throttled_seconds": 2.5, "quota_cpus": None}
    assert usage["pids"] == {"current": 7, "limit": None, "limit_hits": 5}
    assert usage["io"] == {"read_bytes": 4097, "write_bytes": 8192}
    assert cg.pids() == [101, 102]


def test_v1_apply_then_nothing_pending(tmp_path):
    host, root = v1_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    wanted = resources(memory=512 * 2 ** 20, swap=256 * 2 ** 20, cpus=0.5, cpu_weight=200, cpuset="1-2", pids=64, io_weight=300)
    writes = [name for name, _path, _value in cg.plan_writes(wanted)]
    # from no limit to a limit: the memory limit drops first, memsw follows
    assert writes == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cpu.cfs_quota_us", "cpu.shares",
                      "cpuset.cpus", "pids.max", "blkio.bfq.weight"]
    assert cg.apply_limits(wanted) == []
    base = root / "memory" / "linuxvps" / "web1"
    assert (base / "memory.limit_in_bytes").read_text() == "536870912"
    assert (base / "memory.memsw.limit_in_bytes").read_text() == "805306368"
    assert (root / "cpu" / "linuxvps" / "web1" / "cpu.shares").read_text() == "2048"
    assert (root / "blkio" / "linuxvps" / "web1" / "blkio.bfq.weight").read_text() == "300"
    assert cg.plan_writes(wanted) == []
    assert cg.read_limits() == {"memory": 536870912, "swap": 268435456, "cpus": 0.5, "cpu_weight": 200,
                                "cpuset": "1-2", "pids": 64, "io_weight": 300}


def test_v1_memory_shrink_writes_limit_before_memsw(tmp_path):
    host, root = v1_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    cg.apply_limits(resources(memory=512 * 2 ** 20, swap=0))
    writes = [name for name, _p, _v in cg.plan_writes(resources(memory=256 * 2 ** 20, swap=0))]
    assert writes == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    # back to unlimited: memsw first, so it never drops below the limit
    writes = [(name, value) for name, _p, value in cg.plan_writes(resources())]
    assert writes[:2] == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]


def test_v1_unaligned_memory_is_compared_page_aligned(tmp_path):
    host, root = v1_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    cg.apply_limits(resources(memory=100000000))
    assert (root / "memory" / "linuxvps" / "web1" / "memory.limit_in_bytes").read_text() == str(100000000 // 4096 * 4096)
    assert cg.plan_writes(resources(memory=100000000)) == []


def test_v1_without_swap_accounting(tmp_path):
    host, _root = v1_host(tmp_path, memsw=False)
    cg = host.partition("linuxvps", "web1")
    assert cg.unsupported(resources(memory=2 ** 30, swap=2 ** 20)) == [
        ("swap", "the kernel does not account swap (boot with swapaccount=1)")]
    warnings = cg.apply_limits(resources(memory=2 ** 30, swap=2 ** 20))
    assert len(warnings) == 1 and "swap" in warnings[0]


def test_v1_io_weight_unsupported_without_weight_file(tmp_path):
    host, root = v1_host(tmp_path)
    os.unlink(str(root / "blkio" / "linuxvps" / "web1" / "blkio.bfq.weight"))
    cg = host.partition("linuxvps", "web1")
    assert [key for key, _why in cg.unsupported(resources(io_weight=500))] == ["io_weight"]
    assert cg.read_limits()["io_weight"] is None
    assert "blkio.bfq.weight" not in [name for name, _p, _v in cg.plan_writes(resources(io_weight=500))]


def test_v2_read_limits_and_usage(tmp_path):
    host, _root = v2_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    assert cg.read_limits() == {"memory": None, "swap": None, "cpus": None, "cpu_weight": 100,
                                "cpuset": None, "pids": None, "io_weight": 100}
    usage = cg.read_usage()
    assert usage["memory"] == {"current": 16777216, "peak": 33554432, "limit": None, "failcnt": 6, "oom_kills": 1}
    assert usage["swap"] == {"current": 4096, "limit": None}
    assert usage["cpu"] == {"usage_seconds": 2.5, "throttled_periods": 2, "throttled_seconds": 0.7, "quota_cpus": None}
    assert usage["pids"] == {"current": 3, "limit": None, "limit_hits": 0}
    assert usage["io"] == {"read_bytes": 1005, "write_bytes": 2000}


def test_v2_apply_formats_and_round_trip(tmp_path):
    host, root = v2_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    wanted = resources(memory=2 ** 30, swap=2 ** 29, cpus=1.5, cpu_weight=50, cpuset="0,2", pids=100, io_weight=700)
    cg.apply_limits(wanted)
    base = root / "linuxvps" / "web1"
    assert (base / "memory.max").read_text() == "1073741824"
    assert (base / "memory.swap.max").read_text() == "536870912"
    assert (base / "cpu.max").read_text() == "150000 100000"
    assert (base / "cpu.weight").read_text() == "50"
    assert (base / "cpuset.cpus").read_text() == "0,2"
    assert (base / "pids.max").read_text() == "100"
    assert (base / "io.weight").read_text() == "default 700"
    assert cg.read_limits() == {"memory": 2 ** 30, "swap": 2 ** 29, "cpus": 1.5, "cpu_weight": 50,
                                "cpuset": "0,2", "pids": 100, "io_weight": 700}
    assert cg.plan_writes(wanted) == []
    cg.apply_limits(resources())
    assert (base / "cpu.max").read_text() == "max 100000"
    assert (base / "memory.max").read_text() == "max"


def test_v2_bfq_weight_is_clamped_without_endless_changes(tmp_path):
    host, root = v2_host(tmp_path)
    base = root / "linuxvps" / "web1"
    os.unlink(str(base / "io.weight"))
    (base / "io.bfq.weight").write_text("default 100\n")
    cg = host.partition("linuxvps", "web1")
    cg.apply_limits(resources(io_weight=5000))
    assert (base / "io.bfq.weight").read_text() == "default 1000"
    assert cg.plan_writes(resources(io_weight=5000)) == []


def test_weight_round_trips():
    for weight in (1, 2, 50, 100, 101, 999, 5000, 10000):
        assert cgroups.shares_to_weight(cgroups.weight_to_shares(weight)) == weight
    assert cgroups.weight_to_shares(100) == 1024


def test_remove_every_hierarchy(tmp_path):
    host, root = v1_host(tmp_path)
    cg = host.partition("linuxvps", "web1")
    for mount in host.hierarchies():
        for top, _dirs, files in os.walk(os.path.join(mount, "linuxvps", "web1")):
            for name in files:
                os.unlink(os.path.join(top, name))  # real cgroup dirs hold only virtual files
    os.makedirs(str(root / "memory" / "linuxvps" / "web1" / "system.slice"))
    cg.remove()
    assert not cg.exists()
    host.remove_parent("linuxvps")
    assert not os.path.exists(str(root / "memory" / "linuxvps"))


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.isdir("/sys/fs/cgroup/memory"), reason="needs root on a cgroup v1 host")
def test_real_v1_cgroup_on_this_host():
    host = cgroups.detect()
    parent = "linuxvps-unittest-%d" % os.getpid()
    cg = host.partition(parent, "p1")
    try:
        for mount in (host.controller_dir(c) for c in ("memory", "cpu", "cpuset", "pids", "blkio")):
            os.makedirs(os.path.join(mount, parent, "p1"))
        cpuset_dir = os.path.join(host.controller_dir("cpuset"), parent)
        for level in (cpuset_dir, os.path.join(cpuset_dir, "p1")):  # a new v1 cpuset is empty until told
            for name in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(level, name), "w") as handle:
                    handle.write(open(os.path.join(host.controller_dir("cpuset"), name)).read().strip())
        wanted = resources(memory=64 * 2 ** 20, swap=0, cpus=0.25, cpu_weight=300, pids=32)
        cg.apply_limits(wanted)
        limits = cg.read_limits()
        assert limits["memory"] == 64 * 2 ** 20 and limits["swap"] == 0
        assert limits["cpus"] == 0.25 and limits["cpu_weight"] == 300 and limits["pids"] == 32
        assert cg.plan_writes(wanted) == []
        usage = cg.read_usage()
        assert usage["memory"]["limit"] == 64 * 2 ** 20 and usage["pids"]["limit"] == 32
    finally:
        cg.remove()
        host.remove_parent(parent)
    assert not os.path.exists(os.path.join(host.controller_dir("memory"), parent))


def test_create_prepares_cpuset_and_payload_path(tmp_path):
    host, root = v1_host(tmp_path)
    (root / "cpuset" / "cpuset.mems").write_text("0\n")
    cg = host.partition("linuxvps", "web2")
    for mount in host.hierarchies():
        os.makedirs(os.path.join(mount, "linuxvps"), exist_ok=True)
    # a real kernel makes the files; the fixture needs them present and empty
    (root / "cpuset" / "linuxvps" / "cpuset.cpus").write_text("")
    (root / "cpuset" / "linuxvps" / "cpuset.mems").write_text("")
    cg.create()
    assert cg.exists() and cg.payload_path == "/linuxvps/web2/payload"
    assert (root / "cpuset" / "linuxvps" / "cpuset.cpus").read_text() == "0-3"
    assert (root / "cpuset" / "linuxvps" / "cpuset.mems").read_text() == "0"


def test_create_enables_v2_controllers(tmp_path):
    host, root = v2_host(tmp_path)
    (root / "cgroup.subtree_control").write_text("")
    (root / "linuxvps" / "cgroup.controllers").write_text("cpu io memory pids\n")
    (root / "linuxvps" / "cgroup.subtree_control").write_text("")
    cg = host.partition("linuxvps", "web3")
    os.makedirs(str(root / "linuxvps" / "web3"))
    (root / "linuxvps" / "web3" / "cgroup.controllers").write_text("cpu io memory pids\n")
    (root / "linuxvps" / "web3" / "cgroup.subtree_control").write_text("")
    cg.create()
    assert (root / "linuxvps" / "cgroup.subtree_control").read_text() == "+cpu +io +memory +pids"
    assert (root / "linuxvps" / "web3" / "cgroup.subtree_control").read_text() == "+cpu +io +memory +pids"
