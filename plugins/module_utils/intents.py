# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The intent journal: what a run is about to change for a partition, recorded before and cleared after.

One file per partition, ``<state_dir>/intents/<name>.json``, written atomically (the old or the new, never half)
before a plan whose actions take several steps on the host, and removed once they are done. A file found by a
later run was left by a run that was killed (or lost its host) halfway: recovery.py finishes or rolls back what
it left. The journal lives beside, not in, the partition's directory: removing a partition removes that directory
before the removal is over.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic

# Actions that change the host in several steps a kill can separate (plan.ACTIONS): a plan holding one is journaled.
# The others change one thing (a document, a cgroup file, a freezer state) that the next plan compares again.
JOURNALED = ("prepare", "clone", "reset_disk", "start", "stop", "destroy")


def journaled(actions):
    return any(action in JOURNALED for action in actions)


def describe(actions):
    return ", ".join(actions) or "nothing"


class IntentJournal:
    """The intents of one state directory (the caller holds the host lock)."""

    def __init__(self, store):
        self.store = store
        self.base = os.path.join(store.root, "intents")

    def path(self, name):
        return os.path.join(self.base, name + ".json")

    def record(self, name, actions, spec=None, running_before=None):
        """Say what is about to change: the plan's actions, the spec they apply, and what the document said ran
        before (so recovery can tell a start that finished from one that did not)."""
        if not os.path.isdir(self.base):
            try:
                os.makedirs(self.base, 0o700, exist_ok=True)  # threads of one bulk run record side by side
            except OSError as exc:
                raise PartitionError("cannot make %s: %s" % (self.base, exc.strerror), path=self.base, errno=exc.errno)
        write_json_atomic(self.path(name), {"partition": name, "actions": list(actions), "spec": spec,
                                            "running_before": running_before, "pid": os.getpid()})

    def clear(self, name):
        try:
            os.unlink(self.path(name))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise

    def pending(self):
        """[(name, intent, None)] of every intent left, with (name, None, CorruptDocument) for one that cannot be read."""
        try:
            entries = sorted(os.listdir(self.base))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return []
            raise
        found = []
        for entry in entries:
            if entry.startswith(".") or not entry.endswith(".json"):  # .tmp-*: a write a kill cut short (sweep)
                continue
            name = entry[:-len(".json")]
            try:
                intent = read_json(self.path(name))
                if not isinstance(intent, dict) or not isinstance(intent.get("actions"), list):
                    raise CorruptDocument("intent %s is not an intent" % self.path(name), path=self.path(name))
                found.append((name, intent, None))
            except CorruptDocument as exc:
                found.append((name, None, exc))
        return found

    def pending_warnings(self):
        """What a run that changes nothing (check mode, partition_info) says of intents left: the next run acts on them.
        (messages, whether the next run would change something)."""
        pending = self.pending()
        return ["partition %s: a run was killed during %s; the next partition run that may change the host finishes it"
                % (name, describe(intent["actions"]) if intent else "an unknown change") for name, intent, _corrupt in pending], \
            any(intent is not None for _name, intent, _corrupt in pending)

    def sweep(self):
        """Remove intent files a kill cut short while they were written (they never said anything)."""
        try:
            entries = os.listdir(self.base)
        except OSError:
            return
        for entry in entries:
            if entry.startswith(".tmp-"):
                os.unlink(os.path.join(self.base, entry))
