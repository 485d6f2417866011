# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Density and speed: N systemd partitions from one Debian 12 template, each with an address on a bridge and
limits, converged by the collection (one ansible-playbook run, the partition module's list form) and by a
bare script doing the same work with runc, mount and ip directly (the floor), in the same run.

    bench.py [--sizes 25,100,200] [--inside-sizes 100] [--operations-mib 1024] [--only-operations] [--results DIR]
             [--lxc 100] [--runtimes 100] [--tenants 20] [--profile] [--workers W]

Writes DIR/<UTC time>.json and .md (the table, also printed). Run as root; `make bench` does.

Both sides run the same partitions: the bare script takes its config.json from a partition the collection
made (same user namespace range, capabilities, seccomp, mounts), the same view of the template for that
range, and limits set by runc from the OCI config. Phases, each timed from its start:
  converge   create and start all N (collection: one playbook run from nothing)
  running    until every partition's init reports running (systemctl is-system-running: running/degraded)
  info       partition_info of all N (usage, counters, tenants): the playbook, and the module's own process
             (readpaths.py: Python, imports, the reads, its JSON; what the controller adds is the difference)
  rerun      the collection again, nothing to change (must report changed=false): the playbook, and the module's
             own process the same way
  update     a live limit change across all N (memory and cpu_weight)
  memory     host memory used per partition: MemAvailable before the converge and once all run, each after sync
             and drop_caches, the difference / N. It counts what the host cannot give back: the partitions'
             processes, their tmpfs and page tables, the kernel's own memory for them (cgroups, namespaces, veths,
             overlay mounts, slab); not page cache, which drop_caches frees. Beside it the partitions' own cgroup
             usage per partition (memory.usage_in_bytes of their parent: their processes, their page cache)
  inventory  `ansible-inventory --list` of the N partitions by the inventory plugin
  teardown   stop and remove all N, then a check that nothing is left (mounts, links, cgroups, containers)
  cpu        CPU time of the whole machine (every process and the kernel, /proc/stat) from the start of the
             converge until all run, and of the teardown, per partition; and how busy the cores were until all
             ran; and of that CPU, the converging tool's own (the playbook with its module and the runc, nft and
             other commands it ran; the bare script with its runc, ip and mount), the rest being the partitions' boot.
             Where the floor keeps the cores busy already, no scheduling makes the collection faster than it: only
             less CPU per partition does

The per-partition cost (converge, running and teardown divided by N) is tabled across sizes: flat means the
largest N costs each partition what the smallest does. --profile runs info and rerun once more at the largest
size under cProfile: DIR/<time>-profile/{info,rerun}-<N>.txt (top functions) and .prof.

Then the comparisons, each with its own N partitions (0 skips it; where it cannot run, the report says why):
  --lxc N        the same partitions by Debian's lxc (lxc.py): converge, running, memory, teardown
  --runtimes N   the collection with runtime crun against runc (where both run: crun refuses cgroup v1 hosts)
  --tenants N    the first-partition cost of N new tenants and the template's disk per tenant (tenants.py)

Then, for each size of --inside-sizes (an empty list skips them, as an empty --sizes skips the above), the rows
that reach inside partitions (inside.py): a ping play through the connection plugin versus SSH into sshd in the
same partitions, put_file/fetch_file throughput, and the inventory plugin's listing.

Then the hosting operations (operations.py) on one partition with --operations-mib MiB of its own files (0 skips
them): snapshot, backup and restore times and the archive's size, and move.yml's downtime next to a cold copy of
the same files. --only-operations runs only these (no N partitions, nothing inside).
"""

from __future__ import absolute_import, division, print_function

import argparse
import copy
import datetime
import glob
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import inside
import lxc
import operations
import readpaths

try:  # the tenants' figures (issue 18's idmapped templates) come with benchmarks/tenants.py
    import tenants as tenants_bench
except ImportError:
    tenants_bench = None

HERE = os.path.dirname(os.path.abspath(__file__))
STATE = "/var/tmp/linuxvps-bench"
BARE = "/var/tmp/linuxvps-bench-bare"
BRIDGE = "lvbench0"
GATEWAY = "10.213.64.1"
PREFIX = 22
TEMPLATE = "debian12"
TENANT = "bench"
ANCHOR = "bench-anchor"
MEMORY = 256 * 1024 ** 2
MEMORY_UPDATED = 320 * 1024 ** 2
PIDS = 1024
SYSTEMD_STOP = 37  # SIGRTMIN+3
RUNNING_TIMEOUT = 600
# What a phase may fail with (a command, a file, a figure missing): reported with what was measured so far
FAILURES = (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError)
LXC_RUNNING_TIMEOUT = 180  # LXC's 100 run in well under a minute where they run at all


def log(message):
    sys.stdout.write("bench: %s\n" % message)
    sys.stdout.flush()


def address(index):
    value = 10 + index  # 10.213.64.10 and up, inside 10.213.64.0/22
    return "10.213.%d.%d" % (64 + value // 256, value % 256)


def name_of(index):
    return "b%03d" % index


def mem_available():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def settle_memory():
    subprocess.call(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")
    time.sleep(2)
    return mem_available()


# ---- the collection ---------------------------------------------------------------------------
class Collection:
    def __init__(self, workdir, workers=None):
        self.workdir = workdir
        self.workers = workers  # the list form's workers (None: the module's default)
        self.env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_STDOUT_CALLBACK="default",
                        ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False")

    def playbook(self, name, extra=None):
        cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", os.path.join(HERE, "playbooks", name)]
        if extra is not None:
            path = os.path.join(self.workdir, "vars.json")
            with open(path, "w") as handle:
                json.dump(extra, handle)
            cmd += ["-e", "@" + path]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        elapsed = time.monotonic() - started
        output = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0:
            sys.stdout.write(output)
            raise RuntimeError("ansible-playbook %s failed" % name)
        changed = [line for line in output.splitlines() if line.startswith("localhost") and "changed=" in line]
        return elapsed, any("changed=0" not in line for line in changed)

    def partitions(self, count, memory=MEMORY, cpu_weight=100, state="started"):
        return dict({} if self.workers is None else {"bench_workers": self.workers}, **{"bench_state_dir": STATE, "bench_partitions": [
            {"name": name_of(i), "state": state, "hostname": name_of(i),
             "resources": {"memory": memory, "pids": PIDS, "cpu_weight": cpu_weight},
             "interfaces": [{"network": BRIDGE, "addresses": [address(i)]}]} for i in range(count)]})


def engine_paths():
    """cgroup parent of the bench state directory (the collection's own naming), and the tenant's ID base."""
    from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import cgroup_parent
    from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import IdRanges, owner_key
    return cgroup_parent(STATE), IdRanges().lookup(owner_key(STATE, TENANT))


def runc(*args, **kwargs):
    return subprocess.run(["runc", "--root", kwargs.pop("root")] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=kwargs.pop("check", True), **kwargs)


def wait_running(root, names, started, binary="runc"):
    """Seconds from started until every init reports running or degraded."""
    deadline = time.monotonic() + RUNNING_TIMEOUT
    for name in names:
        while True:
            state = subprocess.run([binary, "--root", root, "exec", name, "systemctl", "is-system-running"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False).stdout.decode().strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%s: init reports %r after %d s" % (name, state, RUNNING_TIMEOUT))
            time.sleep(0.2)
    return time.monotonic() - started


def box_cpu():
    """Seconds of CPU the whole machine has spent (every core, user and kernel; not idle, not waiting on I/O)."""
    with open("/proc/stat") as handle:
        ticks = [int(field) for field in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / float(os.sysconf("SC_CLK_TCK"))


def tool_cpu():
    """Seconds of CPU this process and the processes it waited for (and theirs) have spent: the playbook with its
    module, runc and nft; or the bare floor's script with its runc, ip and mount."""
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def running_cpu_rows(result, count, cpu_start):
    """The machine's CPU per partition from the converge's start until all ran, and how busy its cores were."""
    spent = box_cpu() - cpu_start
    result["cpu_ms_each"] = spent / count * 1000
    result["busy_pct"] = 100 * spent / (result["running"] * (os.cpu_count() or 1))


def cgroup_usage(parent):
    with open("/sys/fs/cgroup/memory/%s/memory.usage_in_bytes" % parent) as handle:
        return int(handle.read())


def ours(link, prefixes):
    """A host link of the bench. Other state directories on a shared host make links named alike, so the
    collection's are told by the owner mark of the bench's state directory (prefixes None), the bare floor's
    by name and by having no mark."""
    try:
        with open("/sys/class/net/%s/ifalias" % link) as handle:
            alias = handle.read().strip()
    except OSError:
        return False
    if prefixes is None:
        with open(os.path.join(STATE, "identity")) as handle:
            return alias.startswith("linuxvps:%s:" % handle.read().strip())
    return not alias and any(link.startswith(prefix) for prefix in prefixes)


def leftovers(prefix_links, cgroup_parent, runtime_root, mount_prefix, keep=()):
    """What is left of the partitions: containers, mounts, host links (see ours), cgroups."""
    found = []
    states = runc("list", "-q", root=runtime_root, check=False).stdout.decode().split() if os.path.isdir(runtime_root) else []
    found += ["container " + name for name in states if name not in keep]
    with open("/proc/self/mountinfo") as handle:
        found += ["mount " + line.split()[4] for line in handle if line.split()[4].startswith(mount_prefix)
                  and not any(("/%s/" % k) in line.split()[4] for k in keep)]
    found += ["link " + name for name in os.listdir("/sys/class/net") if name != BRIDGE and ours(name, prefix_links)]
    for controller in ("memory", "pids", "cpu"):
        base = "/sys/fs/cgroup/%s/%s" % (controller, cgroup_parent)
        if os.path.isdir(base):
            found += ["cgroup %s/%s" % (controller, entry) for entry in os.listdir(base)
                      if os.path.isdir(os.path.join(base, entry)) and entry not in keep]
    return found


def run_collection(count, collection, cgroup_parent, profile_dir=None):
    result = {}
    names = [name_of(i) for i in range(count)]
    before = settle_memory()
    started, cpu_start = time.monotonic(), box_cpu()
    try:
        tool_start = tool_cpu()
        result["converge"], _converged = collection.playbook("converge.yml", collection.partitions(count))
        result["tool_cpu_ms_each"] = (tool_cpu() - tool_start) / count * 1000
        result["running"] = wait_running(os.path.join(STATE, "runc"), names, started)
        running_cpu_rows(result, count, cpu_start)
        time.sleep(3)
        after = settle_memory()
        result["host_mib_each"] = (before - after) / count / 1024 ** 2
        result["cgroup_mib_each"] = cgroup_usage(cgroup_parent) / count / 1024 ** 2
        result["inventory"] = inside.list_inventory(STATE, collection.workdir, collection.env, names)
        result["info"], _changed = collection.playbook("info.yml", {"bench_state_dir": STATE, "bench_count": count})
        result["info_module"] = readpaths.info(STATE, collection.workdir, count, profile_dir)
        result["rerun"], changed = collection.playbook("converge.yml", collection.partitions(count))
        if changed:
            raise RuntimeError("the idempotent re-run reported a change")
        module_args = {"partitions": collection.partitions(count)["bench_partitions"], "rootfs": TEMPLATE,
                       "tenant": TENANT, "state_dir": STATE}
        result["rerun_module"] = readpaths.rerun(module_args, collection.workdir, count, profile_dir)
        result["update"], changed = collection.playbook("converge.yml", collection.partitions(count, MEMORY_UPDATED, 200))
        sample = "/sys/fs/cgroup/memory/%s/%s.tenant/%s/memory.limit_in_bytes" % (cgroup_parent, TENANT, names[-1])
        with open(sample) as handle:
            if not changed or int(handle.read()) != MEMORY_UPDATED:
                raise RuntimeError("the live limit change did not reach %s" % sample)
    except BaseException:  # the partitions go even when a phase fails (teardown.yml keeps them otherwise)
        collection.playbook("converge.yml", collection.partitions(count, state="absent"))
        raise
    cpu_start = box_cpu()
    result["teardown"], _removed = collection.playbook("converge.yml", collection.partitions(count, state="absent"))
    result["teardown_cpu_ms_each"] = (box_cpu() - cpu_start) / count * 1000
    result["left"] = leftovers(None, cgroup_parent, os.path.join(STATE, "runc"), os.path.join(STATE, "partitions"),
                               keep=(ANCHOR,))
    return result


# ---- the bare floor ---------------------------------------------------------------------------
class Bare:
    """The same partitions by hand: overlay mount, runc with limits in its config, ip for the veth."""

    root = os.path.join(BARE, "runc")
    parent = "linuxvps-bench-bare"

    def __init__(self, config, lower, base):
        self.config = config
        self.lower = lower
        self.base = base

    def create(self, index):
        name = name_of(index)
        bundle = os.path.join(BARE, name)
        upper, work, rootfs = (os.path.join(bundle, part) for part in ("upper", "work", "rootfs"))
        for path in (upper, work, rootfs):
            os.makedirs(path)
        os.chown(upper, self.base, self.base)
        subprocess.check_call(["mount", "-t", "overlay", "overlay", "-o",
                               "lowerdir=%s,upperdir=%s,workdir=%s" % (self.lower, upper, work), rootfs])
        etc = os.path.join(upper, "etc")
        os.makedirs(etc)
        os.chown(etc, self.base, self.base)
        with open(os.path.join(etc, "hostname"), "w") as handle:
            handle.write(name + "\n")
        os.chown(os.path.join(etc, "hostname"), self.base, self.base)
        config = copy.deepcopy(self.config)
        config["root"] = {"path": rootfs, "readonly": False}
        config["hostname"] = name
        config["linux"]["cgroupsPath"] = "/%s/%s" % (self.parent, name)
        config["linux"]["resources"] = dict(config["linux"].get("resources") or {}, memory={"limit": MEMORY},
                                            pids={"limit": PIDS}, cpu={"shares": 1024})
        config.pop("annotations", None)
        with open(os.path.join(bundle, "config.json"), "w") as handle:
            json.dump(config, handle)
        with open(os.path.join(bundle, "console.log"), "wb") as console:
            subprocess.check_call(["runc", "--root", self.root, "create", "--bundle", bundle, "--pid-file",
                                   os.path.join(bundle, "pid"), name], stdout=console, stderr=console)
        with open(os.path.join(bundle, "pid")) as handle:
            pid = handle.read().strip()
        self.delegate_cgroup(name)
        host = "lvb%s" % name
        subprocess.check_call(["ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", pid])
        subprocess.check_call(["ip", "link", "set", host, "master", BRIDGE, "up"])
        subprocess.check_call(["nsenter", "-t", pid, "-n", "sh", "-c",
                               "ip link set lo up && ip addr add %s/%d dev eth0 && ip link set eth0 up && "
                               "ip route add default via %s" % (address(index), PREFIX, GATEWAY)])
        runc("start", name, root=self.root)

    def delegate_cgroup(self, name):
        """Hand the container's cgroups to its root, so systemd inside can make its own (as the collection does)."""
        for directory in glob.glob("/sys/fs/cgroup/*/%s/%s" % (self.parent, name)):
            for entry in ("", "cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release",
                          "cgroup.subtree_control", "cgroup.threads"):
                path = os.path.join(directory, entry) if entry else directory
                if os.path.exists(path):
                    os.chown(path, self.base, self.base)

    def teardown(self, count):
        names = [name_of(i) for i in range(count)]
        for name in names:
            runc("kill", name, str(SYSTEMD_STOP), root=self.root, check=False)
        for name in names:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = runc("state", name, root=self.root, check=False)
                if state.returncode != 0 or json.loads(state.stdout or b"{}").get("status") == "stopped":
                    break
                time.sleep(0.1)
            runc("delete", "--force", name, root=self.root, check=False)
            subprocess.call(["ip", "link", "del", "lvb" + name], stderr=subprocess.DEVNULL)
            subprocess.call(["umount", os.path.join(BARE, name, "rootfs")], stderr=subprocess.DEVNULL)
            shutil.rmtree(os.path.join(BARE, name), ignore_errors=True)  # a failed run's teardown: some were never made
        for controller_dir in glob.glob("/sys/fs/cgroup/*/%s" % self.parent):
            try:
                os.rmdir(controller_dir)
            except OSError:
                pass  # said by leftovers()


def run_bare(count, bare):
    result = {}
    names = [name_of(i) for i in range(count)]
    before = settle_memory()
    started, cpu_start = time.monotonic(), box_cpu()
    try:
        tool_start = tool_cpu()
        for index in range(count):
            bare.create(index)
        result["converge"] = time.monotonic() - started
        result["tool_cpu_ms_each"] = (tool_cpu() - tool_start) / count * 1000
        result["running"] = wait_running(Bare.root, names, started)
        running_cpu_rows(result, count, cpu_start)
        time.sleep(3)
        after = settle_memory()
        result["host_mib_each"] = (before - after) / count / 1024 ** 2
        result["cgroup_mib_each"] = cgroup_usage(Bare.parent) / count / 1024 ** 2
    except BaseException:
        bare.teardown(count)
        raise
    started, cpu_start = time.monotonic(), box_cpu()
    bare.teardown(count)
    result["teardown"] = time.monotonic() - started
    result["teardown_cpu_ms_each"] = (box_cpu() - cpu_start) / count * 1000
    result["left"] = leftovers(["lvbb"], Bare.parent, Bare.root, BARE)
    return result


# ---- driver -----------------------------------------------------------------------------------
def machine():
    with open("/proc/meminfo") as handle:
        total = int(handle.readline().split()[1]) * 1024
    cgroup = "v1 hybrid" if os.path.isdir("/sys/fs/cgroup/memory") else "v2"
    runc_version = subprocess.run(["runc", "--version"], stdout=subprocess.PIPE, check=False).stdout.decode().splitlines()
    ansible_version = subprocess.run(["ansible", "--version"], stdout=subprocess.PIPE, check=False).stdout.decode().splitlines()
    return {"cpus": os.cpu_count(), "memory_gib": round(total / 1024 ** 3, 1), "kernel": platform.release(),
            "load_at_end": " ".join("%.1f" % load for load in os.getloadavg()),  # a shared host is a noisy one
            "cgroup": cgroup, "runc": runc_version[0] if runc_version else None,
            "ansible": ansible_version[0] if ansible_version else None}


ROWS = [("converge", "create + start all (s)"), ("running", "until all inits report running (s)"),
        ("rerun", "idempotent re-run, playbook (s)"), ("rerun_module", "idempotent re-run, module process (s)"),
        ("info", "partition_info of all, playbook (s)"), ("info_module", "partition_info of all, module process (s)"),
        ("update", "live limit change, all (s)"),
        ("host_mib_each", "host memory per partition (MiB)"), ("cgroup_mib_each", "cgroup memory per partition (MiB)"),
        ("inventory", "inventory plugin listing (s)"), ("teardown", "teardown (s)"),
        ("cpu_ms_each", "CPU of the whole machine per partition, until all run (ms)"),
        ("busy_pct", "cores busy until all run (%)"),
        ("tool_cpu_ms_each", "of which the converging tool and the commands it ran, per partition (ms)"),
        ("teardown_cpu_ms_each", "CPU of the whole machine per partition, teardown (ms)")]
# Issue 18's targets at the largest size: (key, limit, what it says)
TARGETS = [("info_module", 2.0, "partition_info of all, module process < 2 s"),
           ("rerun", 5.0, "idempotent re-run, playbook < 5 s"),
           ("host_mib_each", 10.0, "host memory per partition < 10 MiB")]
FLAT = 1.25  # per-partition cost at the largest N within this factor of the smallest N's: flat


def table(results):
    lines = []
    for count, sides in sorted(results.items()):
        lines += ["", "N = %d" % count, "", "| metric | collection | bare floor | ratio |", "| --- | ---: | ---: | ---: |"]
        for key, label in ROWS:
            ours, floor = sides["collection"].get(key), sides["bare"].get(key)
            ratio = "%.2f" % (ours / floor) if ours is not None and floor else "-"
            lines.append("| %s | %s | %s | %s |" % (label, "-" if ours is None else "%.1f" % ours,
                                                    "-" if floor is None else "%.1f" % floor, ratio))
        for side in ("collection", "bare"):
            lines.append("\nleft after %s teardown: %s" % (side, ", ".join(sides[side]["left"]) or "nothing"))
    return "\n".join(lines) + "\n"


def fmt(value, digits=1):
    return "-" if value is None else "%.*f" % (digits, value)


def scale_table(results):
    """Per-partition cost across sizes, the read paths, memory; the targets at the largest size."""
    if not results:
        return ""
    lines = ["", "Scale: per-partition cost (ms each) and the read paths by size", "",
             "| N | converge each | running each | teardown each | partition_info, module (playbook) s | "
             "re-run, module (playbook) s | host MiB each | cgroup MiB each |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    each = {}
    for count, sides in sorted(results.items()):
        ours, floor = sides["collection"], sides["bare"]
        each[count] = dict((key, ours[key] / count * 1000) for key in ("converge", "running", "teardown") if ours.get(key) is not None)
        lines.append("| %d | %s (floor %s) | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %s | %s |" % (
            count, fmt(each[count].get("converge"), 0), fmt(floor["converge"] / count * 1000, 0),
            fmt(each[count].get("running"), 0), fmt(floor["running"] / count * 1000, 0),
            fmt(each[count].get("teardown"), 0), fmt(floor["teardown"] / count * 1000, 0),
            fmt(ours.get("info_module"), 2), fmt(ours.get("info"), 2), fmt(ours.get("rerun_module"), 2), fmt(ours.get("rerun"), 2),
            fmt(ours.get("host_mib_each")), fmt(ours.get("cgroup_mib_each"))))
    low, high = min(each), max(each)
    lines.append("")
    if low != high:
        for key in ("converge", "running", "teardown"):
            ratio = each[high][key] / each[low][key] if each[low].get(key) else None
            lines.append("- %s per partition, N=%d against N=%d: %s (%s)" % (
                key, high, low, fmt(ratio, 2), "flat" if ratio is not None and ratio <= FLAT else "NOT flat (> %.2f)" % FLAT))
    for key, limit, label in TARGETS:
        value = results[high]["collection"].get(key)
        lines.append("- N=%d: %s: %s (%s)" % (high, label, fmt(value, 2),
                                              "met" if value is not None and value < limit else "NOT met"))
    return "\n".join(lines) + "\n"


def lxc_table(figures, results):
    """LXC's figures beside the collection's and the floor's at the same N (when measured in this run)."""
    if not figures:
        return ""
    lines = ["", "LXC (Debian's lxc %s), N = %s" % (figures.get("version") or "?", figures.get("count"))]
    if figures.get("skipped"):
        return "\n".join(lines + ["", "LXC side skipped: %s" % figures["skipped"]]) + "\n"
    sides = results.get(figures["count"]) or {}
    ours, floor = sides.get("collection") or {}, sides.get("bare") or {}
    lines += ["", "| metric | collection | bare floor | LXC | collection / LXC |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in (("converge", "create + start all (s)"), ("running", "until all inits report running (s)"),
                       ("host_mib_each", "host memory per partition (MiB)"), ("cgroup_mib_each", "cgroup memory per partition (MiB)"),
                       ("teardown", "teardown (s)")):
        theirs = figures.get(key)
        ratio = ours[key] / theirs if ours.get(key) is not None and theirs else None
        lines.append("| %s | %s | %s | %s | %s |" % (label, fmt(ours.get(key)), fmt(floor.get(key)), fmt(theirs), fmt(ratio, 2)))
    lines.append("\nleft after LXC teardown: %s" % (", ".join(figures.get("left") or []) or "nothing"))
    return "\n".join(lines) + "\n"


def runtimes_table(figures):
    if not figures:
        return ""
    lines = ["", "crun against runc, N = %s" % figures.get("count")]
    if figures.get("skipped"):
        return "\n".join(lines + ["", "crun side skipped: %s" % figures["skipped"]]) + "\n"
    lines += ["", "| metric | runc | crun | crun / runc |", "| --- | ---: | ---: | ---: |"]
    for key, label in (("converge", "create + start all (s)"), ("running", "until all inits report running (s)"),
                       ("host_mib_each", "host memory per partition (MiB)"), ("teardown", "teardown (s)")):
        runc_value, crun_value = figures["runc"].get(key), figures["crun"].get(key)
        ratio = crun_value / runc_value if runc_value and crun_value is not None else None
        lines.append("| %s | %s | %s | %s |" % (label, fmt(runc_value), fmt(crun_value), fmt(ratio, 2)))
    return "\n".join(lines) + "\n"


def tenants_table(figures):
    if not figures:
        return ""
    lines = ["", "New tenants, %s of them" % figures.get("count")]
    if figures.get("skipped"):
        return "\n".join(lines + ["", "tenants' figures skipped: %s" % figures["skipped"]]) + "\n"
    table_of = getattr(tenants_bench, "table", None)
    body = table_of(figures) if table_of is not None else "```\n%s\n```" % json.dumps(figures, indent=1, sort_keys=True)
    return "\n".join(lines + ["", body]) + "\n"


def lxc_version():
    proc = subprocess.run(["lxc-start", "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False) \
        if shutil.which("lxc-start") else None
    return proc.stdout.decode().strip() if proc is not None and proc.returncode == 0 else None


def run_lxc(count, base):
    """The LXC side's figures, or {"skipped": why} where LXC cannot run the bench's partitions here."""
    figures = {"count": count, "version": lxc_version()}
    why = lxc.unavailable(BRIDGE)
    if why is not None:
        log("LXC side skipped: %s" % why)
        return dict(figures, skipped=why)
    side = lxc.Lxc(template_lower(base), base, BRIDGE, GATEWAY, PREFIX, MEMORY, PIDS)
    try:
        figures.update(lxc.run(count, side, [name_of(i) for i in range(count)], [address(i) for i in range(count)],
                               settle_memory, LXC_RUNNING_TIMEOUT))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        log("LXC side failed: %s" % exc)
        return dict(figures, skipped="LXC failed on this host: %s" % exc)
    return figures


def crun_unavailable():
    """Why the collection cannot run partitions with crun here, or None."""
    try:
        unified = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"], stdout=subprocess.PIPE,
                                 check=False).stdout.decode().strip() == "cgroup2fs"
    except OSError:
        unified = False
    if not unified:
        return ("this host's cgroups are v1 or hybrid (/sys/fs/cgroup is not a cgroup2 filesystem): crun refuses them, "
                "and runtime: auto keeps runc here%s" % ("" if shutil.which("crun") else "; crun is not installed either"))
    if shutil.which("crun") is None:
        return "crun is not installed (`make bench` installs it on a cgroup v2 host)"
    return None


def run_runtimes(count, collection, cgroup_parent):
    """The collection's figures with runtime runc and with runtime crun, or {"skipped": why}."""
    figures = {"count": count}
    why = crun_unavailable()
    if why is not None:
        log("crun vs runc skipped: %s" % why)
        return dict(figures, skipped=why)
    names = [name_of(i) for i in range(count)]
    for runtime in ("runc", "crun"):
        result = {}
        wanted = dict(collection.partitions(count), bench_runtime=runtime)
        before = settle_memory()
        started = time.monotonic()
        try:
            result["converge"], _changed = collection.playbook("converge.yml", wanted)
            root = os.path.join(STATE, runtime) if os.path.isdir(os.path.join(STATE, runtime)) else os.path.join(STATE, "runc")
            result["running"] = wait_running(root, names, started, binary=runtime)
            time.sleep(3)
            result["host_mib_each"] = (before - settle_memory()) / count / 1024 ** 2
        finally:
            started = time.monotonic()
            collection.playbook("converge.yml", dict(wanted, **collection.partitions(count, state="absent")))
            result["teardown"] = time.monotonic() - started
        figures[runtime] = result
        log("N=%d %s: %s" % (count, runtime, json.dumps(result)))
    return figures


def run_tenant_figures(count):
    if tenants_bench is None:
        why = "benchmarks/tenants.py is not on this branch (it comes with the idmapped templates of issue 18)"
        log("tenants' figures skipped: %s" % why)
        return {"count": count, "skipped": why}
    path = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]
    return tenants_bench.run_tenants(path, count=count, log=log)


def template_lower(base):
    """The bench tenant's view of the template, as the collection's partitions take it: its idmapped mount (kept
    while the anchor partition exists) or, where the host refuses those, its shifted copy."""
    idmapped = os.path.join(STATE, "rootfs", ".idmapped", "%s@%d" % (TEMPLATE, base))
    with open("/proc/self/mountinfo") as handle:  # os.path.ismount misses a bind mount of the same filesystem
        mounted = any(line.split()[4] == idmapped for line in handle)
    return idmapped if mounted else os.path.join(STATE, "rootfs", TEMPLATE, "shifted-%d" % base)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,100,200")
    parser.add_argument("--inside-sizes", default="100", help="sizes of the rows that reach inside partitions")
    parser.add_argument("--operations-mib", type=int, default=1024,
                        help="MiB of own files of the partition of the hosting operations' figures (0 skips them)")
    parser.add_argument("--only-operations", action="store_true", help="only the hosting operations' figures")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--lxc", type=int, default=100, help="partitions of the LXC side (0 skips it)")
    parser.add_argument("--runtimes", type=int, default=100, help="partitions of the crun against runc side (0 skips it)")
    parser.add_argument("--tenants", type=int, default=20, help="new tenants of the tenants' figures (0 skips them)")
    parser.add_argument("--profile", action="store_true", help="cProfile of info and rerun at the largest size")
    parser.add_argument("--workers", type=int, help="the partition module's workers (default: its own default)")
    args = parser.parse_args(argv)
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    profile_dir = os.path.join(args.results, stamp + "-profile") if args.profile else None
    sizes = [int(size) for size in args.sizes.split(",") if size and not args.only_operations]
    inside_sizes = [int(size) for size in args.inside_sizes.split(",") if size and not args.only_operations]
    for key in ("max_user_instances", "max_user_watches"):  # systemd partitions each take inotify instances
        with open("/proc/sys/fs/inotify/" + key, "w") as handle:
            handle.write("1048576\n")
    log("load average at the start: %s" % " ".join("%.1f" % load for load in os.getloadavg()))
    workdir = tempfile.mkdtemp(prefix="linuxvps-bench-")
    collection = Collection(workdir, args.workers)
    log("setup: template, bridge, and a stopped anchor partition that keeps the tenant's view of the template")
    collection.playbook("setup.yml", {"bench_state_dir": STATE})
    if inside_sizes:
        collection.playbook("inside_setup.yml", {"bench_state_dir": STATE})
    cgroup_parent, base = engine_paths()
    with open(os.path.join(STATE, "partitions", ANCHOR, "bundle", "config.json")) as handle:
        config = json.load(handle)
    bare = Bare(config, template_lower(base), base)
    results, reached, operated, compared, failed = {}, {}, {}, {}, []
    try:
        for count in sizes:
            try:
                log("N=%d: bare floor" % count)
                floor = run_bare(count, bare)
                log("N=%d: collection" % count)
                ours = run_collection(count, collection, cgroup_parent, profile_dir if count == max(sizes) else None)
            except FAILURES as exc:  # the sizes measured so far are still reported, the failure with them
                failed.append("N=%d: %s" % (count, exc))
                log("N=%d failed: %s" % (count, exc))
                break
            results[count] = {"collection": ours, "bare": floor}
            log("N=%d: %s" % (count, json.dumps(results[count])))
        for key, wanted, measure in (("lxc", args.lxc, lambda: run_lxc(args.lxc, base)),
                                     ("runtimes", args.runtimes, lambda: run_runtimes(args.runtimes, collection, cgroup_parent)),
                                     ("tenants", args.tenants, lambda: run_tenant_figures(args.tenants))):
            if not wanted:
                continue
            log("%s: %d" % (key, wanted))
            try:
                compared[key] = measure()
            except FAILURES as exc:
                failed.append("%s: %s" % (key, exc))
                compared[key] = {"count": wanted, "skipped": "failed: %s" % exc}
            log("%s: %s" % (key, json.dumps(compared[key])))
        for count in inside_sizes:
            log("N=%d: inside partitions, connection plugin and SSH" % count)
            reached[count] = inside.run(count, collection, STATE, workdir, wait_running, lambda: leftovers(
                None, cgroup_parent, os.path.join(STATE, "runc"), os.path.join(STATE, "partitions"), keep=(ANCHOR,)))
            log("N=%d inside: %s" % (count, json.dumps(reached[count])))
        if args.operations_mib:
            log("hosting operations, %d MiB of own files" % args.operations_mib)
            operated = operations.run(args.operations_mib, STATE, TEMPLATE, collection, workdir)
            log("operations: %s" % json.dumps(operated))
    finally:
        collection.playbook("teardown.yml", {"bench_state_dir": STATE})
        shutil.rmtree(workdir)
    if not os.path.isdir(args.results):
        os.makedirs(args.results)
    report = {"machine": machine(), "template": "Debian 12 (systemd), overlay clones", "results": results,
              "inside": reached, "operations": operated, "compared": compared, "failed": failed}
    with open(os.path.join(args.results, stamp + ".json"), "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    text = "Machine: %s\n%s%s%s%s%s%s%s%s" % (
        json.dumps(report["machine"]), "".join("\nFAILED (an incomplete run): %s\n" % failure for failure in failed),
        table(results), scale_table(results), lxc_table(compared.get("lxc"), results),
        runtimes_table(compared.get("runtimes")), tenants_table(compared.get("tenants")), inside.table(reached),
        operations.table(operated))
    with open(os.path.join(args.results, stamp + ".md"), "w") as handle:
        handle.write(text)
    sys.stdout.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
