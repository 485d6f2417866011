# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroup v1: one hierarchy per controller (or per group of co-mounted controllers)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import iolimits
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.common import (
    DEFAULT_WEIGHT,
    PAYLOAD,
    CgroupHost,
    PartitionCgroup,
    _read,
    _write,
    page_aligned,
    seconds,
    shares_to_weight,
    weight_to_shares,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import is_under, to_int
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import (
    CPU_PERIOD_US,
    cpus_to_quota,
    format_cpu_list,
    parse_cpu_list,
    quota_to_cpus,
)

UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-aligned number (0x7FFFFFFFFFFFF000)
CONTROLLERS = frozenset(("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                         "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"))
MEMORY_LIMITS = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")


def _limit(text):
    value = to_int(text)
    return None if value is None or value < 0 or value >= UNLIMITED else value


def _inherit_cpuset(directory):
    """A new v1 cpuset starts with empty cpus and mems and takes no task until given the parent's."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        path = os.path.join(directory, name)
        if os.path.exists(path) and not _read(path):
            _write(path, _read(os.path.join(os.path.dirname(directory), name)) or "")


class V1Cgroup(PartitionCgroup):
    """A partition's cgroup on v1: one directory per hierarchy."""

    ENFORCED_BY = {"memory": ("memory", "memory.limit_in_bytes"), "swap": ("memory", "memory.memsw.limit_in_bytes"),
                   "cpus": ("cpu", "cpu.cfs_quota_us"), "cpu_weight": ("cpu", "cpu.shares"), "cpuset": ("cpuset", "cpuset.cpus"),
                   "pids": ("pids", "pids.max")}
    ENFORCED_BY.update((key, ("blkio", name)) for key, name in iolimits.THROTTLE_FILES)
    IO_CONTROLLER = "blkio"
    IO_WEIGHT_FILES = ("blkio.bfq.weight", "blkio.weight")
    IO_WEIGHT_FORMAT = "%d"
    IO_STAT = ("blkio", "blkio.throttle.io_service_bytes_recursive")
    # BFQ's statistics files, unlike its weight, are on the root too: they show the BFQ policy is loaded.
    NOT_ON_ROOT = {"pids.max": None, "blkio.bfq.weight": "blkio.bfq.io_service_bytes"}
    REQUIRES = {"swap": ("memory", "cgroup v1 bounds swap together with memory: set resources.memory too")}

    def _has_controller(self, directory, controller):
        return True  # every cgroup of a v1 hierarchy has its controllers

    def _delegates(self, mount):
        # blk-throttle is flat on v1: a limit binds only the tasks directly in its cgroup, so the I/O limits sit on
        # the payload itself, and a partition that could make a child cgroup there would move out of them.
        return mount != self.host.v1_mounts.get("blkio")

    def _make_dir(self, directory):
        super()._make_dir(directory)
        cpuset = self.host.v1_mounts.get("cpuset")
        if cpuset and is_under(directory, cpuset):
            _inherit_cpuset(directory)

    # ---- limits -----------------------------------------------------------------------------
    def _cpus(self):
        quota = to_int(self._get("cpu", "cpu.cfs_quota_us"))
        period = to_int(self._get("cpu", "cpu.cfs_period_us")) or CPU_PERIOD_US
        return quota_to_cpus(quota, period) if quota is not None else None

    def _memory_and_weight_limits(self):
        memory = _limit(self._get("memory", "memory.limit_in_bytes"))
        memsw = _limit(self._get("memory", "memory.memsw.limit_in_bytes"))
        shares = to_int(self._get("cpu", "cpu.shares"))
        return {"memory": memory, "swap": memsw - memory if memsw is not None and memory is not None else None,
                "cpu_weight": shares_to_weight(shares) if shares else None}

    def _cpuset(self):
        # v1 cpusets are never empty: the whole online set is how "no cpuset" reads back there.
        cpus = self._cpuset_cpus()
        return format_cpu_list(cpus) if cpus and cpus != self.host.online_cpus() else None

    def _memory_cpu_files(self, resources):
        """memsw must never drop below the memory limit: growing past the current limit, memsw goes
        first; shrinking below it, the limit goes first."""
        memory, swap = page_aligned(resources.get("memory")), page_aligned(resources.get("swap"))
        quota = cpus_to_quota(resources.get("cpus"))
        limit = ("memory", "memory.limit_in_bytes", str(memory) if memory is not None else "-1")
        memsw = str(memory + swap) if memory is not None and swap is not None else "-1"
        current = _limit(self._get("memory", "memory.limit_in_bytes"))
        growing = memsw == "-1" or (current is not None and int(memsw) >= current)
        memsw_entry = ("memory", "memory.memsw.limit_in_bytes", memsw)
        return ([memsw_entry, limit] if growing else [limit, memsw_entry]) + [
            ("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US)),
            ("cpu", "cpu.cfs_quota_us", str(quota) if quota is not None else "-1"),
            ("cpu", "cpu.shares", str(weight_to_shares(resources.get("cpu_weight") or DEFAULT_WEIGHT))),
            ("cpuset", "cpuset.cpus", resources.get("cpuset") or format_cpu_list(self.host.online_cpus()))]

    # ---- I/O bandwidth and IOPS: blkio.throttle.* on the payload (flat on v1, see _delegates) ---------------------
    def _throttle_file(self, name):
        directory = self.dir("blkio")
        return os.path.join(directory, PAYLOAD, name) if directory and self.has_payload else None

    def _io_limits(self):
        per_device = {}
        for key, name in iolimits.THROTTLE_FILES:
            path = self._throttle_file(name)
            for device, value in iolimits.parse_throttle(_read(path) if path else None).items():
                per_device.setdefault(device, {})[key] = value
        return iolimits.limits_in_force(per_device)

    def _io_limit_writes(self, resources, devices):
        writes = []
        for key, name in iolimits.THROTTLE_FILES:
            path = self._throttle_file(name)
            current = _read(path) if path else None
            if current is not None:  # no payload yet (made by create()), or no blk-throttle: unsupported() says so
                writes += [(name, path, line) for line in iolimits.throttle_writes(current, resources.get(key), devices)]
        return writes

    def _io_limits_unsupported(self, resources):
        keys = [key for key in iolimits.KEYS if resources.get(key) is not None]
        if not keys:
            return []
        if not self.has_payload:
            return [(key, "blk-throttle is not hierarchical on cgroup v1: set it on each partition") for key in keys]
        try:  # owned by someone else than its limit cgroup's owner (root)
            directory = self.dir("blkio")
            delegated = os.stat(os.path.join(directory, PAYLOAD)).st_uid != os.stat(directory).st_uid
        except (OSError, TypeError):  # not made yet, or no blkio hierarchy (the generic check names that)
            delegated = False
        if delegated:  # started by a version that delegated the payload's blkio cgroup: a sub-cgroup escapes
            return [(key, "the running partition may move out of it until it restarts (its blkio cgroup is delegated)")
                    for key in keys]
        return []

    def _same(self, name, current, desired):
        if name in MEMORY_LIMITS:
            return _limit(current) == _limit(desired)
        return super()._same(name, current, desired)

    def _write_limit(self, path, value):
        if os.path.basename(path) == "cpuset.cpus":
            self._set_cpuset(path, value)
        else:
            super()._write_limit(path, value)

    def _set_cpuset(self, path, value):
        """v1 cpusets must stay subsets of their parent: shrink the payload's tree first, grow it after."""
        base = os.path.dirname(path)
        below = [top for top, _dirs, _files in os.walk(base, topdown=False) if top != base]
        for directory in below:  # deepest first, to the CPUs both old and new sets share
            current = parse_cpu_list(_read(os.path.join(directory, "cpuset.cpus")) or "")
            shared = sorted(set(current) & set(parse_cpu_list(value))) or parse_cpu_list(value)
            _write(os.path.join(directory, "cpuset.cpus"), format_cpu_list(shared))
        _write(path, value)
        for directory in reversed(below):  # then the whole new set, top down
            _write(os.path.join(directory, "cpuset.cpus"), value)

    # ---- usage ------------------------------------------------------------------------------
    def _memory_usage(self):
        limit = _limit(self._get("memory", "memory.limit_in_bytes"))
        memsw_limit = _limit(self._get("memory", "memory.memsw.limit_in_bytes"))
        current, memsw = to_int(self._get("memory", "memory.usage_in_bytes")), to_int(self._get("memory", "memory.memsw.usage_in_bytes"))
        memory = {"current": current, "peak": to_int(self._get("memory", "memory.max_usage_in_bytes")), "limit": limit,
                  "failcnt": to_int(self._get("memory", "memory.failcnt")),
                  # v1 counts OOM kills and refused forks in the cgroup of the task concerned: sum the tree
                  "oom_kills": self._tree_sum("memory", "memory.oom_control", "oom_kill")}
        swap = {"current": memsw - current if memsw is not None and current is not None else None,
                "limit": memsw_limit - limit if memsw_limit is not None and limit is not None else None}
        return memory, swap

    def _cpu_seconds(self, cpu_stat):
        return seconds(to_int(self._get("cpuacct", "cpuacct.usage")), 1e9), seconds(cpu_stat.get("throttled_time"), 1e9)

    def _pids_limit_hits(self):
        return self._tree_sum("pids", "pids.events", "max")

    # v1 counts an OOM kill only in the killed task's own cgroup (memcg_memory_event stops at !dfl): one in a
    # sub-cgroup removed before we read (systemd inside drops a service's cgroup) is lost.
    APPROXIMATE = ("oom_kills",)
    TREE_SUMMED = ("oom_kills", "pids.failcnt")

    def _memory_counters(self, local):
        # memory.failcnt is this cgroup's own page counter: the hits of its own limit, local or not
        return {"held": to_int(self._get("memory", "memory.usage_in_bytes")),
                "maxheld": to_int(self._get("memory", "memory.max_usage_in_bytes")),
                "limit": _limit(self._get("memory", "memory.limit_in_bytes")),
                "failcnt": to_int(self._get("memory", "memory.failcnt"))}

    def _swap_counters(self):
        """Swap as memsw - memory; its failcnt counts hits of the memory+swap limit (v1 has no swap-only one), and
        no peak of swap alone (memsw.max_usage is of memory+swap)."""
        memory, memsw = to_int(self._get("memory", "memory.usage_in_bytes")), to_int(self._get("memory", "memory.memsw.usage_in_bytes"))
        limit, memsw_limit = _limit(self._get("memory", "memory.limit_in_bytes")), _limit(self._get("memory", "memory.memsw.limit_in_bytes"))
        return {"held": memsw - memory if memsw is not None and memory is not None else None, "maxheld": None,
                "limit": memsw_limit - limit if memsw_limit is not None and limit is not None else None,
                "failcnt": to_int(self._get("memory", "memory.memsw.failcnt"))}

    def _uncounted_hits(self, counters):
        # Under a memory+swap limit a charge fails on the memsw counter, whose failcnt some kernels keep at 0
        # (6.18 does: an OOM kill at that limit counted in neither failcnt): both are lower bounds then.
        return ["memory.failcnt", "swap.failcnt"] if counters["swap"]["limit"] is not None else []

    def _pids_failcnt(self, local):
        # v1 counts a refused fork in the forking task's cgroup, whichever limit refused it: sum the tree
        return self._tree_sum("pids", "pids.events", "max")

    def _oom_kills(self):
        return self._tree_sum("memory", "memory.oom_control", "oom_kill")

    def reset_peaks(self):
        """Start the kernel's memory peaks again from now (v1 takes a write of 0); which peaks were reset."""
        done = []
        for name in ("memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes"):
            path = self.file("memory", name)
            if path and os.path.exists(path):
                _write(path, "0")
                done.append(name)
        return ["memory.maxheld"] if "memory.max_usage_in_bytes" in done else []


class V1Host(CgroupHost):
    """A host whose memory controller is on a v1 hierarchy: v1 only, or hybrid (v1 controllers beside a cgroup2 mount)."""

    version = 1
    cgroup_class = V1Cgroup

    def controller_dir(self, controller):
        return self.v1_mounts.get(controller)

    def _root_cpuset(self):
        return _read(os.path.join(self.v1_mounts["cpuset"], "cpuset.cpus")) if "cpuset" in self.v1_mounts else None
