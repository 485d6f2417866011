# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroup v2: one unified hierarchy, where a cgroup gets a controller only when its parent enables it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import iolimits
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.common import (
    DEFAULT_WEIGHT,
    ONLINE_FILE,
    CgroupHost,
    PartitionCgroup,
    _read,
    _write,
    keyed,
    max_or_int,
    page_aligned,
    seconds,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import MOUNTINFO, mounts, to_int
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import CPU_PERIOD_US, cpus_to_quota, quota_to_cpus

DELEGATED = ("cpu", "cpuset", "io", "memory", "pids")


def _controllers(directory):
    """The controllers the cgroup at directory has (its parent enabled them, or it is the root)."""
    return (_read(os.path.join(directory, "cgroup.controllers")) or "").split()


def _enable_controllers(level):
    """Enable in level's cgroup.subtree_control the delegated controllers it has and has not enabled."""
    control = os.path.join(level, "cgroup.subtree_control")
    if not os.path.exists(control):
        return
    enabled = (_read(control) or "").split()
    for controller in _controllers(level):
        if controller in DELEGATED and controller not in enabled:
            _write(control, "+" + controller)  # one at a time: a refusal then names the controller


class V2Cgroup(PartitionCgroup):
    """A partition's cgroup on the unified hierarchy."""

    ENFORCED_BY = {"memory": ("memory", "memory.max"), "swap": ("memory", "memory.swap.max"), "cpus": ("cpu", "cpu.max"),
                   "cpu_weight": ("cpu", "cpu.weight"), "cpuset": ("cpuset", "cpuset.cpus"), "pids": ("pids", "pids.max")}
    ENFORCED_BY.update((key, ("io", "io.max")) for key in iolimits.KEYS)  # hierarchical: on the limit cgroup
    IO_CONTROLLER = "io"
    IO_WEIGHT_FILES = ("io.weight", "io.bfq.weight")
    IO_WEIGHT_FORMAT = "default %d"
    IO_STAT = ("io", "io.stat")
    # Every v2 limit file stays off the root; a cgroup gets them with the controller.
    NOT_ON_ROOT = dict.fromkeys(("memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "cpuset.cpus", "pids.max",
                                 "io.weight", "io.bfq.weight", "io.max"))

    def _has_controller(self, directory, controller):
        return controller in _controllers(directory)

    def _make_dir(self, directory):
        # Controllers reach a cgroup only when its parent enables them; never in the payload
        # itself: a cgroup with controllers in subtree_control cannot take processes (EBUSY).
        _enable_controllers(os.path.dirname(directory))
        super()._make_dir(directory)

    # ---- limits -----------------------------------------------------------------------------
    def _cpus(self):
        words = (self._get("cpu", "cpu.max") or "max").split()
        quota, period = to_int(words[0]), to_int(words[1]) if len(words) > 1 else CPU_PERIOD_US
        return quota_to_cpus(quota, period or CPU_PERIOD_US) if quota is not None else None

    def _memory_and_weight_limits(self):
        return {"memory": max_or_int(self._get("memory", "memory.max")), "swap": max_or_int(self._get("memory", "memory.swap.max")),
                "cpu_weight": to_int(self._get("cpu", "cpu.weight"))}

    def _memory_cpu_files(self, resources):
        memory, swap = page_aligned(resources.get("memory")), page_aligned(resources.get("swap"))
        quota = cpus_to_quota(resources.get("cpus"))
        return [("memory", "memory.max", str(memory) if memory is not None else "max"),
                ("memory", "memory.swap.max", str(swap) if swap is not None else "max"),
                ("cpu", "cpu.max", "%s %d" % (quota if quota is not None else "max", CPU_PERIOD_US)),
                ("cpu", "cpu.weight", str(resources.get("cpu_weight") or DEFAULT_WEIGHT)),
                ("cpuset", "cpuset.cpus", resources.get("cpuset") or "")]

    def _io_limits(self):
        return iolimits.limits_in_force(iolimits.parse_io_max(self._get("io", "io.max")))

    def _io_limit_writes(self, resources, devices):
        path = self.file("io", "io.max")
        current = _read(path) if path else None
        if current is None:  # no io controller here, or no blk-throttle: unsupported() says so
            return []
        return [("io.max", path, line) for line in iolimits.io_max_writes(current, resources, devices)]

    def _write_limit(self, path, value):
        if os.path.basename(path) == "memory.max" and value != "max":
            self._reclaim_to(int(value))
        super()._write_limit(path, value)

    def _reclaim_to(self, limit):
        """v2 answers a memory.max below usage with the OOM killer; like v1 (EBUSY), refuse instead
        when reclaim cannot bring the usage down first."""
        current = to_int(self._get("memory", "memory.current"))
        if current is None or current <= limit:
            return
        reclaim = self.file("memory", "memory.reclaim")
        if os.path.exists(reclaim):
            try:
                _write(reclaim, str(current - limit))
            except CgroupError:
                pass  # EAGAIN: reclaimed less than asked; the usage says how much
            current = to_int(self._get("memory", "memory.current")) or 0
        if current > limit:
            raise CgroupError("the partition uses %d bytes and the kernel could not reclaim enough "
                              "(a lower memory.max would OOM-kill its processes)" % current)

    # ---- usage ------------------------------------------------------------------------------
    def _memory_usage(self):
        events_text = self._get("memory", "memory.events")
        events = keyed(events_text)
        memory = {"current": to_int(self._get("memory", "memory.current")), "peak": to_int(self._get("memory", "memory.peak")),
                  "limit": max_or_int(self._get("memory", "memory.max")),
                  "failcnt": events.get("max"), "oom_kills": events.get("oom_kill", 0 if events_text is not None else None)}
        swap = {"current": to_int(self._get("memory", "memory.swap.current")),
                "limit": max_or_int(self._get("memory", "memory.swap.max"))}
        return memory, swap

    def _cpu_seconds(self, cpu_stat):
        return seconds(cpu_stat.get("usage_usec"), 1e6), seconds(cpu_stat.get("throttled_usec"), 1e6)

    def _pids_limit_hits(self):
        return self._pids_failcnt(False)

    # ---- beancounters -----------------------------------------------------------------------
    TREE_SUMMED = ("oom_kills", "pids.failcnt")

    def _memory_counters(self, local):
        # memory.events is hierarchical (hits of the limits below too); .local counts this cgroup's own
        events = keyed(self._get("memory", "memory.events.local" if local else "memory.events"))
        return {"held": to_int(self._get("memory", "memory.current")), "maxheld": to_int(self._get("memory", "memory.peak")),
                "limit": max_or_int(self._get("memory", "memory.max")), "failcnt": events.get("max")}

    def _swap_counters(self):
        return {"held": to_int(self._get("memory", "memory.swap.current")), "maxheld": to_int(self._get("memory", "memory.swap.peak")),
                "limit": max_or_int(self._get("memory", "memory.swap.max")),
                "failcnt": keyed(self._get("memory", "memory.swap.events")).get("max")}

    def _pids_failcnt(self, local):
        """Forks refused at pids.max. Since 6.12 (pids.events.local exists) pids.events counts at the limit that
        refused and up; before, and with the pids_localevents mount option, in the forking task's cgroup, so the
        tree is summed (a tenant's count then also holds its partitions' own refusals: the kernel cannot tell)."""
        if self._get("pids", "pids.events.local") is not None and "pids_localevents" not in self.host.mount_options():
            return keyed(self._get("pids", "pids.events.local" if local else "pids.events")).get("max")
        return self._tree_sum("pids", "pids.events", "max")

    def _oom_kills(self):
        """memory.events counts OOM kills up the tree, unless cgroup2 is mounted with memory_localevents."""
        if "memory_localevents" in self.host.mount_options():
            return self._tree_sum("memory", "memory.events", "oom_kill")
        text = self._get("memory", "memory.events")
        return keyed(text).get("oom_kill", 0) if text is not None else None


class V2Host(CgroupHost):
    """A host whose controllers are on the unified hierarchy."""

    version = 2
    cgroup_class = V2Cgroup

    def __init__(self, unified, online_file=ONLINE_FILE, mountinfo=MOUNTINFO):
        super().__init__({}, unified, online_file)
        self.mountinfo = mountinfo
        self._mount_options = None

    def mount_options(self):
        """The unified mount's options (memory_localevents and pids_localevents change what events count)."""
        if self._mount_options is None:
            try:
                found = [entry.options for entry in mounts(self.mountinfo) if entry.fstype == "cgroup2" and entry.mount_point == self.unified]
            except (IOError, OSError):
                found = []
            self._mount_options = found[-1] if found else frozenset()
        return self._mount_options

    def controller_dir(self, controller):
        return self.unified

    def _root_cpuset(self):
        return _read(os.path.join(self.unified, "cpuset.cpus.effective"))
