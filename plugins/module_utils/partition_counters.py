# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A partition's beancounters on the host: its ledger and last sample on disk, its cgroup's counters now
(counters.py does the arithmetic).

    partitions/<name>/counters.json         the ledger; written only under the host lock (stop, start, reset)
    partitions/<name>/counters.sample.json  the last sample of the running life; written by readers WITHOUT the
                                            lock (partition_info, the metrics command), by atomic rename

Counting is never worth a failed stop or start: a ledger that cannot be read or written is left as it is, and
the life it missed is folded from its sample by the next start.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import counters
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import read_text
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic, write_text_atomic

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
LEDGER_FILE = "counters.json"
SAMPLE_FILE = "counters.sample.json"


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def boot_id(path=BOOT_ID_FILE):
    return read_text(path)


def live_fields(cgroup_counters, disk_usage=None):
    """Flat fields (counters.flatten) of a cgroup's read_counters() and the partition's disk usage, with their
    "approximate" list."""
    flat = counters.flatten(cgroup_counters or {})
    disk_usage = disk_usage or {}
    flat.update({"disk.held": disk_usage.get("used_bytes"), "disk.limit": disk_usage.get("limit_bytes"), "disk.maxheld": None,
                 "inodes.held": disk_usage.get("used_inodes"), "inodes.limit": disk_usage.get("limit_inodes"),
                 "inodes.maxheld": None, "disk.failcnt": None, "inodes.failcnt": None})
    flat["approximate"] = list((cgroup_counters or {}).get("approximate") or ())
    return flat


def now_fields(live, limits=None):
    """The held and limit fields a view shows now: live ones while it runs, else the limits a start applies."""
    if live is not None:
        return dict((key, value) for key, value in live.items() if key.endswith((".held", ".limit")) and not key.startswith("cpu.held"))
    limits = limits or {}
    return {"memory.limit": limits.get("memory"), "swap.limit": limits.get("swap"), "pids.limit": limits.get("pids"),
            "cpu.limit": limits.get("cpus")}


class CounterFiles:
    """The ledger and sample files of one partition (or, with part A's tenants, of one tenant)."""

    def __init__(self, ledger_path, sample_path):
        self.ledger_path = ledger_path
        self.sample_path = sample_path

    @classmethod
    def of_partition(cls, store, name):
        directory = store.partition_dir(name)
        return cls(os.path.join(directory, LEDGER_FILE), os.path.join(directory, SAMPLE_FILE))

    def ledger(self, since):
        """The ledger, a new one starting at since when there is none (or none readable: a reader never fails on it)."""
        try:
            found = read_json(self.ledger_path)
        except PartitionError:
            found = None
        return found if isinstance(found, dict) and "since" in found else counters.new_ledger(since)

    def sample(self):
        try:
            found = read_json(self.sample_path)
        except (PartitionError, IOError, OSError):
            return None
        return found if isinstance(found, dict) else None

    def save_ledger(self, ledger):
        """Under the host lock only."""
        write_json_atomic(self.ledger_path, ledger)

    def save_sample(self, sample, previous=None):
        """Without the lock: readers see the old sample or the new one; a sample that cannot be written is skipped.
        Synced to disk only when it counts news (counters.sample_counts_news): every metrics round writes one per
        running partition."""
        if not os.path.isdir(os.path.dirname(self.sample_path)):
            return
        try:
            write_text_atomic(self.sample_path, json.dumps(sample, indent=2, sort_keys=True) + "\n",
                              sync=counters.sample_counts_news(previous, sample))
        except PartitionError:
            pass


class PartitionCounters:
    """Beancounters of one engine's partitions."""

    def __init__(self, engine):
        self.engine = engine

    def files(self, name):
        return CounterFiles.of_partition(self.engine.store, name)

    def life(self, document):
        """The id of the life the document records as running (in this boot), or None. The start time has seconds
        only, so init's PID (the runtime's pid file stays until the next start) tells two starts in one second apart."""
        started = ((document or {}).get("running") or {}).get("started")
        if not started:
            return None
        pid = read_text(self.engine.disk(document["spec"]).pid_file) if document.get("spec") else None
        return counters.life_id(boot_id(), "%s/%s" % (started, pid or "-"))

    def _live(self, name, disk_usage=None):
        """Flat fields of the partition's cgroup now, or None when it has none."""
        cgroup = self.engine.cgroup(name)
        if not cgroup.exists():
            return None
        return live_fields(cgroup.read_counters(), disk_usage)

    # ---- under the host lock ---------------------------------------------------------------------
    def read_running(self, name, document):
        """The cgroup's counters of the life the document records, or None; never raises (see fold_ended)."""
        if self.life(document) is None:
            return None
        try:
            return self._live(name)
        except (PartitionError, IOError, OSError):
            return None

    def fold_ended(self, name, document, counted=None):
        """Add the life the document records (just stopped, or left by a crash or a reboot) to the ledger, once:
        from its cgroup while that still counts it (and counted: what it counted before the runtime stopped, the
        higher of the two per field), else from its last sample. Never raises: a stop or a start goes on whatever
        the counting does."""
        if document is None:
            return
        try:
            files = self.files(name)
            ledger = files.ledger(document.get("created"))
            sample = files.sample()
            life = self.life(document)
            updated = ledger
            live = self._live(name) if life is not None and life not in ledger.get("folded", []) else None
            if counted is not None and life not in ledger.get("folded", []):
                live = counters.highest_of(counted, live)
            if live is not None:
                values, approximate = counters.life_values(ledger, life, live, sample)
                updated = counters.fold(ledger, life, values, approximate)
            if counters.stale_sample(updated, sample, life if live is not None else None):
                updated = counters.fold_sample(updated, sample)
            if updated is not ledger:
                files.save_ledger(updated)
        except (PartitionError, IOError, OSError):
            pass

    def reset(self, name, document, running):
        """Start the partition's counters again from now; the ledger written."""
        files = self.files(name)
        ledger = files.ledger(document.get("created"))
        life, live, restarted = self.life(document), None, []
        cgroup = self.engine.cgroup(name)
        if running and life is not None and cgroup.exists():
            restarted = cgroup.reset_peaks()
            live = live_fields(cgroup.read_counters())
        fresh = counters.reset(ledger, utc_now(), life if live is not None else None, live, restarted)
        if life is not None and live is None and life not in fresh["folded"]:
            fresh["folded"].append(life)  # a life that ended unfolded counts before the reset: never after it
        files.save_ledger(fresh)

    # ---- readers (no lock) ----------------------------------------------------------------------
    def view(self, name, document, running, disk_usage=None, record_sample=False):
        """The counters partition_info returns for one partition. record_sample: keep what was read as the running
        life's sample (readers without the lock do, so a crash loses only what came after the last read)."""
        files = self.files(name)
        ledger = files.ledger(document.get("created"))
        sample = files.sample()
        life = self.life(document)
        live = None
        if life is not None and life not in ledger.get("folded", []):
            live = self._live(name, disk_usage)  # running, or ended and not folded yet (init exited on its own)
        if live is None:
            life = None
        if counters.stale_sample(ledger, sample, life):
            ledger = counters.fold_sample(ledger, sample)  # as the next start will
        if running and live is not None and record_sample:
            files.save_sample(counters.next_sample(ledger, sample, life, live, utc_now()), sample)
        now = now_fields(live if running else None, (document.get("spec") or {}).get("resources"))
        disk_usage = disk_usage or {}
        now.update({"disk.held": disk_usage.get("used_bytes"), "disk.limit": disk_usage.get("limit_bytes"),
                    "inodes.held": disk_usage.get("used_inodes"), "inodes.limit": disk_usage.get("limit_inodes")})
        return counters.counters_view(ledger, life, live, sample, now)
