# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partition engine: observe, plan and apply, for one partition or many.

Everything that changes the host for a partition happens in ``PartitionEngine.apply`` and the
``_do_*`` methods it calls, in one order: disk -> bundle -> runtime -> cgroups -> state document.
A module, a connection plugin or a bulk call drive the engine alike; none of it knows Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups, firewall, net, oci, supervisor
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError, InvalidOption, NotFound, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import RANGE_SIZE, IdRanges, owner_key
from ansible_collections.linuxvps.partitions.plugins.module_utils.guest import configure_identity, write_authorized_keys, write_file
from ansible_collections.linuxvps.partitions.plugins.module_utils.interfaces import normalise_interfaces, resolv_conf
from ansible_collections.linuxvps.partitions.plugins.module_utils.networks import NetworkStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import describe, plan_partition, runtime_status
from ansible_collections.linuxvps.partitions.plugins.module_utils.runtime import select_runtime
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import (
    RESOURCE_DEFAULTS,
    HostFacts,
    normalise_partition,
    validate_name,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR, StateStore, write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import PartitionDisk, mount_points
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import TemplateStore

CONSOLE_ROTATE_BYTES = 1024 * 1024


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cgroup_parent(state_dir):
    """Cgroup directory that holds this state directory's partitions.

    The default store uses 'linuxvps'; any other store (tests, a second tenant store) gets its own
    parent so that two stores never share a partition's cgroup.
    """
    if os.path.normpath(state_dir) == DEFAULT_STATE_DIR:
        return "linuxvps"
    return "linuxvps-" + hashlib.sha1(os.path.normpath(state_dir).encode()).hexdigest()[:8]


class PartitionEngine:
    """Drives partitions of one state directory with one runtime."""

    def __init__(self, store, runtime, cgroup_host, check_mode=False, unit_supervisor=None, notices=()):
        self.store = store
        self.runtime = runtime
        self.cgroups = cgroup_host
        self.check_mode = check_mode
        self.supervisor = unit_supervisor  # a SystemdSupervisor where systemd supervises partitions, else None
        self.notices = list(notices)  # host-wide warnings every plan carries
        self.parent = cgroup_parent(store.root)
        self.templates = TemplateStore(store)
        self.nft_table = firewall.table_name(self.parent)
        self._host_facts = None
        self._claimed = None  # addresses claimed by partitions planned earlier in one converge_many call

    @classmethod
    def open(cls, state_dir=DEFAULT_STATE_DIR, runtime="auto", check_mode=False):
        store = StateStore(state_dir)
        cgroup_host = cgroups.detect()
        unit_supervisor, notice = supervisor.detect(cgroup_host.version)
        return cls(store, select_runtime(runtime, store.runtime_root), cgroup_host, check_mode,
                   unit_supervisor, [notice] if notice else [])

    # ---- reading --------------------------------------------------------------------------
    @property
    def host_facts(self):
        if self._host_facts is None:
            self._host_facts = HostFacts.probe(self.cgroups.online_cpus())
        return self._host_facts

    def id_base(self, spec):
        """Host ID that the partition's root maps to (its tenant's range), or None when privileged."""
        if spec.get("privileged"):
            return None
        return IdRanges().allocate(owner_key(self.store.root, spec.get("tenant") or spec["name"]))

    def lower_root(self, spec, base):
        """The template tree the partition's disk is made from: shifted to its ID range when it has one."""
        root, manifest = self.templates.get(spec["rootfs"])
        if base is not None:
            root = self.templates.shifted_root(spec["rootfs"], base)
        return root, manifest

    def disk(self, spec):
        resources = spec.get("resources") or {}
        return PartitionDisk(self.store.partition_dir(spec["name"]), spec.get("storage") or "overlay",
                             quota={"disk": resources.get("disk"), "inodes": resources.get("inodes")})

    def unit(self, name):
        """The systemd unit that supervises the partition, or None without systemd supervision."""
        return supervisor.unit_name(self.parent, name) if self.supervisor else None

    def cgroup(self, name):
        if self.supervisor:
            return cgroups.PartitionCgroup(self.cgroups, self.supervisor.cgroup_path(self.unit(name)))
        return self.cgroups.partition(self.parent, name)

    def observe(self, name, runtime_states=None):
        """What exists now for one partition. runtime_states: a shared `runtime.list()` for bulk reads."""
        document = self.store.load_partition(name)
        if runtime_states is not None:
            state = runtime_states.get(name)
        else:
            state = self.runtime.state(name)
        status = runtime_status(state)
        cgroup = self.cgroup(name)
        live = cgroup.read_limits() if status in ("running", "frozen") and cgroup.exists() else None
        return {
            "document": document,
            "runtime": state,
            "runtime_exists": state is not None,
            "status": status,
            "pid": state.get("pid") if state and status != "stopped" else None,
            "live": live,
            "disk_exists": os.path.isdir(self.store.partition_dir(name)),
        }

    # ---- planning -------------------------------------------------------------------------
    def desired_spec(self, params, document):
        name = params["name"]

        def interfaces(raw):
            networks = dict((net_name, self.store.load_network(net_name)) for net_name in self.store.network_names())
            return normalise_interfaces(raw, name, networks, self.addresses_in_use(exclude=name))

        return normalise_partition(params, self.host_facts, self.templates.exists,
                                   recorded=(document or {}).get("spec"), interfaces=interfaces)

    def addresses_in_use(self, exclude=None):
        """{ip: partition} over every other partition's interfaces, and those planned earlier in a bulk call."""
        used = dict((ip, owner) for ip, owner in (self._claimed or {}).items() if owner != exclude)
        for other in self.store.partition_names():
            if other == exclude:
                continue
            for iface in ((self.store.load_partition(other) or {}).get("spec") or {}).get("interfaces") or []:
                for cidr in iface.get("addresses") or []:
                    used[cidr.split("/")[0]] = other
        return used

    def plan(self, params, observed):
        """Validate params against the host and what is recorded, then plan. Changes nothing."""
        state = params.get("state") or "started"
        validate_name(params["name"])
        spec = None if state == "absent" else self.desired_spec(params, observed["document"])
        if spec is not None and observed["live"] is not None:
            observed = dict(observed, pending_writes=self.cgroup(spec["name"]).plan_writes(spec["resources"]))
        if spec is not None and observed["document"] is not None:
            self._refuse_shrink(observed["document"]["spec"], spec)
        plan = plan_partition(state, spec or {"name": params["name"]}, observed, params.get("recreate") or "never")
        plan.spec = spec
        plan.warnings.extend(self.notices if plan.changed else [])
        if spec is not None:
            plan.warnings.extend(self._unsupported_warnings(spec))
            if spec.get("privileged"):
                plan.warnings.append("partition %s is privileged: its root is the host's root (no user namespace); "
                                     "give it only to someone you would give the host" % spec["name"])
        return plan

    def _refuse_shrink(self, recorded, spec):
        """A project quota shrinks down to what is used; an image never shrinks."""
        old, new = recorded["resources"].get("disk"), spec["resources"].get("disk")
        if old is None or new is None or new >= old:
            return
        disk = self.disk(recorded)
        used = (disk.usage() or {}).get("used_bytes")
        if used is not None and new < used:
            raise InvalidOption("resources.disk", new, "is below the %d bytes the partition uses" % used)
        if disk.quota_kind != "project":
            raise InvalidOption("resources.disk", new, "disk images only grow, live; the partition has %s bytes and uses %s"
                                % (old, used if used is not None else "an unknown amount"))

    def _unsupported_warnings(self, spec):
        warnings = []
        for key, why in self.cgroup(spec["name"]).unsupported(spec["resources"]):
            if spec["resources"].get(key) != RESOURCE_DEFAULTS.get(key):
                warnings.append("partition %s: resources.%s is not enforced on this host: %s" % (spec["name"], key, why))
        return warnings

    # ---- the one place that changes the host ---------------------------------------------------
    def apply(self, plan, observed):
        """Carry out plan.actions in order; no-op in check mode."""
        if self.check_mode:
            return
        spec = plan.spec
        document = observed["document"]
        for action in plan.actions:
            if action == "destroy":
                self._do_destroy(plan.name, document)
                document = None
            elif action == "record":
                document = self._do_record(spec, document)
            elif action == "prepare":
                self._do_prepare(document["spec"])
            elif action == "reset_disk":
                self.disk(observed["document"]["spec"]).wipe()
                self._do_prepare(spec)
            elif action == "start":
                document = self._do_start(document)
            elif action == "stop":
                document = self._do_stop(plan.name, document)
            elif action == "update":
                self.cgroup(spec["name"]).apply_limits(spec["resources"])  # plan() already warned about unsupported limits
            elif action == "resize_disk":
                self._do_prepare(spec)  # mounts the image after a host reboot
                self.disk(spec).resize(spec["resources"]["disk"])
            elif action == "update_network":
                document = self._do_update_network(document, spec, observed["pid"])
            elif action == "write_keys":
                write_authorized_keys(self.disk(spec).root_path, spec["authorized_keys"], owner=self.id_base(spec))
                document = self._record_running(document, authorized_keys=spec["authorized_keys"])
            elif action == "pause":
                self.runtime.pause(spec["name"])
            elif action == "resume":
                self.runtime.resume(spec["name"])
            else:
                raise PartitionError("unknown action %r" % (action,))

    def _do_record(self, spec, document):
        document = dict(document or {"name": spec["name"], "created": utc_now(), "running": None})
        document["spec"] = spec
        self.store.save_partition(spec["name"], document)
        return document

    def _do_prepare(self, spec):
        base = self.id_base(spec)
        lower, _manifest = self.lower_root(spec, base)
        self.disk(spec).prepare(lower, owner=base)

    def _do_start(self, document):
        """Start the partition: through its systemd unit where systemd supervises, else directly."""
        if self.supervisor is None:
            return self._launch(document, self._console(document["name"]))
        name = document["name"]
        unit = self.unit(name)
        error_file = self._start_error_file(name)
        if os.path.exists(error_file):
            os.unlink(error_file)
        try:
            self.supervisor.start(unit, self.store.root, name, os.path.join(self.disk(document["spec"]).bundle, "init.pid"),
                                  document["spec"].get("stop_timeout", 30))
        except PartitionError as exc:
            reason = _read_text(error_file) or exc.msg
            raise PartitionError("partition %s did not start in systemd unit %s: %s (journalctl -u %s)" % (name, unit, reason, unit))
        return self.store.load_partition(name)

    def _start_error_file(self, name):
        return os.path.join(self.store.partition_dir(name), "start-error")

    def _launch(self, document, console):
        """Make the partition run: disk, bundle, cgroups, runtime, network. console: a log file, or None to keep
        this process's stdout and stderr (the journal, in a systemd unit)."""
        spec = document["spec"]
        name = spec["name"]
        base = self.id_base(spec)
        template_root, manifest = self.lower_root(spec, base)
        disk = self.disk(spec)
        if self.runtime.state(name) is not None:
            self.runtime.delete(name)  # stale container left by a killed run or a host reboot
        disk.prepare(template_root, owner=base)
        disk.mount(template_root)
        configure_identity(disk.root_path, spec["hostname"], owner=base)
        self._write_resolv_conf(disk.root_path, spec, base)
        write_authorized_keys(disk.root_path, spec.get("authorized_keys") or [], owner=base)
        init = manifest.get("init")
        cgroup = self.cgroup(name)
        config = oci.build_config(spec, disk.root_path, cgroup.payload_path, init,
                                  annotations={"org.linuxvps.partition": name, "org.linuxvps.state_dir": self.store.root},
                                  machine=os.uname()[4], id_base=base, id_size=RANGE_SIZE)
        write_json_atomic(os.path.join(disk.bundle, "config.json"), config, mode=0o644)
        try:
            cgroup.create(owner=base)
            cgroup.apply_limits(spec["resources"])  # before init runs: it starts under its limits
            self.runtime.create(name, disk.bundle, os.path.join(disk.bundle, "init.pid"), console)
            pid = int(_read_text(os.path.join(disk.bundle, "init.pid")))  # written by the runtime's create
            for iface in spec.get("interfaces") or []:
                self._attach(pid, name, iface)
            self.runtime.start(name)
        except Exception:
            self._clean_runtime(name, disk, spec)  # a failed start leaves no half-made container
            raise
        document = dict(document, running={"spec": spec, "started": utc_now(), "runtime": self.runtime.name,
                                           "stop_signal": oci.stop_signal(spec, init)})
        self.store.save_partition(name, document)
        return document

    def _console(self, name):
        """The console log path, rotated once it grows past CONSOLE_ROTATE_BYTES."""
        path = os.path.join(self.store.partition_dir(name), "console.log")
        if os.path.exists(path) and os.path.getsize(path) > CONSOLE_ROTATE_BYTES:
            os.rename(path, path + ".1")
        return path

    def _do_stop(self, name, document):
        if self.supervisor is not None:
            self.supervisor.stop(self.unit(name))  # its ExecStop and ExecStopPost run _stop_runtime and _clean_runtime
            document = self.store.load_partition(name) if document is not None else None
            if self.runtime.state(name) is None:
                return document
            # started before systemd supervision was set up: stop it directly
        return self._stop_runtime(name, document)

    def _stop_runtime(self, name, document):
        running = (document or {}).get("running") or {}
        spec = (document or {}).get("spec") or {"name": name}
        signal = running.get("stop_signal") or oci.SIGTERM
        self.runtime.stop(name, signal, spec.get("stop_timeout", 30))
        self._clean_runtime(name, self.disk(spec), running.get("spec") or spec)
        if document is not None:
            document = dict(document, running=None)
            self.store.save_partition(name, document)
        return document

    def _attach(self, pid, name, iface):
        host = net.attach(pid, name, iface, iface.get("network"))
        self._guard(name, iface, host)

    def _guard(self, name, iface, host):
        rate = iface.get("rate") or {}
        firewall.guard_interface(self.nft_table, host, firewall.interface_rules(
            iface["mac"], iface["addresses"], net.link_local(iface["mac"]), (rate.get("egress") or 0) // 8))
        net.set_download_rate(name, iface["name"], rate.get("ingress"))

    def _write_resolv_conf(self, root, spec, owner):
        content = resolv_conf(spec.get("interfaces"))
        if content is not None:
            write_file(root, "etc/resolv.conf", content, owner=owner)

    def _do_update_network(self, document, spec, pid):
        """Addresses, gateways, rates and DNS of running interfaces, without a restart."""
        running = document.get("running") or {}
        applied = dict((iface["name"], iface) for iface in (running.get("spec") or {}).get("interfaces") or [])
        for iface in spec.get("interfaces") or []:
            old = applied.get(iface["name"])
            if old is None:
                continue
            net.update(pid, spec["name"], old, iface)
            self._guard(spec["name"], iface, net.host_ifname(spec["name"], iface["name"]))
            applied[iface["name"]] = dict(old, **dict((key, iface[key]) for key in ("addresses", "gateway", "gateway6", "rate", "dns")))
        self._write_resolv_conf(self.disk(spec).root_path, spec, self.id_base(spec))
        return self._record_running(document, interfaces=[applied[i["name"]] for i in (running.get("spec") or spec).get("interfaces") or []])

    def _record_running(self, document, **applied):
        """Note settings applied live to the running partition (so the next plan compares with them)."""
        running = document.get("running") or {}
        document = dict(document, running=dict(running, spec=dict(running.get("spec") or document["spec"], **applied)))
        self.store.save_partition(document["name"], document)
        return document

    def _detach_all(self, name, spec):
        for iface in spec.get("interfaces") or []:
            firewall.unguard_interface(self.nft_table, net.host_ifname(name, iface["name"]))
            net.detach(name, iface["name"])

    def _clean_runtime(self, name, disk, spec=None):
        if spec and spec.get("interfaces"):
            self._detach_all(name, spec)
        self.runtime.delete(name)
        disk.unmount()
        try:
            self.cgroup(name).remove()
        except CgroupError:
            pass  # the runtime removes its cgroups; this only sweeps leftovers

    def _do_destroy(self, name, document):
        self._do_stop(name, document)
        spec = (document or {}).get("spec") or {"name": name}
        points = mount_points()
        for mode in ("overlay", "copy"):
            PartitionDisk(self.store.partition_dir(name), mode).unmount(points)
        self.disk(spec).destroy()
        self._release_range(spec)
        if not self.store.partition_names():
            self.cgroups.remove_parent(self.parent)
            if not self.store.network_names():
                firewall.remove_empty_tables(self.nft_table)

    def _release_range(self, spec):
        """Give the tenant's ID range back when its last partition is gone."""
        if spec.get("privileged") or "rootfs" not in spec:
            return
        tenant = spec.get("tenant") or spec["name"]
        for other in self.store.partition_names():
            other_spec = (self.store.load_partition(other) or {}).get("spec") or {}
            if (other_spec.get("tenant") or other) == tenant and not other_spec.get("privileged"):
                return
        ranges = IdRanges()
        base = ranges.lookup(owner_key(self.store.root, tenant))
        ranges.release(owner_key(self.store.root, tenant))
        if base is not None:
            self.templates.drop_shifted(base)  # its copies of the templates go with the range

    # ---- inside a partition's systemd unit (supervisor.py; the host role's linuxvps-partition command) ----
    def unit_start(self, name):
        """The unit's start command: launch the partition with its console on our stdout (the journal)."""
        supervisor.leave_unit_root()
        document = self.store.load_partition(name)
        if document is None:
            raise NotFound("partition %s does not exist in %s" % (name, self.store.root))
        try:
            self._launch(document, None)
        except PartitionError as exc:
            write_file(self.store.partition_dir(name), "start-error", exc.msg + "\n")
            raise

    def unit_stop(self, name):
        """The unit's ExecStop: init's shutdown signal, then what is left is killed."""
        self._stop_runtime(name, self.store.load_partition(name))

    def unit_cleanup(self, name):
        """The unit's ExecStopPost, after a stop, a failed start or init's own exit: leave nothing running."""
        self._stop_runtime(name, self.store.load_partition(name))

    # ---- reporting ------------------------------------------------------------------------
    def report(self, name, observed=None, usage=False):
        """The `partition` dict returned to users (and each item of partition_info)."""
        observed = observed or self.observe(name)
        document = observed["document"]
        if document is None:
            return {"name": name, "state": "absent", "pid": None}
        spec = document["spec"]
        view = describe(observed["status"], spec)
        view["pid"] = observed["pid"]
        view["created"] = document.get("created")
        running = document.get("running") or {}
        view["started"] = running.get("started") if observed["status"] != "stopped" else None
        view["runtime"] = running.get("runtime") or self.runtime.name
        view["cgroup"] = self.cgroup(name).path
        view["unit"] = self.unit(name)
        view["console_log"] = None if self.supervisor else os.path.join(self.store.partition_dir(name), "console.log")
        view["config"] = spec
        view["id_base"] = None if spec.get("privileged") else IdRanges().lookup(owner_key(self.store.root, spec.get("tenant") or name))
        view["interfaces"] = [dict(iface, host_interface=net.host_ifname(name, iface["name"]),
                                   **(net.counters(name, iface["name"]) if observed["status"] != "stopped" else dict.fromkeys(net.COUNTERS)))
                              for iface in spec.get("interfaces") or []]
        if usage:
            view["usage"] = self.usage(name, spec, observed)
        return view

    def usage(self, name, spec, observed):
        cgroup = self.cgroup(name)
        result = cgroup.read_usage() if observed["status"] != "stopped" and cgroup.exists() else {}
        disk = self.disk(spec)
        result["disk"] = disk.usage() or {"used_bytes": disk.size_bytes(), "limit_bytes": None, "used_inodes": None, "limit_inodes": None}
        return result

    def info(self, name=None):
        """Reports with usage for one partition (NotFound if unknown) or all, sharing one runtime listing."""
        if name is not None:
            validate_name(name)
            if self.store.load_partition(name) is None:
                raise NotFound("partition %s does not exist in %s" % (name, self.store.root))
        names = [name] if name is not None else self.store.partition_names()
        states = self.runtime.list() if os.path.isdir(self.store.runtime_root) else {}
        reports = []
        for item in names:
            observed = self.observe(item, runtime_states=states)
            if observed["document"] is not None:
                reports.append(self.report(item, observed, usage=True))
        return reports

    def start_autostart(self):
        """Start every partition marked autostart, by autostart_order then name (the host's boot service)."""
        results = self._restore_networks()
        documents = [self.store.load_partition(name) for name in self.store.partition_names()]
        chosen = sorted((doc["spec"] for doc in documents if doc and doc["spec"].get("autostart")),
                        key=lambda spec: (spec.get("autostart_order", 100), spec["name"]))
        for spec in chosen:
            try:
                plan, _report = self.converge({"name": spec["name"], "state": "started"})
                results.append((spec["name"], "started" if plan.changed else "running", None))
            except PartitionError as exc:  # one broken partition must not keep the others down
                results.append((spec["name"], "failed", exc.msg))
        return results

    def _restore_networks(self):
        """Bridges, addresses and NAT of the recorded host networks: a reboot took them with it."""
        results = []
        networks = NetworkStore(self.store, self.nft_table)
        for name in self.store.network_names():
            try:
                changed, _spec, _diff = networks.converge(dict(self.store.load_network(name) or {"name": name}, state="present"))
                results.append(("network " + name, "created" if changed else "present", None))
            except PartitionError as exc:
                results.append(("network " + name, "failed", exc.msg))
        return results

    # ---- convenience for callers ----------------------------------------------------------
    def converge(self, params):
        """Validate, observe, plan and apply one partition; return (plan, report)."""
        (outcome,) = self.converge_many([params], keep_going=False)
        return outcome.plan, outcome.report

    def converge_many(self, items, keep_going=True):
        """Converge a list of partitions in one lock, sharing the host reads; a list of Outcome.

        Every item is validated and planned before anything changes, so bad input changes nothing.
        With keep_going, a partition that fails to apply is reported in its Outcome and the others go on.
        """
        names = [params["name"] for params in items]
        for name in names:
            validate_name(name)
        duplicates = sorted(set(name for name in names if names.count(name) > 1))
        if duplicates:
            raise InvalidOption("partitions", ", ".join(duplicates), "each partition may be listed once")
        with self.store.lock(create=not self.check_mode):
            states = self.runtime.list() if os.path.isdir(self.store.runtime_root) else {}
            planned = []
            self._claimed = {}
            try:
                for params in items:
                    observed = self.observe(params["name"], runtime_states=states)
                    plan = self.plan(params, observed)
                    planned.append((params, observed, plan))
                    self._claim_addresses(plan.spec)
            finally:
                self._claimed = None
            if not self.check_mode and len(planned) > 1:
                self._signal_stops(planned)
            outcomes = [self._apply_one(params, observed, plan, keep_going) for params, observed, plan in planned]
            if not self.check_mode:
                states = self.runtime.list() if os.path.isdir(self.store.runtime_root) else {}
                for outcome in outcomes:
                    if not outcome.failed:
                        outcome.report = self.report(outcome.plan.name, self.observe(outcome.plan.name, runtime_states=states))
        return outcomes

    def _signal_stops(self, planned):
        """Ask every partition the call stops to shut down at once, so their inits shut down side by side
        while each is then stopped in turn (which waits, and kills what is left)."""
        for _params, observed, plan in planned:
            if observed["status"] != "running" or not set(plan.actions) & {"stop", "destroy"}:
                continue
            try:
                if self.supervisor is not None:
                    self.supervisor.stop(self.unit(plan.name), wait=False)
                else:
                    running = (observed["document"] or {}).get("running") or {}
                    self.runtime.kill(plan.name, running.get("stop_signal") or oci.SIGTERM)
            except PartitionError:
                pass  # the partition's own stop reports what is wrong

    def _apply_one(self, params, observed, plan, keep_going):
        name = params["name"]
        try:
            self.apply(plan, observed)
        except PartitionError as exc:
            if not keep_going:
                raise
            return Outcome(plan, {"name": name}, exc)
        if self.check_mode:
            target = plan.after.get("state")
            return Outcome(plan, dict(plan.after, name=name, pid=observed["pid"] if target == observed["status"] else None))
        return Outcome(plan, None)  # reported once every partition is applied, from one runtime listing

    def _claim_addresses(self, spec):
        """Addresses a partition planned earlier in this call will hold (not recorded yet)."""
        for iface in (spec or {}).get("interfaces") or []:
            for cidr in iface.get("addresses") or []:
                self._claimed[cidr.split("/")[0]] = spec["name"]


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


class Outcome:
    """What converging one partition did: its plan, its report, and the error when it failed."""

    def __init__(self, plan, report, error=None):
        self.plan = plan
        self.report = report
        self.error = error

    @property
    def failed(self):
        return self.error is not None
