# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Density and speed: N systemd partitions from one Debian 12 template, each with an address on a bridge and
limits, converged by the collection (one ansible-playbook run, the partition module's list form) and by a
bare script doing the same work with runc, mount and ip directly (the floor), in the same run.

    bench.py [--sizes 25,100,200] [--inside-sizes 100] [--operations-mib 1024] [--only-operations] [--results DIR]

Writes DIR/<UTC time>.json and .md (the table, also printed). Run as root; `make bench` does.

Both sides run the same partitions: the bare script takes its config.json from a partition the collection
made (same user namespace range, capabilities, seccomp, mounts), the same template copy shifted to that
range, and limits set by runc from the OCI config. Phases, each timed from its start:
  converge   create and start all N (collection: one playbook run from nothing)
  running    until every partition's init reports running (systemctl is-system-running: running/degraded)
  rerun      the collection again, nothing to change (must report changed=false)
  update     a live limit change across all N (memory and cpu_weight)
  memory     host memory used per partition (MemAvailable before and after / N), and the partitions'
             own cgroup usage per partition
  inventory  `ansible-inventory --list` of the N partitions by the inventory plugin
  teardown   stop and remove all N, then a check that nothing is left (mounts, links, cgroups, containers)

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
import shutil
import subprocess
import sys
import tempfile
import time

import inside
import operations

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
    def __init__(self, workdir):
        self.workdir = workdir
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
        return {"bench_state_dir": STATE, "bench_partitions": [
            {"name": name_of(i), "state": state, "hostname": name_of(i),
             "resources": {"memory": memory, "pids": PIDS, "cpu_weight": cpu_weight},
             "interfaces": [{"network": BRIDGE, "addresses": [address(i)]}]} for i in range(count)]}


def engine_paths():
    """cgroup parent of the bench state directory (the collection's own naming), and the tenant's ID base."""
    from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import cgroup_parent
    from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import IdRanges, owner_key
    return cgroup_parent(STATE), IdRanges().lookup(owner_key(STATE, TENANT))


def runc(*args, **kwargs):
    return subprocess.run(["runc", "--root", kwargs.pop("root")] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=kwargs.pop("check", True), **kwargs)


def wait_running(root, names, started):
    """Seconds from started until every init reports running or degraded."""
    deadline = time.monotonic() + RUNNING_TIMEOUT
    for name in names:
        while True:
            state = runc("exec", name, "systemctl", "is-system-running", root=root, check=False).stdout.decode().strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%s: init reports %r after %d s" % (name, state, RUNNING_TIMEOUT))
            time.sleep(0.2)
    return time.monotonic() - started


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


def run_collection(count, collection, cgroup_parent):
    result = {}
    names = [name_of(i) for i in range(count)]
    before = settle_memory()
    started = time.monotonic()
    try:
        result["converge"], _converged = collection.playbook("converge.yml", collection.partitions(count))
        result["running"] = wait_running(os.path.join(STATE, "runc"), names, started)
        time.sleep(3)
        after = settle_memory()
        result["host_mib_each"] = (before - after) / count / 1024 ** 2
        result["cgroup_mib_each"] = cgroup_usage(cgroup_parent) / count / 1024 ** 2
        result["inventory"] = inside.list_inventory(STATE, collection.workdir, collection.env, names)
        result["rerun"], changed = collection.playbook("converge.yml", collection.partitions(count))
        if changed:
            raise RuntimeError("the idempotent re-run reported a change")
        result["update"], changed = collection.playbook("converge.yml", collection.partitions(count, MEMORY_UPDATED, 200))
        sample = "/sys/fs/cgroup/memory/%s/%s/memory.limit_in_bytes" % (cgroup_parent, names[-1])
        with open(sample) as handle:
            if not changed or int(handle.read()) != MEMORY_UPDATED:
                raise RuntimeError("the live limit change did not reach %s" % sample)
    except BaseException:  # the partitions go even when a phase fails (teardown.yml keeps them otherwise)
        collection.playbook("converge.yml", collection.partitions(count, state="absent"))
        raise
    result["teardown"], _removed = collection.playbook("converge.yml", collection.partitions(count, state="absent"))
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
            subprocess.call(["umount", os.path.join(BARE, name, "rootfs")])
            shutil.rmtree(os.path.join(BARE, name))
        for controller_dir in glob.glob("/sys/fs/cgroup/*/%s" % self.parent):
            os.rmdir(controller_dir)


def run_bare(count, bare):
    result = {}
    names = [name_of(i) for i in range(count)]
    before = settle_memory()
    started = time.monotonic()
    for index in range(count):
        bare.create(index)
    result["converge"] = time.monotonic() - started
    result["running"] = wait_running(Bare.root, names, started)
    time.sleep(3)
    after = settle_memory()
    result["host_mib_each"] = (before - after) / count / 1024 ** 2
    result["cgroup_mib_each"] = cgroup_usage(Bare.parent) / count / 1024 ** 2
    started = time.monotonic()
    bare.teardown(count)
    result["teardown"] = time.monotonic() - started
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
        ("rerun", "idempotent re-run (s)"), ("update", "live limit change, all (s)"),
        ("host_mib_each", "host memory per partition (MiB)"), ("cgroup_mib_each", "cgroup memory per partition (MiB)"),
        ("inventory", "inventory plugin listing (s)"), ("teardown", "teardown (s)")]


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


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,100,200")
    parser.add_argument("--inside-sizes", default="100", help="sizes of the rows that reach inside partitions")
    parser.add_argument("--operations-mib", type=int, default=1024,
                        help="MiB of own files of the partition of the hosting operations' figures (0 skips them)")
    parser.add_argument("--only-operations", action="store_true", help="only the hosting operations' figures")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size and not args.only_operations]
    inside_sizes = [int(size) for size in args.inside_sizes.split(",") if size and not args.only_operations]
    for key in ("max_user_instances", "max_user_watches"):  # systemd partitions each take inotify instances
        with open("/proc/sys/fs/inotify/" + key, "w") as handle:
            handle.write("1048576\n")
    log("load average at the start: %s" % " ".join("%.1f" % load for load in os.getloadavg()))
    workdir = tempfile.mkdtemp(prefix="linuxvps-bench-")
    collection = Collection(workdir)
    log("setup: template, bridge, and a stopped anchor partition that keeps the tenant's shifted template")
    collection.playbook("setup.yml", {"bench_state_dir": STATE})
    if inside_sizes:
        collection.playbook("inside_setup.yml", {"bench_state_dir": STATE})
    cgroup_parent, base = engine_paths()
    with open(os.path.join(STATE, "partitions", ANCHOR, "bundle", "config.json")) as handle:
        config = json.load(handle)
    bare = Bare(config, os.path.join(STATE, "rootfs", TEMPLATE, "shifted-%d" % base), base)
    results, reached, operated = {}, {}, {}
    try:
        for count in sizes:
            log("N=%d: bare floor" % count)
            floor = run_bare(count, bare)
            log("N=%d: collection" % count)
            ours = run_collection(count, collection, cgroup_parent)
            results[count] = {"collection": ours, "bare": floor}
            log("N=%d: %s" % (count, json.dumps(results[count])))
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
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    report = {"machine": machine(), "template": "Debian 12 (systemd), overlay clones", "results": results,
              "inside": reached, "operations": operated}
    with open(os.path.join(args.results, stamp + ".json"), "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    text = "Machine: %s\n%s%s%s" % (json.dumps(report["machine"]), table(results), inside.table(reached),
                                    operations.table(operated))
    with open(os.path.join(args.results, stamp + ".md"), "w") as handle:
        handle.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
