# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recovery: what a killed run left, finished or rolled back before anything else runs on the state directory.

The partition module (at the start of every run that may change something) and the boot command run it under
the host lock, over every intent the journal (intents.py) still holds. What each kind of plan needs:

* a removal is finished (a half-removed partition is never brought back with a blank disk, and its ID range,
  cgroup parents and nft tables go once what they protect is gone);
* a start that did not finish is rolled back (a created or running container whose document says it is stopped,
  and its interfaces, guards, mount and cgroup, would stay behind a `state: stopped` forever); one that finished
  (recorded, and the runtime runs it) is kept;
* a stop is finished (the runtime went first; the interfaces' guards, the mount and the cgroup went after);
* a disk reset is finished: the old files go and the new settings are recorded, the partition stopped;
* staging trees of a killed copy (a tenant's shifted template) are swept.

Recovery never starts anything: the run that follows plans from what is left, like any other.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.intents import IntentJournal, describe
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import runtime_status

TO_RUNTIME = ("start", "stop", "reset_disk")  # actions after whose kill the runtime is brought to stopped


class Recovery:
    """Finishes or rolls back the intents of one engine's state directory (the caller holds the host lock)."""

    def __init__(self, engine, actions, journal=None):
        self.engine = engine
        self.actions = actions  # a PartitionActions on the same engine
        self.journal = journal or IntentJournal(engine.store)

    def run(self):
        """Finish or roll back every intent left: (one message for each, what was done or why it could not be,
        whether anything was done)."""
        pending = self.journal.pending()
        self.journal.sweep()
        if not pending:
            return [], False
        messages, changed = [], False
        for name, intent, corrupt in pending:
            if corrupt is not None:
                messages.append("%s; it is kept and ignored (remove it when nothing is left half done)" % corrupt.msg)
                continue
            try:
                done = self._recover(name, intent)
            except PartitionError as exc:
                messages.append("partition %s: a run was killed during %s, and finishing it failed: %s (the next run "
                                "tries again)" % (name, describe(intent["actions"]), exc.msg))
                continue
            self.journal.clear(name)
            changed = True
            messages.append("partition %s: a run was killed during %s; %s" % (name, describe(intent["actions"]), done))
        self.engine.templates.sweep()  # a killed copy's staging tree (238 MB for a Debian template)
        return messages, changed

    def _recover(self, name, intent):
        """Bring one partition to a state the next plan converges; what was done, in words."""
        actions = intent["actions"]
        try:
            document = self.engine.store.load_partition(name)
        except CorruptDocument as exc:
            if "destroy" not in actions:
                raise PartitionError("its document cannot be read (%s); state: absent removes it" % exc.msg)
            document = None
        if "destroy" in actions:
            self.actions.remove(name, document)
            return "finished its removal"
        if "start" in actions and self._started(name, intent, document):
            return "its start had finished; it is kept running"
        done = []
        if any(action in TO_RUNTIME for action in actions) and (document is not None or self.engine.runtime.state(name)):
            document = self.actions.stop_partition(name, document)
            done.append("stopped it and removed its runtime, interfaces, mount and cgroup")
        if "reset_disk" in actions and intent.get("spec") and document is not None:
            self.engine.disk(document["spec"]).wipe()
            self.actions.save_spec(name, intent["spec"], dict(document, running=None))
            done.append("removed its old disk and recorded its new settings")
        return " and ".join(done) if done else "swept what it was making"

    def _started(self, name, intent, document):
        """Whether a start finished: the document records a new running init and the runtime runs it."""
        running = (document or {}).get("running")
        if not running or running == intent.get("running_before"):
            return False
        return runtime_status(self.engine.runtime.state(name)) in ("running", "frozen")
