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

from ansible_collections.linuxvps.partitions.plugins.module_utils import blockdev, cgroups, firewall, idmapped, net, slices, supervisor
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


TEMPLATE_ACTIONS = ("prepare", "clone", "reset_disk", "start")  # the plan actions that take the template (lower_root)


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
        """(tree, manifest) the partition's disk is made from: the template itself when it has no ID range; else the
        template through an idmapped mount to the range where this host allows one, or a copy shifted to the range."""
        name = spec["rootfs"]
        root, manifest = self.templates.get(name)
        if base is None:
            return root, manifest
        if spec.get("idmapped_template", True) and self.templates.idmapped_refusal(name) is None:
            try:
                root = self.templates.idmapped_root(name, base)
            except OSError as exc:
                self.templates.refused(name, idmapped.explain(exc, root))  # warned by the next plan; this start goes on
            else:
                self.templates.drop_unused_shifted(name, base)  # a partition an earlier start put on it has moved
                return root, manifest
        return self.templates.shifted_root(name, base), manifest

    def template_access(self, spec, lower=None, running=None):
        """How the partition takes its template: 'idmapped', 'shifted_copy', 'direct' (no ID range: privileged), or
        None when it has none to take (storage copy: its own full copy). lower: the tree a start mounted (default:
        what a start would use now). running: the partition's running record, which says what its start used."""
        if (spec.get("storage") or "overlay") != "overlay":
            return None
        if spec.get("privileged"):
            return "direct"
        if running:
            return running.get("template_access", "shifted_copy")  # an earlier version's start: always a shifted copy
        if lower is None:
            forced = not spec.get("idmapped_template", True)
            return "shifted_copy" if forced or self.templates.idmapped_refusal(spec["rootfs"]) else "idmapped"
        return "idmapped" if self.templates.is_idmapped(lower) else "shifted_copy"

    def template_warnings(self, spec, actions):
        """[the warning] when actions take the template (TEMPLATE_ACTIONS) for spec's ID range through a shifted copy,
        saying why (the same text for every partition of the template: one warning per call), else []."""
        if spec.get("privileged") or not spec.get("idmapped_template", True) or \
                not any(action in actions for action in TEMPLATE_ACTIONS):
            return []
        if not self.templates.exists(spec["rootfs"]):
            return []
        why = self.templates.idmapped_refusal(spec["rootfs"])
        if why is None:
            return []
        return ["rootfs %s: partitions in user namespaces use a copy of it shifted to each tenant's ID range (the "
                "template's size on disk per tenant), not an idmapped mount: %s" % (spec["rootfs"], why)]

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

    def observe(self, name, reads=None, limits=True, guards=True):
        """What exists now for one partition. reads: a shared read_host() for calls over many partitions.

        A document that cannot be read is observed as none, with the error in "corrupt": only removing the
        partition can go on without it. What only a plan needs may be left unread (a report shows neither): limits=False
        leaves "live" None (the limits in force), guards=False leaves "unguarded" empty (the nft guard check).
        """
        try:
            document, corrupt = self.store.load_partition(name), None
        except CorruptDocument as exc:
            document, corrupt = None, exc
        state = reads.runtime.get(name) if reads is not None else self.runtime.state(name)
        status = runtime_status(state)
        cgroup = self.cgroup(name, document)
        active = status in ("running", "frozen")
        live = cgroup.read_limits() if limits and active and cgroup.exists() else None
        return {
            "document": document,
            "runtime": state,
            "runtime_exists": state is not None,
            "status": status,
            "pid": state.get("pid") if state and status != "stopped" else None,
            "live": live,
            "disk_exists": os.path.isdir(self.store.partition_dir(name)),
            "corrupt": corrupt,
            "unguarded": self._unguarded(name, document, reads or HostReads(self, runtime={})) if guards and active else [],
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
    and on first need the nft guard chains, the host's own addresses, the addresses every partition records, the
    networks' and tenants' documents. Only for reads that no step of the call changes before it reads them again."""

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

    def networks(self):
        """{network: its document, None where it has none} of every recorded network."""
        store = self._engine.store
        return self._once("networks", lambda: dict((name, store.load_network(name)) for name in store.network_names()))

    def tenant(self, name):
        """The tenant's document (state.StateStore.load_tenant), read once per call."""
        return self._once("tenant " + name, lambda: self._engine.store.load_tenant(name))

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
