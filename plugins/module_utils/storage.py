# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A partition's disk: an overlayfs clone of its template (default) or an independent full copy.

The overlay keeps the template as the read-only lower layer and the partition's own changes in
``upper/``, so creating a partition copies nothing. The overlay is mounted with mount(2); a quota
image with mount(8), which also sets up its loop device.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import mount, mount_at, mount_points, umount
from ansible_collections.linuxvps.partitions.plugins.module_utils.projquota import ProjectQuotas

STORAGE_MODES = ("overlay", "copy")
XFS_MIN_BYTES = 300 * 1024 * 1024
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def tree_size(path):
    """Disk space (allocated blocks) of the files below path.

    The tree may be a tenant's, of any depth and with any links: the walk follows no link, does not recurse, keeps
    one directory open and climbs back by "..", checked to be the directory it came from (a tenant moving
    directories meanwhile ends the count there instead of letting it wander).
    """
    try:
        fd = os.open(path, _DIRECTORY_FLAGS)
    except OSError:
        return 0
    total, subdirs = _scan(fd)
    stack = [(_identity(fd), subdirs)]  # the open directory and each above it: (dev, inode), subdirectories left
    try:
        while stack:
            subdirs = stack[-1][1]
            if subdirs:
                try:
                    child = os.open(subdirs.pop(), _DIRECTORY_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # removed or replaced meanwhile
                os.close(fd)
                fd = child
                size, subdirs = _scan(fd)
                total += size
                stack.append((_identity(fd), subdirs))
                continue
            stack.pop()
            if stack:
                parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                if _identity(fd) != stack[-1][0]:
                    break
    finally:
        os.close(fd)
    return total


def _scan(fd):
    """(bytes of the files in the open directory fd, names of its subdirectories)."""
    size, subdirs = 0, []
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                else:
                    size += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                pass  # removed meanwhile
    return size, subdirs


def _identity(fd):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _read_only(path):
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def remove_directory(path):
    """Remove the directory path and everything below it, following no link and never leaving its filesystem.

    shutil.rmtree recurses once per level, so a tenant's 2,000-level tree made its partition impossible to remove
    (RecursionError). Like tree_size: one directory open at a time, climbing back by "..", checked to be the
    directory it came from; each directory is listed once.
    """
    try:
        fd = os.open(path, _DIRECTORY_FLAGS)
    except FileNotFoundError:
        return
    top_dev = os.fstat(fd).st_dev
    stack = [(_identity(fd), None, [])]  # per open level: (dev, inode), its name, subdirectories left
    try:
        stack[0][2].extend(_clear_files(fd))
        while stack:
            subdirs = stack[-1][2]
            if subdirs:
                name = subdirs.pop()
                try:
                    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError:  # replaced by a file or a link meanwhile
                    _unlink(name, fd)
                    continue
                if os.fstat(child).st_dev != top_dev:
                    os.close(child)
                    raise PartitionError("%s holds a mount point (%s at depth %d); not removed" % (path, name, len(stack)))
                os.close(fd)
                fd = child
                stack.append((_identity(fd), name, _clear_files(fd)))
                continue
            name = stack.pop()[1]
            if not stack:
                break
            parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            if _identity(fd) != stack[-1][0]:
                raise PartitionError("%s changed while it was removed (a directory was moved); not removed" % path)
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _clear_files(fd):
    """Unlink everything but the subdirectories of the open directory fd; return the subdirectories' names."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                _unlink(entry.name, fd)
    return subdirs


def _unlink(name, fd):
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass  # removed meanwhile


def unmount_tree(path, points=None):
    """Unmount everything mounted at or below path, deepest first (e.g. a killed debootstrap's /proc)."""
    prefix = os.path.normpath(path)
    inside = [point for point in (points if points is not None else mount_points())
              if point == prefix or point.startswith(prefix + "/")]
    for point in sorted(inside, key=len, reverse=True):
        umount(point, lazy=True)


def remove_tree(path):
    """Remove a directory tree that may still have mounts inside."""
    if os.path.lexists(path):
        unmount_tree(path)
        remove_directory(path)


class PartitionDisk:
    """Paths and operations for one partition's root filesystem.

    With a quota (disk bytes, inodes) the partition's own layer lives in ``layer/``, enforced one of two ways,
    chosen when the disk is made:

    * project quota: where the state directory's filesystem enforces project quotas (XFS, ext4), ``layer/`` is a
      directory with its own project ID; limits change live, in both directions.
    * image: elsewhere, ``layer/`` is a loop-mounted filesystem image of that size (``disk.img``), kept mounted
      while the partition exists; it grows live (xfs_growfs, or resize2fs for ext4 images).

    Either way writing past the quota fails inside the partition only (EDQUOT or ENOSPC).
    """

    def __init__(self, partition_dir, mode, quota=None):
        if mode not in STORAGE_MODES:
            raise PartitionError("unknown storage mode %r" % (mode,))
        self.dir = partition_dir
        self.mode = mode
        self.quota = quota if quota and quota.get("disk") else None
        self.bundle = os.path.join(partition_dir, "bundle")
        self.pid_file = os.path.join(self.bundle, "init.pid")  # the runtime writes init's host PID there
        self.image = os.path.join(partition_dir, "disk.img")
        self.layer = os.path.join(partition_dir, "layer")
        base = self.layer if self.quota else partition_dir
        self.upper = os.path.join(base, "upper")
        self.work = os.path.join(base, "work")
        self.copy = os.path.join(partition_dir, "disk")
        self.mountpoint = os.path.join(self.bundle, "rootfs")

    @property
    def root_path(self):
        """The directory the runtime uses as the partition's /."""
        return self.mountpoint if self.mode == "overlay" else self.copy

    @property
    def quota_kind(self):
        """'project', 'image' or None; for an existing disk what it was made with, for a new one what the host offers."""
        if not self.quota:
            return None
        if os.path.exists(self.image) or os.path.exists(self.image + ".partial"):
            return "image"
        if os.path.isdir(self.layer) or self._project_quotas() is not None:
            return "project"
        return "image"

    def _project_quotas(self):
        if not hasattr(self, "_quotas"):
            self._quotas = ProjectQuotas.for_path(os.path.dirname(self.dir))
        return self._quotas

    def _project(self):
        """(ProjectQuotas, project ID) of a project-quota layer."""
        quotas = self._project_quotas()
        if quotas is None:
            raise PartitionError("the disk of %s uses a project quota, but %s no longer enforces project quotas"
                                 % (self.dir, os.path.dirname(self.dir)))
        return quotas, ProjectQuotas.project_id(self.layer)

    def prepare(self, template_root, owner=None):
        """Create the writable layer (overlay) or the full copy; idempotent and restartable.

        owner: host uid/gid of the partition's root in a user namespace; the overlay's root directory
        takes its owner from the upper layer.
        """
        for path in (self.dir, self.bundle):
            if not os.path.isdir(path):
                os.makedirs(path, 0o711)
            os.chmod(path, 0o711)  # the user namespace's root must pass through to the rootfs
        if self.quota_kind == "image":
            self._prepare_image(owner)
        elif self.quota_kind == "project":
            self._prepare_project(owner)
        if self.mode == "overlay":
            for path in (self.upper, self.work, self.mountpoint):
                if not os.path.isdir(path):
                    os.mkdir(path, 0o755)
            if owner is not None:
                os.chown(self.upper, owner, owner)
            return
        if os.path.isdir(self.copy):
            return
        staging = self.copy + ".partial"
        if os.path.exists(staging):
            remove_directory(staging)  # a killed copy; start again
        run(["cp", "-a", "--reflink=auto", template_root, staging])
        os.rename(staging, self.copy)

    def _prepare_image(self, owner):
        if not os.path.exists(self.image):
            staging = self.image + ".partial"
            with open(staging, "wb") as handle:
                handle.truncate(self.quota["disk"])  # sparse: space is taken as the partition writes
            run(self._mkfs_command(owner) + [staging])
            os.rename(staging, self.image)
        if not os.path.isdir(self.layer):
            os.mkdir(self.layer, 0o711)
        if self.layer not in mount_points():
            run(["mount", "-o", "loop,nodev,nosuid", self.image, self.layer])
            if owner is not None and os.stat(self.layer).st_uid != owner:
                os.chown(self.layer, owner, owner)  # mkfs.xfs has no root owner option

    def _prepare_project(self, owner):
        if not os.path.isdir(self.layer):
            os.mkdir(self.layer, 0o711)
        quotas, project = self._project()
        ProjectQuotas.assign(self.layer, project)  # before upper/ and work/: they inherit it
        quotas.set_limits(project, self.quota["disk"], self.quota.get("inodes"))
        if owner is not None and os.stat(self.layer).st_uid != owner:
            os.chown(self.layer, owner, owner)

    def _mkfs_command(self, owner):
        """XFS grows online with CAP_SYS_ADMIN alone; ext4 when an exact inode count is asked for (or below XFS's 300M)."""
        if self.quota.get("inodes") is None and self.quota["disk"] >= XFS_MIN_BYTES:
            return ["mkfs.xfs", "-q", "-f"]
        cmd = ["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=%d:%d" % ((owner or 0), (owner or 0))]
        if self.quota.get("inodes"):
            cmd += ["-N", str(self.quota["inodes"])]
        return cmd

    def resize(self, disk_bytes):
        """Grow the quota while the partition runs: the project's limit, or the image and its filesystem."""
        if self.quota_kind == "project":
            quotas, project = self._project()
            quotas.set_limits(project, disk_bytes, self.quota.get("inodes"))
            return
        old_bytes = os.path.getsize(self.image)
        if old_bytes >= disk_bytes:
            return
        with open(self.image, "r+b") as handle:
            handle.truncate(disk_bytes)
        device, fstype = self._loop_device()
        run(["losetup", "--set-capacity", device])
        rc, out, err = run(["xfs_growfs", self.layer] if fstype == "xfs" else ["resize2fs", device], check=False)
        if rc != 0:
            with open(self.image, "r+b") as handle:
                handle.truncate(old_bytes)  # keep image and filesystem the same size
            run(["losetup", "--set-capacity", device])
            hint = (" Growing ext4 while mounted needs CAP_SYS_RESOURCE, which root on this host lacks."
                    if "Permission denied" in err else "")
            raise PartitionError("could not grow the disk of %s: %s%s" % (self.dir, (err or out).strip(), hint))

    def _loop_device(self):
        """(loop device, filesystem type) of the mounted quota image."""
        found = mount_at(self.layer)
        if found is None:
            raise PartitionError("the disk image of %s is not mounted" % self.dir)
        return found.source, found.fstype

    def usage(self):
        """Bytes and inodes used and available on the quota's filesystem (None without a quota)."""
        if self.quota_kind == "project" and os.path.isdir(self.layer):
            quotas, project = self._project()
            return quotas.usage(project)
        if not self.quota or self.layer not in mount_points():
            return None
        st = os.statvfs(self.layer)
        return {"used_bytes": (st.f_blocks - st.f_bfree) * st.f_frsize, "limit_bytes": st.f_blocks * st.f_frsize,
                "used_inodes": st.f_files - st.f_ffree, "limit_inodes": st.f_files}

    def is_mounted(self, points=None):
        if self.mode != "overlay":
            return True
        return self.mountpoint in (points if points is not None else mount_points())

    def mount(self, template_root, points=None):
        """Mount the overlay writable; one left read-only by an earlier failure is mounted again."""
        if self.mode != "overlay":
            return
        if self.is_mounted(points):
            if not _read_only(self.mountpoint):
                return
            self.unmount(points)
        options = "lowerdir=%s,upperdir=%s,workdir=%s" % (template_root, self.upper, self.work)
        try:
            mount("overlay", self.mountpoint, "overlay", options)
        except OSError as exc:
            raise PartitionError("cannot mount the overlay of %s: %s" % (self.dir, exc.strerror), path=self.mountpoint)
        if _read_only(self.mountpoint):
            # overlayfs falls back to read-only when it cannot make its work directory (a full disk)
            self.unmount()
            st = os.statvfs(self.upper)
            why = os.strerror(errno.ENOSPC) if st.f_bavail == 0 or st.f_favail == 0 else os.strerror(errno.EROFS)
            raise PartitionError("cannot mount the overlay of %s writable: %s: %s" % (self.dir, self.upper, why), path=self.upper)

    def unmount(self, points=None):
        if self.mode != "overlay" or not self.is_mounted(points):
            return
        try:
            umount(self.mountpoint)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            umount(self.mountpoint, lazy=True)  # a stray process still inside; detach it from the tree

    def size_bytes(self):
        """Bytes the partition itself holds (its upper layer or copy), for usage reports."""
        return tree_size(self.upper if self.mode == "overlay" else self.copy)

    def wipe(self, points=None):
        """Unmount and remove the partition's files, keeping its directory (and state document)."""
        self.unmount(points)
        self._unmount_layer()
        self._release_project()
        for path in (self.bundle, self.upper, self.work, self.copy, self.copy + ".partial", self.layer):
            if os.path.isdir(path):
                remove_directory(path)
        for path in (self.image, self.image + ".partial"):
            if os.path.exists(path):
                os.unlink(path)

    def _unmount_layer(self):
        if os.path.isdir(self.layer) and self.layer in mount_points():
            umount(self.layer, lazy=True)  # the loop device is freed once the last user is gone

    def _release_project(self):
        """Clear a project-quota layer's limits, so a later directory with the same inode starts unbound."""
        if self.quota_kind == "project" and os.path.isdir(self.layer) and self._project_quotas() is not None:
            quotas, project = self._project()
            quotas.set_limits(project, 0, 0)

    def destroy(self, points=None):
        """Unmount and remove everything the partition made on disk."""
        self.unmount(points)
        self._unmount_layer()
        self._release_project()
        if os.path.isdir(self.dir):
            remove_directory(self.dir)
