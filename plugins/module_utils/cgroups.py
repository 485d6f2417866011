# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroup v1 and v2 behind one interface: detection, limits, live updates, usage.

A partition's limits live in its own cgroup "/<parent>/<name>", which this module creates; the
runtime runs the partition one level below, in "/<parent>/<name>/payload", with a cgroup namespace
rooted there. The partition's root can see and write only the payload's files, so it can never raise
the limits that bind it (the LXC layout). Limits are compared in the files' own terms
(what the kernel would read back), so a lossy mapping never makes a run report a change forever.

Weights use the v2 scale (1..10000, default 100) in the spec:
  cpu.shares (v1)          = round(weight * 1024 / 100) within 2..262144 (the kernel's own cpu.weight
                             conversion); weight = round(shares * 100 / 1024): exact for every weight.
  io.weight (v2)           = weight.
  io.bfq.weight, blkio.bfq.weight = weight within 1..1000 (BFQ's range, same default 100): ratios
                             between partitions stay exact up to 1000; 1000..10000 all read as 1000.
  blkio.weight (v1, CFQ)   = weight * 5 within 10..1000 (default 500); weight = round(value / 5).
Every weight file present is written (iocost devices use io.weight, BFQ devices the bfq file).
Swap: v1 memory.memsw.limit_in_bytes = memory + swap (so swap can only be bounded with memory);
v2 memory.swap.max = swap.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import (
    CPU_PERIOD_US,
    cpus_to_quota,
    format_cpu_list,
    parse_cpu_list,
    quota_to_cpus,
)

try:
    PAGE = os.sysconf("SC_PAGE_SIZE")  # the kernel rounds byte limits down to pages
except (AttributeError, ValueError, OSError):
    PAGE = 4096
V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-aligned number (0x7FFFFFFFFFFFF000)
V1_CONTROLLERS = frozenset(("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                            "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"))
V2_DELEGATED = ("cpu", "cpuset", "io", "memory", "pids")
PAYLOAD = "payload"
DELEGATED_FILES = ("cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release", "cgroup.subtree_control", "cgroup.threads")
DEFAULT_WEIGHT = 100
ONLINE_FILE = "/sys/devices/system/cpu/online"

# I/O weight files in read preference order, and each one's (lowest, highest, factor from the v2 scale).
IO_WEIGHT_FILES = {1: ("blkio.bfq.weight", "blkio.weight"), 2: ("io.weight", "io.bfq.weight")}
IO_WEIGHT_RANGES = {"io.weight": (1, 10000, 1), "io.bfq.weight": (1, 1000, 1), "blkio.bfq.weight": (1, 1000, 1),
                    "blkio.weight": (10, 1000, 5)}
# The file that enforces each resource: a host without it cannot enforce the resource.
ENFORCED_BY = {
    1: {"memory": ("memory", "memory.limit_in_bytes"), "swap": ("memory", "memory.memsw.limit_in_bytes"),
        "cpus": ("cpu", "cpu.cfs_quota_us"), "cpu_weight": ("cpu", "cpu.shares"), "cpuset": ("cpuset", "cpuset.cpus"),
        "pids": ("pids", "pids.max")},
    2: {"memory": ("memory", "memory.max"), "swap": ("memory", "memory.swap.max"), "cpus": ("cpu", "cpu.max"),
        "cpu_weight": ("cpu", "cpu.weight"), "cpuset": ("cpuset", "cpuset.cpus"), "pids": ("pids", "pids.max")},
}
WRITE_HINTS = {
    (errno.EBUSY, "memory"): "the partition uses more memory than that and the kernel could not reclaim enough",
    (errno.EINVAL, "cpuset"): "a CPU outside the parent cgroup's set",
}


def weight_to_shares(weight):
    return max(2, min(262144, int(round(weight * 1024 / 100.0))))


def shares_to_weight(shares):
    return max(1, min(10000, int(round(shares * 100 / 1024.0))))


def io_weight_to_file(name, weight):
    low, high, factor = IO_WEIGHT_RANGES[name]
    return max(low, min(high, int(weight) * factor))


def io_weight_from_file(name, value):
    return max(1, min(10000, int(round(value / float(IO_WEIGHT_RANGES[name][2])))))


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV, errno.EINVAL, errno.ENOTDIR):
            return None
        raise CgroupError("cannot read %s: %s" % (path, exc.strerror))


def _write(path, value):
    """One write(2) of the value: kernfs parses each write on its own, and an empty value must
    still reach the kernel (a newline; buffered I/O would write nothing)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, (value or "\n").encode())
        finally:
            os.close(fd)
    except (IOError, OSError) as exc:
        raise CgroupError("cannot write %r to %s: %s" % (value, path, exc.strerror), file=path, value=value,
                          errno=exc.errno, reason=exc.strerror)


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


def _seconds(count, per_second):
    return count / per_second if count is not None else None


def _weight_value(text):
    """'100', 'default 100' or 'default 100\\n8:0 200' -> the default weight."""
    words = (text or "").split("\n")[0].split()
    if words[:1] == ["default"]:
        words = words[1:]
    return _int(words[0]) if len(words) == 1 else None


def _unescape(field):
    """/proc/mounts escapes space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def detect(mounts_file="/proc/mounts", root="/sys/fs/cgroup"):
    """Read the cgroup mounts and return a CgroupHost; v1 wins when it holds the memory controller.

    Controllers are found from the mount options, not the directory names (cpu and cpuacct may
    share one mount). Mounts at or below root are preferred over copies elsewhere.
    """
    try:
        with open(mounts_file) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError) as exc:
        raise CgroupError("cannot read %s: %s" % (mounts_file, exc.strerror))
    entries = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            entries.append((_unescape(fields[1]), fields[2], fields[3].split(",")))
    root = os.path.normpath(root)
    entries = [entry for entry in entries if _under(entry[0], root)] or entries
    v1, unified = {}, None
    for mountpoint, fstype, options in entries:
        if fstype == "cgroup2":
            if unified is None or mountpoint == root:
                unified = mountpoint
            continue
        for option in options:
            if option in V1_CONTROLLERS or option.startswith("name="):
                v1.setdefault(option, mountpoint)
    if "memory" in v1:
        return CgroupHost(1, v1, unified)
    if unified and (_read(os.path.join(unified, "cgroup.controllers")) or "").split():
        return CgroupHost(2, {}, unified)
    raise CgroupError("no usable cgroup hierarchy: neither a v1 memory controller nor a cgroup2 mount with controllers "
                      "(mounts read from %s)" % mounts_file)


class CgroupHost:
    """The host's cgroup layout: version, and where each hierarchy is mounted. No I/O until asked."""

    def __init__(self, version, v1_mounts, unified, online_file=ONLINE_FILE):
        self.version = version
        self.v1_mounts = v1_mounts
        self.unified = unified
        self.online_file = online_file

    def cgroup_path(self, parent, name):
        """The partition's cgroup path inside every hierarchy (runc's cgroupfs driver: /<parent>/<name>).

        The one place that maps a partition to a path, to be swapped for a systemd driver.
        """
        parts = [part for part in parent.strip("/").split("/") if part] + [name]
        if any(part in (".", "..") or "/" in part or not part for part in parts):
            raise CgroupError("invalid cgroup path component in %r / %r" % (parent, name))
        return "/" + "/".join(parts)

    def partition(self, parent, name):
        return PartitionCgroup(self, self.cgroup_path(parent, name))

    def hierarchies(self):
        """Every distinct mount a runtime may have made a cgroup under."""
        mounts = sorted(set(self.v1_mounts.values()))
        if self.unified:
            mounts.append(self.unified)
        return mounts

    def controller_dir(self, controller):
        return self.v1_mounts.get(controller) if self.version == 1 else self.unified

    def online_cpus(self):
        """CPUs the root cpuset offers (all online ones), else the kernel's online list."""
        if self.version == 1:
            text = _read(os.path.join(self.v1_mounts["cpuset"], "cpuset.cpus")) if "cpuset" in self.v1_mounts else None
        else:
            text = _read(os.path.join(self.unified, "cpuset.cpus.effective"))
        for candidate in (text, _read(self.online_file)):
            try:
                cpus = parse_cpu_list(candidate)
            except ValueError:
                continue
            if cpus:
                return cpus
        return [0]

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

    def dir(self, controller):
        base = self.host.controller_dir(controller)
        return os.path.join(base, self.path.lstrip("/")) if base else None

    def file(self, controller, name):
        directory = self.dir(controller)
        return os.path.join(directory, name) if directory else None

    def _get(self, controller, name):
        path = self.file(controller, name)
        return _read(path) if path else None

    @property
    def payload_path(self):
        """The cgroup the runtime puts the partition's processes in."""
        return self.path + "/" + PAYLOAD

    def exists(self):
        directory = self.dir("memory")
        return bool(directory) and os.path.isdir(directory)

    def create(self, owner=None):
        """Make the partition's limit cgroup and its payload on every hierarchy.

        owner: host uid of the partition's root in a user namespace. The payload is delegated to it
        (the directory and the files that move processes), so its init can manage its own sub-cgroups;
        every limit file stays root's.
        """
        parts = self.payload_path.strip("/").split("/")
        for mount in self.host.hierarchies():
            for depth in range(1, len(parts) + 1):
                directory = os.path.join(mount, *parts[:depth])
                if self.host.version == 2 and mount == self.host.unified:
                    # Controllers reach a cgroup only when its parent enables them; never in the payload
                    # itself: a cgroup with controllers in subtree_control cannot take processes (EBUSY).
                    _enable_controllers(os.path.dirname(directory))
                try:
                    os.mkdir(directory)
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise CgroupError("cannot create cgroup %s: %s" % (directory, exc.strerror))
                if self.host.version == 1 and mount == self.host.v1_mounts.get("cpuset"):
                    _inherit_cpuset(directory)
            if owner is not None:
                payload = os.path.join(mount, *parts)
                for entry in [""] + list(DELEGATED_FILES):
                    path = os.path.join(payload, entry) if entry else payload
                    if os.path.exists(path):
                        os.chown(path, owner, owner)

    # ---- what the host can enforce ----------------------------------------------------------
    def _supports(self, controller, name):
        """Whether the partition's cgroup has (or, made now, would have) the file `name`.

        Judged on the cgroup itself, else on the nearest existing cgroup below the hierarchy's root
        that has the controller: root cgroups lack most limit files (v2 memory.max, v1 blkio.bfq.weight).
        """
        base = self.host.controller_dir(controller)
        if not base:
            return False
        directory, candidates = self.dir(controller), []
        while _under(directory, base) and directory != base:
            candidates.append(directory)
            directory = os.path.dirname(directory)
        try:
            candidates += sorted(os.path.join(base, entry) for entry in os.listdir(base))
        except OSError:
            pass
        for directory in candidates:
            if not os.path.isdir(directory):
                continue
            if self.host.version == 2 and controller not in (_read(os.path.join(directory, "cgroup.controllers")) or "").split():
                continue
            return os.path.exists(os.path.join(directory, name))
        if self.host.version == 2:  # nothing below the root yet: create() will enable what the root offers
            return controller in (_read(os.path.join(base, "cgroup.controllers")) or "").split()
        return os.path.exists(os.path.join(base, name))

    def unsupported(self, resources):
        """(key, reason) for limits set in resources that this host cannot enforce (default weights are
        what every cgroup gets anyway, so they need nothing)."""
        out = []
        v1 = self.host.version == 1
        for key, (controller, name) in sorted(ENFORCED_BY[self.host.version].items()):
            if resources.get(key) is None or (key == "cpu_weight" and resources[key] == DEFAULT_WEIGHT):
                continue
            if key == "swap" and v1 and resources.get("memory") is None and self._supports(controller, name):
                out.append((key, "cgroup v1 bounds swap together with memory: set resources.memory too"))
            elif not self._supports(controller, name):
                swap_only = key == "swap" and self._supports(*ENFORCED_BY[self.host.version]["memory"])
                out.append((key, "the kernel does not account swap (boot with swapaccount=1)" if swap_only
                            else "the %s controller is not available" % controller))
        io_weight = resources.get("io_weight")
        if io_weight is not None and io_weight != DEFAULT_WEIGHT:
            controller = "blkio" if v1 else "io"
            if not any(self._supports(controller, name) for name in IO_WEIGHT_FILES[self.host.version]):
                out.append(("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)"))
        return out

    # ---- limits -----------------------------------------------------------------------------
    def _cpus(self):
        if self.host.version == 1:
            quota = _int(self._get("cpu", "cpu.cfs_quota_us"))
            period = _int(self._get("cpu", "cpu.cfs_period_us")) or CPU_PERIOD_US
            return quota_to_cpus(quota, period) if quota is not None else None
        words = (self._get("cpu", "cpu.max") or "max").split()
        quota, period = _int(words[0]), _int(words[1]) if len(words) > 1 else CPU_PERIOD_US
        return quota_to_cpus(quota, period or CPU_PERIOD_US) if quota is not None else None

    def read_limits(self):
        """The limits in force, in spec units (None = no limit; io_weight None = no weight file)."""
        v1 = self.host.version == 1
        limits = {"cpus": self._cpus(), "pids": _max_or_int(self._get("pids", "pids.max")), "io_weight": None}
        if v1:
            memory = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
            memsw = _v1_limit(self._get("memory", "memory.memsw.limit_in_bytes"))
            limits["memory"] = memory
            limits["swap"] = memsw - memory if memsw is not None and memory is not None else None
            shares = _int(self._get("cpu", "cpu.shares"))
            limits["cpu_weight"] = shares_to_weight(shares) if shares else None
        else:
            limits["memory"] = _max_or_int(self._get("memory", "memory.max"))
            limits["swap"] = _max_or_int(self._get("memory", "memory.swap.max"))
            limits["cpu_weight"] = _int(self._get("cpu", "cpu.weight"))
        try:
            cpus = parse_cpu_list(self._get("cpuset", "cpuset.cpus"))
        except ValueError:
            cpus = []
        # v1 cpusets are never empty: the whole online set is how "no cpuset" reads back there.
        limits["cpuset"] = format_cpu_list(cpus) if cpus and not (v1 and cpus == self.host.online_cpus()) else None
        for name in IO_WEIGHT_FILES[self.host.version]:
            value = _weight_value(self._get("blkio" if v1 else "io", name))
            if value is not None:
                limits["io_weight"] = io_weight_from_file(name, value)
                break
        return limits

    def desired_files(self, resources):
        """[(controller, file, value)] that express resources on this host, in a safe write order
        given the current values (v1 memsw must never drop below the memory limit)."""
        v1 = self.host.version == 1
        memory, swap = resources.get("memory"), resources.get("swap")
        memory = memory // PAGE * PAGE if memory is not None else None
        swap = swap // PAGE * PAGE if swap is not None else None
        quota = cpus_to_quota(resources.get("cpus"))
        weight = resources.get("cpu_weight") or DEFAULT_WEIGHT
        if v1:
            limit = ("memory", "memory.limit_in_bytes", str(memory) if memory is not None else "-1")
            memsw = str(memory + swap) if memory is not None and swap is not None else "-1"
            current = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
            # Growing past the current limit: memsw first; shrinking below it: the limit first.
            growing = memsw == "-1" or (current is not None and int(memsw) >= current)
            memsw_entry = ("memory", "memory.memsw.limit_in_bytes", memsw)
            files = [memsw_entry, limit] if growing else [limit, memsw_entry]
            files += [("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US)),
                      ("cpu", "cpu.cfs_quota_us", str(quota) if quota is not None else "-1"),
                      ("cpu", "cpu.shares", str(weight_to_shares(weight))),
                      ("cpuset", "cpuset.cpus", resources.get("cpuset") or format_cpu_list(self.host.online_cpus()))]
        else:
            files = [("memory", "memory.max", str(memory) if memory is not None else "max"),
                     ("memory", "memory.swap.max", str(swap) if swap is not None else "max"),
                     ("cpu", "cpu.max", "%s %d" % (quota if quota is not None else "max", CPU_PERIOD_US)),
                     ("cpu", "cpu.weight", str(weight)),
                     ("cpuset", "cpuset.cpus", resources.get("cpuset") or "")]
        files.append(("pids", "pids.max", str(resources["pids"]) if resources.get("pids") is not None else "max"))
        io_weight = resources.get("io_weight") or DEFAULT_WEIGHT
        for name in IO_WEIGHT_FILES[self.host.version]:
            value = io_weight_to_file(name, io_weight)
            files.append(("blkio" if v1 else "io", name, str(value) if v1 else "default %d" % value))
        return files

    def plan_writes(self, resources):
        """[(file, absolute path, value)] whose content differs from resources; pure given the files.
        Files this host lacks are left out (unsupported() names what that leaves unenforced)."""
        writes = []
        for controller, name, value in self.desired_files(resources):
            path = self.file(controller, name)
            current = _read(path) if path else None
            if current is not None and not _same(name, current.split("\n")[0], value):
                writes.append((name, path, value))
        return writes

    def apply_limits(self, resources):
        """Write what differs; return warnings for limits this host cannot enforce."""
        for name, path, value in self.plan_writes(resources):
            try:
                if name == "cpuset.cpus" and self.host.version == 1:
                    self._set_v1_cpuset(path, value)
                else:
                    if name == "memory.max" and value != "max":
                        self._reclaim_to(int(value))
                    _write(path, value)
            except CgroupError as exc:
                hint = WRITE_HINTS.get((exc.details.get("errno"), name.split(".")[0]))
                raise CgroupError("cannot set %s of partition cgroup %s to %s: %s%s" % (
                    name, self.path, value, exc.details.get("reason") or exc.msg, " (%s)" % hint if hint else ""),
                    file=path, value=value)
        return ["resources.%s is not enforced on this host: %s" % item for item in self.unsupported(resources)]

    def _reclaim_to(self, limit):
        """v2 answers a memory.max below usage with the OOM killer; like v1 (EBUSY), refuse instead
        when reclaim cannot bring the usage down first."""
        current = _int(self._get("memory", "memory.current"))
        if current is None or current <= limit:
            return
        reclaim = self.file("memory", "memory.reclaim")
        if os.path.exists(reclaim):
            try:
                _write(reclaim, str(current - limit))
            except CgroupError:
                pass  # EAGAIN: reclaimed less than asked; the usage says how much
            current = _int(self._get("memory", "memory.current")) or 0
        if current > limit:
            raise CgroupError("the partition uses %d bytes and the kernel could not reclaim enough "
                              "(a lower memory.max would OOM-kill its processes)" % current)

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
        """Counters in bytes, seconds and counts; None where the host does not tell."""
        v1 = self.host.version == 1
        cpu_stat = _keyed(self._get("cpu", "cpu.stat"))
        pids_max = _max_or_int(self._get("pids", "pids.max"))
        if v1:
            limit = _v1_limit(self._get("memory", "memory.limit_in_bytes"))
            memsw_limit = _v1_limit(self._get("memory", "memory.memsw.limit_in_bytes"))
            current, memsw = _int(self._get("memory", "memory.usage_in_bytes")), _int(self._get("memory", "memory.memsw.usage_in_bytes"))
            memory = {"current": current, "peak": _int(self._get("memory", "memory.max_usage_in_bytes")), "limit": limit,
                      "failcnt": _int(self._get("memory", "memory.failcnt")),
                      # v1 counts OOM kills and refused forks in the cgroup of the task concerned: sum the tree
                      "oom_kills": self._tree_sum("memory", "memory.oom_control", "oom_kill")}
            swap = {"current": memsw - current if memsw is not None and current is not None else None,
                    "limit": memsw_limit - limit if memsw_limit is not None and limit is not None else None}
            cpu_seconds = _seconds(_int(self._get("cpuacct", "cpuacct.usage")), 1e9)
            throttled = _seconds(cpu_stat.get("throttled_time"), 1e9)
            limit_hits = self._tree_sum("pids", "pids.events", "max")
            io = _io_totals(self._get("blkio", "blkio.throttle.io_service_bytes_recursive"))
        else:
            events_text = self._get("memory", "memory.events")
            events = _keyed(events_text)
            memory = {"current": _int(self._get("memory", "memory.current")), "peak": _int(self._get("memory", "memory.peak")),
                      "limit": _max_or_int(self._get("memory", "memory.max")),
                      "failcnt": events.get("max"), "oom_kills": events.get("oom_kill", 0 if events_text is not None else None)}
            swap = {"current": _int(self._get("memory", "memory.swap.current")),
                    "limit": _max_or_int(self._get("memory", "memory.swap.max"))}
            cpu_seconds = _seconds(cpu_stat.get("usage_usec"), 1e6)
            throttled = _seconds(cpu_stat.get("throttled_usec"), 1e6)
            limit_hits = _keyed(self._get("pids", "pids.events")).get("max")
            io = _io_totals(self._get("io", "io.stat"))
        return {
            "memory": memory,
            "swap": swap,
            "cpu": {"usage_seconds": cpu_seconds, "throttled_periods": cpu_stat.get("nr_throttled"),
                    "throttled_seconds": throttled, "quota_cpus": self._cpus()},
            "pids": {"current": _int(self._get("pids", "pids.current")), "limit": pids_max, "limit_hits": limit_hits},
            "io": io,
        }

    def _tree_sum(self, controller, name, key):
        """Sum of one key of a flat-keyed file over the partition's cgroup tree; None if no file."""
        total = None
        for top, _dirs, _files in os.walk(self.dir(controller) or "/nonexistent"):
            values = _keyed(_read(os.path.join(top, name)))
            if key in values:
                total = (total or 0) + (values[key] or 0)
        return total

    def pids(self):
        """Every process in the partition's cgroup tree (memory hierarchy on v1)."""
        found = set()
        for top, _dirs, _files in os.walk(self.dir("memory") or "/nonexistent"):
            found.update(int(pid) for pid in (_read(os.path.join(top, "cgroup.procs")) or "").split())
        return sorted(found)

    def remove(self):
        """Remove the partition's cgroup directories bottom-up on every hierarchy."""
        for mount in self.host.hierarchies():
            for top, _dirs, _files in os.walk(os.path.join(mount, self.path.lstrip("/")), topdown=False):
                try:
                    os.rmdir(top)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise CgroupError("cannot remove cgroup %s: %s" % (top, exc.strerror))


def _enable_controllers(level):
    """Enable in level's cgroup.subtree_control the delegated controllers it has and has not enabled."""
    control = os.path.join(level, "cgroup.subtree_control")
    if not os.path.exists(control):
        return
    enabled = (_read(control) or "").split()
    for controller in (_read(os.path.join(level, "cgroup.controllers")) or "").split():
        if controller in V2_DELEGATED and controller not in enabled:
            _write(control, "+" + controller)  # one at a time: a refusal then names the controller


def _inherit_cpuset(directory):
    """A new v1 cpuset starts with empty cpus and mems and takes no task until given the parent's."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        path = os.path.join(directory, name)
        if os.path.exists(path) and not _read(path):
            _write(path, _read(os.path.join(os.path.dirname(directory), name)) or "")


def _same(name, current, desired):
    """Compare a file's content with the value we would write, in the kernel's terms."""
    if name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
        return _v1_limit(current) == _v1_limit(desired)
    if name == "cpuset.cpus":
        try:
            return parse_cpu_list(current) == parse_cpu_list(desired)
        except ValueError:
            return False
    if "weight" in name:
        return _weight_value(current) == _weight_value(desired)
    if name == "cpu.max":
        return current.split() == desired.split()
    return current == desired


def _io_totals(text):
    """Bytes read and written over all devices: v1 '8:0 Read 4096' lines, v2 '8:0 rbytes=1 wbytes=2 ...' lines."""
    if text is None:
        return {"read_bytes": None, "write_bytes": None}
    keys = {"Read": "read_bytes", "Write": "write_bytes", "rbytes": "read_bytes", "wbytes": "write_bytes"}
    io = {"read_bytes": 0, "write_bytes": 0}
    for line in text.splitlines():
        words = line.split()
        fields = [words[1:]] if len(words) == 3 and words[1] in ("Read", "Write") else [w.split("=") for w in words[1:]]
        for field in fields:
            if len(field) == 2 and field[0] in keys:
                io[keys[field[0]]] += _int(field[1]) or 0
    return io
