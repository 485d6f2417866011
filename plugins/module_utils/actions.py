# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each action of a plan (plan.ACTIONS) does to the host: one handler per action, found in a table.

Every handler takes (plan, observed, document) and returns the partition's document as it is afterwards
(None once destroyed); it applies plan.spec, the spec the plan decided on, never the one that was asked for.
Only converge.py calls them, from its one change point, which honours check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import firewall, net, oci
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.faults import pause_point
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_tree import write_authorized_keys
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import Launcher, utc_now
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import mount_points, read_text
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_counters import PartitionCounters
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import refuse_busy
from ansible_collections.linuxvps.partitions.plugins.module_utils.slices import SliceManager
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import STORAGE_MODES, PartitionDisk
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_counters import TenantCounters
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenants import members


class PartitionActions:
    """The handlers of one engine's actions (a test checks there is one for each of plan.ACTIONS)."""

    def __init__(self, engine):
        self.engine = engine
        self.launcher = Launcher(engine)
        self.kept_ranges = set()  # tenant keys whose ID range a removal keeps: the call's other partitions use them
        self.kept_templates = set()  # (tenant key, template) whose idmapped mount a removal keeps, likewise
        self.handlers = {
            "destroy": self.destroy,
            "record": self.record,
            "prepare": self.prepare,
            "clone": self.clone,
            "reset_disk": self.reset_disk,
            "start": self.start,
            "stop": self.stop,
            "update": self.update_limits,
            "resize_disk": self.resize_disk,
            "guard": self.guard,
            "update_network": self.update_network,
            "write_keys": self.write_keys,
            "pause": self.pause,
            "resume": self.resume,
            "reset_counters": self.reset_counters,
        }

    def run(self, action, plan, observed, document):
        try:
            handler = self.handlers[action]
        except KeyError:
            raise PartitionError("unknown action %r" % (action,))
        return handler(plan, observed, document)

    # ---- the document and the disk -----------------------------------------------------------------
    def record(self, plan, observed, document):
        if plan.secrets is not None:
            self.engine.store.save_secrets(plan.name, plan.secrets, plan.spec.get("secret_env") or {})  # before the document
        return self.save_spec(plan.name, plan.spec, document, plan.cloned_from)

    def save_spec(self, name, spec, document, cloned_from=None):
        """Record spec as the partition's settings (a new document when it has none); the document saved.
        cloned_from: the partition a new one's files were copied from, kept in its document."""
        document = dict(document or {"name": name, "created": utc_now(), "running": None})
        if document.get("cloned_from") is None and cloned_from:
            document["cloned_from"] = cloned_from
        document["spec"] = spec
        self.engine.store.save_partition(name, document)
        return document

    def prepare(self, plan, observed, document):
        self._prepare(plan.spec)
        return document

    def clone(self, plan, observed, document):
        """The new partition's own files from the copy of plan.cloned_from that this run staged before it took the host
        lock (clones.py): moved in by rename, so the host lock is never held while tenant content is copied."""
        staging = plan.clone
        if isinstance(staging, PartitionError):
            raise staging  # the copy failed: this partition fails, the call's others go on
        if staging is None:
            raise PartitionError("partition %s: no copy of %s was made before the host lock was taken (the host changed "
                                 "meanwhile); nothing was changed, run again" % (plan.name, plan.cloned_from))
        staging.refuse_unfit(plan.cloned_from, plan.spec, self.engine.id_base(plan.spec))
        disk = self.engine.disk(plan.spec)
        disk.wipe()  # what a run killed before the document was recorded left (no document: nothing of anyone's)
        staging.adopt(disk)
        self._prepare(plan.spec)
        pause_point("clone-adopted")
        return document

    def _prepare(self, spec):
        base = self.engine.id_base(spec)
        lower, _manifest = self.engine.lower_root(spec, base)
        self.engine.disk(spec).prepare(lower, owner=base)

    def reset_disk(self, plan, observed, document):
        """A new disk for settings that only a new disk can take (the old files go)."""
        refuse_busy(self.engine.store.partition_dir(plan.name), plan.name, "replace its disk")  # a copy of them runs
        self.engine.disk(observed["document"]["spec"]).wipe()
        self._prepare(plan.spec)
        # its files no longer come from a clone's source (the record that follows saves the document without it)
        return dict((key, value) for key, value in document.items() if key != "cloned_from")

    def resize_disk(self, plan, observed, document):
        self._prepare(plan.spec)  # mounts the image after a host reboot
        self.engine.disk(plan.spec).resize(plan.spec["resources"]["disk"])
        return document

    # ---- running state -----------------------------------------------------------------------------
    def start(self, plan, observed, document):
        """Start the partition: through its systemd unit where systemd supervises, else directly."""
        engine = self.engine
        if engine.supervisor is None:
            return self.launcher.launch(document, self.launcher.console(plan.name))
        unit = engine.unit(plan.name)
        error_file = engine.start_error_file(plan.name)
        if os.path.exists(error_file):
            os.unlink(error_file)
        chosen = engine.runtime.for_start(plan.name, document.get("runtime")).name
        if document.get("runtime") != chosen:  # the unit's start command (runtime auto) takes the one recorded
            document = dict(document, runtime=chosen)
            engine.store.save_partition(plan.name, document)
        engine.store.hand_over(plan.name)  # the unit's start command runs on this run's lock
        try:
            engine.supervisor.start(unit, engine.store.root, plan.name, engine.disk(document["spec"]).pid_file,
                                    document["spec"].get("stop_timeout", 30),
                                    engine.tenant_slice(document["spec"].get("tenant") or plan.name))
        except PartitionError as exc:
            reason = read_text(error_file) or exc.msg
            raise PartitionError("partition %s did not start in systemd unit %s: %s (journalctl -u %s)" % (plan.name, unit, reason, unit))
        return engine.store.load_partition(plan.name)

    def stop(self, plan, observed, document):
        return self.stop_partition(plan.name, document)

    def stop_partition(self, name, document, record=True):
        """Stop the partition's init and remove its runtime, interfaces, mount and cgroup; the document saved (None stays
        None) unless record is false (the document is about to go: nothing to write, so a full disk can still remove)."""
        engine = self.engine
        if engine.supervisor is not None:
            engine.store.hand_over(name)
            engine.supervisor.stop(engine.unit(name))  # its ExecStop and ExecStopPost stop the runtime and clean up
            document = engine.store.load_partition(name) if document is not None and record else document
            if engine.runtime.state(name) is None:
                if record and (document or {}).get("running"):  # its unit's stop could not record it (a full disk)
                    document = dict(document, running=None)
                    engine.store.save_partition(name, document)
                return document
            # started before systemd supervision was set up: stop it directly
        return self.launcher.stop_runtime(name, document, record)

    def signal_stop(self, name, observed):
        """Ask a running partition to shut down without waiting (a bulk call signals all before stopping each)."""
        engine = self.engine
        if engine.supervisor is not None:
            engine.store.hand_over(name)
            engine.supervisor.stop(engine.unit(name), wait=False)
        else:
            running = (observed["document"] or {}).get("running") or {}
            engine.runtime.kill(name, running.get("stop_signal") or oci.SIGTERM)

    def pause(self, plan, observed, document):
        self.engine.runtime.pause(plan.name)
        return document

    def resume(self, plan, observed, document):
        self.engine.runtime.resume(plan.name)
        return document

    # ---- live changes to a running partition ----------------------------------------------------------
    def update_limits(self, plan, observed, document):
        # the plan warned about what is unenforced
        self.engine.cgroup(plan.name).apply_limits(plan.spec["resources"], self.engine.io_devices(plan.spec)[0])
        return document

    def guard(self, plan, observed, document):
        """Give the running interfaces that lost it their host end's guard again (after `nft flush ruleset`)."""
        running = (document.get("running") or {}).get("spec") or document["spec"]
        hosts = self.engine.host_interfaces(plan.name, document)
        for iface in running.get("interfaces") or []:
            if iface["name"] in observed["unguarded"]:
                self.launcher.guard(plan.name, iface, hosts[iface["name"]])
        return document

    def update_network(self, plan, observed, document):
        """Addresses, gateways, rates and DNS of running interfaces, without a restart."""
        spec = plan.spec
        running = document.get("running") or {}
        applied = dict((iface["name"], iface) for iface in (running.get("spec") or {}).get("interfaces") or [])
        hosts = self.engine.host_interfaces(spec["name"], document)
        for iface in spec.get("interfaces") or []:
            old = applied.get(iface["name"])
            if old is None:
                continue
            net.update(observed["pid"], spec["name"], old, iface, hosts[iface["name"]])
            self.launcher.guard(spec["name"], iface, hosts[iface["name"]])
            applied[iface["name"]] = dict(old, **dict((key, iface[key]) for key in ("addresses", "gateway", "gateway6", "rate", "dns")))
        self.launcher.write_resolv_conf(self.engine.disk(spec).root_path, spec, self.engine.id_base(spec))
        return self._record_running(document, interfaces=[applied[i["name"]] for i in (running.get("spec") or spec).get("interfaces") or []])

    def write_keys(self, plan, observed, document):
        spec = plan.spec
        write_authorized_keys(self.engine.disk(spec).root_path, spec["authorized_keys"], owner=self.engine.id_base(spec))
        return self._record_running(document, authorized_keys=spec["authorized_keys"])

    def _record_running(self, document, **applied):
        """Note settings applied live to the running partition (so the next plan compares with them)."""
        running = document.get("running") or {}
        document = dict(document, running=dict(running, spec=dict(running.get("spec") or document["spec"], **applied)))
        self.engine.store.save_partition(document["name"], document)
        return document

    def reset_counters(self, plan, observed, document):
        """Start the partition's counters again from now (partition_counters.py)."""
        running = self.engine.runtime.state(plan.name) is not None and document.get("running") is not None
        PartitionCounters(self.engine).reset(plan.name, document, running)
        return document

    # ---- removal ---------------------------------------------------------------------------------------
    def destroy(self, plan, observed, document):
        return self.remove(plan.name, document)

    def remove(self, name, document):
        """Stop and remove the partition; None. Each resource goes after what it protects: the files before the ID
        range they are owned by, the directory (with the document) after both, the state directory's cgroup parents
        and nft tables once no partition is left. A run killed halfway is finished by the next (recovery.py)."""
        engine = self.engine
        refuse_busy(engine.store.partition_dir(name), name, "remove it")  # a snapshot, backup or clone copies its files
        self.stop_partition(name, document, record=False)
        spec = (document or {}).get("spec") or {"name": name}
        points = mount_points()
        for mode in STORAGE_MODES:  # whichever the partition had, even when its document is gone
            PartitionDisk(engine.store.partition_dir(name), mode).unmount(points)
        disk = engine.disk(spec)
        disk.wipe()  # the files owned by the tenant's range go before the range
        self._drop_unused_idmapped(name, spec)
        pause_point("destroy-wiped")
        self._release_free_ranges(name)
        disk.destroy()
        pause_point("destroy-dir-gone")
        self._forget_undeclared_tenant(spec.get("tenant") or name)
        self.remove_empty_parents()
        return None

    def _forget_undeclared_tenant(self, tenant):
        """A tenant nobody declares goes with its last partition: its own counters and, under systemd, its slice (which
        systemd keeps active once made; a declared one's go with its record, the tenant module's absent)."""
        engine = self.engine
        with self.launcher.cgroup_tree_lock:  # not while another thread starts a partition of the tenant
            try:
                if engine.store.load_tenant(tenant) is not None or members(engine.store.partition_documents(), tenant):
                    return
            except CorruptDocument:
                return
            TenantCounters(engine).forget(tenant)
            if engine.supervisor is not None:
                SliceManager(engine.supervisor.systemctl).stop(engine.tenant_slice(tenant))

    def remove_empty_parents(self):
        """Once no partition is left, the state directory's cgroup parents (only those empty: the kernel refuses to
        remove one with processes or children) and, with no network left either, its nft tables."""
        engine = self.engine
        with self.launcher.cgroup_tree_lock:  # a partition another thread starts makes its cgroup below the parent
            if engine.store.partition_names():
                return
            engine.cgroups.remove_parent(engine.parent)
        if not engine.store.network_names():
            firewall.remove_empty_tables(engine.nft_table)

    def _drop_unused_idmapped(self, name, spec):
        """The idmapped mount of name's template for its range, once no other partition of the tenant takes it (a
        start makes it again when needed; drop_shifted takes what a killed run left, with the range)."""
        engine = self.engine
        base = None if not spec.get("rootfs") else engine.recorded_id_base(spec)
        if base is None:
            return
        key = engine.tenant_key(spec)
        if (key, spec["rootfs"]) in self.kept_templates:
            return  # another item of this call starts a partition on it (another thread; no document yet)
        for other, document, corrupt in engine.store.partition_documents():
            if other == name:
                continue
            if corrupt is not None:
                return  # it may be one of them: kept
            if document["spec"].get("rootfs") == spec["rootfs"] and engine.tenant_key(document["spec"]) == key:
                return
        engine.templates.drop_idmapped(spec["rootfs"], base)

    def _release_free_ranges(self, name):
        """Give back every ID range of this state directory that no partition but name (being destroyed) uses, each
        once its shifted copies are gone: a range is never free while a copy made for it exists, a failure keeps it
        for the re-run, and a range a killed run or an unreadable document left behind goes with the next destroy."""
        engine = self.engine
        in_use = set()
        for other, document, corrupt in engine.store.partition_documents():
            if other == name:
                continue  # its document stays until its range is released
            if corrupt is not None:
                return  # a partition whose tenant cannot be read may use any of them: keep them all
            if not document["spec"].get("privileged"):
                in_use.add(engine.tenant_key(document["spec"]))
        in_use.update(self.kept_ranges)  # one the call creates may have no document yet (another thread records it)
        for key, base in engine.id_ranges.owned(engine.tenant_key({"name": ""})):
            if key not in in_use:
                engine.templates.drop_shifted(base)
                pause_point("release-dropped")
                engine.id_ranges.release(key)
