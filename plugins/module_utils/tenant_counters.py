# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's own beancounters (its cgroup's: the hits of the tenant's limits) that outlive the tenant's cgroup.

The same ledger as a partition's (counters.py does the arithmetic, partition_counters.CounterFiles the files):

    tenants/<name>.counters.json         the ledger; written only under the host lock
    tenants/<name>.counters.sample.json  the last sample of the cgroup's running life; written by readers WITHOUT
                                         the lock (partition_info), by atomic rename

A *life* is one tenant cgroup, from its making to its removal: boot_id + the inode of its directory (the kernel's
cgroup id, never reused within a boot). Without systemd the cgroup of a tenant nobody declares goes when its last
partition stops (launch.sweep_tenant): its life is folded from the cgroup just before. A life a reboot ended (or a
cgroup removed behind our back) is folded from its last sample when the tenant's cgroup is made again (a partition's
start, the tenant module), under systemd too, where the slice outlives its partitions but not a reboot.

Counting is never worth a failed start or stop: a ledger that cannot be read or written is left as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import counters
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_counters import (
    CounterFiles,
    boot_id,
    live_fields,
    now_fields,
    utc_now,
)

LEDGER_SUFFIX = ".counters.json"
SAMPLE_SUFFIX = ".counters.sample.json"


def cgroup_life(cgroup):
    """The id of the tenant cgroup's life, or None while it does not exist (cgroup None: a slice not active)."""
    key = cgroup.life_key() if cgroup is not None else None
    return None if key is None else counters.life_id(boot_id(), "cgroup-%s" % key)


class TenantCounters:
    """The own counters of one engine's tenants."""

    def __init__(self, engine):
        self.engine = engine

    def files(self, tenant):
        base = os.path.join(self.engine.store.tenants_base, tenant)
        return CounterFiles(base + LEDGER_SUFFIX, base + SAMPLE_SUFFIX)

    def has_files(self, tenant):
        files = self.files(tenant)
        return os.path.exists(files.ledger_path) or os.path.exists(files.sample_path)

    @staticmethod
    def _live(cgroup):
        """Flat fields of the tenant's cgroup now: the hits of its own limits only (local)."""
        return live_fields(cgroup.read_counters(local=True))

    # ---- under the host lock ---------------------------------------------------------------------
    def _ledger(self, files):
        """The ledger to update: the one on disk, or a new one counting from now."""
        ledger = files.ledger(None)
        return ledger if ledger.get("since") is not None else counters.new_ledger(utc_now())

    def _save(self, files, ledger):
        directory = os.path.dirname(files.ledger_path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700, exist_ok=True)
        files.save_ledger(ledger)

    def begin(self, tenant, cgroup):
        """Before the tenant's cgroup is made (or found) for a start or by the tenant module: a ledger that counts from
        now if there is none, and a life that ended unfolded (a reboot) added from its last sample. Never raises."""
        try:
            files = self.files(tenant)
            ledger = self._ledger(files)
            sample = files.sample()
            updated = ledger
            if counters.stale_sample(ledger, sample, cgroup_life(cgroup)):
                updated = counters.fold_sample(ledger, sample)
            if updated is not ledger or not os.path.exists(files.ledger_path):
                self._save(files, updated)
        except (PartitionError, IOError, OSError):
            pass

    def remove_folding(self, tenant, cgroup, remove):
        """remove() the tenant's cgroup (what it raises is raised); once it is gone, its life is in the ledger (what it
        counted just before). A cgroup remove() leaves (a partition still in it) goes on counting: nothing is folded."""
        life, live = cgroup_life(cgroup), None
        if life is not None:
            try:
                live = self._live(cgroup)
            except (PartitionError, IOError, OSError):
                live = None
        remove()
        if live is None or cgroup.exists():
            return
        try:
            files = self.files(tenant)
            ledger = self._ledger(files)
            sample = files.sample()
            values, approximate = counters.life_values(ledger, life, live, sample)
            updated = counters.fold(ledger, life, values, approximate)
            if counters.stale_sample(updated, sample, None):
                updated = counters.fold_sample(updated, sample)
            self._save(files, updated)
        except (PartitionError, IOError, OSError):
            pass

    def reset(self, tenant, cgroup):
        """Start the tenant's counters again from now; the ledger written."""
        files = self.files(tenant)
        ledger = self._ledger(files)
        life, live, restarted = cgroup_life(cgroup), None, []
        if life is not None:
            restarted = cgroup.reset_peaks()
            live = self._live(cgroup)
        self._save(files, counters.reset(ledger, utc_now(), life if live is not None else None, live, restarted))

    def forget(self, tenant):
        """The tenant's ledger and sample go (with the tenant's record, or its last partition)."""
        files = self.files(tenant)
        for path in (files.ledger_path, files.sample_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    # ---- readers (no lock) ----------------------------------------------------------------------
    def view(self, tenant, cgroup, limits=None, record_sample=False):
        """The tenant's counters as partition_info returns them (counters.counters_view: the ledger and the running
        cgroup's), or None when it has neither. record_sample: keep what was read as the running life's sample."""
        files = self.files(tenant)
        recorded = os.path.exists(files.ledger_path)
        ledger = files.ledger(None)
        sample = files.sample()
        life, live = cgroup_life(cgroup), None
        if life is not None and life not in ledger.get("folded", []):
            live = self._live(cgroup)
        if live is None:
            life = None
            if not recorded:
                return None
        if counters.stale_sample(ledger, sample, life):
            ledger = counters.fold_sample(ledger, sample)  # as the next making of the cgroup will
        if live is not None and record_sample and recorded:  # a sample needs the ledger's since to count
            files.save_sample(counters.next_sample(ledger, sample, life, live, utc_now()), sample)
        return counters.counters_view(ledger, life, live, sample, now_fields(live, limits))
