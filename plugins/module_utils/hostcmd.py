# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's own commands, behind the scripts the host role installs (no Ansible on the host needed):

* ``linuxvps-autostart [STATE_DIR]``: the boot service; finishes or rolls back what a run killed by the power
  loss left (recovery.py), restores the recorded host networks, then converges every ``autostart`` partition to
  started, side by side in waves by autostart_order (a lower order wholly started before a higher one begins).
* ``linuxvps-partition {start|stop|cleanup} STATE_DIR NAME``: what a partition's systemd unit runs
  (supervisor.py): its start command, ExecStop and ExecStopPost. They take the host lock like any run, so a
  restart by systemd or the clean-up after a ``poweroff`` inside never races a run; when the run holding the
  lock is the one that asked systemd for them, they go ahead on its lock (hostlock.py's hand-over).
* ``linuxvps-metrics [--every SECONDS] STATE_DIR FILE``: writes the partitions' metrics in Prometheus text format to
  FILE for node_exporter's textfile collector (metrics.py), once (a systemd timer runs it every 15 s) or every
  SECONDS until killed (hosts without systemd run it so from their supervisor). It reads without the host lock,
  so a long run never delays it, and its work per round is bounded: cgroup files, the runtime's listing and
  disk quotas, never a walk of a partition's files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import sys
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import metrics, supervisor
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import NotFound, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import Launcher
from ansible_collections.linuxvps.partitions.plugins.module_utils.networks import NetworkStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.parallel_apply import default_workers
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR, write_text_atomic

UNIT_VERBS = ("start", "stop", "cleanup")
# How long a unit command waits for the host lock, inside systemd's timeouts for it: TimeoutStartSec (300 s);
# TimeoutStopSec (the partition's stop_timeout + 30 s) for ExecStop, which then waits for init, and again for
# ExecStopPost, which only cleans up. A command that times out fails; the next run reconciles.
UNIT_LOCK_SECONDS = {"start": 240.0, "stop": 20.0, "cleanup": 40.0}
USAGE = "usage: linuxvps-partition {start|stop|cleanup} STATE_DIR NAME\n       linuxvps-autostart [STATE_DIR]"
# The shortest --every: each round reads every partition's cgroup files.
METRICS_MIN_EVERY = 1.0
METRICS_USAGE = "usage: linuxvps-metrics [--every SECONDS] STATE_DIR FILE (SECONDS: at least %g)" % METRICS_MIN_EVERY


# ---- the boot service -------------------------------------------------------------------------------
def start_autostart(engine):
    """[(what, outcome, error)] for what killed runs left, the host networks, then each autostart partition; one
    failure stops no other."""
    converger = Converger(engine)
    results = [("recovery", "done", message) for message in converger.recover()]
    results += restore_networks(engine)
    documents = engine.store.partition_documents()
    results += [(name, "failed", corrupt.msg) for name, _document, corrupt in documents if corrupt is not None]
    chosen = sorted((doc["spec"] for _name, doc, _corrupt in documents if doc and doc["spec"].get("autostart")),
                    key=lambda spec: (spec.get("autostart_order", 100), spec["name"]))
    items = [{"name": spec["name"], "state": "started"} for spec in chosen]
    try:  # side by side, in waves by autostart_order, as the partition module's list form starts them
        outcomes = converger.converge_many(items, keep_going=True, name_items=False, workers=default_workers())
    except PartitionError:
        outcomes = None  # one partition cannot even be planned (its template gone, say): each on its own then
    if outcomes is not None:
        return results + [(outcome.plan.name, "failed" if outcome.failed else "started" if outcome.plan.changed else "running",
                           outcome.error.msg if outcome.failed else None) for outcome in outcomes]
    for item in items:
        try:
            plan, _report = converger.converge(item)
            results.append((item["name"], "started" if plan.changed else "running", None))
        except PartitionError as exc:
            results.append((item["name"], "failed", exc.msg))
    return results


def restore_networks(engine):
    """Bridges, addresses and NAT of the recorded host networks: a reboot took them with it."""
    results = []
    networks = NetworkStore(engine.store, engine.nft_table)
    for name in engine.store.network_names():
        try:
            changed, _spec, _diff = networks.converge(dict(engine.store.load_network(name) or {"name": name}, state="present"))
            results.append(("network " + name, "created" if changed else "present", None))
        except PartitionError as exc:
            results.append(("network " + name, "failed", exc.msg))
    return results


# ---- inside a partition's systemd unit -------------------------------------------------------------------
def unit_start(engine, name):
    """The unit's start command: launch the partition with its console on our stdout (the journal)."""
    unit_cgroup = supervisor.leave_unit_root()
    if unit_cgroup.rstrip("/").endswith("/" + supervisor.LEAF):
        unit_cgroup = unit_cgroup.rstrip("/")[:-len(supervisor.LEAF) - 1]
    document = engine.store.load_partition(name)
    if document is None:
        raise NotFound("partition %s does not exist in %s" % (name, engine.store.root))
    try:
        Launcher(engine).launch(document, None, unit_cgroup)
    except PartitionError as exc:
        # the run that started the unit reads it from there (actions.py start)
        with open(engine.start_error_file(name), "w") as handle:
            handle.write(exc.msg + "\n")
        raise


def unit_stop(engine, name):
    """ExecStop, and ExecStopPost after a stop, a failed start or init's own exit: init's stop signal, then
    what is left is killed and cleaned up, so nothing is left running."""
    Launcher(engine).stop_runtime(name, engine.store.load_partition(name))


# ---- the metrics file ------------------------------------------------------------------------------------
def write_metrics(state_dir, path):
    """One round: every partition's report, as partition_info gives it but without walking disks that have no
    quota, written to path as Prometheus text. Returns the warnings (documents left out)."""
    engine = PartitionEngine.open(state_dir, check_mode=True)  # check mode: no host lock is taken
    warnings = []
    # each running partition's reading is kept as its counters sample (atomic rename, no lock): a crash or a reboot
    # loses at most one round of what the counters saw
    reporter = Reporter(engine, record_samples=True)
    reporter.walk_disks = False
    partitions = reporter.info(warnings=warnings)
    tenants = reporter.tenants(partitions, warnings)
    write_metrics_file(path, metrics.exposition(partitions, tenants))
    return warnings


def write_metrics_file(path, text):
    """Readers (node_exporter) see the old file or the new one, never half. The temporary name does not end in
    .prom, so the textfile collector never reads it. No fsync: a file a power cut loses is rewritten 15 s later."""
    write_text_atomic(path, text, mode=0o644, sync=False, prefix=".linuxvps-metrics-")


def run_metrics(state_dir, path, every=None, rounds=None):
    """Write once (every None: the exit code says whether it worked), or every `every` seconds until killed (a failed
    round is reported on stderr and the next one tries again). rounds: stop after that many (tests)."""
    done = 0
    while True:
        began = time.monotonic()
        try:
            for warning in write_metrics(state_dir, path):
                sys.stderr.write("linuxvps-metrics: %s\n" % warning)
            failed = False
        except (PartitionError, OSError) as exc:
            sys.stderr.write("linuxvps-metrics: %s\n" % getattr(exc, "msg", exc))
            failed = True
        done += 1
        if every is None or (rounds is not None and done >= rounds):
            return 1 if failed else 0
        time.sleep(max(0.0, every - (time.monotonic() - began)))


def _metrics_args(args):
    """(state_dir, file, every) of linuxvps-metrics' arguments, or None when they are wrong."""
    every = None
    if args[:1] == ["--every"] and len(args) > 1:
        try:
            every = float(args[1])
        except ValueError:
            return None
        if not math.isfinite(every) or every < METRICS_MIN_EVERY:
            return None
        args = args[2:]
    if len(args) != 2:
        return None
    return args[0], args[1], every


def main(argv):
    """linuxvps-partition VERB STATE_DIR NAME, linuxvps-autostart's: autostart [STATE_DIR], or linuxvps-metrics':
    metrics [--every SECONDS] STATE_DIR FILE. Returns the exit code."""
    if argv[:1] == ["metrics"]:
        parsed = _metrics_args(argv[1:])
        if parsed is None:
            sys.stderr.write(METRICS_USAGE + "\n")
            return 2
        return run_metrics(*parsed)
    if argv[:1] == ["autostart"] and len(argv) <= 2:
        verb, state_dir, name = "autostart", argv[1] if len(argv) > 1 else DEFAULT_STATE_DIR, None
    elif len(argv) == 3 and argv[0] in UNIT_VERBS:
        verb, state_dir, name = argv
    else:
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        engine = PartitionEngine.open(state_dir)
        if verb == "autostart":
            return _report_autostart(start_autostart(engine))
        with engine.store.lock(timeout=UNIT_LOCK_SECONDS[verb], on_behalf_of=name):
            if verb == "start":
                unit_start(engine, name)
            else:
                unit_stop(engine, name)
    except PartitionError as exc:
        sys.stderr.write("linuxvps-%s: %s\n" % (" ".join(part for part in (verb, name) if part), exc.msg))
        return 1
    return 0


def _report_autostart(results):
    failed = 0
    for what, outcome, error in results:
        sys.stdout.write("%s: %s%s\n" % (what, outcome, ": " + error if error else ""))
        failed += outcome == "failed"
    return 1 if failed else 0
