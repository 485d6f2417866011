# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup archive format: one partition's own files as a tar stream, zstd or gzip compressed or not.

The first member is ``linuxvps-backup.json`` (a plain ustar header): the format, the collection version, the
partition, its spec, whether it ran, its template's identity (name, source digest), the incremental base and a
fingerprint of the files' metadata. Then GNU tar's members (POSIX pax format, GNU incremental directory listings):
owners relative to the partition's ID range (0 = the partition's root; GNU tar's owner map), xattrs kept raw
(trusted.overlay.*, security.capability, system.posix_acl_*: their IDs are the source host's, and
``id_base`` in the header says from which range they are mapped on restore), whiteouts (char 0:0), hard links,
sparse files as sparse, FIFOs and sockets as entries (never opened).

Why GNU tar and not Python's tarfile: tarfile.add walks by path strings (lstat, then listdir and open of the same
string), so a tenant swapping a directory for a symlink between the two makes it archive host files (the target's
live-mode attack test shows it with tarfile as its control); GNU tar walks with openat() from the parent
directory's descriptor and O_NOFOLLOW, opens regular files only, with O_NONBLOCK. tarfile also reads a sparse file
whole and writes no xattrs. GNU tar's incremental mode (a ``.snar`` file kept beside each archive) gives
incremental archives that list every directory's entries, so a restore removes what is gone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, MissingDependency, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import OVERFLOW_ID, RANGE_SIZE
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import write_json_atomic

FORMAT = 1
COLLECTION_VERSION = "0.1.0"  # galaxy.yml's (a unit test keeps them equal)
# Collection versions whose archives this one reads: the same format, made by 0.x.
READABLE_COLLECTIONS = ("0.",)
HEADER_NAME = "linuxvps-backup.json"
MAX_HEADER_BYTES = 16 * 1024 * 1024
DIGEST_SUFFIX = ".sha256"  # the archive's digest, kept by file_digest
SNAPSHOT_SUFFIX = ".snar"  # GNU tar's listed-incremental state, kept beside each archive for the next increment
PARTIAL_SUFFIX = ".partial"
COMPRESSIONS = ("zstd", "gzip", "none")
_COMPRESS = {"zstd": ["zstd", "-q", "-c", "-T0", "-3"], "gzip": ["gzip", "-c", "-6"]}
_DECOMPRESS = {"zstd": ["zstd", "-q", "-d", "-c"], "gzip": ["gzip", "-d", "-c"]}
_MAGIC = ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b", "gzip"))
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1024 * 1024
# Options shared by creation and extraction: numeric owners, every xattr (ACLs as their raw system.posix_acl_*).
_TAR_COMMON = ["--numeric-owner", "--xattrs", "--xattrs-include=*"]
# Exit status 1 of GNU tar's create: "some files differed" (changed while read): only expected in live mode.
TAR_FILES_CHANGED = 1
# Linux xattr binary layouts whose IDs move with the range.
_ACL_XATTRS = ("system.posix_acl_access", "system.posix_acl_default")
_ACL_USER, _ACL_GROUP = 0x02, 0x08
_CAPABILITY = "security.capability"
_VFS_CAP_V3 = 0x03000000


class ArchiveError(PartitionError):
    """An archive could not be written or read."""


# ---- the header -------------------------------------------------------------------------------------------
def header_member(header):
    """The bytes of the first member: a ustar header and the JSON, padded to a tar block."""
    data = (json.dumps(header, indent=1, sort_keys=True) + "\n").encode("utf-8")
    info = tarfile.TarInfo(HEADER_NAME)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # the header says when it was made; the member itself stays the same for the same header
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict") + data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def check_readable(header, path, option="path"):
    """Refuse an archive whose format or collection version this version does not read, naming the option."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidOption(option, path, "is a backup archive of format %r; this collection (%s) reads format %d"
                            % ((header or {}).get("format"), COLLECTION_VERSION, FORMAT))
    collection = str(header.get("collection"))
    if not collection.startswith(READABLE_COLLECTIONS):
        raise InvalidOption(option, path, "was made by collection version %s; this collection (%s) reads archives of %s"
                            % (collection, COLLECTION_VERSION, ", ".join(prefix + "x" for prefix in READABLE_COLLECTIONS)))
    for key in ("partition", "spec", "template", "fingerprint"):
        if key not in header:
            raise InvalidOption(option, path, "is a backup archive without %r in its header" % key)
    return header


def open_archive(path, option="path"):
    """Open an existing archive for reading: a regular file, never a link, FIFO or device (which could block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidOption(option, path, "cannot be opened: %s" % exc.strerror)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidOption(option, path, "is not a regular file")
    return fd


def detect_compression(fd):
    magic = os.pread(fd, 4, 0)
    for prefix, name in _MAGIC:
        if magic.startswith(prefix):
            return name
    return "none"


def detect_compression_of(path):
    fd = open_archive(path)
    try:
        return detect_compression(fd)
    finally:
        os.close(fd)


def read_header(path, option="path"):
    """(header, compression) of the archive at path; InvalidOption naming option when it is not one of ours."""
    fd = open_archive(path, option)
    try:
        compression = detect_compression(fd)
        with _decompressed(fd, compression) as stream:
            block = _read_exactly(stream, tarfile.BLOCKSIZE)
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.TarError:
                info = None
            if info is None or info.name != HEADER_NAME or info.size > MAX_HEADER_BYTES:
                raise InvalidOption(option, path, "is not a linuxvps backup archive (its first member is not %s)" % HEADER_NAME)
            data = _read_exactly(stream, info.size)
    finally:
        os.close(fd)
    try:
        header = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise InvalidOption(option, path, "has an unreadable %s: %s" % (HEADER_NAME, exc))
    return header, compression


def _read_exactly(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _decompressed:
    """The archive's tar stream: the file itself, or a decompressor's output (stopped on exit)."""

    def __init__(self, fd, compression):
        self.fd = fd
        self.compression = compression
        self.process = None

    def __enter__(self):
        os.lseek(self.fd, 0, os.SEEK_SET)
        if self.compression == "none":
            return os.fdopen(os.dup(self.fd), "rb")
        self.process = subprocess.Popen(_program(_DECOMPRESS[self.compression]), stdin=self.fd, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, close_fds=True)
        return self.process.stdout

    def __exit__(self, *exc_info):
        if self.process is not None:
            self.process.stdout.close()
            self.process.kill()
            self.process.wait()


def _program(cmd):
    if find_program(cmd[0]) is None:
        raise MissingDependency(cmd[0], "Install it (package %s); the host role installs it." % cmd[0])
    return cmd


def file_digest(path, remember=False):
    """sha256 and size of a file (an archive: read as a regular file only).

    The digest is kept beside the archive (path + DIGEST_SUFFIX, with the archive's inode, size and mtime) and taken
    from there while they match: an increment names its base by digest, and a move makes the increment while the
    partition is down, where reading a whole base archive again would cost seconds per GiB. remember=False (check
    mode) reads a kept digest but writes none.
    """
    fd = open_archive(path)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        identity = [st.st_ino, st.st_size, st.st_mtime_ns]
        kept = _kept_digest(path + DIGEST_SUFFIX)
        if kept is not None and kept.get("file") == identity and isinstance(kept.get("sha256"), str):
            return kept["sha256"], st.st_size
        digest, size = hashlib.sha256(), 0
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    if remember and size == st.st_size:
        try:
            write_json_atomic(path + DIGEST_SUFFIX, {"file": identity, "sha256": digest.hexdigest()}, mode=0o600)
        except PartitionError:
            pass  # only a shortcut for the next time
    return digest.hexdigest(), size


def _kept_digest(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        try:
            found = json.loads(handle.read(4096).decode("utf-8"))
        except ValueError:
            return None
    return found if isinstance(found, dict) else None


# ---- walking a tenant's tree ----------------------------------------------------------------------------------
def walk_tree(path, visit):
    """visit(dir_fd, name, relative, lstat) for path itself (".", "") and everything below it, sorted by name.

    The tree may be a live tenant's: no link is followed and no file opened; one directory is open at a time,
    each entered with O_NOFOLLOW from its parent's descriptor, and the walk climbs back by "..", checked to be the
    directory it came from (ArchiveError when a directory was moved meanwhile). No recursion: any depth.
    """
    fd = os.open(path, _DIRECTORY_FLAGS)
    try:
        visit(fd, ".", "", os.fstat(fd))
        stack = [(_identity(fd), _visit_entries(fd, "", visit))]
        while stack:
            subdirs = stack[-1][1]
            if subdirs:
                name, relative = subdirs.pop()
                try:
                    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # replaced or removed meanwhile (a live tenant)
                os.close(fd)
                fd = child
                stack.append((_identity(fd), _visit_entries(fd, relative, visit)))
                continue
            stack.pop()
            if stack:
                parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                if _identity(fd) != stack[-1][0]:
                    raise ArchiveError("%s changed while it was walked (a directory was moved)" % path)
    finally:
        os.close(fd)


def _visit_entries(fd, relative, visit):
    """Visit the entries of the open directory fd; its subdirectories as [(name, relative)], last name first."""
    subdirs = []
    with os.scandir(fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed meanwhile
        child = relative + "/" + name if relative else name
        visit(fd, name, child, st)
        if stat.S_ISDIR(st.st_mode):
            subdirs.append((name, child))
    subdirs.reverse()
    return subdirs


def _identity(fd):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def fingerprint(path):
    """sha256 over every entry's path, type and mode, owners, size, inode, mtime and ctime: any change to the own files
    (content, metadata, xattrs: each moves ctime, which no one can set back) changes it; but the top directory's ctime,
    which each start moves. None when the tree is missing or moved while walked."""
    digest = hashlib.sha256()

    def visit(dir_fd, name, relative, st):
        # the top's ctime moves at every start (the host chowns the writable layer's top for the partition's root)
        changed = st.st_ctime_ns if relative else 0
        digest.update(("%s\0%o\0%d\0%d\0%d\0%d\0%d\0%d\0%d\n" % (
            relative, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_ino, st.st_rdev, st.st_mtime_ns,
            changed)).encode("utf-8", "surrogateescape"))

    try:
        walk_tree(path, visit)
    except (OSError, ArchiveError):
        return None
    return digest.hexdigest()


def fingerprint_of(identity):
    """sha256 of what an archive holds (a JSON-able dict: the files' fingerprint, the spec, the template...)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


# ---- IDs ---------------------------------------------------------------------------------------------------
def owner_map(id_base):
    """GNU tar --owner-map/--group-map text: every host ID of the range to its relative ID."""
    return "".join("+%d +%d\n" % (id_base + number, number) for number in range(RANGE_SIZE))


class IdShift:
    """Owners of extracted files (relative, or already this host's after an earlier restore) to this host's range.

    to_base: the range start here (None: privileged, IDs stay as archived). from_base: the source host's range start,
    which the raw IDs inside ACLs and a v3 file capability's root ID come from.
    """

    def __init__(self, to_base, from_base):
        self.to_base = to_base
        self.from_base = from_base

    def owner(self, number):
        """A relative ID (or one already in this host's range) as this host's."""
        if self.to_base is None:
            return number
        if self.to_base <= number < self.to_base + RANGE_SIZE:
            return number
        return self.to_base + (number if 0 <= number < RANGE_SIZE else OVERFLOW_ID)

    def raw(self, number):
        """An ID the source host stored (ACL qualifier, capability root ID) as this host's."""
        if self.from_base is not None and self.from_base <= number < self.from_base + RANGE_SIZE:
            number -= self.from_base
        return self.owner(number)

    def apply(self, dir_fd, name, st):
        """Give one entry this host's owners, keeping setuid/setgid bits, capabilities and ACLs that chown touches."""
        uid, gid = self.owner(st.st_uid), self.owner(st.st_gid)
        link = stat.S_ISLNK(st.st_mode)
        xattrs = {} if link else self._id_xattrs(dir_fd, name)
        if (uid, gid) != (st.st_uid, st.st_gid):
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            if not link and st.st_mode & 0o6000:
                os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dir_fd)
        for key, (old, new) in xattrs.items():
            if new != old or key == _CAPABILITY and (uid, gid) != (st.st_uid, st.st_gid):
                _set_xattr(dir_fd, name, key, new)

    def _id_xattrs(self, dir_fd, name):
        """{xattr: (value, value with this host's IDs)} of the ACLs and the capability of one entry."""
        found = {}
        for key in _ACL_XATTRS + (_CAPABILITY,):
            value = _get_xattr(dir_fd, name, key)
            if value is not None:
                found[key] = (value, self._acl(value) if key != _CAPABILITY else self._capability(value))
        return found

    def _acl(self, value):
        if len(value) < 4 or (len(value) - 4) % 8:
            return value
        out = [value[:4]]
        for offset in range(4, len(value), 8):
            tag, perm, number = struct.unpack_from("<HHI", value, offset)
            if tag in (_ACL_USER, _ACL_GROUP):
                number = self.raw(number)
            out.append(struct.pack("<HHI", tag, perm, number))
        return b"".join(out)

    def _capability(self, value):
        if len(value) == 24 and struct.unpack_from("<I", value)[0] & 0xFF000000 == _VFS_CAP_V3:
            return value[:20] + struct.pack("<I", self.raw(struct.unpack_from("<I", value, 20)[0]))
        return value


def _get_xattr(dir_fd, name, key):
    try:
        return os.getxattr(_fd_path(dir_fd, name), key, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return None
        raise


def _set_xattr(dir_fd, name, key, value):
    os.setxattr(_fd_path(dir_fd, name), key, value, follow_symlinks=False)


def _fd_path(dir_fd, name):
    # the entry below the open directory, through this process's descriptor: never a path string from the top
    return "/proc/self/fd/%d" % dir_fd if name == "." else "/proc/self/fd/%d/%s" % (dir_fd, name)


def shift_tree(root, shift):
    """Apply an IdShift to every entry below root (a tree being restored: not running)."""
    if shift.to_base is None and shift.from_base is None:
        return
    walk_tree(root, lambda dir_fd, name, relative, st: shift.apply(dir_fd, name, st))


# ---- writing and reading archives ------------------------------------------------------------------------
def write_archive(path, header, root, id_base, compression, base_snapshot=None, live=False):
    """Write the archive of the tree root to path (through path.partial, fsynced, renamed), with its GNU tar
    snapshot beside it (path.snar). base_snapshot: the snapshot of the archive this one is an increment of.

    Returns the warnings (files that changed while read, in live mode)."""
    staging, snapshot = path + PARTIAL_SUFFIX, path + SNAPSHOT_SUFFIX
    staging_snapshot = snapshot + PARTIAL_SUFFIX
    for leftover in (staging, staging_snapshot):
        _unlink_quietly(leftover)  # a killed run's
    if base_snapshot is not None:
        shutil.copyfile(base_snapshot, staging_snapshot)
    workdir = tempfile.mkdtemp(prefix="linuxvps-backup-")
    warnings = []
    try:
        cmd = _program(["tar"]) + ["--create", "--file=-", "--format=posix", "--sparse", "--one-file-system",
                                   "--listed-incremental=" + staging_snapshot, "--no-check-device",
                                   "--pax-option=delete=atime,delete=ctime"] + _TAR_COMMON
        if id_base is not None:
            mapping = os.path.join(workdir, "ids")
            with open(mapping, "w") as handle:
                handle.write(owner_map(id_base))
            cmd += ["--owner-map=" + mapping, "--group-map=" + mapping]
        if live:
            cmd.append("--ignore-failed-read")  # a tenant's file gone or swapped meanwhile is left out, said in a warning
        cmd += ["-C", root, "."]
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            rc, err = _stream_out(fd, header_member(header), cmd, compression)
            if live and (rc == TAR_FILES_CHANGED or rc == 0 and err.strip()):
                warnings.append("backup of %s: files changed while they were read (mode live): %s"
                                % (header["partition"], err.strip()[-500:]))
            elif rc != 0:
                raise ArchiveError("archiving %s failed (tar exit %d): %s" % (root, rc, err.strip()[-2000:]), path=path)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_path(staging_snapshot)
        os.rename(staging_snapshot, snapshot)
        os.rename(staging, path)
        _fsync_path(os.path.dirname(os.path.abspath(path)))
    except BaseException:
        for leftover in (staging, staging_snapshot):
            _unlink_quietly(leftover)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return warnings


def _stream_out(fd, first, tar_cmd, compression):
    """Write first, then tar's output, through the compressor into fd; (tar's exit status, its stderr)."""
    errors = tempfile.TemporaryFile()
    compressor = None
    try:
        if compression == "none":
            os.write(fd, first)
            sink = fd
        else:
            compressor = subprocess.Popen(_program(_COMPRESS[compression]), stdin=subprocess.PIPE, stdout=fd,
                                          stderr=errors, close_fds=True)
            compressor.stdin.write(first)
            compressor.stdin.flush()
            sink = compressor.stdin
        tar = subprocess.Popen(tar_cmd, stdin=subprocess.DEVNULL, stdout=sink, stderr=errors, close_fds=True)
        if compressor is not None:
            compressor.stdin.close()
        rc = tar.wait()
        if compressor is not None and compressor.wait() != 0:
            rc = rc or 2
    except BaseException:
        if compressor is not None:
            compressor.kill()
        raise
    finally:
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
        errors.close()
    return rc, err


def extract_archive(path, root, incremental=False):
    """Extract the archive's files into root (its header member left out). incremental: an increment, applied onto
    the tree restored from its base: GNU tar removes what the increment's directory listings no longer name."""
    fd = open_archive(path)
    try:
        compression = detect_compression(fd)
        cmd = _program(["tar"]) + ["--extract", "--file=-", "--same-owner", "--same-permissions", "--anchored",
                                   "--exclude=" + HEADER_NAME, "-C", root] + _TAR_COMMON
        if incremental:
            cmd.append("--listed-incremental=/dev/null")
        with _decompressed(fd, compression) as stream:
            tar = subprocess.Popen(cmd, stdin=stream, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True)
            err = tar.communicate()[1].decode("utf-8", "replace")
            if tar.returncode != 0:
                raise ArchiveError("extracting %s into %s failed (tar exit %d): %s" % (path, root, tar.returncode, err.strip()[-2000:]),
                                   path=path)
    finally:
        os.close(fd)


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def describe(header, path, sha256=None, size=None, compression=None):
    """The archive as the module returns it."""
    incremental = header.get("incremental_from") or {}
    return {"path": path, "size": size, "sha256": sha256, "partition": header.get("partition"),
            "template": header.get("template"), "compression": compression, "created": header.get("created"),
            "running": header.get("running"), "format": header.get("format"), "collection": header.get("collection"),
            "incremental_from": incremental.get("path"), "incremental_from_sha256": incremental.get("sha256")}
