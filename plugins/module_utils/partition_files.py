# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A partition's own files, for whatever copies them whole: snapshots, backups, clones, moves.

The own files are the partition's writable layer (overlay: ``upper/``, inside ``layer/`` with a quota) or its full
copy (storage copy). They are a tenant's tree: while they are copied the tenant is frozen or stopped (mode live:
not), and the copy (cp -a) follows no link, opens no FIFO and reads no device. The host lock is held only to look
and to freeze, stop, thaw or start; never while tenant content is copied.

Use::

    files = PartitionFiles(engine, name)            # NotFound when the partition has no document
    with files.busy("snapshot web1/before"):        # PartitionBusy when another copy of them is in progress
        with files.consistent("freeze") as root:    # paused for the block (resumed after unless it was frozen)
            size = copy_tree(root, destination)

A partition's destroy and reset_disk take the same busy lock, non-blocking (refuse_busy): they refuse with
PartitionBusy while a copy is in progress, instead of removing the files under it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import stat
from contextlib import ExitStack, contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, NotFound, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import OVERFLOW_ID
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import check, libc, mount_points
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import runtime_status
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import remove_tree, tree_size
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import in_range

CONSISTENCY_MODES = ("freeze", "stop", "live")
BUSY_FILE = "files.lock"
# Written before a copy pauses the partition and removed once it is resumed: a run killed in between leaves it, and
# the next copy then knows the freeze was a copy's, not the owner's, and resumes the partition after its own copy.
FROZEN_MARK = "files.frozen"
PARTIAL = ".partial"
# Written before the own files are replaced in place (a snapshot's or a backup's restore) and removed once they are
# whole: while it is there the partition does not start, and the run that wrote it (or the next) finishes the job.
REPLACING_MARK = "files.replacing"
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PartitionBusy(PartitionError):
    """The partition's own files are being copied (a snapshot, backup or clone in progress): try again after it."""


def _busy_path(partition_dir):
    return os.path.join(partition_dir, BUSY_FILE)


def _holder(partition_dir):
    """What the holder of the busy lock wrote it does ('' when unknown)."""
    try:
        with open(_busy_path(partition_dir)) as handle:
            return handle.read(400).strip()
    except (IOError, OSError):
        return ""


def _lock_or_refuse(fd, operation, partition_dir, name, what):
    """flock(fd, operation) without waiting; PartitionBusy naming what holds the busy lock when another copy does."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except (IOError, OSError) as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        holder = _holder(partition_dir) or "a copy of its files"
        raise PartitionBusy("partition %s: %s is in progress; cannot %s now, try again when it is done"
                            % (name, holder, what), partition=name, busy=holder)


@contextmanager
def hold_busy(partition_dir, name, what):
    """Hold the partition's busy lock for the block (non-blocking): PartitionBusy naming what holds it when held.

    The lock file stays (it is the partition's, removed with its directory); its content says what holds it.
    """
    try:
        fd = os.open(_busy_path(partition_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise NotFound("partition %s does not exist" % name, partition=name)
        raise
    try:
        _lock_or_refuse(fd, fcntl.LOCK_EX, partition_dir, name, what)
        os.ftruncate(fd, 0)
        os.write(fd, ("%s (pid %d)\n" % (what, os.getpid())).encode("utf-8", "replace"))
        yield
    finally:
        os.close(fd)  # closing drops the flock


def refuse_busy(partition_dir, name, what):
    """For destroy and reset_disk (under the host lock, planned and applied): PartitionBusy while a copy of the own files
    is in progress. Makes nothing (check mode plans it too): no lock file, no copy ever took it."""
    try:
        fd = os.open(_busy_path(partition_dir), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise
    try:
        _lock_or_refuse(fd, fcntl.LOCK_SH, partition_dir, name, what)
    finally:
        os.close(fd)


@contextmanager
def replacing(partition_dir, intent):
    """Mark the own files as being replaced for the block (intent: a dict with "what", e.g. "restore of snapshot
    before", and what the replacer needs to finish the job); the mark stays when the block fails or is killed."""
    write_json_atomic(os.path.join(partition_dir, REPLACING_MARK), intent)
    yield
    os.unlink(os.path.join(partition_dir, REPLACING_MARK))
    sync_directory(partition_dir)


def interrupted_replacement(partition_dir):
    """The intent of a replacement of the own files that did not finish, or None."""
    intent = read_json(os.path.join(partition_dir, REPLACING_MARK))
    if intent is not None and not isinstance(intent, dict):
        return {"what": "a replacement of its files"}
    return intent


def refuse_incomplete(partition_dir, name, restoring=None):
    """Before a start: PartitionBusy while the own files are half replaced (a snapshot's restore was interrupted) or half
    restored (restoring: the document's record of a backup's restore that did not finish)."""
    if restoring:
        raise PartitionBusy("partition %s: the restore from %s did not finish, so its files are incomplete; it does not "
                            "start until it is done (run that restore again, or remove the partition)"
                            % (name, restoring.get("path") or "an archive"), partition=name)
    intent = interrupted_replacement(partition_dir)
    if intent is not None:
        what = intent.get("what") or "a replacement of its files"
        redo = intent.get("redo") or "run that restore again"
        raise PartitionBusy("partition %s: %s did not finish, so its files are incomplete; it does not start until it "
                            "is done (%s)" % (name, what, redo), partition=name)


class PartitionFiles:
    """One partition's own files: its writable layer (overlay: disk.upper) or its full copy (storage copy)."""

    def __init__(self, engine, name):
        self.engine = engine
        self.name = name
        self.document = engine.store.load_partition(name)
        if self.document is None:
            raise NotFound("partition %s does not exist in %s" % (name, engine.store.root), partition=name)
        self.spec = self.document["spec"]
        self.disk = engine.disk(self.spec)
        self.dir = engine.store.partition_dir(name)

    @property
    def root(self):
        """Path of the own files (the writable layer, or the full copy)."""
        return self.disk.upper if (self.spec.get("storage") or "overlay") == "overlay" else self.disk.copy

    @property
    def id_base(self):
        """Host ID the partition's root maps to (None: privileged, its IDs are the host's)."""
        return self.engine.recorded_id_base(self.spec)

    @property
    def template(self):
        """The identity of the template the own files lie on: {"name", "source"} (source None once it is gone)."""
        manifest = self.engine.templates.manifest(self.spec["rootfs"])
        return {"name": self.spec["rootfs"], "source": (manifest or {}).get("source")}

    def busy(self, what):
        """Context manager held around every copy of the own files; PartitionBusy (naming what holds it) when held.

        Taken under the host lock, so a destroy either ran before (NotFound) or refuses while it is held; the lock
        file lives in the partition's directory. what: a phrase saying the copy, e.g. "snapshot before".
        """
        return self._busy(what)

    @contextmanager
    def _busy(self, what):
        with ExitStack() as held:
            with self.engine.store.lock():
                if self.engine.store.load_partition(self.name) is None:
                    raise NotFound("partition %s does not exist in %s" % (self.name, self.engine.store.root), partition=self.name)
                held.enter_context(hold_busy(self.dir, self.name, what))
            yield

    def consistent(self, mode):
        """Context manager yielding the root path while the own files hold still (see the module's docstring).

        freeze: a running partition is paused for the block and resumed after, unless it was frozen already (or was
        stopped meanwhile); a stopped one is left as it is. stop: a running (or frozen) partition is stopped through
        the engine as the partition module stops it, and started again after. live: nothing (the files may change
        while they are copied). The host lock is held only to look and to pause, resume, stop or start.
        """
        if mode not in CONSISTENCY_MODES:
            raise InvalidOption("mode", mode, "must be one of %s" % ", ".join(CONSISTENCY_MODES))
        return self._consistent(mode)

    @contextmanager
    def _consistent(self, mode):
        if mode == "live":
            with self.engine.store.lock():
                self._ensure_layer()
            yield self.root
            return
        if mode == "stop":
            was = self._stop()
            try:
                yield self.root
            except BaseException:
                if was != "stopped":
                    try:
                        self._start(was)
                    except PartitionError:
                        pass  # the block's own error is the one to tell (a start refused on half-replaced files)
                raise
            if was != "stopped":
                self._start(was)
            return
        paused = self._freeze()
        try:
            yield self.root
        finally:
            if paused:
                self._thaw()

    def status(self):
        """running, frozen or stopped."""
        return runtime_status(self.engine.runtime.state(self.name))

    def _ensure_layer(self):
        """A quota image is loop-mounted while the partition exists, but not after a host reboot until it starts: its
        files are not there before it is mounted (an empty directory would be copied, or restored into)."""
        if self.disk.quota_kind == "image" and self.disk.layer not in mount_points():
            self.disk._prepare_image(self.id_base)  # pylint: disable=protected-access

    def _mark(self):
        return os.path.join(self.dir, FROZEN_MARK)

    def _freeze(self):
        """Pause the partition if it runs; whether this copy is to resume it after."""
        engine = self.engine
        with engine.store.lock():
            self._ensure_layer()
            status = self.status()
            if status == "frozen":
                return os.path.exists(self._mark())  # frozen by a copy killed before it resumed it
            if status != "running":
                return False
            with open(self._mark(), "w") as handle:
                handle.write("%d\n" % os.getpid())
            engine.runtime.pause(self.name)
        return True

    def _thaw(self):
        engine = self.engine
        with engine.store.lock():
            if self.status() == "frozen":  # stopped meanwhile by another run: nothing to resume
                engine.runtime.resume(self.name)
            if os.path.exists(self._mark()):
                os.unlink(self._mark())

    def _stop(self):
        """Stop the partition as the partition module would; what it was (running, frozen or stopped)."""
        was = self.status()
        if was != "stopped":
            self._converge("stopped")
        with self.engine.store.lock():
            self._ensure_layer()
        return was

    def _start(self, was):
        self._converge("frozen" if was == "frozen" else "started")

    def _converge(self, state):
        # imported here: converge -> actions -> partition_files (destroy refuses while the files are busy)
        from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
        Converger(self.engine).converge({"name": self.name, "state": state})


def copy_tree(source, destination):
    """Copy the tree source to destination (which must not exist) with everything a partition's files carry; its bytes.

    cp -a: owners, modes, hard links, xattrs (trusted.overlay.*, security.capability), ACLs, overlay whiteouts
    (character devices 0:0), FIFOs and devices as such; no link is followed, no FIFO opened, no device read, holes
    kept. --reflink=auto shares the blocks where the filesystem can (XFS, btrfs). The copy is made in
    destination.partial, synced, then renamed: a killed copy leaves only the .partial, swept by the next call.
    """
    if os.path.lexists(destination):
        raise PartitionError("cannot copy %s to %s: it exists" % (source, destination), path=destination)
    staging = destination + PARTIAL
    remove_tree(staging)
    try:
        os.lstat(source)
    except OSError as exc:
        raise PartitionError("cannot copy %s: %s" % (source, exc.strerror), path=source)
    if not stat.S_ISDIR(os.lstat(source).st_mode):
        raise PartitionError("cannot copy %s: not a directory" % source, path=source)
    try:
        run(["cp", "-a", "--reflink=auto", "--no-target-directory", "--", source, staging])
        sync_filesystem(staging)
        os.rename(staging, destination)
    except BaseException:
        remove_tree(staging)
        raise
    sync_directory(os.path.dirname(destination))
    return tree_size(destination)


def sync_filesystem(path):
    """syncfs(2) of the filesystem holding path: a copied tree is on disk before anything says it is whole."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        check(libc().syncfs(fd), "syncfs %s" % path)
    finally:
        os.close(fd)


def sync_directory(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def shifted_id(owner, old_base, new_base):
    """An owner (uid or gid) moved from the range at old_base to the one at new_base (None: privileged, IDs as is).

    An ID outside the old range has no place in the new one: it becomes the overflow ID (as the kernel shows an
    unmapped ID), so a shifted file never lands in someone else's range.
    """
    relative = owner - old_base if old_base is not None else owner
    relative = in_range(relative) if old_base is not None or new_base is not None else owner
    return relative + new_base if new_base is not None else relative


def shift_tree(tree, old_base, new_base):
    """Move every owner and group below tree (tree included) from one ID range to another; the number of inodes.

    The tree may be a tenant's, of any depth: like storage.tree_size the walk follows no link, keeps one directory
    open and climbs back by "..", checked to be the directory it came from. Each inode is changed once (hard links);
    the setuid and setgid bits chown clears are set again.
    """
    if old_base == new_base:
        return 0
    seen = set()
    fd = os.open(tree, _DIRECTORY_FLAGS)
    try:
        _shift_entry(fd, None, old_base, new_base, seen)
        stack = [(_identity(fd), _shift_dir(fd, old_base, new_base, seen))]
        while stack:
            subdirs = stack[-1][1]
            if subdirs:
                try:
                    child = os.open(subdirs.pop(), _DIRECTORY_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # removed or replaced meanwhile
                os.close(fd)
                fd = child
                stack.append((_identity(fd), _shift_dir(fd, old_base, new_base, seen)))
                continue
            stack.pop()
            if stack:
                parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                if _identity(fd) != stack[-1][0]:
                    raise PartitionError("%s changed while its owners were shifted (a directory was moved)" % tree, path=tree)
    finally:
        os.close(fd)
    return len(seen)


def _identity(fd):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _shift_dir(fd, old_base, new_base, seen):
    """Shift every entry of the open directory fd (subdirectories through their own fd, when entered, and here by
    name: a directory's owner is changed as an entry of its parent); the names of its subdirectories."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                _shift_entry(fd, entry.name, old_base, new_base, seen)
            except FileNotFoundError:
                pass  # removed meanwhile
    return subdirs


def _shift_entry(fd, name, old_base, new_base, seen):
    """lchown one entry of directory fd (name None: the directory itself), once per inode."""
    st = os.stat(name, dir_fd=fd, follow_symlinks=False) if name is not None else os.fstat(fd)
    if (st.st_dev, st.st_ino) in seen:
        return
    seen.add((st.st_dev, st.st_ino))
    uid, gid = shifted_id(st.st_uid, old_base, new_base), shifted_id(st.st_gid, old_base, new_base)
    if (uid, gid) == (st.st_uid, st.st_gid):
        return
    if name is None:
        os.fchown(fd, uid, gid)
    else:
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    if (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) and st.st_mode & 0o6000:
        _restore_mode(fd, name, st)


def _restore_mode(fd, name, st):
    """Set the setuid/setgid bits chown cleared again, on the inode that was changed: opened without following a
    link and checked to be it (a name swapped meanwhile is left alone)."""
    if name is None:
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        return
    try:
        target = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return
    try:
        if _identity(target) == (st.st_dev, st.st_ino):
            os.fchmod(target, stat.S_IMODE(st.st_mode))
    finally:
        os.close(target)


__all__ = ["PartitionBusy", "PartitionFiles", "copy_tree", "shift_tree", "hold_busy", "refuse_busy", "shifted_id",
           "replacing", "interrupted_replacement", "refuse_incomplete", "CONSISTENCY_MODES", "OVERFLOW_ID"]
