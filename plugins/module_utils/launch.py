# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Making a partition run, and taking its runtime down again.

Launch order: disk (prepared, mounted, identity files) -> bundle (config.json) -> the tenant's cgroup with the
tenant's limits (without systemd; under systemd the tenant's slice holds them) -> cgroup with its limits -> runtime
create -> network interfaces -> runtime start -> the document records what runs (and the cgroup it runs in). A launch
that fails at any step takes down what it made, so a failed start leaves no half-made container.

Two callers: the start and stop actions (actions.py) where nothing supervises partitions, and a partition's
systemd unit (hostcmd.py) where systemd does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups, console as consoles, firewall, lxcfs, net, networks, oci
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import LIMITS_LEAF
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError, CorruptDocument, NetworkError
from ansible_collections.linuxvps.partitions.plugins.module_utils.faults import pause_point
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_tree import configure_identity, write_authorized_keys, write_file
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import RANGE_SIZE
from ansible_collections.linuxvps.partitions.plugins.module_utils.interfaces import resolv_conf
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import read_text
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_counters import PartitionCounters
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import refuse_incomplete
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_counters import TenantCounters


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Launcher:
    """Starts and stops one partition's container with the engine's runtime, cgroups and network."""

    def __init__(self, engine):
        self.engine = engine
        # Held while the cgroups partitions share (the state directory's parent, a tenant's) are made or removed, and
        # the tenants' counter ledgers are read and rewritten: a bulk converge starts and stops partitions in several
        # threads (parallel_apply.py), and a partition's cgroup made in a tenant cgroup that another thread's stop is
        # sweeping away would fail, as would two rewrites of one ledger.
        self.cgroup_tree_lock = threading.RLock()

    def launch(self, document, console, unit_cgroup=None):
        """Make the partition run; return its document with ``running`` recorded (with the cgroup it runs in).

        console: where init's stdio goes (console.py: a bounded ring or a file), or None to keep this process's
        (the journal, in a systemd unit). unit_cgroup: the cgroup of the systemd unit that runs this start, whose
        delegated subtree holds the partition's (wherever systemd put the unit: a unit an earlier version started
        stays in that version's slice when systemd restarts it).
        """
        engine = self.engine
        spec = document["spec"]
        name = spec["name"]
        base = engine.id_base(spec)
        template_root, manifest = engine.lower_root(spec, base)
        disk = engine.disk(spec)
        view = lxcfs.wanted(spec.get("lxcfs"), engine.host_facts.lxcfs)  # lxcfs: true where it does not serve fails here
        refuse_incomplete(disk.dir, name, document.get("restoring"))  # a restore was interrupted: never boot half of it
        PartitionCounters(engine).fold_ended(name, document)  # a life that ended without a stop (a crash, a reboot)
        if engine.runtime.state(name) is not None:
            engine.runtime.delete(name)  # stale container left by a killed run or a host reboot
        # the runtime that made the partition keeps it (runtime.Runtimes.for_start); a new one gets the preferred one
        runtime = engine.runtime.for_start(name, document.get("runtime"))
        hosts = dict((iface["name"], engine.host_ifname(name, iface["name"])) for iface in spec.get("interfaces") or [])
        if unit_cgroup is not None:
            cgroup = engine.cgroups.partition(unit_cgroup.rstrip("/") + "/" + LIMITS_LEAF)
        else:
            cgroup = engine.cgroup(name, {"spec": spec})
        try:
            disk.prepare(template_root, owner=base)
            if base is not None:
                engine.store.ensure_searchable(disk.bundle)  # the runtime reaches the bundle as the partition's root
            disk.mount(template_root)
            configure_identity(disk.root_path, spec["hostname"], owner=base)
            self.write_resolv_conf(disk.root_path, spec, base)
            write_authorized_keys(disk.root_path, spec.get("authorized_keys") or [], owner=base)
            init = manifest.get("init")
            config = oci.build_config(spec, disk.root_path, cgroup.payload_path, init,
                                      secret_env=engine.store.load_secrets(name, spec.get("secret_env") or {}),
                                      annotations={"org.linuxvps.partition": name, "org.linuxvps.state_dir": engine.store.root},
                                      machine=os.uname()[4], id_base=base, id_size=RANGE_SIZE,
                                      lxcfs_mounts=lxcfs.bind_mounts() if view else ())
            # root only (env values, the ID map); not synced: every start writes it again and only this start reads it
            write_json_atomic(os.path.join(disk.bundle, "config.json"), config, sync=False)
            tenant = spec.get("tenant") or name
            with self.cgroup_tree_lock:
                TenantCounters(engine).begin(tenant, engine.tenant_cgroup(tenant))  # a tenant's life a reboot ended
                if engine.supervisor is None:  # under systemd the tenant's slice holds its limits
                    self.ensure_tenant(tenant)
                cgroup.create(owner=base)
            cgroup.apply_limits(spec["resources"], engine.io_devices(spec)[0])  # before init runs: it starts under its limits
            runtime.create(name, disk.bundle, disk.pid_file, console)
            pid = int(read_text(disk.pid_file))  # written by the runtime's create
            for iface in spec.get("interfaces") or []:
                network = iface.get("network")
                net.attach(pid, name, iface, hosts[iface["name"]], engine.owner, network,
                           bridge_unmarked_ok=network is not None and networks.claims_unmarked(engine.store.load_network(network)))
                self.guard(name, iface, hosts[iface["name"]], fresh=True)
            pause_point("start-created")
            runtime.start(name)
            # the host ends by name: a later version's naming still finds (and stops) what this one made
            document = dict(document, runtime=runtime.name,
                            running={"spec": spec, "started": utc_now(), "runtime": runtime.name,
                                     "stop_signal": oci.stop_signal(spec, init), "host_interfaces": hosts,
                                     "cgroup": cgroup.path, "lxcfs": view,
                                     "template_access": engine.template_access(spec, template_root)})
            # recorded before it counts as started: a document that cannot be saved (a full disk) takes the
            # container down, so the host never runs what the document says is stopped
            engine.store.save_partition(name, document)
        except Exception:
            # whatever failed (a full disk as early as the overlay's mount), nothing half-made stays: a mount
            # left behind (read-only, once overlayfs found no room for its work directory) would fail every start
            self.clean_runtime(name, disk, spec, hosts, cgroup)
            raise
        return document

    def ensure_tenant(self, tenant):
        """The tenant's cgroup with the limits its document gives (none: unbounded), made before a partition's cgroup in
        it. Without systemd this is what restores a tenant's limits after a host reboot (the boot service starts the
        partitions); a partition never runs in a tenant cgroup whose limits were not applied."""
        cgroup = self.engine.tenant_cgroup(tenant)
        document = self.engine.store.load_tenant(tenant)  # an unreadable one fails the start: never run unbounded by mistake
        resources = (document or {}).get("resources") or {}
        devices = None  # no I/O limit: the disks need not be looked up
        if any(key.startswith("io_") and key != "io_weight" for key in resources):
            engine = self.engine
            specs = [doc["spec"] for member, doc, _corrupt in engine.store.partition_documents()
                     if doc is not None and doc["spec"].get("tenant", member) == tenant]
            devices = engine.tenant_io_devices(specs)[0]
        cgroup.create()
        cgroup.apply_limits(resources, devices)

    def console(self, name):
        """init's console without systemd: a ring bounded while it runs where rotatelogs is, else console.log."""
        directory = self.engine.store.partition_dir(name)
        if self.engine.console_pump is not None:
            return consoles.RingConsole(directory, self.engine.console_pump)
        return consoles.FileConsole(directory)

    def stop_runtime(self, name, document, record=True):
        """init's stop signal, then the runtime kills what is left; the runtime, mounts and cgroup go.

        record: note in the document that it no longer runs (not when the document is about to go).
        """
        running = (document or {}).get("running") or {}
        spec = (document or {}).get("spec") or {"name": name}
        counting = PartitionCounters(self.engine)
        counted = counting.read_running(name, document)  # the runtime's delete takes the payload's counters (v1 OOM kills)
        self.engine.runtime.stop(name, running.get("stop_signal") or oci.SIGTERM, spec.get("stop_timeout", 30))
        pause_point("stop-runtime-gone")
        counting.fold_ended(name, document, counted)  # before the limit cgroup goes
        self.clean_runtime(name, self.engine.disk(spec), running.get("spec") or spec, self.engine.host_interfaces(name, document),
                           self.engine.cgroup(name, document))
        if document is not None and record:
            document = dict(document, running=None)
            self.engine.store.save_partition(name, document)
        return document

    def clean_runtime(self, name, disk, spec=None, hosts=None, cgroup=None):
        """Interfaces (hosts: {interface: its host end}), container, overlay mount and cgroup (default: the one its document
        names) of a partition that no longer runs, and its tenant's cgroup once empty unless the tenant is declared. A host
        end that cannot go (another state directory's link of that name) keeps none of the rest: its error is raised once
        the container, mount and cgroup are gone."""
        refused = []
        for iface in (spec or {}).get("interfaces") or []:
            host = (hosts or {}).get(iface["name"]) or self.engine.host_ifname(name, iface["name"])
            firewall.unguard_interface(self.engine.nft_table, host)
            try:
                net.detach(host, name, iface["name"], self.engine.owner)
            except NetworkError as exc:
                refused.append(exc)
        self.engine.runtime.delete(name)
        consoles.retire_pump(self.engine.store.partition_dir(name))  # its console reader ends with the last writer
        disk.unmount()
        cgroup = cgroup or self.engine.cgroup(name)
        with self.cgroup_tree_lock:
            try:
                cgroup.remove()
            except CgroupError:
                pass  # the runtime removes its cgroups; this only sweeps leftovers
            self.sweep_tenant((spec or {}).get("tenant") or name, cgroup.path)
        if refused:
            raise refused[0]

    def sweep_tenant(self, tenant, partition_cgroup):
        """Remove the tenant's cgroup when the partition's cgroup was in it, it is empty (the kernel refuses otherwise) and
        no document declares the tenant (a declared tenant's cgroup keeps its limits while it is declared)."""
        engine = self.engine
        if engine.supervisor is not None:
            return  # the slice goes with the tenant: its last partition (actions.remove) or the tenant module
        path = cgroups.tenant_path(engine.parent, tenant)
        if not partition_cgroup.startswith(path + "/"):
            return  # a partition an earlier version started: not in a tenant's cgroup
        try:
            if engine.store.load_tenant(tenant) is not None:
                return
        except CorruptDocument:
            return
        try:  # the tenant's own counters go into its ledger as its cgroup goes
            if engine.cgroups.has_children(path):
                return  # another partition of the tenant is in it: it stays, nothing is folded (no walk of its tree)
            TenantCounters(engine).remove_folding(tenant, engine.tenant_cgroup(tenant), lambda: engine.cgroups.remove_parent(path))
        except CgroupError:
            pass  # left for the next stop in the tenant to sweep

    def guard(self, name, iface, host_ifname, fresh=False):
        """The host end's source guard and upload policer (nftables), and its download shaper (tc); fresh: the host
        end was just made."""
        firewall.guard_interface(self.engine.nft_table, host_ifname, firewall.partition_rules(iface))
        net.set_download_rate(host_ifname, name, iface["name"], (iface.get("rate") or {}).get("ingress"), fresh=fresh)

    @staticmethod
    def write_resolv_conf(root, spec, owner):
        content = resolv_conf(spec.get("interfaces"))
        if content is not None:
            write_file(root, "etc/resolv.conf", content, owner=owner)
