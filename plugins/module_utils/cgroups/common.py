# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cgroup v1 and v2 share: file I/O, parsing, weight conversions, and the version-neutral halves of
a partition's cgroup (PartitionCgroup) and of a host (CgroupHost). v1.py and v2.py fill in the rest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import threading
from contextlib import contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import is_under, to_int
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import format_cpu_list, parse_cpu_list

try:
    PAGE = os.sysconf("SC_PAGE_SIZE")  # the kernel rounds byte limits down to pages
except (AttributeError, ValueError, OSError):
    PAGE = 4096
PAYLOAD = "payload"
DELEGATED_FILES = ("cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release", "cgroup.subtree_control", "cgroup.threads")
DEFAULT_WEIGHT = 100
ONLINE_FILE = "/sys/devices/system/cpu/online"
# Bounds of a walk over sub-cgroups the tenant makes (metrics read them every 15 s).
WALK_DEPTH = 16
WALK_ENTRIES = 4096

# Each I/O weight file's (lowest, highest, factor from the v2 scale).
IO_WEIGHT_RANGES = {"io.weight": (1, 10000, 1), "io.bfq.weight": (1, 1000, 1), "blkio.bfq.weight": (1, 1000, 1),
                    "blkio.weight": (10, 1000, 5)}
WRITE_HINTS = {
    (errno.EBUSY, "memory"): "the partition uses more memory than that and the kernel could not reclaim enough",
    (errno.EINVAL, "cpuset"): "a CPU outside the parent cgroup's set",
    (errno.ENODEV, "io"): "no such whole block device (a partition's number, or a device gone)",
    (errno.ENODEV, "blkio"): "no such whole block device (a partition's number, or a device gone)",
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
        raise CgroupError("cannot read %s: %s" % (path, exc.strerror)) from exc


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
                          errno=exc.errno, reason=exc.strerror) from exc


def keyed(text):
    """'key value' lines (memory.events, cpu.stat, pids.events) -> dict of ints."""
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = to_int(parts[1])
    return out


def max_or_int(text):
    return None if text in (None, "max") else to_int(text)


def seconds(count, per_second):
    return count / per_second if count is not None else None


def page_aligned(size):
    return size // PAGE * PAGE if size is not None else None


def weight_value(text):
    """'100', 'default 100' or 'default 100\\n8:0 200' -> the default weight."""
    words = (text or "").split("\n")[0].split()
    if words[:1] == ["default"]:
        words = words[1:]
    return to_int(words[0]) if len(words) == 1 else None


def io_totals(text):
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
                io[keys[field[0]]] += to_int(field[1]) or 0
    return io


def check_components(parts, shown):
    """Refuse a cgroup path whose components could leave or blur the tree: '.', '..', empty, or with a '/'."""
    if not parts or any(part in ("", ".", "..") or "/" in part for part in parts):
        raise CgroupError("invalid cgroup path component in %s" % shown)


class PartitionCgroup:
    """One partition's cgroup on every hierarchy. Subclasses say which files express what."""

    # resource key -> (controller, the file that enforces it): a host without the file cannot enforce it
    ENFORCED_BY = {}
    IO_CONTROLLER = None
    IO_WEIGHT_FILES = ()  # in read preference order; every one present is written
    IO_WEIGHT_FORMAT = None
    IO_STAT = (None, None)  # (controller, file) of the byte counters
    # Limit files the kernel never puts in a root cgroup (CFTYPE_NOT_ON_ROOT) -> what on the root shows
    # that non-root cgroups have them: a companion file, or None where having the controller is enough.
    NOT_ON_ROOT = {}
    REQUIRES = {}  # resource key -> (the key it can only be bounded with, why)

    def __init__(self, host, path, payload=True):
        self.host = host
        self.path = path
        self.has_payload = payload  # False for a level above partitions (a tenant's cgroup): no payload below it

    def dir(self, controller):
        base = self.host.controller_dir(controller)
        return os.path.join(base, self.path.lstrip("/")) if base else None

    def file(self, controller, name):
        directory = self.dir(controller)
        return os.path.join(directory, name) if directory else None

    def _get(self, controller, name):
        path = self.file(controller, name)
        return self.host.read(path) if path else None

    @property
    def payload_path(self):
        """The cgroup the runtime puts the partition's processes in."""
        return self.path + "/" + PAYLOAD

    def exists(self):
        directory = self.dir("memory")
        return bool(directory) and os.path.isdir(directory)

    def life_key(self):
        """What tells one making of this cgroup from another within a boot (the inode of its memory directory: the
        kernel's cgroup id, never reused), or None while it does not exist."""
        directory = self.dir("memory")
        try:
            return os.stat(directory).st_ino if directory else None
        except OSError:
            return None

    def create(self, owner=None):
        """Make the partition's limit cgroup and its payload on every hierarchy.

        owner: host uid of the partition's root in a user namespace. The payload is delegated to it
        (the directory and the files that move processes), so its init can manage its own sub-cgroups;
        every limit file stays root's. Not on v1's blkio hierarchy (see V1Cgroup._delegates).
        A cgroup made with payload=False (a tenant's) is made alone: it holds no process and is delegated to no
        one (give no owner).
        """
        parts = (self.payload_path if self.has_payload else self.path).strip("/").split("/")
        for mount in self.host.hierarchies():
            for depth in range(1, len(parts) + 1):
                self._make_dir(os.path.join(mount, *parts[:depth]))
            if owner is not None and self._delegates(mount):
                payload = os.path.join(mount, *parts)
                for entry in [""] + list(DELEGATED_FILES):
                    path = os.path.join(payload, entry) if entry else payload
                    if os.path.exists(path):
                        os.chown(path, owner, owner)

    def _delegates(self, mount):
        """Whether the payload is handed to the partition's root on the hierarchy mounted at mount."""
        return True

    def _make_dir(self, directory):
        """One level of create()."""
        try:
            os.mkdir(directory)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise CgroupError("cannot create cgroup %s: %s" % (directory, exc.strerror)) from exc

    # ---- what the host can enforce ----------------------------------------------------------
    def _has_controller(self, directory, controller):
        """Whether the cgroup at directory, in the hierarchy that holds controller, is governed by it."""
        raise NotImplementedError

    def _supports(self, controller, name):
        """Whether the partition's cgroup has (or, made now, would have) the file `name`.

        Judged on the cgroup itself, else on the nearest existing cgroup above it, else on a child of
        the hierarchy's root that has the controller; only then on the root, which lacks the files in
        NOT_ON_ROOT (v2 memory.max, v1 pids.max, blkio.bfq.weight) even where every other cgroup has them.
        """
        base = self.host.controller_dir(controller)
        if not base:
            return False
        directory, candidates = self.dir(controller), []
        while is_under(directory, base) and directory != base:
            candidates.append(directory)
            directory = os.path.dirname(directory)
        try:
            candidates += sorted(os.path.join(base, entry) for entry in os.listdir(base))
        except OSError:
            pass
        for directory in candidates:
            if os.path.isdir(directory) and self._has_controller(directory, controller):
                return os.path.exists(os.path.join(directory, name))
        if name not in self.NOT_ON_ROOT:
            return os.path.exists(os.path.join(base, name))
        witness = self.NOT_ON_ROOT[name]
        return os.path.exists(os.path.join(base, witness)) if witness else self._has_controller(base, controller)

    def unsupported(self, resources):
        """(key, reason) for limits set in resources that this host cannot enforce (default weights are
        what every cgroup gets anyway, so they need nothing)."""
        out = []
        for key, (controller, name) in sorted(self.ENFORCED_BY.items()):
            if resources.get(key) is None or (key == "cpu_weight" and resources[key] == DEFAULT_WEIGHT):
                continue
            if not self._supports(controller, name):
                swap_only = key == "swap" and self._supports(*self.ENFORCED_BY["memory"])
                no_throttle = key.startswith("io_") and self._supports(self.IO_CONTROLLER, self.IO_STAT[1])
                out.append((key, "the kernel does not account swap (boot with swapaccount=1)" if swap_only
                            else "the kernel has no blk-throttle (CONFIG_BLK_DEV_THROTTLING)" if no_throttle
                            else "the %s controller is not available" % controller))
            elif key in self.REQUIRES and resources.get(self.REQUIRES[key][0]) is None:
                out.append((key, self.REQUIRES[key][1]))
        io_weight = resources.get("io_weight")
        if io_weight is not None and io_weight != DEFAULT_WEIGHT:
            if not any(self._supports(self.IO_CONTROLLER, name) for name in self.IO_WEIGHT_FILES):
                out.append(("io_weight", "no proportional I/O weight file (use the BFQ I/O scheduler)"))
        return out + self._io_limits_unsupported(resources)

    def _io_limits_unsupported(self, resources):
        """(key, reason) for the I/O limits set in resources that this cgroup's level cannot enforce."""
        return []

    # ---- limits -----------------------------------------------------------------------------
    def _cpus(self):
        """The CPU quota in force, in CPUs (None = no quota)."""
        raise NotImplementedError

    def _memory_and_weight_limits(self):
        """{"memory", "swap", "cpu_weight"} in force, in spec units."""
        raise NotImplementedError

    def _cpuset_cpus(self):
        try:
            return parse_cpu_list(self._get("cpuset", "cpuset.cpus"))
        except ValueError:
            return []

    def _cpuset(self):
        cpus = self._cpuset_cpus()
        return format_cpu_list(cpus) if cpus else None

    def read_limits(self):
        """The limits in force, in spec units (None = no limit; io_weight None = no weight file)."""
        limits = dict(self._memory_and_weight_limits(), cpus=self._cpus(), pids=max_or_int(self._get("pids", "pids.max")),
                      cpuset=self._cpuset(), io_weight=None)
        for name in self.IO_WEIGHT_FILES:
            value = weight_value(self._get(self.IO_CONTROLLER, name))
            if value is not None:
                limits["io_weight"] = io_weight_from_file(name, value)
                break
        limits.update(self._io_limits())
        return limits

    def _io_limits(self):
        """{key: value} of the I/O limits (spec.IO_LIMITS) some device has; the keys without a limit are left out."""
        raise NotImplementedError

    def _io_limit_writes(self, resources, devices):
        """[(file, absolute path, line)] that give devices resources' I/O limits and reset every other device's."""
        raise NotImplementedError

    def _memory_cpu_files(self, resources):
        """desired_files() for memory, swap, cpus, cpu_weight and cpuset, in their write order."""
        raise NotImplementedError

    def desired_files(self, resources):
        """[(controller, file, value)] that express resources on this host, in a safe write order
        given the current values."""
        files = self._with_payload_quota(self._memory_cpu_files(resources), resources.get("cpus"))
        files.append(("pids", "pids.max", str(resources["pids"]) if resources.get("pids") is not None else "max"))
        io_weight = resources.get("io_weight") or DEFAULT_WEIGHT
        for name in self.IO_WEIGHT_FILES:
            files.append((self.IO_CONTROLLER, name, self.IO_WEIGHT_FORMAT % io_weight_to_file(name, io_weight)))
        return files

    def _with_payload_quota(self, files, cpus):
        """files with the CPU quota mirrored on the payload. The limit cgroup enforces it; the payload is the root of the
        partition's cgroup namespace, where lxcfs (cpuinfo, stat, cpu/online) and cgroup-aware runtimes look for it.
        The mirror goes first when the quota shrinks, after when it grows: v1 refuses a child's quota above its parent's."""
        controller, name = self.ENFORCED_BY["cpus"]
        for index, (ctrl, fname, value) in enumerate(files):
            if (ctrl, fname) == (controller, name):
                current = self._cpus()
                shrinking = cpus is not None and (current is None or cpus < current)
                files.insert(index if shrinking else index + 1, (controller, PAYLOAD + "/" + name, value))
                break
        return files

    def _same(self, name, current, desired):
        """Compare a file's content with the value we would write, in the kernel's terms."""
        if name == "cpuset.cpus":
            try:
                return parse_cpu_list(current) == parse_cpu_list(desired)
            except ValueError:
                return False
        if "weight" in name:
            return weight_value(current) == weight_value(desired)
        if name == "cpu.max":
            return current.split() == desired.split()
        return current == desired

    def plan_writes(self, resources, devices=None):
        """[(file, absolute path, value)] whose content differs from resources; pure given the files.
        Files this host lacks are left out (unsupported() names what that leaves unenforced).

        devices: the whole disks ('M:m', blockdev.py) the I/O limits bind on; every other device's I/O limit is
        reset. None leaves the I/O limits as they are (a caller that does not know the devices).
        """
        writes = []
        for controller, name, value in self.desired_files(resources):
            path = self.file(controller, name)
            current = self.host.read(path) if path else None
            if current is not None and not self._same(os.path.basename(name), current.split("\n")[0], value):
                writes.append((name, path, value))
        if devices is not None:
            writes += self._io_limit_writes(resources, devices)
        return writes

    def _write_limit(self, path, value):
        _write(path, value)

    def apply_limits(self, resources, devices=None):
        """Write what differs; limits this host cannot enforce are left to unsupported() to report. devices: as plan_writes."""
        for name, path, value in self.plan_writes(resources, devices):
            try:
                self._write_limit(path, value)
            except CgroupError as exc:
                hint = WRITE_HINTS.get((exc.details.get("errno"), name.split(".")[0]))
                raise CgroupError("cannot set %s of partition cgroup %s to %s: %s%s" % (
                    name, self.path, value, exc.details.get("reason") or exc.msg, " (%s)" % hint if hint else ""),
                    file=path, value=value) from exc

    # ---- usage ------------------------------------------------------------------------------
    def _memory_usage(self):
        """({"current", "peak", "limit", "failcnt", "oom_kills"}, {"current", "limit"}) of memory and swap."""
        raise NotImplementedError

    def _cpu_seconds(self, cpu_stat):
        """(CPU time used, time throttled) in seconds, given cpu.stat's counters."""
        raise NotImplementedError

    def _pids_limit_hits(self):
        """How often a fork failed on pids.max in the partition's tree."""
        raise NotImplementedError

    def read_usage(self):
        """Counters in bytes, seconds and counts; None where the host does not tell."""
        cpu_stat = keyed(self._get("cpu", "cpu.stat"))
        memory, swap = self._memory_usage()
        usage_seconds, throttled_seconds = self._cpu_seconds(cpu_stat)
        return {
            "memory": memory,
            "swap": swap,
            "cpu": {"usage_seconds": usage_seconds, "throttled_periods": cpu_stat.get("nr_throttled"),
                    "throttled_seconds": throttled_seconds, "quota_cpus": self._cpus()},
            "pids": {"current": to_int(self._get("pids", "pids.current")), "limit": max_or_int(self._get("pids", "pids.max")),
                     "limit_hits": self._pids_limit_hits()},
            "io": io_totals(self._get(*self.IO_STAT)),
        }

    def _tree_sum(self, controller, name, key):
        """Sum of one key of a flat-keyed file over the partition's cgroup tree; None if no file."""
        total = None
        for top in self._walk(controller):
            values = keyed(self.host.read(os.path.join(top, name)))
            if key in values:
                total = (total or 0) + (values[key] or 0)
        return total

    def _walk(self, controller):
        """The cgroup's directory and those below it, top first. The tenant makes the sub-cgroups (v1 has no
        cgroup.max.depth), so the walk is iterative, follows no link, and stops at WALK_DEPTH levels and WALK_ENTRIES
        directories; a cut walk sets walk_cut (what it summed is then a lower bound). Within CgroupHost.reading(),
        each tree is walked once."""
        top = self.dir(controller)
        if not top:
            return []
        found, cut = self.host.remembered(("walk", top), lambda: _walk_tree(top))
        self.walk_cut = self.walk_cut or cut
        return found

    # ---- beancounters -----------------------------------------------------------------------
    walk_cut = False  # the last read_counters() cut a walk short (set per read)
    APPROXIMATE = ()  # fields this cgroup version can only give as a lower bound
    TREE_SUMMED = ()  # fields summed over the sub-cgroups: a cut walk makes them lower bounds

    def _memory_counters(self, local):
        """{held, maxheld, limit, failcnt} of memory; maxheld None where the kernel keeps no peak."""
        raise NotImplementedError

    def _swap_counters(self):
        raise NotImplementedError

    def _pids_failcnt(self, local):
        raise NotImplementedError

    def _oom_kills(self):
        raise NotImplementedError

    def _uncounted_hits(self, counters):
        """failcnt fields the kernel may leave short, given the counters read."""
        return []

    def reset_peaks(self):
        """Start the kernel's peaks again from now where it can; the counters fields that were (none on v2, whose
        memory.peak takes a reset only for the file handle that wrote it)."""
        return []

    def read_counters(self, local=False):
        """This cgroup's beancounters as the kernel keeps them now (counters.py adds them up over restarts):
        {memory|swap|pids: {held, maxheld, limit, failcnt}, cpu: {held (seconds), maxheld (None), limit (CPUs),
        failcnt (throttled periods), throttled_seconds}, oom_kills, approximate: [fields that are lower bounds]}.

        None where the kernel does not tell; a maxheld of None beside a held value means the kernel keeps no
        peak of it (the ledger then takes the highest sample, a lower bound). local: count only the hits of this
        cgroup's own limits (a tenant's cgroup), not of the limits below it, where the kernel can tell them apart.
        """
        self.walk_cut = False
        cpu_stat = keyed(self._get("cpu", "cpu.stat"))
        cpu_held, throttled = self._cpu_seconds(cpu_stat)
        counters = {
            "memory": self._memory_counters(local),
            "swap": self._swap_counters(),
            "pids": {"held": to_int(self._get("pids", "pids.current")), "maxheld": to_int(self._get("pids", "pids.peak")),
                     "limit": max_or_int(self._get("pids", "pids.max")), "failcnt": self._pids_failcnt(local)},
            "cpu": {"held": cpu_held, "maxheld": None, "limit": self._cpus(), "failcnt": cpu_stat.get("nr_throttled"),
                    "throttled_seconds": throttled},
            "oom_kills": self._oom_kills(),
        }
        approximate = [key + ".maxheld" for key in ("memory", "swap", "pids")
                       if counters[key]["maxheld"] is None and counters[key]["held"] is not None]
        approximate += self._uncounted_hits(counters)
        approximate += [key for key in self.APPROXIMATE + (self.TREE_SUMMED if self.walk_cut else ()) if key not in approximate]
        counters["approximate"] = sorted(approximate)
        return counters

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
                        raise CgroupError("cannot remove cgroup %s: %s" % (top, exc.strerror)) from exc


def _walk_tree(top):
    """(directories, cut) of PartitionCgroup._walk."""
    if not os.path.isdir(top):
        return [], False
    cut = False
    found, pending = [], [(top, 0)]
    while pending:
        directory, depth = pending.pop()
        found.append(directory)
        if len(found) >= WALK_ENTRIES:
            cut = True
            break
        try:
            entries = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False))
        except OSError:
            continue  # removed while we read: its counters went with it
        if entries and depth >= WALK_DEPTH:
            cut = True
            continue
        pending.extend((os.path.join(directory, entry), depth + 1) for entry in reversed(entries))
    return found, cut


class CgroupHost:
    """The host's cgroup layout: where each hierarchy is mounted. No I/O until asked."""

    version = None
    cgroup_class = PartitionCgroup  # each version's host names its own

    def __init__(self, v1_mounts, unified, online_file=ONLINE_FILE):
        self.v1_mounts = v1_mounts
        self.unified = unified
        self.online_file = online_file
        self._local = threading.local()  # .memo: {key: what was read} within reading(), per thread

    @contextmanager
    def reading(self):
        """Within it, each cgroup file is read and each tree walked once, however many readers ask (a report's usage
        and counters read the same files and walk the same trees; a plan reads what observe read). Only around reads
        that nothing changes in between; per thread, so a thread that writes limits meanwhile always reads the files."""
        outer = getattr(self._local, "memo", None)
        if outer is None:
            self._local.memo = {}
        try:
            yield
        finally:
            if outer is None:
                self._local.memo = None

    def remembered(self, key, read):
        """read(), once per key within reading(); every time outside it."""
        memo = getattr(self._local, "memo", None)
        if memo is None:
            return read()
        if key not in memo:
            memo[key] = read()
        return memo[key]

    def read(self, path):
        """The file's stripped text, or None where there is none (_read); once per path within reading()."""
        return self.remembered(path, lambda: _read(path))

    def partition(self, path, payload=True):
        """The cgroup at the absolute path (cgroups.partition_path) on every hierarchy; payload=False for a level above
        partitions (a tenant's), which has no payload of its own."""
        check_components(path[1:].split("/") if path.startswith("/") else [], repr(path))
        return self.cgroup_class(self, path, payload)

    def controller_dir(self, controller):
        """The directory of the hierarchy root that holds controller, or None."""
        raise NotImplementedError

    def _root_cpuset(self):
        """The CPU list the root cpuset offers, as the kernel writes it (None if not readable)."""
        raise NotImplementedError

    def hierarchies(self):
        """Every distinct mount a runtime may have made a cgroup under."""
        mounts = sorted(set(self.v1_mounts.values()))
        if self.unified:
            mounts.append(self.unified)
        return mounts

    def online_cpus(self):
        """CPUs the root cpuset offers (all online ones), else the kernel's online list."""
        for candidate in (self._root_cpuset(), _read(self.online_file)):
            try:
                cpus = parse_cpu_list(candidate)
            except ValueError:
                continue
            if cpus:
                return cpus
        return [0]

    def has_children(self, parent):
        """Whether parent has a cgroup below it on any hierarchy (the kernel would refuse to remove it): stops at the
        first one found, so a tenant with hundreds of partitions costs about what one with a single partition does."""
        for mount in self.hierarchies():
            try:
                with os.scandir(os.path.join(mount, parent.strip("/"))) as entries:
                    if any(entry.is_dir(follow_symlinks=False) for entry in entries):
                        return True
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    raise CgroupError("cannot list cgroup %s: %s" % (parent, exc.strerror)) from exc
        return False

    def remove_parent(self, parent):
        """Remove the shared parent cgroup once no partition is left in it (best effort)."""
        for mount in self.hierarchies():
            try:
                os.rmdir(os.path.join(mount, parent.strip("/")))
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
                    raise CgroupError("cannot remove cgroup %s: %s" % (parent, exc.strerror)) from exc
