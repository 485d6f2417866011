# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroup v1 and v2 behind one interface: detection, limits, live updates, usage.

A partition's limits live in its own cgroup "/<parent>/<name>", which this module creates; the
runtime runs the partition one level below, in "/<parent>/<name>/payload", with a cgroup namespace
rooted there. The partition's root can see and write only the payload's files, so it can never raise
the limits that bind it (the LXC layout). Limits are compared in the files' own terms
(what the kernel would read back), so a lossy mapping never makes a run report a change forever.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import (
    CPU_PERIOD_US,
    cpus_to_quota,
    format_cpu_list,
    parse_cpu_list,
    quota_to_cpus,
)

PAGE = 4096
V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-aligned number (0x7FFFFFFFFFFFF000)
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
V2_DELEGATED = ("cpu", "cpuset", "io", "memory", "pids")
PAYLOAD = "payload"
DELEGATED_FILES = ("cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release", "cgroup.subtree_control", "cgroup.threads")


# ---- weight scales: spec uses the v2 scale 1..10000, default 100 -------------------------------
def weight_to_shares(weight):
    return max(2, min(262144, int(round(weight * 1024 / 100.0))))


def shares_to_weight(shares):
    return max(1, min(10000, int(round(shares * 100 / 1024.0))))


IO_WEIGHT_FILES = {
    # file: (to file value, from file value); blkio.weight is 10..1000 with default 500
    "blkio.weight": (lambda w: max(10, min(1000, w * 5)), lambda v: max(1, v // 5)),
    "blkio.bfq.weight": (lambda w: max(1, min(1000, w)), lambda v: v),
    "io.weight": (lambda w: w, lambda v: v),
    "io.bfq.weight": (lambda w: max(1, min(1000, w)), lambda v: v),
}


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
            return None
        raise CgroupError("cannot read %s: %s" % (path, exc.strerror))


def _write(path, value):
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except (IOError, OSError) as exc:
        raise CgroupError("cannot write %r to %s: %s" % (value, path, exc.strerror), file=path, value=value)


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _keyed(text):
    """'key value' lines (memory.events, cpu.stat, pids.events) -> dict of ints."""
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = _int(parts[1])
    return out


def _max_or_int(text):
    return None if text in (None, "max") else _int(text)


def _v1_limit(text):
    value = _int(text)
    return None if value is None or value < 0 or value >= V1_UNLIMITED else value


def detect(mounts_file="/proc/mounts"):
    """Read the cgroup mounts and return a CgroupHost; v1 wins when it holds the memory controller."""
    v1 = {}
    unified = None
    with open(mounts_file) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 4:
                continue
            mountpoint = fields[1].replace("\\040", " ")
            if fields[2] == "cgroup2" and unified is None:
                unified = mountpoint
            elif fields[2] == "cgroup":
                for option in fields[3].split(","):
                    if option in V1_CONTROLLERS or option.startswith("name="):
                        v1.setdefault(option, mountpoint)
    if "memory" in v1:
        return CgroupHost(1, v1, unified)
    if unified:
        return CgroupHost(2, {}, unified)
    raise CgroupError("no usable cgroup hierarchy: neither a v1 memory controller nor cgroup2 is mounted")


class CgroupHost:
    """The host's cgroup layout: version, and where each hierarchy is mounted."""

    def __init__(self, version, v1_mounts, unified, online_file="/sys/devices/system/cpu/online"):
        self.version = version
        self.v1_mounts = v1_mounts
        self.unified = unified
        self.online_file = online_file

    def partition(self, parent, name):
        return PartitionCgroup(self, "/%s/%s" % (parent.strip("/"), name))

    def hierarchies(self):
        """Every distinct mount a runtime may have made a cgroup under."""
        mounts = sorted(set(self.v1_mounts.values()))
        if self.unified:
            mounts.append(self.unified)
        return mounts

    def controller_dir(self, controller):
        return self.v1_mounts.get(controller) if self.version == 1 else self.unified

    def online_cpus(self):
        if self.version == 1:
            text = _read(os.path.join(self.v1_mounts.get("cpuset", "/nonexistent"), "cpuset.cpus"))
        else:
            text = _read(os.path.join(self.unified, "cpuset.cpus.effective"))
        if not text:
            text = _read(self.online_file)
        return parse_cpu_list(text or "0")

    def remove_parent(self, parent):
        """Remove the shared parent cgroup once no partition is left in it (best effort)."""
        for mount in self.hierarchies():
            try:
                os.rmdir(os.path.join(mount, parent.strip("/")))
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
                    raise CgroupError("cannot remove cgroup %s: %s" % (parent, exc.strerror))


class PartitionCgroup:
    """One partition's cgroup on every hierarchy."""

    def __init__(self, host, path):
        self.host = host
        self.path = path

    def file(self, controller, name):
        base = self.host.controller_dir(controller)
        return os.path.join(base, self.path.lstrip("/"), name) if base else None

    def _get(self, controller, name):
        path = self.file(controller, name)
        return _read(path) if path else None

    @property
    def payload_path(self):
        """The cgroup the runtime puts the partition's processes in."""
        return self.path + "/" + PAYLOAD

    def create(self, owner=None):
        """Make the partition's limit cgroup and its payload on every hierarchy.

        owner: host uid of the partition's root in a user namespace. The payload is delegated to it
        (the directory and the files that move processes), so its init can manage its own sub-cgroups;
        every limit file stays root's.
        """
        for mount in self.host.hierarchies():
            parts = self.payload_path.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                directory = os.path.join(mount, *parts[:depth])
                if not os.path.isdir(directory):
                    try:
                        os.mkdir(directory)
                    except OSError as exc:
                        if exc.errno != errno.EEXIST:
                            raise CgroupError("cannot create cgroup %s: %s" % (directory, exc.strerror))
                self._prepare_level(mount, directory)
            if owner is not None:
                payload = os.path.join(mount, *parts)
                for entry in [""] + list(DELEGATED_FILES):
                    path = os.path.join(payload, entry) if entry else payload
                    if os.path.exists(path):
                        os.chown(path, owner, owner)

    def _prepare_level(self, mount, directory):
        """v1 cpusets start empty and v2 controllers start disabled: inherit from the level above."""
        parent = os.path.dirname(directory)
        if self.host.version == 1 and mount == self.host.v1_mounts.get("cpuset"):
            for name in ("cpuset.cpus", "cpuset.mems"):
                path = os.path.join(directory, name)
                if os.path.exists(path) and not _read(path):
                    _write(path, _read(os.path.join(parent, name)) or "")
        elif self.host.version == 2 and mount == self.host.unified:
            wanted = (_read(os.path.join(directory, "cgroup.controllers")) or "").split()
            for level in (parent, directory):
                enabled = (_read(os.path.join(level, "cgroup.subtree_control")) or "").split()
                missing = [c for c in wanted if c in V2_DELEGATED and c not in enabled]
                if missing and os.path.exists(os.path.join(level, "cgroup.subtree_control")):
                    _write(os.path.join(level, "cgroup.subtree_control"), " ".join("+" + c for c in missing))

    def exists(self):
        return os.path.isdir(os.path.dirname(self.file("memory", "x") or "/nonexistent/x"))

    # ---- limits -----------------------------------------------------------------------------
    def _io_weight_file(self):
        for name in (("blkio.weight", "blkio.bfq.weight") if self.host.version == 1 else ("io.weight", "io.bfq.weight")):
            path = self.file("blkio" if self.host.version == 1 else "io", name)
            if path and os.path.exists(path):
                return name, path
        return None, None

    def _has(self, controller, name):
        path = self.file(controller, name)
        if path and not os.path.isdir(os.path.dirname(path)):
            # The partition's cgroup does not exist yet; judge by the hierarchy's root.
            path = os.path.join(self.host.controller_dir(controller) or "/nonexistent", name)
        return bool(path) and os.path.exists(path)

    def unsupported(self, resources):
        """(key, reason) for limits set in resources that this host cannot enforce."""
        out = []
        v1 = self.host.version == 1
        if resources.get("swap") is not None and not self._has("memory", "memory.memsw.limit_in_bytes" if v1 else "memory.swap.max"):
            out.append(("swap", "the kernel does not account swap (boot with swapaccount=1)"))
        if resources.get("io_weight") is not None and self.exists() and self._io_weight_file()[0] is None:
            out.append(("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)"))
        if resources.get("cpuset") is not None and not self._has("cpuset", "cpuset.cpus"):
            out.append(("cpuset", "the cpuset controller is not available"))
        return out

    def read_limits(self):
        """The limits in force, in spec units (None = no limit)."""
        v1 = self.host.version == 1
        limits = dict.fromkeys(("memory", "swap", "cpus", "cpu_weight", "cpuset", "pids", "io_weight"))
        if v1:
            memory = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
            memsw = _v1_limit(self._get("memory", "memory.memsw.limit_in_bytes"))
            limits["memory"] = memory
            limits["swap"] = memsw - memory if memsw is not None and memory is not None else None
            quota = _int(self._get("cpu", "cpu.cfs_quota_us"))
            period = _int(self._get("cpu", "cpu.cfs_period_us")) or CPU_PERIOD_US
            limits["cpus"] = quota_to_cpus(quota, period) if quota is not None else None
            shares = _int(self._get("cpu", "cpu.shares"))
            limits["cpu_weight"] = shares_to_weight(shares) if shares else None
        else:
            limits["memory"] = _max_or_int(self._get("memory", "memory.max"))
            limits["swap"] = _max_or_int(self._get("memory", "memory.swap.max"))
            cpu_max = (self._get("cpu", "cpu.max") or "max").split()
            limits["cpus"] = None if cpu_max[0] == "max" else quota_to_cpus(int(cpu_max[0]), int(cpu_max[1]))
            limits["cpu_weight"] = _int(self._get("cpu", "cpu.weight"))
        cpuset = self._get("cpuset", "cpuset.cpus")
        limits["cpuset"] = cpuset if cpuset and parse_cpu_list(cpuset) != self.host.online_cpus() else None
        limits["pids"] = _max_or_int(self._get("pids", "pids.max"))
        name, path = self._io_weight_file()
        if name:
            value = _int((_read(path) or "").split("\n")[0].split()[-1])
            limits["io_weight"] = IO_WEIGHT_FILES[name][1](value) if value is not None else None
        return limits

    def desired_files(self, resources):
        """[(controller, file, value)] that express resources on this host, in a safe write order
        given the current values (v1 memsw must never drop below the memory limit)."""
        v1 = self.host.version == 1
        memory = resources.get("memory")
        memory = memory // PAGE * PAGE if memory is not None else None
        swap = resources.get("swap")
        files = []
        if v1:
            limit = str(memory) if memory is not None else "-1"
            entries = [("memory", "memory.limit_in_bytes", limit)]
            if self._has("memory", "memory.memsw.limit_in_bytes"):
                memsw = str(memory + swap // PAGE * PAGE) if memory is not None and swap is not None else "-1"
                current = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
                # None is "no limit": a finite memsw must then wait until the limit is lowered.
                growing = memsw == "-1" or (current is not None and int(memsw) >= current)
                swap_entry = ("memory", "memory.memsw.limit_in_bytes", memsw)
                entries = [swap_entry] + entries if growing else entries + [swap_entry]
            files += entries
            quota = cpus_to_quota(resources.get("cpus"))
            files.append(("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US)))
            files.append(("cpu", "cpu.cfs_quota_us", str(quota) if quota is not None else "-1"))
            files.append(("cpu", "cpu.shares", str(weight_to_shares(resources.get("cpu_weight") or 100))))
            all_cpus = format_cpu_list(self.host.online_cpus())
            files.append(("cpuset", "cpuset.cpus", resources.get("cpuset") or all_cpus))
        else:
            files.append(("memory", "memory.max", str(memory) if memory is not None else "max"))
            if self._has("memory", "memory.swap.max"):
                files.append(("memory", "memory.swap.max", str(swap // PAGE * PAGE) if swap is not None else "max"))
            quota = cpus_to_quota(resources.get("cpus"))
            files.append(("cpu", "cpu.max", "%s %d" % (quota if quota is not None else "max", CPU_PERIOD_US)))
            files.append(("cpu", "cpu.weight", str(resources.get("cpu_weight") or 100)))
            if self._has("cpuset", "cpuset.cpus"):
                files.append(("cpuset", "cpuset.cpus", resources.get("cpuset") or ""))
        files.append(("pids", "pids.max", str(resources["pids"]) if resources.get("pids") is not None else "max"))
        name, _path = self._io_weight_file()
        if name:
            value = IO_WEIGHT_FILES[name][0](resources.get("io_weight") or 100)
            files.append(("blkio" if v1 else "io", name, ("%d" if v1 else "default %d") % value))
        return files

    def plan_writes(self, resources):
        """[(file, absolute path, value)] whose content differs from resources; pure given the files."""
        writes = []
        for controller, name, value in self.desired_files(resources):
            path = self.file(controller, name)
            if path is None or not os.path.exists(path):
                continue
            current = (_read(path) or "").split("\n")[0]
            if not _same(name, current, value):
                writes.append((name, path, value))
        return writes

    def apply_limits(self, resources):
        """Write what differs; return warnings for limits this host cannot enforce."""
        for name, path, value in self.plan_writes(resources):
            if name == "cpuset.cpus" and self.host.version == 1:
                self._set_v1_cpuset(path, value)
                continue
            try:
                with open(path, "w") as handle:
                    handle.write(value)
            except (IOError, OSError) as exc:
                raise CgroupError("cannot set %s of partition cgroup %s to %s: %s" % (name, self.path, value, exc.strerror),
                                  file=path, value=value)
        return ["resources.%s is not enforced on this host: %s" % item for item in self.unsupported(resources)]

    def _set_v1_cpuset(self, path, value):
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
    def read_usage(self):
        if self.host.version == 1:
            return self._usage_v1()
        return self._usage_v2()

    def _usage_v1(self):
        def mem(name):
            return _int(self._get("memory", name))

        limit = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
        memsw_limit = _v1_limit(self._get("memory", "memory.memsw.limit_in_bytes"))
        current, memsw = mem("memory.usage_in_bytes"), mem("memory.memsw.usage_in_bytes")
        cpu_stat = _keyed(self._get("cpu", "cpu.stat"))
        usage_ns = _int(self._get("cpuacct", "cpuacct.usage"))
        io = _sum_v1_io(self._get("blkio", "blkio.throttle.io_service_bytes_recursive"))
        return {
            "memory": {"current": current, "peak": mem("memory.max_usage_in_bytes"), "limit": limit,
                       "failcnt": mem("memory.failcnt"), "oom_kills": self._tree_sum("memory", "memory.oom_control", "oom_kill")},
            "swap": {"current": memsw - current if memsw is not None and current is not None else None,
                     "limit": memsw_limit - limit if memsw_limit is not None and limit is not None else None},
            "cpu": {"usage_seconds": usage_ns / 1e9 if usage_ns is not None else None,
                    "throttled_periods": cpu_stat.get("nr_throttled"),
                    "throttled_seconds": (cpu_stat.get("throttled_time") or 0) / 1e9,
                    "quota_cpus": self.read_limits()["cpus"]},
            "pids": self._pids_usage(),
            "io": io,
        }

    def _usage_v2(self):
        events = _keyed(self._get("memory", "memory.events"))
        cpu_stat = _keyed(self._get("cpu", "cpu.stat"))
        io = {"read_bytes": 0, "write_bytes": 0}
        for line in (self._get("io", "io.stat") or "").splitlines():
            for field in line.split()[1:]:
                key, _sep, value = field.partition("=")
                if key in ("rbytes", "wbytes"):
                    io["read_bytes" if key == "rbytes" else "write_bytes"] += _int(value) or 0
        usage_usec = cpu_stat.get("usage_usec")
        return {
            "memory": {"current": _int(self._get("memory", "memory.current")), "peak": _int(self._get("memory", "memory.peak")),
                       "limit": _max_or_int(self._get("memory", "memory.max")),
                       "failcnt": events.get("max", 0), "oom_kills": events.get("oom_kill", 0)},
            "swap": {"current": _int(self._get("memory", "memory.swap.current")),
                     "limit": _max_or_int(self._get("memory", "memory.swap.max"))},
            "cpu": {"usage_seconds": usage_usec / 1e6 if usage_usec is not None else None,
                    "throttled_periods": cpu_stat.get("nr_throttled"),
                    "throttled_seconds": (cpu_stat.get("throttled_usec") or 0) / 1e6,
                    "quota_cpus": self.read_limits()["cpus"]},
            "pids": self._pids_usage(),
            "io": io,
        }

    def _pids_usage(self):
        return {"current": _int(self._get("pids", "pids.current")), "limit": _max_or_int(self._get("pids", "pids.max")),
                "limit_hits": self._pids_limit_hits()}

    def _pids_limit_hits(self):
        """Forks refused at the limit. v2 counts them where the limit is; v1 where the fork was tried."""
        if self.host.version == 2:
            return _keyed(self._get("pids", "pids.events")).get("max", 0)
        return self._tree_sum("pids", "pids.events", "max")

    def _tree_sum(self, controller, name, key):
        """v1 counts events in the cgroup of the task concerned: add them up over the partition's tree."""
        base = os.path.dirname(self.file(controller, "x") or "/nonexistent/x")
        return sum(_keyed(_read(os.path.join(top, name))).get(key, 0) or 0 for top, _d, _f in os.walk(base))

    def pids(self):
        """Every process in the partition's cgroup tree (memory hierarchy on v1)."""
        base = os.path.dirname(self.file("memory", "x") or "/nonexistent/x")
        found = []
        for top, _dirs, _files in os.walk(base):
            for line in (_read(os.path.join(top, "cgroup.procs")) or "").split():
                found.append(int(line))
        return sorted(set(found))

    def remove(self):
        """Remove the partition's cgroup directories bottom-up on every hierarchy."""
        for mount in self.host.hierarchies():
            base = os.path.join(mount, self.path.lstrip("/"))
            for top, _dirs, _files in os.walk(base, topdown=False):
                try:
                    os.rmdir(top)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise CgroupError("cannot remove cgroup %s: %s" % (top, exc.strerror))


def _same(name, current, desired):
    """Compare a file's content with the value we would write, in the kernel's terms."""
    if name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
        return _v1_limit(current) == _v1_limit(desired)
    if name == "cpuset.cpus":
        return parse_cpu_list(current) == parse_cpu_list(desired)
    if name in ("io.weight", "io.bfq.weight"):
        return current.split()[-1:] == desired.split()[-1:]
    return current == desired


def _sum_v1_io(text):
    io = {"read_bytes": 0, "write_bytes": 0}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            io["read_bytes" if parts[1] == "Read" else "write_bytes"] += _int(parts[2]) or 0
    return io
