# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a partition's own files: take (present), roll back to (restored), delete (absent).

A snapshot is a copy of the own files (partition_files.py: the overlay's upper layer, or the full copy), made while the
partition is frozen (paused, not stopped), with reflinks where the filesystem shares blocks (XFS, btrfs)::

    <state_dir>/partitions/<p>/snapshots/<name>/files/          the copy (owners as the partition's ID range had them)
    <state_dir>/partitions/<p>/snapshots/<name>/snapshot.json   written last: a snapshot without it is a killed take's

The snapshots lie outside any quota layer (project quota or loop image): they do not count against the partition's disk
quota. They go with the partition (its state absent lists them). A restore stops a running or frozen partition,
replaces its own files in place (marked, so a killed restore is finished by the next call and the partition does not
start on half of them), clears the overlay's work directory, and starts it again as it was (a frozen one frozen).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import (
    PartitionFiles,
    copy_tree,
    interrupted_replacement,
    replacing,
    shift_tree,
    sync_directory,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import remove_tree

SNAPSHOT_STATES = ("present", "absent", "restored")
SNAPSHOTS = "snapshots"
DOCUMENT = "snapshot.json"
FILES = "files"
# One directory name: no separator, no "..", nothing hidden (a leading "." is the sweep's: .trash-*).
SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


def validate_snapshot_name(name, option="name"):
    if not isinstance(name, str) or not SNAPSHOT_NAME.match(name) or ".." in name:
        raise InvalidOption(option, name, "a snapshot's name must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-' and '.', "
                                          "not starting with '.' or '-', without '/' or '..' (it names a directory)")
    return name


def snapshots_dir(partition_dir):
    return os.path.join(partition_dir, SNAPSHOTS)


def list_snapshots(partition_dir):
    """[{name, created, size}] of the partition's whole snapshots, oldest first ([] when it has none)."""
    directory = snapshots_dir(partition_dir)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("."):
            continue
        try:
            document = read_json(os.path.join(directory, name, DOCUMENT))
        except (CorruptDocument, OSError):
            document = None
        if isinstance(document, dict):
            found.append(_entry(name, document))
    return sorted(found, key=lambda entry: (entry["created"] or "", entry["name"]))


def _entry(name, document):
    return {"name": name, "created": document.get("created"), "size": document.get("size")}


def removal_warning(name, partition_dir):
    """For a partition's state absent: the warning that names the snapshots going with it (None without any)."""
    names = [entry["name"] for entry in list_snapshots(partition_dir)]
    if not names:
        return names, None
    return names, "partition %s: removing it removes its snapshot(s) %s" % (name, ", ".join(names))


def validate(params):
    """(partition, name, state) of the module's parameters, each checked alone (InvalidOption naming it)."""
    partition = validate_name(params.get("partition"), "partition")
    name = validate_snapshot_name(params.get("name"))
    state = params.get("state") or "present"
    if state not in SNAPSHOT_STATES:
        raise InvalidOption("state", state, "must be one of %s" % ", ".join(SNAPSHOT_STATES))
    return partition, name, state


def _utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SnapshotManager:
    """The snapshot module's room: one partition's snapshots under one engine."""

    def __init__(self, engine):
        self.engine = engine

    def converge(self, params):
        """Validate, plan and apply; (changed, result, warnings, diff): result has snapshots and snapshot."""
        engine = self.engine
        partition, name, state = validate(params)
        if engine.store.load_partition(partition) is None:
            raise InvalidOption("partition", partition, "no such partition in %s" % engine.store.root)
        files = PartitionFiles(engine, partition)
        existing = dict((entry["name"], entry) for entry in list_snapshots(files.dir))
        warnings = []
        before = {"snapshots": sorted(existing)}
        interrupted = interrupted_replacement(files.dir)
        if state == "restored" and name not in existing:
            raise InvalidOption("name", name, "partition %s has no snapshot of that name (it has: %s)"
                                % (partition, ", ".join(sorted(existing)) or "none"))
        if state == "restored":
            self._refuse_unrestorable(files, name)
        if state == "absent" and interrupted is not None and interrupted.get("snapshot") == name:
            raise InvalidOption("name", name, "an interrupted restore of partition %s needs this snapshot: restore it "
                                              "again first" % partition)
        finished = False
        if interrupted is not None and interrupted.get("snapshot") and not (state == "restored" and interrupted["snapshot"] == name):
            if engine.check_mode:
                warnings.append("partition %s: %s did not finish; a run would finish it first" % (partition, interrupted["what"]))
            else:
                self._restore(files, interrupted["snapshot"], interrupted.get("was"))
                warnings.append("partition %s: finished the interrupted %s" % (partition, interrupted["what"]))
                finished = True
        changed = self._needs_change(state, name, existing)
        if changed and not engine.check_mode:
            if state == "present":
                changed = self._take(files, name)
            elif state == "restored":
                resumed = interrupted is not None and interrupted.get("snapshot") == name  # this very restore, killed
                self._restore(files, name, interrupted.get("was") if resumed else None)
            else:
                changed = self._remove(files, name)
        after_list = list_snapshots(files.dir) if not engine.check_mode else self._would_be(state, name, existing)
        names = [entry["name"] for entry in after_list]
        acted = dict((entry["name"], entry) for entry in after_list).get(name)
        snapshot = dict(acted or {"name": name, "created": None, "size": None}, state="present" if acted else "absent")
        after = {"snapshots": sorted(names)}
        if state == "restored":
            after["restored_from"] = name
        result = {"snapshots": after_list, "snapshot": snapshot}
        return changed or finished, result, warnings, named_diff("snapshots of partition", partition, before, after)

    @staticmethod
    def _needs_change(state, name, existing):
        if state == "present":
            return name not in existing
        if state == "absent":
            return name in existing
        return True  # a roll-back always changes the partition (like a restart)

    @staticmethod
    def _would_be(state, name, existing):
        entries = dict(existing)
        if state == "present" and name not in entries:
            entries[name] = {"name": name, "created": None, "size": None}
        elif state == "absent":
            entries.pop(name, None)
        return sorted(entries.values(), key=lambda entry: (entry["created"] or "~", entry["name"]))

    def _document(self, files, name):
        document = read_json(os.path.join(snapshots_dir(files.dir), name, DOCUMENT))
        if not isinstance(document, dict):
            raise InvalidOption("name", name, "partition %s has no snapshot of that name" % files.name)
        return document

    def _refuse_unrestorable(self, files, name):
        """Before anything changes: a snapshot of another disk layout, or larger than the disk quota, is refused."""
        document = self._document(files, name)
        storage = files.spec.get("storage") or "overlay"
        if document.get("storage", "overlay") != storage:
            raise InvalidOption("name", name, "snapshot of partition %s with storage %s; the partition now has storage %s"
                                % (files.name, document.get("storage"), storage))
        quota = (files.spec.get("resources") or {}).get("disk")
        if quota and (document.get("size") or 0) > quota:
            raise InvalidOption("name", name, "the snapshot holds %d bytes, more than the partition's disk quota of %d"
                                % (document["size"], quota))

    # ---- the changes --------------------------------------------------------------------------------------
    def _take(self, files, name):
        """Copy the own files of the (frozen) partition into the snapshot; False when another run took it first."""
        directory = snapshots_dir(files.dir)
        try:
            os.mkdir(directory, 0o700)  # root only: the copies keep the tenant's setuid files and modes
        except FileExistsError:
            pass
        with files.busy("snapshot %s" % name):
            self._sweep(directory)
            target = os.path.join(directory, name)
            if os.path.exists(os.path.join(target, DOCUMENT)):
                return False
            os.mkdir(target, 0o700)
            base = files.id_base
            with files.consistent("freeze") as root:
                size = copy_tree(root, os.path.join(target, FILES))
            write_json_atomic(os.path.join(target, DOCUMENT), {
                "name": name, "partition": files.name, "created": _utc_now(), "size": size,
                "storage": files.spec.get("storage") or "overlay", "id_base": base, "template": files.template})
            sync_directory(target)
        return True

    def _restore(self, files, name, was=None):
        """Roll the own files back to the snapshot; the partition runs afterwards as it did before (was: as it did
        before an interrupted restore that this one finishes)."""
        engine = self.engine
        source = os.path.join(snapshots_dir(files.dir), name, FILES)
        with files.busy("restore of snapshot %s" % name):
            document = self._document(files, name)  # read again under the lock: a removal may have gone first
            if not os.path.isdir(source):
                raise PartitionError("snapshot %s of partition %s has no files (%s); it cannot be restored" % (name, files.name, source))
            status = files.status()
            was = was or status
            intent = {"what": "restore of snapshot %s" % name, "snapshot": name, "was": was,
                      "redo": "run linuxvps.partitions.snapshot with partition %s, name %s, state restored" % (files.name, name)}
            with files.consistent("stop") as root:
                with replacing(files.dir, intent):
                    with engine.store.lock():
                        files.disk.unmount()  # never replace a layer under its overlay (a stopped one has none mounted)
                    _replace(root, source, document.get("id_base"), files.id_base)
                    if (files.spec.get("storage") or "overlay") == "overlay":
                        remove_tree(files.disk.work)  # overlay's scratch space belongs to the upper layer it served
                        os.mkdir(files.disk.work, 0o755)
            if status == "stopped" and was != "stopped":
                self._converge(files.name, "frozen" if was == "frozen" else "started")

    def _converge(self, name, state):
        # imported here: converge plans a partition's removal with this module's list of snapshots
        from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
        Converger(self.engine).converge({"name": name, "state": state})

    def _remove(self, files, name):
        directory = snapshots_dir(files.dir)
        with files.busy("removal of snapshot %s" % name):
            self._sweep(directory)
            target = os.path.join(directory, name)
            if not os.path.isdir(target):
                return False
            trash = tempfile.mkdtemp(prefix=".trash-", dir=directory)
            os.rename(target, os.path.join(trash, name))  # gone from the list at once; a kill leaves trash
            remove_tree(trash)
        return True

    @staticmethod
    def _sweep(directory):
        """What killed runs left (the caller holds the busy lock): trash, and takes without their document."""
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if entry.startswith(".trash-") or (os.path.isdir(path) and not os.path.exists(os.path.join(path, DOCUMENT))):
                remove_tree(path)


def _replace(root, source, snapshot_base, base):
    """Make root hold exactly the snapshot's files, owned for the partition's ID range now (the caller marked it).

    In place, the old files first: a quota (project or image) has room for one copy of the files, not two.
    """
    discard = root + ".discard"
    remove_tree(discard)
    if os.path.lexists(root):
        os.rename(root, discard)
        remove_tree(discard)
    copy_tree(source, root)
    if snapshot_base != base:
        shift_tree(root, snapshot_base, base)  # the tenant's range changed since (a recreate under another tenant)


__all__ = ["SnapshotManager", "list_snapshots", "removal_warning", "validate", "validate_snapshot_name"]
