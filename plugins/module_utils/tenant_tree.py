# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every host read and write inside a tenant's tree: hostname, hosts, resolv.conf, authorized_keys.

The tenant is root in its tree and may swap any path component for a symlink at any instant, or put a FIFO, a
device or a huge sparse file where the host expects a small file. So no path in the tree is resolved by string:
the root is opened once and each directory is found from that fd with openat2(RESOLVE_IN_ROOT), where a tenant's
symlink means what it means inside the partition and can never reach out; on kernels without openat2 (before 5.6)
by a walk that refuses every symlink. The last component is looked up once, without following it, in the
directory fd: files are read only when they are small regular files, and written as a new file renamed over the
name, so whatever stood there is replaced, never opened.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import os
import posixpath
import stat

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import openat2

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
MAX_READ_BYTES = 8 * 1024 * 1024  # room for an ad-blocking /etc/hosts; nothing larger is read into memory
_RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV
# A partition's own view (/proc/<init>/root): its mounts (tmpfs /tmp, bind mounts) are part of what it sees.
_RESOLVE_ACROSS_MOUNTS = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
_ABSENT_OR_FILE = (errno.ENOENT, errno.ENOTDIR)  # for existence checks, a file on the way means nothing is there
_DIRECTORY = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def hosts_with_name(current, hostname):
    """/etc/hosts content with the 127.0.1.1 line naming hostname (Debian's convention)."""
    lines = [line for line in (current or "127.0.0.1\tlocalhost\n").splitlines() if not line.startswith("127.0.1.1")]
    insert_at = 1 if lines and lines[0].startswith("127.0.0.1") else 0
    lines.insert(insert_at, "127.0.1.1\t%s" % hostname)
    return "\n".join(lines) + "\n"


def read_file(root, relative):
    """Content of the regular file /relative in the tree; None when it or its directory is absent."""
    parent, name = posixpath.split(relative.strip("/"))
    with _opened(root, parent) as directory:
        return None if directory is None else directory.read(name)


def write_file(root, relative, content, mode=0o644, owner=None):
    """Make /relative in the tree hold exactly content; False when it already did or its directory is missing.

    owner: the host uid/gid of the partition's root when it runs in a user namespace.
    """
    parent, name = posixpath.split(relative.strip("/"))
    with _opened(root, parent) as directory:
        if directory is None:
            return False  # no such directory in this distro: nothing to configure there
        return directory.write(name, content, mode, owner)


def configure_identity(root, hostname, owner=None):
    """Make the tree name itself hostname: init reads /etc/hostname and overrides the runtime's."""
    with _opened(root, "etc") as etc:
        if etc is not None:
            etc.write("hostname", hostname + "\n", 0o644, owner)
            etc.write("hosts", hosts_with_name(etc.read("hosts"), hostname), 0o644, owner)


def write_authorized_keys(root, keys, owner=None):
    """root's authorized_keys in the tree: exactly these keys (no file when there are none and none was made)."""
    content = "".join(key + "\n" for key in keys)
    with _opened(root, "root/.ssh") as ssh:
        if ssh is not None:
            return ssh.write("authorized_keys", content, 0o600, owner) if keys or ssh.holds("authorized_keys") else False
    if not keys:
        return False
    with _opened(root, "root") as home:
        if home is None:
            return False
        with home.subdirectory(".ssh", 0o700, owner) as ssh:
            return ssh.write("authorized_keys", content, 0o600, owner)


def lookup_at(root_fd, root, relative, cross_mounts=False):
    """lstat of /relative in the tree whose root directory root_fd holds open (the last component not followed, so a
    dangling symlink stands there too), or None when nothing does. root names the tree in messages.

    cross_mounts: root_fd is a running partition's own root (/proc/<init>/root), whose mounts are its own view.
    """
    parent, name = posixpath.split(relative.strip("/"))
    directory = _directory_at(root_fd, root, parent, cross_mounts, _ABSENT_OR_FILE)
    if directory is None:
        return None
    with directory:
        if not name:
            return os.fstat(directory.fd)
        try:
            return os.stat(name, dir_fd=directory.fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None


def is_directory_at(root_fd, root, relative, cross_mounts=False):
    """Whether /relative is a directory inside the tree, symlinks resolved as the partition resolves them."""
    directory = _directory_at(root_fd, root, relative, cross_mounts, _ABSENT_OR_FILE)
    if directory is None:
        return False
    with directory:
        return True


class _Directory:
    """A directory of a tenant's tree held open by fd; path is where the partition sees it, for messages."""

    def __init__(self, root, path, fd):
        self.root = root
        self.path = path
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        os.close(self.fd)

    def fail(self, name, reason):
        return _error(self.root, posixpath.join(self.path, name), reason)

    def holds(self, name):
        """Whether anything stands at name."""
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read(self, name):
        """Content of the regular file name, None when absent; PartitionError for anything else or a file too large."""
        try:
            path_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(path_fd)
            if not stat.S_ISREG(st.st_mode):
                raise self.fail(name, "not a regular file")
            if st.st_size > MAX_READ_BYTES:
                raise self.fail(name, "larger than %d bytes" % MAX_READ_BYTES)
            # Reopened through this process's own fd: the very inode just checked, so a FIFO or device swapped in
            # meanwhile is never opened (opening a device can act, e.g. arm a watchdog).
            fd = os.open("/proc/self/fd/%d" % path_fd, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        finally:
            os.close(path_fd)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            raise self.fail(name, "larger than %d bytes" % MAX_READ_BYTES)  # grew after the check
        return data.decode("utf-8", "surrogateescape")

    def write(self, name, content, mode, owner):
        """Replace name with a regular file holding content unless it already is one; True when written."""
        try:
            if self.read(name) == content:
                return False
        except PartitionError:
            pass  # a FIFO, device, symlink or oversized file: replaced below
        temp = ".%s.%s.tmp" % (name, os.urandom(6).hex())
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        except OSError as exc:  # a full or read-only disk: said naming the file, never a bare temporary name
            raise self.fail(name, "cannot write it: %s" % exc.strerror)
        try:
            with os.fdopen(fd, "wb") as handle:
                if owner is not None:
                    os.fchown(fd, owner, owner)
                os.fchmod(fd, mode)
                handle.write(content.encode("utf-8", "surrogateescape"))  # not synced: each start writes it again
            try:
                os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            except IsADirectoryError:
                raise self.fail(name, "a directory stands there")
        except BaseException as exc:
            try:
                os.unlink(temp, dir_fd=self.fd)
            except OSError:
                pass  # the tenant removed it
            if isinstance(exc, OSError):
                raise self.fail(name, "cannot write it: %s" % exc.strerror)
            raise
        return True

    def subdirectory(self, name, mode, owner):
        """The _Directory name, made with mode and owner unless it exists."""
        try:
            os.mkdir(name, mode, dir_fd=self.fd)
        except FileExistsError:
            pass  # made meanwhile
        except OSError as exc:
            raise self.fail(name, "cannot make it: %s" % exc.strerror)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError:
            raise self.fail(name, "not a directory")
        if owner is not None:
            os.fchown(fd, owner, owner)
        os.fchmod(fd, mode)
        return _Directory(self.root, posixpath.join(self.path, name), fd)


def _error(root, path, reason):
    return PartitionError("%s in partition tree %s: %s" % (path, root, reason))


@contextlib.contextmanager
def _opened(root, relative):
    """The directory /relative of the tree as a _Directory, or None when it or the tree is missing."""
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _error(root, "/" + relative, "a host path has no '..' component")
    try:
        root_fd = os.open(root, _DIRECTORY)  # the host's own path to the tree
    except FileNotFoundError:
        yield None
        return
    try:
        directory = _directory_at(root_fd, root, relative)
    finally:
        os.close(root_fd)
    if directory is None:
        yield None
        return
    with directory:
        yield directory


def _directory_at(root_fd, root, relative, cross_mounts=False, absent=(errno.ENOENT,)):
    """The _Directory /relative below a root directory held open by root_fd (which stays open), or None when it is
    missing; absent: the errnos that mean no such directory (rather than an error to report)."""
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _error(root, "/" + relative, "a host path has no '..' component")
    fd = _resolve(root_fd, root, parts, cross_mounts, absent)
    return None if fd is None else _Directory(root, "/" + "/".join(parts), fd)


def _resolve(root_fd, root, parts, cross_mounts=False, absent=(errno.ENOENT,)):
    """O_PATH fd of the directory parts below root_fd, or None when one is missing."""
    path = "/".join(parts) or "."
    try:
        return openat2(root_fd, path, _DIRECTORY, 0, _RESOLVE_ACROSS_MOUNTS if cross_mounts else _RESOLVE)
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            return _walk(root_fd, root, parts, cross_mounts, absent)
        if exc.errno in absent:
            return None
        if exc.errno == errno.EAGAIN:  # openat2 retried: renames kept racing the lookup
            raise _error(root, "/" + path, "kept changing while it was opened")
        raise _error(root, "/" + path, "not a directory inside the partition (%s)" % os.strerror(exc.errno))


def _walk(root_fd, root, parts, cross_mounts=False, absent=(errno.ENOENT,)):
    """_resolve without openat2: one component at a time, refusing every symlink and (unless cross_mounts) every
    other filesystem."""
    root_dev = os.fstat(root_fd).st_dev
    fd = os.dup(root_fd)
    try:
        for depth, name in enumerate(parts):
            try:
                child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError:
                child = None  # a symlink or a file (ENOTDIR)
            if child is None and errno.ENOTDIR in absent and not _is_symlink(fd, name):
                return None
            if child is not None:
                os.close(fd)
                fd = child
            if child is None or (not cross_mounts and os.fstat(fd).st_dev != root_dev):
                raise _error(root, "/" + "/".join(parts[:depth + 1]),
                             "not a directory on the partition's filesystem (symlinks are not followed on a kernel without openat2)")
        return os.dup(fd)
    finally:
        os.close(fd)


def _is_symlink(dir_fd, name):
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
