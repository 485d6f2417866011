# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fake collaborators of the engine: a runtime, a host's cgroups, templates, disks and ID ranges that keep their
state in memory (and a temporary directory) and log every call, so the engine's rooms can be driven without root,
runc or a kernel. The state store is the real one, in a temporary directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
from contextlib import nullcontext

from ansible_collections.linuxvps.partitions.plugins.module_utils import firewall, net, templates
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore, write_json_atomic
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import HOST


class FakeRuntime:
    """Containers as {name: {"status", "pid"}}; calls logged as (verb, name)."""

    name = "runc"

    def __init__(self, log, fail_create=()):
        self.log = log
        self.containers = {}
        self.fail_create = set(fail_create)
        self.next_pid = 1000

    def for_start(self, name, recorded=None):
        """One fake runtime makes every container (runtime.Runtimes picks among real ones)."""
        return self

    def state(self, name):
        return self.containers.get(name)

    def list(self):
        return dict(self.containers)

    def create(self, name, bundle, pid_file, console):
        self.log.append(("create", name))
        if name in self.fail_create:
            raise CommandFailed(["runc", "create", name], 1, "", "container init failed")
        self.next_pid += 1
        with open(pid_file, "w") as handle:
            handle.write("%d\n" % self.next_pid)
        self.containers[name] = {"status": "created", "pid": self.next_pid}

    def start(self, name):
        self.log.append(("start", name))
        self.containers[name]["status"] = "running"

    def kill(self, name, signal):
        self.log.append(("kill", name))

    def stop(self, name, signal, timeout):
        self.log.append(("stop", name))
        if name in self.containers:
            self.containers[name]["status"] = "stopped"

    def delete(self, name):
        self.log.append(("delete", name))
        self.containers.pop(name, None)

    def pause(self, name):
        self.log.append(("pause", name))
        self.containers[name]["status"] = "paused"

    def resume(self, name):
        self.log.append(("resume", name))
        self.containers[name]["status"] = "running"


class FakeCgroup:
    """A partition's cgroup: the limits in force, written through apply_limits."""

    LIMITS = ("memory", "swap", "cpus", "cpu_weight", "cpuset", "pids", "io_weight")

    def __init__(self, host, path):
        self.host = host
        self.path = path
        self.payload_path = path + "/payload"
        self.made = False
        self.lives = 0
        self.limits = dict.fromkeys(self.LIMITS)

    def exists(self):
        return self.made

    def life_key(self):
        return self.lives if self.made else None

    def create(self, owner=None):
        if not self.made:
            self.lives += 1  # a new directory, a new inode
        self.made = True

    def remove(self):
        self.made = False

    def read_limits(self):
        return dict(self.limits)

    def plan_writes(self, resources, devices=None):
        return [(key, self.path, resources.get(key)) for key in self.LIMITS if self.limits[key] != resources.get(key)]

    def apply_limits(self, resources, devices=None):
        self.host.log.append(("limits", self.path))
        self.devices = devices
        self.limits.update((key, resources.get(key)) for key in self.LIMITS)

    def unsupported(self, resources):
        return [(key, "not here") for key in self.host.unenforced if resources.get(key) is not None]

    def read_usage(self):
        return {"memory": {"current": 1}}

    def read_counters(self, local=False):
        """What the kernel counts for this cgroup: the host's `kernel` counters, per path, while it exists."""
        counted = self.host.kernel.get(self.path) or {}
        resource = {"held": None, "maxheld": None, "limit": None, "failcnt": None}
        return {"memory": dict(resource, **counted.get("memory", {})), "swap": dict(resource), "pids": dict(resource, **counted.get("pids", {})),
                "cpu": dict({"held": None, "maxheld": None, "limit": None, "failcnt": None, "throttled_seconds": None}, **counted.get("cpu", {})),
                "oom_kills": counted.get("oom_kills"), "approximate": list(counted.get("approximate", []))}

    def reset_peaks(self):
        return []


class FakeCgroupHost:
    version = 1

    def __init__(self, log, unenforced=()):
        self.log = log
        self.unenforced = unenforced
        self.cgroups = {}
        self.removed_parents = []
        self.swept_tenants = []  # tenant cgroups removed once empty (launch.sweep_tenant)
        self.kernel = {}  # {cgroup path: counters its cgroup reads} (read_counters)

    def online_cpus(self):
        return [0, 1]

    def reading(self):
        return nullcontext()

    def partition(self, path, payload=True):
        return self.cgroups.setdefault(path, FakeCgroup(self, path))

    def has_children(self, parent):
        return any(cgroup.made and path.startswith(parent.rstrip("/") + "/") for path, cgroup in self.cgroups.items())

    def remove_parent(self, parent):
        (self.swept_tenants if parent.endswith(".tenant") else self.removed_parents).append(parent)
        if parent in self.cgroups:
            self.cgroups[parent].made = False


class FakeTemplates:
    """Templates by name, each a directory tree; shifting is a name. Drops logged as ("drop_shifted", base)."""

    def __init__(self, root, names, log):
        self.root = root
        self.names = set(names)
        self.log = log
        self.dropped = []

    def exists(self, name):
        return name in self.names

    def get(self, name):
        return os.path.join(self.root, name), {"init": "/sbin/init"}

    def manifest(self, name):
        return {"init": "/sbin/init", "source": "digest-of-" + name} if name in self.names else None

    def shifted_root(self, name, base):
        return os.path.join(self.root, "%s@%d" % (name, base))

    def drop_shifted(self, base):
        self.log.append(("drop_shifted", base))
        self.dropped.append(base)

    def sweep(self):
        self.log.append(("sweep",))

    # idmapped mounts: refused unless a test sets refusal = None (then the mount is a name, logged when made or dropped)
    refusal = "the fake host makes no idmapped mounts"

    def idmapped_refusal(self, name):
        return self.refusal

    def refused(self, name, why):
        self.refusal = why

    def idmapped_path(self, name, base):
        return os.path.join(self.root, ".idmapped", "%s@%d" % (name, base))

    def is_idmapped(self, path):
        return os.path.dirname(path) == os.path.join(self.root, ".idmapped")

    def idmapped_root(self, name, base):
        self.log.append(("idmapped_root", name, base))
        return self.idmapped_path(name, base)

    def drop_idmapped(self, name=None, base=None):
        self.log.append(("drop_idmapped", name, base))

    def drop_unused_shifted(self, name, base):
        self.log.append(("drop_unused_shifted", name, base))


class FakeDisk:
    """A partition's disk: a plain directory tree standing for the mounted root; remembers its lower layer."""

    disks = {}  # {partition dir: lower layer of the last prepare}, shared by every FakeDisk of one test
    mounted = set()  # partition dirs whose root is mounted, shared likewise

    def __init__(self, partition_dir, log):
        self.dir = partition_dir
        self.log = log
        self.bundle = os.path.join(partition_dir, "bundle")
        self.pid_file = os.path.join(self.bundle, "init.pid")
        self.root_path = os.path.join(self.bundle, "rootfs")
        self.upper = self.root_path  # the own files (partition_files.py): the tree standing for the root
        self.copy = os.path.join(partition_dir, "disk")
        self.work = os.path.join(partition_dir, "work")
        self.layer = os.path.join(partition_dir, "layer")
        self.quota_kind = None

    @property
    def lower(self):
        return self.disks.get(self.dir)

    def prepare(self, lower, owner=None):
        self.log.append(("prepare", os.path.basename(self.dir), os.path.basename(lower)))
        os.makedirs(os.path.join(self.root_path, "etc"), exist_ok=True)
        self.disks[self.dir] = lower

    def mount(self, lower, points=None):
        self.log.append(("mount", os.path.basename(self.dir), os.path.basename(lower)))
        self.mounted.add(self.dir)

    def unmount(self, points=None):
        self.mounted.discard(self.dir)

    def wipe(self, points=None):
        self.log.append(("wipe", os.path.basename(self.dir)))
        self.disks.pop(self.dir, None)

    def destroy(self, points=None):
        self.log.append(("destroy", os.path.basename(self.dir)))
        self.disks.pop(self.dir, None)
        if os.path.isdir(self.dir):
            for top, dirs, files in os.walk(self.dir, topdown=False):
                for name in files:
                    os.unlink(os.path.join(top, name))
                for name in dirs:
                    os.rmdir(os.path.join(top, name))
            os.rmdir(self.dir)

    def usage(self):
        return None

    def size_bytes(self):
        return 0

    def resize(self, disk_bytes):
        self.log.append(("resize", os.path.basename(self.dir), disk_bytes))


class FakeIdRanges:
    """Ranges as {owner: base}; releases logged as ("release", owner)."""

    def __init__(self, log):
        self.log = log
        self.ranges = {}

    def lookup(self, owner):
        return self.ranges.get(owner)

    def allocate(self, owner):
        return self.ranges.setdefault(owner, 100000 + 65536 * len(self.ranges))

    def owned(self, prefix):
        return sorted((owner, base) for owner, base in self.ranges.items() if owner.startswith(prefix))

    def release(self, owner):
        self.log.append(("release", owner))
        self.ranges.pop(owner, None)


class FakeHostNet:
    """Partition interfaces on the host: net's veth calls log ("attach" | "update" | "detach", partition, ifname) and
    the host ends live in `links` ({host end: partition/ifname}); bridges are recorded ones of this state directory. A
    fake `nft` (firewall.run) keeps the netdev chains its scripts make, lists them the way `nft -j` does (counted in
    listings) and loses them all with flush(), as `nft flush ruleset` does. install() puts both in place."""

    RULE = re.compile(r'^add rule netdev \S+ (\S+) .* comment "([^"]*)"$')

    def __init__(self, log):
        self.log = log
        self.table = False
        self.chains = {}  # chain -> [comment of each rule]
        self.listings = 0
        self.links = {}  # host end -> "partition/ifname"
        self.detached = []  # host ends, in the order detach was asked to remove them
        self.bridges = {}  # name -> net.bridge_state()

    def install(self, monkeypatch):
        monkeypatch.setattr(firewall, "find_program", lambda name: "/usr/sbin/" + name)
        monkeypatch.setattr(firewall, "run", self.nft)
        monkeypatch.setattr(net, "attach", self.attach)
        monkeypatch.setattr(net, "update", lambda pid, partition, old, new, host: self.log.append(("update", partition, new["name"])))
        monkeypatch.setattr(net, "detach", self.detach)
        monkeypatch.setattr(net, "set_download_rate", lambda host, partition, ifname, rate, fresh=False: None)
        monkeypatch.setattr(net, "counters", lambda host: dict.fromkeys(net.COUNTERS, 0))
        monkeypatch.setattr(net, "bridge_state", self.bridge_state)
        return self

    def attach(self, pid, partition, iface, host, owner, bridge=None, bridge_unmarked_ok=False):
        self.log.append(("attach", partition, iface["name"]))
        self.links[host] = "%s/%s" % (partition, iface["name"])

    def detach(self, host, partition, ifname, owner):
        self.log.append(("detach", partition, ifname))
        self.detached.append(host)
        self.links.pop(host, None)

    def bridge_state(self, name):
        return self.bridges.get(name) or {"exists": False, "kind": None, "alias": None, "owner": None, "addresses": []}

    def flush(self):
        self.table, self.chains = False, {}

    def nft(self, cmd, stdin_data=None, check=True):
        if cmd[1:] == ["-f", "-"]:
            for line in stdin_data.splitlines():
                words = line.split()
                if words[:3] == ["add", "table", "netdev"]:
                    self.table = True
                elif words[:3] == ["add", "chain", "netdev"]:
                    self.chains.setdefault(words[4], [])
                elif words[:3] == ["flush", "chain", "netdev"]:
                    self.chains[words[4]] = []
                elif words[:3] == ["delete", "chain", "netdev"]:
                    if words[4] not in self.chains:
                        return 1, "", "Error: Could not process rule: No such file or directory"
                    self.chains.pop(words[4])
                elif words[:3] == ["add", "rule", "netdev"]:
                    chain, comment = self.RULE.match(line).groups()
                    self.log.append(("nft rule", chain))
                    self.chains[chain].append(comment)
            return 0, "", ""
        if cmd[1:4] == ["-j", "list", "table"] and cmd[4] == "netdev":
            self.listings += 1
            items = [{"chain": {"name": chain}} for chain in self.chains]
            items += [{"rule": {"chain": chain, "comment": comment}} for chain, comments in self.chains.items() for comment in comments]
            return (0, json.dumps({"nftables": items}), "") if self.table else (1, "", "Error: No such file or directory")
        if cmd[1:4] == ["list", "chain", "netdev"]:
            return (0, "", "") if cmd[5] in self.chains else (1, "", "Error: No such file or directory")
        return 1, "", "Error: No such file or directory"


class FakeStore(StateStore):
    """The real store, except that the search bits of the test's directories are left alone (test_state has its own test)."""

    def ensure_searchable(self, path):
        pass


class FakeEngine(PartitionEngine):
    """A PartitionEngine on fakes; every collaborator's call lands in one ordered log."""

    def __init__(self, state_dir, templates=("debian12", "debian12-alt"), check_mode=False, fail_create=(), unenforced=()):
        self.log = []
        FakeDisk.disks = {}
        FakeDisk.mounted = set()
        super(FakeEngine, self).__init__(FakeStore(state_dir), FakeRuntime(self.log, fail_create), FakeCgroupHost(self.log, unenforced),
                                         check_mode=check_mode, id_ranges=FakeIdRanges(self.log))
        self.templates = FakeTemplates(os.path.join(state_dir, "rootfs"), templates, self.log)
        self._host_facts = HOST

    def disk(self, spec):
        return FakeDisk(self.store.partition_dir(spec["name"]), self.log)

    def checking(self):
        """The same host, seen by a check-mode run."""
        twin = FakeEngine.__new__(FakeEngine)
        twin.__dict__.update(self.__dict__)
        twin.check_mode = True
        return twin


def use_real_templates(engine, monkeypatch, name="debian12"):
    """Give engine the real TemplateStore over a one-directory template (shifting made a no-op, idmapped mounts
    refused: a unit test mounts nothing); its directory."""
    monkeypatch.setattr(templates, "shift_ownership", lambda tree, base: None)
    monkeypatch.setattr(templates.idmapped, "refusal", lambda tree: "unit tests make no idmapped mounts")
    engine.templates = templates.TemplateStore(engine.store)
    engine.store.ensure_layout()
    directory = engine.store.rootfs_dir(name)
    os.makedirs(os.path.join(directory, "rootfs", "etc"))
    write_json_atomic(engine.store.rootfs_manifest(name), {"name": name, "init": "/sbin/init"})
    return directory
