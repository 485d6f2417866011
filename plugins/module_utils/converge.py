# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging partitions: observe what exists, plan against what is asked, then apply, under the host lock.

Every item is validated and planned before anything changes, so bad input changes nothing. ``_apply_all`` is
the one place where a converge changes the host; in check mode it changes nothing and tells what would be.
A plan whose actions take several steps is recorded in the intent journal before it is applied and cleared
after; what a killed run left is finished or rolled back (recovery.py) before the next run observes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
from collections import Counter
from contextlib import nullcontext

from ansible_collections.linuxvps.partitions.plugins.module_utils import clones, lxcfs as lxcfs_view
from ansible_collections.linuxvps.partitions.plugins.module_utils.actions import PartitionActions
from ansible_collections.linuxvps.partitions.plugins.module_utils.console import UNBOUNDED_WARNING
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine, spec_addresses
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError, about_item, item_label
from ansible_collections.linuxvps.partitions.plugins.module_utils.intents import IntentJournal, journaled
from ansible_collections.linuxvps.partitions.plugins.module_utils.interfaces import normalise_interfaces
from ansible_collections.linuxvps.partitions.plugins.module_utils.networks import bridge_refusal
from ansible_collections.linuxvps.partitions.plugins.module_utils.parallel_apply import DEFAULT_ORDER, run_waves, waves
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import refuse_busy
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import plan_counter_reset, plan_partition
from ansible_collections.linuxvps.partitions.plugins.module_utils.recovery import Recovery
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import IO_LIMITS, RESOURCE_DEFAULTS, normalise_env, normalise_partition, validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.snapshots import removal_warning
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenants import refuse_over_limit


class Outcome:
    """What converging one partition did: its plan, its report, and the error when it failed."""

    def __init__(self, plan, report, error=None):
        self.plan = plan
        self.report = report
        self.error = error

    @property
    def failed(self):
        return self.error is not None


class Converger:
    """Brings partitions of one engine to the state asked for."""

    def __init__(self, engine):
        self.engine = engine
        self.actions = PartitionActions(engine)
        self.reporter = Reporter(engine)
        self.journal = IntentJournal(engine.store)
        self.recovery = Recovery(engine, self.actions, self.journal)

    def recover(self):
        """Finish or roll back what killed runs left (the boot command's first step); what was done, in words."""
        if not self.journal.pending():
            return []  # read without the lock: a host whose state directory does not exist keeps it so
        with self.engine.store.lock():
            return self.recovery.run()[0]

    def converge(self, params):
        """Validate, observe, plan and apply one partition; return (plan, report). Raises what fails."""
        (outcome,) = self.converge_many([params], keep_going=False, name_items=False)
        return outcome.plan, outcome.report

    def converge_many(self, items, keep_going=True, name_items=True, workers=1):
        """Converge a list of partitions in one lock, sharing the host reads; a list of Outcome, in order.

        With keep_going, a partition that fails to apply is reported in its Outcome and the others go on.
        With name_items, every error about one item says which (``partitions[3] (web7): ...``), as the list form shows it.
        workers: how many plans are applied at once (parallel_apply.py; resolved and checked by the caller).
        """
        if not items:
            return []  # an empty list converges nothing (and takes no lock)
        engine = self.engine
        naming = about_item if name_items else (lambda index, name: nullcontext())
        names = [params["name"] for params in items]
        for index, name in enumerate(names):
            with naming(index, name):
                validate_name(name)
        duplicates = sorted(name for name, times in Counter(names).items() if times > 1)
        if duplicates:
            raise InvalidOption("partitions", ", ".join(duplicates), "each partition may be listed once (%s)" % "; ".join(
                ", ".join(item_label(index) for index, name in enumerate(names) if name == duplicate) for duplicate in duplicates))
        staged = {} if engine.check_mode else self._stage_clones(items, naming)
        try:
            return self._converge_locked(items, keep_going, name_items, naming, staged, workers)
        finally:
            for staging in staged.values():
                if not isinstance(staging, PartitionError):
                    staging.release()  # what was not moved into a partition (its copy failed to apply, or was not wanted)

    def _converge_locked(self, items, keep_going, name_items, naming, staged, workers):
        engine = self.engine
        with engine.store.lock(create=not engine.check_mode):
            recovered, recovery_changed = self.journal.pending_warnings() if engine.check_mode else self.recovery.run()
            if not engine.check_mode:
                clones.sweep(engine.store)  # staging directories of killed clones (this run's own are held)
            planning_reads = engine.read_host()
            planned = self._plan_items(items, naming, planning_reads)
            for _observed, plan in planned:
                plan.clone = staged.get(plan.name) if "clone" in plan.actions else None
            planned[0][1].warnings[:0] = recovered
            planned[0][1].recovered = recovery_changed  # the host changed before any plan (said by the first)
            outcomes = self._apply_all(planned, keep_going, workers)
            for index, outcome in enumerate(outcomes):
                if outcome.failed and name_items:
                    outcome.error.name_item(index, outcome.plan.name)
            if not engine.check_mode:
                self._report_outcomes(outcomes, planned, planning_reads)
        return outcomes

    def _report_outcomes(self, outcomes, planned, planning_reads):
        """Each outcome's report of the host as the call left it: read again once after any change; a call that changed
        nothing (an idempotent re-run) reports what it observed after recovery, without a second runtime listing."""
        engine = self.engine
        untouched = not any(plan.changed or plan.actions for _observed, plan in planned)
        reads = planning_reads if untouched else engine.read_host()
        for outcome, (observed, _plan) in zip(outcomes, planned):
            if not outcome.failed:
                name = outcome.plan.name
                outcome.report = self.reporter.report(
                    name, observed if untouched else engine.observe(name, reads, limits=False, guards=False))

    def _stage_clones(self, items, naming):
        """{partition: clones.CloneStaging, or the PartitionError that made none} for the partitions this call creates
        as clones. Every item is planned first under the host lock (bad input is refused before anything is copied,
        and the new ID ranges are taken), then the lock is released while the sources' files are copied: the copies
        are tenant content of any size, and the host lock is never held on tenant content. The change itself plans
        again under the lock, and only moves a copy in when it still fits (actions.clone)."""
        if not any(params.get("clone_from") for params in items):
            return {}
        engine = self.engine
        with engine.store.lock():
            planned = self._plan_items(items, naming, engine.read_host())
            wanted = [(index, plan, engine.id_base(plan.spec)) for index, (_observed, plan) in enumerate(planned) if "clone" in plan.actions]
        staged = {}
        for index, plan, base in wanted:
            try:
                with naming(index, plan.name):
                    staged[plan.name] = clones.stage(engine, plan.cloned_from, plan.spec, base)
            except PartitionError as exc:
                staged[plan.name] = exc  # that partition fails when applied; the call's others go on
            except BaseException:
                for staging in staged.values():
                    if not isinstance(staging, PartitionError):
                        staging.release()
                raise
        return staged

    def _plan_items(self, items, naming, reads):
        """[(observed, plan)] of every item, in order (the host lock is held). Changes nothing."""
        planned, claimed, joined = [], {}, {}
        for index, params in enumerate(items):
            with naming(index, params["name"]), self.engine.cgroups.reading():  # the plan reads what observe read
                observed = self.engine.observe(params["name"], reads)
                plan = self.plan(params, observed, reads, claimed)
                self._refuse_over_limit(plan, reads, joined)
            planned.append((observed, plan))
            claimed.update(spec_addresses(plan.spec))
            joined[plan.name] = plan.spec["tenant"] if plan.spec is not None else None
        return planned

    # ---- planning: reads only -------------------------------------------------------------------------
    def plan(self, params, observed, reads, claimed=None):
        """Validate params against the host (read once per call in reads) and what is recorded, then plan. Changes nothing.

        claimed: {address: partition} held by partitions planned earlier in the same call (not recorded yet).
        """
        engine = self.engine
        state = params.get("state") or "started"
        validate_name(params["name"])
        if observed.get("corrupt") is not None and state != "absent":
            raise observed["corrupt"]
        warnings = []
        spec = None if state == "absent" else self._desired_spec(params, observed["document"], reads, claimed or {}, warnings)
        if spec is not None and observed["live"] is not None:
            observed = dict(observed, pending_writes=engine.cgroup(spec["name"]).plan_writes(
                spec["resources"], engine.io_devices(spec)[0]))
        if spec is not None and observed["document"] is not None:
            self._refuse_shrink(observed["document"]["spec"], spec)
        plan = plan_partition(state, spec or {"name": params["name"]}, observed, params.get("recreate") or "never",
                              clone_from=params.get("clone_from"))
        if "destroy" in plan.actions:
            snapshots, warning = removal_warning(plan.name, engine.store.partition_dir(plan.name))
            if snapshots:  # they go with it: said in the diff and a warning, never silently
                plan.before = dict(plan.before, snapshots=snapshots)
                plan.warnings.append(warning)
        if "destroy" in plan.actions or "reset_disk" in plan.actions:
            # before any intent is journaled: a removal once journaled is always finished, by the next run if need be
            refuse_busy(engine.store.partition_dir(plan.name), plan.name, "remove it" if "destroy" in plan.actions else "replace its disk")
        if params.get("reset_counters") and observed["document"] is not None:
            plan_counter_reset(plan, self.reporter.counters.view(params["name"], observed["document"], observed["status"] != "stopped"))
        self._refuse_lxcfs(params, plan)
        if plan.spec is not None and params.get("secret_env") is not None:
            plan.secrets = normalise_env(params["secret_env"], "secret_env")
        if observed.get("corrupt") is not None:
            plan.warnings.append("partition %s: %s; removing what is found by its name (runtime, mounts, cgroup, files)"
                                 % (plan.name, observed["corrupt"].msg))
        plan.warnings.extend(warnings)
        plan.warnings.extend(engine.notices if plan.changed else [])
        if "start" in plan.actions and engine.supervisor is None and engine.console_pump is None:
            plan.warnings.append(UNBOUNDED_WARNING)  # the same text for every partition: one warning per call
        if plan.spec is not None:
            plan.warnings.extend(self._unsupported_warnings(plan.spec))
            plan.warnings.extend(engine.template_warnings(plan.spec, plan.actions))
            if plan.spec.get("privileged"):
                plan.warnings.append("partition %s is privileged: its root is the host's root (no user namespace); "
                                     "give it only to someone you would give the host" % plan.name)
        return plan

    def _desired_spec(self, params, document, reads, claimed, warnings):
        name = params["name"]
        store = self.engine.store
        if params.get("clone_from") is not None and document is None:
            params = clones.clone_params(params, store)  # the source's rootfs and storage; refusals name clone_from

        def interfaces(raw):
            networks = reads.networks()
            # read only when needed: a routed address may not take one of the host's own
            host_owned = reads.host_addresses() if any((item or {}).get("mode") == "routed" for item in raw or []) else ()

            def refusal(net_name):  # the bridge a record names may since be someone else's (or never was ours)
                return bridge_refusal(net_name, reads.bridge(net_name), networks[net_name], store.identity())

            return normalise_interfaces(raw, name, networks, _addresses_in_use(name, reads, claimed, warnings), host_addresses=host_owned,
                                        identity=self.engine.identity, recorded=(document or {}).get("spec", {}).get("interfaces"),
                                        network_refusal=refusal)

        return normalise_partition(params, self.engine.host_facts, self.engine.templates.exists,
                                   recorded=(document or {}).get("spec"), interfaces=interfaces, state_dir=store.root)

    def _refuse_over_limit(self, plan, reads, joined):
        """A partition may not join a tenant that has max_partitions partitions already (tenants.py), counting those
        planned earlier in the call (joined: {partition: its tenant, or None when it goes})."""
        if plan.spec is None:
            return
        tenant = plan.spec.get("tenant") or plan.name
        document = reads.tenant(tenant)
        if (document or {}).get("max_partitions") is None:
            return
        current = set(name for name, other in reads.partition_tenants().items() if other == tenant)
        for name, other in joined.items():
            if other == tenant:
                current.add(name)
            else:
                current.discard(name)
        refuse_over_limit(document, tenant, plan.name, current)

    def _refuse_lxcfs(self, params, plan):
        """lxcfs: true asks for a view this host may not give: checked when asked for, or when a start would need it."""
        if plan.spec is not None and (params.get("lxcfs") or "start" in plan.actions):
            lxcfs_view.wanted(plan.spec.get("lxcfs"), self.engine.host_facts.lxcfs)

    def _refuse_shrink(self, recorded, spec):
        """A project quota shrinks down to what is used; an image never shrinks."""
        old, new = recorded["resources"].get("disk"), spec["resources"].get("disk")
        if old is None or new is None or new >= old:
            return
        disk = self.engine.disk(recorded)
        used = (disk.usage() or {}).get("used_bytes")
        if used is not None and new < used:
            raise InvalidOption("resources.disk", new, "is below the %d bytes the partition uses" % used)
        if disk.quota_kind != "project":
            raise InvalidOption("resources.disk", new, "disk images only grow, live; the partition has %s bytes and uses %s"
                                % (old, used if used is not None else "an unknown amount"))

    def _unsupported_warnings(self, spec):
        warnings = []
        for key, why in self.engine.cgroup(spec["name"], {"spec": spec}).unsupported(spec["resources"]):
            if spec["resources"].get(key) != RESOURCE_DEFAULTS.get(key):
                warnings.append("partition %s: resources.%s is not enforced on this host: %s" % (spec["name"], key, why))
        for why in self.engine.io_devices(spec)[1]:
            keys = ", ".join("resources." + key for key in IO_LIMITS if spec["resources"].get(key) is not None)
            warnings.append("partition %s: %s not enforced on this host: %s" % (spec["name"], keys, why))
        return warnings

    # ---- the one change point ---------------------------------------------------------------------------
    def _apply_all(self, planned, keep_going, workers=1):
        """Carry out every plan's actions, up to workers plans at once, starts in waves by autostart_order
        (parallel_apply.py); the outcomes in input order. In check mode, only say what each would leave.

        The whole call holds the host lock, in this one process: the worker threads share what the host lock
        protects, and what they share between partitions is serialized where it lives (firewall.py's nft lock,
        Launcher.cgroup_tree_lock, faults.py's pause file); each thread opens its own netlink sockets (net.py)."""
        if self.engine.check_mode:
            return [Outcome(plan, self._would_be(plan, observed)) for observed, plan in planned]
        if len(planned) > 1:
            self._signal_stops(planned, workers)
        # a removal gives back ID ranges and idmapped template mounts no partition uses: not those another item of
        # this call is about to use (its document may not be written yet when the removal looks)
        kept = [plan.spec for _observed, plan in planned if plan.spec is not None and not plan.spec.get("privileged")]
        self.actions.kept_ranges = set(self.engine.tenant_key(spec) for spec in kept)
        self.actions.kept_templates = set((self.engine.tenant_key(spec), spec.get("rootfs")) for spec in kept)
        try:
            return run_waves(waves([_start_order(plan) for _observed, plan in planned]), workers,
                             lambda index: self._apply(planned[index][0], planned[index][1], keep_going))
        finally:
            self.actions.kept_ranges = set()
            self.actions.kept_templates = set()

    def _would_be(self, plan, observed):
        """Check mode's report: the plan's after-state, with the PID kept where the state stays, and the runtime that
        runs the partition or would start it (for one not made yet too)."""
        target = plan.after.get("state")
        report = dict(plan.after, name=plan.name, pid=observed["pid"] if target == observed["status"] else None)
        if target not in (None, "absent"):
            recorded = (observed["document"] or {}).get("runtime")
            report["runtime"] = self.engine.runtime.for_start(plan.name, recorded).name
        return report

    def _signal_stops(self, planned, workers=1):
        """Ask every partition the call stops to shut down at once (by up to workers threads: each signal is a runtime
        command), so their inits shut down side by side while each is then stopped (which waits, and kills what is left)."""
        stopping = [(observed, plan) for observed, plan in planned
                    if observed["status"] == "running" and set(plan.actions) & {"stop", "destroy"}]

        def signal(index):
            observed, plan = stopping[index]
            try:
                self.actions.signal_stop(plan.name, observed)
            except PartitionError:
                pass  # the partition's own stop reports what is wrong

        run_waves([list(range(len(stopping)))], workers, signal, thread_name="partition-signal")

    def _apply(self, observed, plan, keep_going):
        document = observed["document"]
        journaling = journaled(plan.actions) and self._record_intent(plan, document)
        try:
            for action in plan.actions:
                document = self.actions.run(action, plan, observed, document)
        except PartitionError as exc:
            if journaling and "destroy" not in plan.actions:
                # a failure, unlike a kill, took down what its step made (a failed launch cleans up after itself):
                # the next plan starts from what is. A removal is always finished.
                self.journal.clear(plan.name)
            if not keep_going:
                raise
            return Outcome(plan, {"name": plan.name}, exc)
        if journaling:
            self.journal.clear(plan.name)
        return Outcome(plan, None)  # reported once every partition is applied, from one runtime listing

    def _record_intent(self, plan, document):
        """Journal the plan before it changes anything; whether it is journaled. A state directory too full for the
        intent (a few hundred bytes) still gets the change, said to be unprotected: removing is how space comes back."""
        try:
            self.journal.record(plan.name, plan.actions, plan.spec, (document or {}).get("running"))
        except PartitionError as exc:
            if exc.details.get("errno") not in (errno.ENOSPC, errno.EDQUOT):
                raise
            plan.warnings.append("partition %s: %s; going on without an intent, so a run killed now leaves what it "
                                 "made to be found by hand" % (plan.name, exc.msg))
            return False
        return True


def recover_pending(state_dir, check_mode=False):
    """For the modules that converge no partition (rootfs, network): what killed partition runs left is finished
    first, so removing a template or a network never trips over a half-removed partition. Warnings saying what was
    done (in check mode, what is pending); the engine is opened only when something is."""
    journal = IntentJournal(StateStore(state_dir))
    if not journal.pending():
        return []
    if check_mode:
        return journal.pending_warnings()[0]
    return Converger(PartitionEngine.open(state_dir)).recover()


def _start_order(plan):
    """The autostart_order a plan starts its partition in, or None when it starts nothing."""
    if "start" not in plan.actions or plan.spec is None:
        return None
    order = plan.spec.get("autostart_order")
    return DEFAULT_ORDER if order is None else order


def _addresses_in_use(exclude, reads, claimed, warnings):
    """{ip: partition} over every other partition's recorded interfaces and the addresses claimed in this call;
    a document that cannot be read is passed over with a warning (one bad document never blocks its neighbours)."""
    recorded, unreadable = reads.partition_addresses()
    warnings.extend("addresses of partition %s are not known (%s): they were not checked for clashes" % (other, corrupt.msg)
                    for other, corrupt in unreadable if other != exclude)
    return OthersAddresses(recorded, claimed, exclude)


class OthersAddresses:
    """What _addresses_in_use gives ({ip: partition}, read by .get), looked up in place: a copy per planned partition made a call over N
    partitions cost N x N. An address claimed in this call wins over a recorded one, as a merged dict had it."""

    def __init__(self, recorded, claimed, exclude):
        self._sources = (claimed, recorded)
        self._exclude = exclude

    def get(self, ip, default=None):
        for source in self._sources:
            owner = source.get(ip)
            if owner is not None and owner != self._exclude:
                return owner
        return default
