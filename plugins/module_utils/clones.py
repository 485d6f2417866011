# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clones: a new partition whose own files start as a consistent copy of another partition's (option clone_from).

The copy is tenant content of any size, so it is made WITHOUT the host lock (DEVELOPERS.md), in a staging directory
``<state_dir>/clones/<name>/`` laid out like a partition's directory (its own quota image or project-quota layer when
the clone has a disk quota): the source is frozen only while it is copied (partition_files.PartitionFiles.consistent),
then the copy is shifted to the clone's ID range and loses what must be unique per machine. Only then does the run
take the host lock and plan again; the plan's ``clone`` action moves the staged parts into the partition's directory
by rename (the same filesystem), so the part under the lock takes no time whatever the partition holds.

The staging directory is held by an flock on ``clones/<name>.lock`` for as long as the run that made it lives: a
staging directory whose lock is free was left by a killed run and is swept by the next run that changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, CorruptDocument, InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.faults import pause_point
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import PartitionBusy, PartitionFiles, copy_tree, shift_tree
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import quota_layout
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import PartitionDisk, unmount_tree
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import first_boot_hygiene

# The parts of a partition's directory that hold its own files (storage.PartitionDisk): its quota image, its quota
# layer (holding upper/ and work/), or upper/ and work/ themselves, or its full copy.
OWN_PARTS = ("disk.img", "layer", "upper", "work", "disk")
# What a clone takes from its source when not given, and may not differ from it: an overlay layer on another template
# (or a layer made a full copy) would be meaningless.
SOURCE_SETTINGS = ("rootfs", "storage")


def clone_params(params, store):
    """params of a partition to create from the files of params["clone_from"], with rootfs and storage taken from the
    source when not given; InvalidOption naming clone_from when it cannot be (nothing changed yet)."""
    source = validate_name(params["clone_from"], "clone_from")
    if source == params["name"]:
        raise InvalidOption("clone_from", source, "names the partition itself; name another, existing partition")
    try:
        document = store.load_partition(source)
    except CorruptDocument as exc:
        raise InvalidOption("clone_from", source, "its document cannot be read (%s)" % exc.msg)
    if document is None:
        raise InvalidOption("clone_from", source, "no such partition in %s" % store.root)
    params = dict(params)
    for key in SOURCE_SETTINGS:
        recorded = document["spec"].get(key) or ("overlay" if key == "storage" else None)
        if params.get(key) is None:
            params[key] = recorded
        elif params[key] != recorded:
            raise InvalidOption("clone_from", source, "is a partition with %s %s, and %s asks for %s %s: a clone has its "
                                "source's (leave %s out)" % (key, recorded, params["name"], key, params[key], key))
    return params


class CloneStaging:
    """The staging directory of one partition's clone, held by this run from claim() until release() (or its end)."""

    def __init__(self, store, name):
        self.name = name
        self.base = os.path.join(store.root, "clones")
        self.dir = os.path.join(self.base, name)
        self.source = None
        self.fits = None  # (storage, quota layout, ID base) the copy was made for
        self._fd = None

    def claim(self):
        """Hold the staging directory (PartitionBusy when another run does) and clear what a killed run left there."""
        os.makedirs(self.base, 0o700, exist_ok=True)
        self._fd = _try_lock(self.dir + ".lock")
        if self._fd is None:
            raise PartitionBusy("partition %s: another run is making it as a clone now; try again once it is done" % self.name)
        _remove_staging(self.dir)

    def copy(self, engine, source, spec, base):
        """Copy the source's own files (frozen while it runs) into the staging directory as spec's own files, owned by
        the ID range at base (None: privileged), with a fresh machine identity."""
        files = PartitionFiles(engine, source)
        resources = spec.get("resources") or {}
        disk = PartitionDisk(self.dir, spec["storage"], quota={"disk": resources.get("disk"), "inodes": resources.get("inodes")})
        os.mkdir(self.dir, 0o700)
        if disk.quota:
            disk.prepare(None, owner=base)  # the clone's own quota image or project layer, which the copy goes into
            os.rmdir(disk.upper)
        target = disk.upper if spec["storage"] == "overlay" else disk.copy
        with files.busy("clone it into %s" % spec["name"]):
            with files.consistent("freeze") as root:
                copy_tree(root, target)
        if files.id_base != base:
            shift_tree(target, files.id_base, base)
        fresh_identity(target, base)
        unmount_tree(self.dir)  # a quota image is mounted again where the partition has it
        pause_point("clone-copied")
        self.source = source
        self.fits = (spec["storage"], quota_layout(spec), base)

    def refuse_unfit(self, source, spec, base):
        """PartitionError unless the copy was made from source for what spec now is (the host may have changed between
        the copy and the host lock)."""
        wanted = (spec["storage"], quota_layout(spec), base)
        if self.source != source or self.fits != wanted:
            raise PartitionError("partition %s: its copy of %s was made for other settings than the host now gives it "
                                 "(%s, not %s); nothing was changed, run again" % (self.name, source, self.fits, wanted))

    def adopt(self, disk):
        """Move the staged own files into the partition's directory (disk: its PartitionDisk, wiped): renames only."""
        if not os.path.isdir(disk.dir):
            os.makedirs(disk.dir, 0o711)
        for part in OWN_PARTS:
            staged = os.path.join(self.dir, part)
            if os.path.lexists(staged):
                os.rename(staged, os.path.join(disk.dir, part))
        _remove_staging(self.dir)  # what is left is empty directories the staging made (a quota layer's bundle)

    def release(self):
        """Remove what is left of the staging directory and let it go."""
        if self._fd is None:
            return
        try:
            _remove_staging(self.dir)
        finally:
            _unlock(self.dir + ".lock", self._fd)
            self._fd = None


def stage(engine, source, spec, base):
    """A claimed CloneStaging holding the copy of source's files for the partition spec (see CloneStaging.copy)."""
    staging = CloneStaging(engine.store, spec["name"])
    try:
        staging.claim()
        staging.copy(engine, source, spec, base)
    except BaseException as exc:
        staging.release()
        if isinstance(exc, OSError):
            raise PartitionError("partition %s: copying the files of %s failed: %s" % (spec["name"], source, exc))
        raise
    return staging


def sweep(store):
    """Remove the staging directories killed runs left (those whose lock no run holds)."""
    base = os.path.join(store.root, "clones")
    try:
        entries = os.listdir(base)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise
    for entry in entries:
        path = os.path.join(base, entry)
        staging = path[:-len(".lock")] if entry.endswith(".lock") else path
        if os.path.islink(staging) or (staging == path and not os.path.isdir(path)):
            continue
        fd = _try_lock(staging + ".lock")
        if fd is None:
            continue  # a live run's copy
        try:
            _remove_staging(staging)
        finally:
            _unlock(staging + ".lock", fd)


def fresh_identity(tree, owner):
    """What must be unique per machine leaves the copy as the template hygiene removes it (templates.first_boot_hygiene):
    /etc/machine-id emptied (a link there removed), D-Bus's own copy and the SSH host keys removed, made again at the
    clone's first start. The copy is not running: nothing in it moves while this looks (no link is followed)."""
    etc = os.path.join(tree, "etc")
    if not os.path.islink(etc) and os.path.islink(os.path.join(etc, "machine-id")):
        os.unlink(os.path.join(etc, "machine-id"))  # a link can point at another partition's or the host's name for itself
    try:
        first_boot_hygiene(tree, owner=owner)
    except BuildError as exc:
        raise PartitionError("cannot give the copy a fresh identity: %s" % exc.msg)


def _try_lock(path):
    """An fd holding an exclusive flock on path, or None when another process holds it.

    The lock file is removed by its holder when it is done (_unlock): a lock taken on a file removed meanwhile is no
    lock, so it is taken again on the file the path names now."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            current = os.stat(path, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                os.close(fd)
                raise
            current = None
        held = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)


def _unlock(path, fd):
    """Remove the lock file while holding it, then let it go."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
    finally:
        os.close(fd)


def _remove_staging(path):
    """Remove a staging directory: its quota image unmounted and a project layer's limits cleared first."""
    if not os.path.lexists(path):
        return
    has_quota = os.path.isdir(os.path.join(path, "layer")) or os.path.exists(os.path.join(path, "disk.img"))
    PartitionDisk(path, "overlay", quota={"disk": 1} if has_quota else None).destroy()
