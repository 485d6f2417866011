# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of a partition (archive.py's format) and restores of one on this host.

present: archive the partition's own files (frozen, stopped or live) with its spec and template identity. "Nothing
changed" is decided honestly: the archive's header records a fingerprint of the own files' metadata (every entry's
path, mode, owners, size, inode, mtime and ctime; see archive.fingerprint) with the spec, the running state, the
template, the compression and the incremental base; a fresh walk that gives the same fingerprint means the archive
at path already holds exactly this, so it is kept (ok).

restored: create the partition from an archive (or apply an incremental archive onto the stopped partition restored
from its base). Its document is written first, saying ``restoring`` (path and sha256 of the archive), so every scan of
the state directory sees a stopped partition; the files go into a new disk, their owners moved to this host's range
for the partition's tenant; then the document says ``restored_from`` instead. A run killed halfway leaves
``restoring``: the next restore of the same archive removes what it made and starts again (an increment is applied
again), ``partition state=absent`` removes it, and a restore of another archive is refused. Restoring the archive a
partition was restored from again is ok (nothing to do, except the start a killed run did not get to).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils import archive
from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import Conflict, InvalidOption, NotFound, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.faults import pause_point
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import utc_now
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import CONSISTENCY_MODES, PartitionFiles, hold_busy
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name


class Outcome:
    """What a backup or restore did or would do."""

    def __init__(self, changed, archive_info, partition, before=None, after=None, warnings=None, running=None):
        self.changed = changed
        self.archive = archive_info
        self.partition = partition
        self.before = before
        self.after = after
        self.warnings = warnings or []
        self.running = running

    def result(self, diff_name):
        result = {"changed": self.changed, "archive": self.archive, "partition": self.partition}
        if self.running is not None:
            result["running"] = self.running
        result["diff"] = named_diff("backup", diff_name, self.before, self.after)
        return result


def check_options(params):
    """Options of the other state are refused, naming them, rather than ignored."""
    only = {"present": ("incremental_from",), "restored": ("name", "start")}
    for state, options in only.items():
        for option in options:
            if params.get(option) is not None and params["state"] != state:
                raise InvalidOption(option, params[option], "applies only with state=%s" % state)


def refuse_inside_partitions(engine, path, option):
    """A path inside any partition's tree (or a template's) is a tenant's to swap: refused, naming the option."""
    if not os.path.isabs(path):
        raise InvalidOption(option, path, "must be an absolute path")
    parent = os.path.realpath(os.path.dirname(path))
    resolved = os.path.join(parent, os.path.basename(path))
    for tree in (engine.store.partitions_base, engine.store.rootfs_base):
        real = os.path.realpath(tree)
        if resolved == real or resolved.startswith(real + os.sep):
            raise InvalidOption(option, path, "lies inside %s, a partition's or template's tree; put archives outside %s"
                                % (real, engine.store.root))
    for name in engine.store.partition_names():  # a partition's own mounts may lie elsewhere (storage copy is inside too)
        root = os.path.realpath(engine.store.partition_dir(name))
        if resolved.startswith(root + os.sep):
            raise InvalidOption(option, path, "lies inside the tree of partition %s" % name)


class Backups:
    """Backups and restores of one engine's partitions."""

    def __init__(self, engine):
        self.engine = engine

    # ---- present ---------------------------------------------------------------------------------------
    def backup(self, partition, path, mode="freeze", compression="zstd", incremental_from=None):
        engine = self.engine
        validate_name(partition, "partition")
        if mode not in CONSISTENCY_MODES:
            raise InvalidOption("mode", mode, "must be one of %s" % ", ".join(CONSISTENCY_MODES))
        if compression not in archive.COMPRESSIONS:
            raise InvalidOption("compression", compression, "must be one of %s" % ", ".join(archive.COMPRESSIONS))
        refuse_inside_partitions(engine, path, "path")
        if not os.path.isdir(os.path.dirname(path)):
            raise InvalidOption("path", path, "its directory %s does not exist" % os.path.dirname(path))
        try:
            files = PartitionFiles(engine, partition)
        except NotFound as exc:
            raise InvalidOption("partition", partition, exc.msg)
        base = self._incremental_base(partition, path, incremental_from)
        header = self._header(files, base, compression)
        existing = self._existing(path)
        before = self._summary(existing, path) if existing else None
        after = dict(self._summary(header, path), compression=compression)
        if existing is not None and header["fingerprint"] is not None and existing["fingerprint"] == header["fingerprint"]:
            sha256, size = archive.file_digest(path, remember=not engine.check_mode)
            return Outcome(False, archive.describe(existing, path, sha256, size, archive.detect_compression_of(path)), partition,
                           before, before)
        if engine.check_mode:
            return Outcome(True, archive.describe(header, path, compression=compression), partition, before, after)
        warnings = []
        with files.busy("backup to %s" % path):
            with files.consistent(mode) as root:
                header = self._header(files, base, compression, running=header["running"])  # as frozen or stopped
                warnings = archive.write_archive(path, header, root, files.id_base, compression,
                                                 base_snapshot=base and base["snapshot"], live=mode == "live")
        sha256, size = archive.file_digest(path, remember=True)
        return Outcome(True, archive.describe(header, path, sha256, size, compression), partition, before,
                       self._summary(header, path), warnings)

    def _incremental_base(self, partition, path, incremental_from):
        """{"path", "sha256", "snapshot"} of the archive an incremental one builds on, checked; None without one."""
        if incremental_from is None:
            return None
        refuse_inside_partitions(self.engine, incremental_from, "incremental_from")
        if os.path.abspath(incremental_from) == os.path.abspath(path):
            raise InvalidOption("incremental_from", incremental_from, "is the archive being written (option path)")
        header, _compression = archive.read_header(incremental_from, "incremental_from")
        archive.check_readable(header, incremental_from, "incremental_from")
        if header["partition"] != partition:
            raise InvalidOption("incremental_from", incremental_from, "is an archive of partition %s, not of %s"
                                % (header["partition"], partition))
        snapshot = incremental_from + archive.SNAPSHOT_SUFFIX
        if not os.path.isfile(snapshot) or os.path.islink(snapshot):
            raise InvalidOption("incremental_from", incremental_from, "has no %s beside it (the file list an increment "
                                "is made against; it is written with every archive on the host that made it)" % snapshot)
        return {"path": incremental_from, "snapshot": snapshot,
                "sha256": archive.file_digest(incremental_from, remember=not self.engine.check_mode)[0]}

    def _header(self, files, base, compression, running=None):
        status = files.status()
        running = status != "stopped" if running is None else running
        template = files.template
        identity = {"spec": files.spec, "running": running, "template": template, "compression": compression,
                    "incremental_from": base and base["sha256"], "files": archive.fingerprint(files.root)}
        return {
            "format": archive.FORMAT,
            "collection": archive.COLLECTION_VERSION,
            "partition": files.name,
            "spec": files.spec,
            "running": running,
            "template": template,
            "id_base": files.id_base,  # the raw IDs inside ACLs and capabilities are of this range
            "created": utc_now(),
            "incremental_from": base and {"path": base["path"], "sha256": base["sha256"]},
            "fingerprint": archive.fingerprint_of(identity) if identity["files"] is not None else None,
        }

    def _existing(self, path):
        """The header of an archive of ours at path (None: no file, or one of another format, which is replaced). Any
        other file there is refused: it is not ours to overwrite."""
        if not os.path.lexists(path):
            return None
        try:
            header, _compression = archive.read_header(path)
        except InvalidOption:
            raise InvalidOption("path", path, "exists and is not a linuxvps backup archive; remove it or choose another path")
        try:
            return archive.check_readable(header, path)
        except InvalidOption:
            return None

    @staticmethod
    def _summary(header, path):
        return {"path": path, "partition": header["partition"], "template": header["template"], "running": header["running"],
                "incremental_from": (header.get("incremental_from") or {}).get("path"), "fingerprint": header["fingerprint"]}

    # ---- restored --------------------------------------------------------------------------------------------
    def restore(self, path, name=None, start=None, partition=None):
        engine = self.engine
        refuse_inside_partitions(engine, path, "path")
        header, compression = archive.read_header(path)
        archive.check_readable(header, path)
        if partition is not None and partition != header["partition"]:
            raise InvalidOption("partition", partition, "the archive %s holds partition %s" % (path, header["partition"]))
        target = validate_name(name if name is not None else header["partition"], "name")
        self._check_template(header["template"])
        spec = self._restored_spec(header, target)
        incremental = header.get("incremental_from")
        sha256, size = archive.file_digest(path, remember=not engine.check_mode)
        info = archive.describe(header, path, sha256, size, compression)
        document = engine.store.load_partition(target)
        restored = (document or {}).get("restored_from") or {}
        restoring = (document or {}).get("restoring")
        status = engine.observe(target)["status"] if document is not None else "stopped"
        want_start = header["running"] if start is None else start
        if restoring is not None and restoring.get("sha256") != sha256:
            raise InvalidOption("name", target, "partition %s was being restored from %s when a run stopped; restore that "
                                "archive again, or remove the partition" % (target, restoring.get("path")))
        if document is not None and restoring is None and restored.get("sha256") == sha256:
            pending = want_start and not restored.get("started") and status == "stopped"  # a start a killed run missed
            if pending and not engine.check_mode:
                self._start(target)
            return Outcome(bool(pending), info, target, running=bool(pending or status != "stopped"))
        if incremental is None:
            if document is not None and restoring is None:
                raise InvalidOption("name", target, "partition %s exists (restored from %s); choose another name or remove it"
                                    % (target, restored.get("path") or "no archive"))
            self._refuse_addresses(spec, target)
        else:
            if document is None:
                raise InvalidOption("path", path, "is an incremental archive (of %s); partition %s does not exist: restore "
                                    "that base archive first" % (incremental.get("path"), target))
            if restoring is None and restored.get("sha256") != incremental["sha256"]:
                raise InvalidOption("path", path, "is an increment of archive %s (sha256 %s), but partition %s was restored "
                                    "from %s" % (incremental.get("path"), incremental["sha256"], target, restored.get("sha256")))
            if status != "stopped":
                raise InvalidOption("name", target, "partition %s is %s; an incremental archive applies onto a stopped "
                                    "partition" % (target, status))
        before = None if document is None else {"partition": target, "restored_from": restored.get("path")}
        after = {"partition": target, "restored_from": path, "spec": spec, "start": bool(want_start)}
        if engine.check_mode:
            return Outcome(True, info, target, before, after, running=bool(want_start))
        warnings = list(self._spec_warnings(header, target))
        record = {"path": path, "sha256": sha256, "created": header.get("created"), "partition": header["partition"],
                  "started": not want_start}
        if incremental is None:
            self._restore_full(path, header, spec, record)
        else:
            self._restore_increment(path, header, target, record)
        if want_start:
            self._start(target)
        return Outcome(True, info, target, before, after, warnings, running=bool(want_start))

    def _check_template(self, template):
        manifest = self.engine.templates.manifest(template["name"])
        if manifest is None:
            raise NotFound("rootfs template %s (of the archive) does not exist on this host; build it with "
                           "linuxvps.partitions.rootfs first (source digest %s)" % (template["name"], template.get("source")),
                           rootfs=template["name"])
        if manifest.get("source") != template.get("source"):
            raise Conflict("rootfs template %s on this host was built from other options (source digest %s) than the "
                           "archive's (%s); the partition's files only fit the same template"
                           % (template["name"], manifest.get("source"), template.get("source")), rootfs=template["name"])

    @staticmethod
    def _restored_spec(header, target):
        spec = dict(header["spec"], name=target)
        old = header["partition"]
        if target != old:
            if spec.get("tenant") == old:
                spec["tenant"] = target  # its own tenant, by its new name (a declared tenant is kept)
            if spec.get("hostname") == old:
                spec["hostname"] = target
        spec.pop("secret_env", None)  # the values are not archived
        return spec

    @staticmethod
    def _spec_warnings(header, target):
        if header["spec"].get("secret_env"):
            yield ("partition %s: secret_env is not archived; set it again with linuxvps.partitions.partition" % target)

    def _refuse_addresses(self, spec, target):
        used, _unreadable = self.engine.read_host().partition_addresses()
        for iface in spec.get("interfaces") or []:
            for cidr in iface.get("addresses") or []:
                owner = used.get(cidr.split("/")[0])
                if owner is not None and owner != target:
                    raise InvalidOption("name", target, "the archive's address %s is partition %s's on this host; restore "
                                        "it where %s is not, or remove %s first" % (cidr, owner, owner, owner))

    def _restore_full(self, path, header, spec, record):
        """A new partition from a whole archive, under the host lock. Its document comes first, saying ``restoring``
        (every scan of the state directory sees a partition, stopped), and is rewritten once the files are whole."""
        engine = self.engine
        name = spec["name"]
        with engine.store.lock():
            document = engine.store.load_partition(name)
            if document is not None:
                if (document.get("restoring") or {}).get("sha256") != record["sha256"]:
                    raise InvalidOption("name", name, "partition %s exists" % name)
                self._sweep(name, document)  # a restore of this archive killed halfway: made again from the start
            elif os.path.isdir(engine.store.partition_dir(name)):
                raise InvalidOption("name", name, "%s exists without a partition document; remove it with "
                                    "linuxvps.partitions.partition state=absent" % engine.store.partition_dir(name))
            document = {"name": name, "created": utc_now(), "running": None, "spec": spec, "restoring": record}
            engine.store.save_partition(name, document)
            try:
                base = engine.id_base(spec)
                lower, _manifest = engine.lower_root(spec, base)
                disk = engine.disk(spec)
                if disk.mode == "overlay":
                    disk.prepare(lower, owner=base)
                    root = disk.upper
                else:
                    os.mkdir(disk.copy, 0o755)
                    root = disk.copy
                archive.extract_archive(path, root)
                archive.shift_tree(root, archive.IdShift(base, header.get("id_base")))
                if disk.mode != "overlay":
                    disk.prepare(lower, owner=base)  # the copy is there: only the bundle's directories
                pause_point("restore-extracted")
            except PartitionError:
                self._sweep(name, document)
                raise
            engine.store.save_partition(name, self._restored(document, record))

    def _restore_increment(self, path, header, name, record):
        """Apply an incremental archive onto the stopped partition restored from its base, under the host lock. A run
        killed halfway leaves ``restoring`` in the document: the next run of the same archive applies it again (the
        extraction is repeatable)."""
        engine = self.engine
        with engine.store.lock():
            document = engine.store.load_partition(name)
            if engine.observe(name)["status"] != "stopped":
                raise InvalidOption("name", name, "partition %s runs; an incremental archive applies onto a stopped one" % name)
            with hold_busy(engine.store.partition_dir(name), name, "restore from %s" % path):
                document = dict(document, restoring=record)
                engine.store.save_partition(name, document)
                files = PartitionFiles(engine, name)
                files._ensure_layer()  # pylint: disable=protected-access
                base = engine.id_base(document["spec"])
                archive.extract_archive(path, files.root, incremental=True)
                archive.shift_tree(files.root, archive.IdShift(base, header.get("id_base")))
                engine.store.save_partition(name, self._restored(document, record))

    @staticmethod
    def _restored(document, record):
        document = dict(document, restored_from=record)
        document.pop("restoring", None)
        return document

    def _sweep(self, name, document):
        """Remove what a failed or killed restore made of the partition (its files, document, directory, unused range)."""
        from ansible_collections.linuxvps.partitions.plugins.module_utils.actions import PartitionActions
        PartitionActions(self.engine).remove(name, document)

    def _start(self, name):
        from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
        engine = self.engine
        Converger(engine).converge({"name": name, "state": "started"})
        with engine.store.lock():
            document = engine.store.load_partition(name)
            if document is not None and document.get("restored_from"):
                engine.store.save_partition(name, dict(document, restored_from=dict(document["restored_from"], started=True)))
