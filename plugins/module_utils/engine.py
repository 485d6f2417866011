# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partition engine: the collaborators that act on one state directory, the names and places they give
a partition, and what exists now for one (observe). It changes nothing itself.

The rooms that drive it, each built on a PartitionEngine:

* converge.py  observe -> plan -> apply, for one partition or many: the modules and the boot service
* actions.py   what each planned action does to the host
* launch.py    making a partition run and taking its runtime down (actions and systemd units share it)
* report.py    the partition dicts that modules and partition_info return
* hostcmd.py   the host's own commands: the boot service and the partitions' systemd units

None of them knows Ansible: a module, a plugin, a host command and a bulk call drive them alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev, cgroups, firewall, net, slices, supervisor
from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program
from ansible_collections.linuxvps.partitions.plugins.module_utils.console import CONSOLE_FILE
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import IdRanges, owner_key
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import runtime_status
from ansible_collections.linuxvps.partitions.plugins.module_utils.runtime import select_runtime
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import IO_LIMITS, HostFacts
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR, StateStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import PartitionDisk
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import TemplateStore


class PartitionEngine:
    """One state directory's partitions: the store, the runtime, the host's cgroups and, where systemd
    supervises partitions, its supervisor."""

    def __init__(self, store, runtime, cgroup_host, check_mode=False, unit_supervisor=None, notices=(), id_ranges=None,
                 console_pump=None):
        self.store = store
        self.runtime = runtime
        self.cgroups = cgroup_host
        self.check_mode = check_mode
        self.supervisor = unit_supervisor  # a SystemdSupervisor where systemd supervises partitions, else None
        self.notices = list(notices)  # host-wide warnings every plan that changes something carries
        self.console_pump = console_pump  # rotatelogs, which bounds the console where no journal takes it (console.py)
        self.id_ranges = id_ranges or IdRanges()
        self.parent = cgroups.cgroup_parent(store.root)
        self.templates = TemplateStore(store)
        self.nft_table = firewall.table_name(self.parent)
        self._host_facts = None
        self._provisional_identity = None

    @classmethod
    def open(cls, state_dir=DEFAULT_STATE_DIR, runtime="auto", check_mode=False):
        store = StateStore(state_dir)
        cgroup_host = cgroups.detect()
        unit_supervisor, notice = supervisor.detect(cgroup_host.version)
        return cls(store, select_runtime(runtime, store.root), cgroup_host, check_mode,
                   unit_supervisor, [notice] if notice else [],
                   console_pump=None if unit_supervisor else find_program("rotatelogs"))

    @property
    def host_facts(self):
        if self._host_facts is None:
            self._host_facts = HostFacts.probe(self.cgroups.online_cpus())
        return self._host_facts

    # ---- a partition's names and places on the host ---------------------------------------------
    @property
    def identity(self):
        """The state directory's identity, made here by a run that may write where none is yet (a partition's unit
        restarted by systemd before any run since the upgrade). Check mode and reports get a provisional one where
        there is none: names derived from it are only shown then, never made on the host."""
        found = self.store.identity()
        if found is None and not self.check_mode:
            self.store.ensure_layout()
            found = self.store.identity()
        if found is not None:
            return found
        if self._provisional_identity is None:
            self._provisional_identity = binascii.hexlify(os.urandom(16)).decode()
        return self._provisional_identity

    @property
    def owner(self):
        """The mark of the links this state directory makes (net.Owner)."""
        return net.Owner(self.identity)

    def host_ifname(self, name, ifname):
        """The host end of interface ifname of partition name, as a start now names it."""
        return net.host_ifname(self.identity, name, ifname)

    def host_interfaces(self, name, document):
        """{interface: its host end} of the partition's interfaces: as the running record names them; for a partition an
        earlier version started (its record names none), by that version's naming; else as a start now names them."""
        running = (document or {}).get("running") or {}
        spec = running.get("spec") or (document or {}).get("spec") or {}
        recorded = running.get("host_interfaces")
        names = {}
        for iface in spec.get("interfaces") or []:
            if recorded is not None and iface["name"] in recorded:
                names[iface["name"]] = recorded[iface["name"]]
            elif running and recorded is None:
                names[iface["name"]] = net.legacy_host_ifname(name, iface["name"])
            else:
                names[iface["name"]] = self.host_ifname(name, iface["name"])
        return names

    def tenant_key(self, spec):
        return owner_key(self.store.root, spec.get("tenant") or spec["name"])

    def id_base(self, spec):
        """Host ID the partition's root maps to (its tenant's range, allocated on first use), or None when privileged."""
        if spec.get("privileged"):
            return None
        return self.id_ranges.allocate(self.tenant_key(spec))

    def recorded_id_base(self, spec):
        """The tenant's range start if it has one; allocates nothing (for reports and check mode)."""
        return None if spec.get("privileged") else self.id_ranges.lookup(self.tenant_key(spec))

    def lower_root(self, spec, base):
        """(tree, manifest) the partition's disk is made from: the template, shifted to the ID range when it has one."""
        root, manifest = self.templates.get(spec["rootfs"])
        if base is not None:
            root = self.templates.shifted_root(spec["rootfs"], base)
        return root, manifest

    def disk(self, spec):
        resources = spec.get("resources") or {}
        return PartitionDisk(self.store.partition_dir(spec["name"]), spec.get("storage") or "overlay",
                             quota={"disk": resources.get("disk"), "inodes": resources.get("inodes")})

    def io_devices(self, spec):
        """(['M:m' ...], [why a directory has none]): the whole disks that hold the partition's files, which its I/O
        limits bind on; ([], []) when it sets none. Its directory (writable layer or copy), its quota image's loop
        device when mounted, and its template's directory: only host-owned directories, never its own tree."""
        if not any((spec.get("resources") or {}).get(key) is not None for key in IO_LIMITS):
            return [], []
        return blockdev.devices_of(self._io_paths(spec))

    def tenant_io_devices(self, specs):
        """io_devices of a tenant's cgroup (v2: its io.max binds every partition below it): the state directory's disk
        and every member's, whatever their own limits (specs: the members' specs)."""
        paths = [self.store.root]
        for spec in specs:
            paths += self._io_paths(spec)
        return blockdev.devices_of(paths)

    def _io_paths(self, spec):
        directory = self.store.partition_dir(spec["name"])
        paths = [directory if os.path.isdir(directory) else self.store.root]
        layer = self.disk(spec).layer
        if os.path.isdir(layer):
            paths.append(layer)  # a loop-mounted image: its loop device (a project quota's layer is the same disk)
        paths.append(self.store.rootfs_dir(spec["rootfs"]))
        return paths

    def unit(self, name):
        """The systemd unit that supervises the partition, or None without systemd supervision."""
        return supervisor.unit_name(self.parent, name) if self.supervisor else None

    def cgroup(self, name, document=None):
        """The partition's limit cgroup (its payload, where the runtime puts init, is one level below): where its running
        record says it runs; for a partition an earlier version started (a record without "cgroup"), that version's path,
        outside any tenant's; else where a start now puts it, below its tenant's cgroup.

        document: the partition's document as the caller has it (default: the recorded one); {"spec": spec} for where
        a start of spec puts it.
        """
        if document is None:
            try:
                document = self.store.load_partition(name)
            except CorruptDocument:
                document = None
        running = (document or {}).get("running") or {}
        if running.get("cgroup"):
            return self.cgroups.partition(running["cgroup"])
        tenant = None if running else ((document or {}).get("spec") or {}).get("tenant") or name
        return self.cgroups.partition(cgroups.partition_path(self.parent, name, self.unit(name), tenant))

    def tenant_slice(self, tenant):
        """The systemd slice of the tenant's partition units (slices.tenant_slice)."""
        return slices.tenant_slice(self.parent, tenant)

    def tenant_cgroup(self, tenant):
        """The tenant's cgroup, whose limits bound all its partitions together (a PartitionCgroup at the tenant level, which
        may not exist yet); where systemd supervises partitions its slice's, or None while the slice does not exist."""
        cgroup = self.cgroups.partition(cgroups.tenant_path(self.parent, tenant, systemd=self.supervisor is not None),
                                        payload=False)
        if self.supervisor is not None and not cgroup.exists():
            return None
        return cgroup

    def start_error_file(self, name):
        """Where a systemd unit's start command leaves its error for the run that started the unit."""
        return os.path.join(self.store.partition_dir(name), "start-error")

    def console_log(self, name):
        """The partition's latest console output where no journal takes it (console.py)."""
        return os.path.join(self.store.partition_dir(name), CONSOLE_FILE)

    # ---- what exists now -------------------------------------------------------------------------
    def read_host(self):
        """A HostReads: what one call reads of the host once, for every partition it observes."""
        return HostReads(self)

    def observe(self, name, reads=None):
        """What exists now for one partition. reads: a shared read_host() for calls over many partitions.

        A document that cannot be read is observed as none, with the error in "corrupt": only removing the
        partition can go on without it.
        """
        try:
            document, corrupt = self.store.load_partition(name), None
        except CorruptDocument as exc:
            document, corrupt = None, exc
        state = reads.runtime.get(name) if reads is not None else self.runtime.state(name)
        status = runtime_status(state)
        cgroup = self.cgroup(name, document)
        live = cgroup.read_limits() if status in ("running", "frozen") and cgroup.exists() else None
        return {
            "document": document,
            "runtime": state,
            "runtime_exists": state is not None,
            "status": status,
            "pid": state.get("pid") if state and status != "stopped" else None,
            "live": live,
            "disk_exists": os.path.isdir(self.store.partition_dir(name)),
            "corrupt": corrupt,
            "unguarded": self._unguarded(name, document, reads or HostReads(self, runtime={})) if status in ("running", "frozen") else [],
        }

    def _unguarded(self, name, document, reads):
        """Names of the running interfaces whose host end lost its guard (e.g. to `nft flush ruleset`) or has other rules."""
        running = (document or {}).get("running") or {}
        interfaces = (running.get("spec") or (document or {}).get("spec") or {}).get("interfaces") or []
        if not interfaces:
            return []
        chains = reads.guard_chains()
        hosts = self.host_interfaces(name, document)
        return [iface["name"] for iface in interfaces
                if not firewall.is_guarded(chains, hosts[iface["name"]], firewall.partition_rules(iface))]


def spec_addresses(spec):
    """{ip: partition} of a spec's interfaces."""
    return dict((cidr.split("/")[0], spec["name"])
                for iface in (spec or {}).get("interfaces") or [] for cidr in iface.get("addresses") or [])


class HostReads:
    """What one call reads of the host once, however many partitions it observes or plans: the runtime's listing,
    and on first need the nft guard chains, the host's own addresses and the addresses every partition records."""

    def __init__(self, engine, runtime=None):
        self._engine = engine
        self.runtime = runtime if runtime is not None else (
            engine.runtime.list())  # only the runtimes' roots there are
        self._read = {}

    def _once(self, key, read):
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]

    def guard_chains(self):
        return self._once("guards", lambda: firewall.guard_chains(self._engine.nft_table))

    def host_addresses(self):
        return self._once("host addresses", net.host_addresses)

    def bridge(self, name):
        """net.bridge_state of one bridge."""
        return self._once("bridge " + name, lambda: net.bridge_state(name))

    def partition_tenants(self):
        """{partition: its tenant} over every readable document (a partition that names none is its own tenant)."""
        return self._once("partition tenants", lambda: dict(
            (name, document["spec"].get("tenant") or name)
            for name, document, corrupt in self._engine.store.partition_documents() if corrupt is None))

    def partition_addresses(self):
        """({ip: partition} over every recorded interface, [(partition, CorruptDocument)] whose addresses are unknown)."""
        def read():
            used, unreadable = {}, []
            for name, document, corrupt in self._engine.store.partition_documents():
                if corrupt is not None:
                    unreadable.append((name, corrupt))
                else:
                    used.update(spec_addresses(document["spec"]))
            return used, unreadable
        return self._once("partition addresses", read)
