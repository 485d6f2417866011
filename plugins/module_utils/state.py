# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory: layout, JSON documents written atomically, and the host lock.

Layout under the state directory (default /var/lib/linuxvps)::

    lock                          flock(2) that serialises runs on one host (hostlock.py)
    handover/<name>               the lock holder's note letting a partition's unit commands run on its lock
    identity                      this state directory's random ID, made once: its links on the host carry it
    rootfs/<name>/manifest.json   a template's manifest
    rootfs/<name>/rootfs/         the template tree (read-only lower layer)
    partitions/<name>/partition.json
    partitions/<name>/bundle/     OCI bundle: config.json, rootfs/ (mount point)
    partitions/<name>/upper|work  overlay layers, or disk/ for a full copy
    partitions/<name>/console.*   the partition's stdio without systemd (console.py)
    networks/<name>.json          a host network (bridge, gateway addresses, NAT)
    tenants/<name>.json           a tenant's limits over all its partitions (tenants.py)
    runc/, crun/                  each runtime's own state (its --root)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.hostlock import HostLock

DEFAULT_STATE_DIR = "/var/lib/linuxvps"
# The state_dir option of every module (documented once, in doc_fragments/state.py).
STATE_DIR_ARGSPEC = dict(state_dir=dict(type="path", default=DEFAULT_STATE_DIR))
DOCUMENT_VERSION = 1
# 128 random bits as hex: the state directory's identity, not its path (a state directory may move).
IDENTITY = re.compile(r"^[0-9a-f]{32}\Z")


def read_json(path):
    """Return the JSON document at path, or None when it does not exist."""
    try:
        with open(path, "r") as handle:
            return json.load(handle)
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptDocument("state document %s is not valid JSON: %s" % (path, exc), path=path)


def write_json_atomic(path, data, mode=0o600, sync=True):
    """Write data as JSON to path so that readers see the old or the new file, never half. sync=False: not synced to
    disk, for a file that no longer matters after a power cut (see write_text_atomic)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode, sync=sync)


def write_text_atomic(path, text, mode=0o600, sync=True, prefix=".tmp-"):
    """Write text to path so that readers see the old or the new file, never half (a temporary file in the same
    directory, named with prefix, renamed over it). sync=False: no fsync, for a file rewritten often anyway."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    except OSError as exc:
        raise PartitionError("cannot write %s: %s" % (path, exc.strerror), path=path, errno=exc.errno)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):  # a full disk (ENOSPC), a quota, an I/O error: said plainly, no traceback
            raise PartitionError("cannot write %s: %s" % (path, exc.strerror), path=path, errno=exc.errno)
        raise


class StateStore:
    """Paths and documents under one state directory."""

    def __init__(self, root=DEFAULT_STATE_DIR):
        # {path: (stat identity, document)}: a bulk run reads every partition's document for each partition
        # it plans (address clashes); the stat check keeps the cache true to the file.
        self._documents = {}
        if not os.path.isabs(root):
            raise PartitionError("state_dir must be an absolute path, got %r" % (root,))
        self.root = os.path.normpath(root)

    # ---- layout -------------------------------------------------------
    @property
    def rootfs_base(self):
        return os.path.join(self.root, "rootfs")

    @property
    def partitions_base(self):
        return os.path.join(self.root, "partitions")

    @property
    def networks_base(self):
        return os.path.join(self.root, "networks")

    @property
    def tenants_base(self):
        return os.path.join(self.root, "tenants")

    @property
    def runtime_root(self):
        return os.path.join(self.root, "runc")

    def rootfs_dir(self, name):
        return os.path.join(self.rootfs_base, name)

    def partition_dir(self, name):
        return os.path.join(self.partitions_base, name)

    def partition_document(self, name):
        return os.path.join(self.partition_dir(name), "partition.json")

    def network_document(self, name):
        return os.path.join(self.networks_base, name + ".json")

    def tenant_document(self, name):
        return os.path.join(self.tenants_base, name + ".json")

    def rootfs_manifest(self, name):
        return os.path.join(self.rootfs_dir(name), "manifest.json")

    @property
    def identity_file(self):
        return os.path.join(self.root, "identity")

    def ensure_layout(self):
        """Create the top-level directories and the identity (idempotent)."""
        for path in (self.root, self.rootfs_base, self.partitions_base, self.networks_base, self.runtime_root):
            os.makedirs(path, 0o711, exist_ok=True)  # the workers of one bulk call may make it at once
        if self.identity() is None:
            self._make_identity()

    def identity(self):
        """This state directory's identity (32 hex digits), or None before ensure_layout made it.

        Names and owner marks of the host links the state directory makes derive from it, so two state
        directories on one host never take each other's links, wherever either is moved to.
        """
        try:
            with open(self.identity_file, "r") as handle:
                value = handle.read(64).strip()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise PartitionError("cannot read %s: %s" % (self.identity_file, exc.strerror), path=self.identity_file)
        if not IDENTITY.match(value):
            raise CorruptDocument("state directory identity %s is not 32 hex digits: %r" % (self.identity_file, value[:40]),
                                  path=self.identity_file)
        return value

    def _make_identity(self):
        """Write a new identity where there is none: linked into place, so a concurrent maker's stays and a
        killed run leaves either none or a whole one."""
        fd, tmp = tempfile.mkstemp(prefix=".tmp-identity-", dir=self.root)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write("%s\n" % binascii.hexlify(os.urandom(16)).decode())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            try:
                os.link(tmp, self.identity_file)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise PartitionError("cannot write %s: %s" % (self.identity_file, exc.strerror), path=self.identity_file)
        finally:
            os.unlink(tmp)

    def ensure_searchable(self, path):
        """Let others pass through every directory from / down to path, which lies in the state directory.

        A partition in a user namespace is 'others' to the host's directories, and the runtime reaches its bundle
        and root filesystem as the partition's root: without the search bit runc fails with a bare "permission
        denied". Directories of the state directory get the bit; one above it that lacks it fails naming it.
        """
        current = "/"
        for part in os.path.relpath(path, "/").split(os.sep):
            current = os.path.join(current, part)
            mode = os.stat(current).st_mode
            if mode & stat.S_IXOTH:
                continue
            if current != self.root and not current.startswith(self.root + os.sep):
                raise PartitionError(
                    "directory %s (mode %04o, above state_dir %s) must be searchable by others: partitions in user "
                    "namespaces reach their files through it (chmod o+x %s, or use another state_dir)"
                    % (current, stat.S_IMODE(mode), self.root, current))
            os.chmod(current, stat.S_IMODE(mode) | stat.S_IXOTH)

    # ---- documents ----------------------------------------------------
    def load_partition(self, name):
        """The partition's document (None when it has none). Treat it as read-only: it may be shared."""
        path = self.partition_document(name)
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            self._documents.pop(path, None)
            return None
        identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._documents.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
        document = read_json(path)
        spec = document.get("spec") if isinstance(document, dict) else None
        if not isinstance(spec, dict):
            raise CorruptDocument("state document %s is not a partition's document (it has no spec)" % path, path=path)
        self._documents[path] = (identity, document)
        return document

    def partition_documents(self):
        """[(name, document, None)] of every partition, with (name, None, CorruptDocument) for one that cannot be read:
        a scan over all partitions goes on past a bad document and decides what it means for itself. A directory without
        a document is no partition (a creation or a restore killed before its document was written) and is left out."""
        found = []
        for name in self.partition_names():
            try:
                document = self.load_partition(name)
            except CorruptDocument as exc:
                found.append((name, None, exc))
                continue
            if document is not None:
                found.append((name, document, None))
        return found

    def save_partition(self, name, document):
        document = dict(document, version=DOCUMENT_VERSION)
        path = self.partition_dir(name)
        if not os.path.isdir(path):
            # search-only for others: the runtime reaches the bundle as the partition's unprivileged root
            os.makedirs(path, 0o711)
        write_json_atomic(self.partition_document(name), document)

    def secrets_file(self, name):
        return os.path.join(self.partition_dir(name), "secret-env.json")

    def save_secrets(self, name, values, fingerprints):
        """The values of a partition's secret_env, root only, beside (never in) its document, each with the
        fingerprint the document records for it."""
        if not os.path.isdir(self.partition_dir(name)):
            os.makedirs(self.partition_dir(name), 0o711)
        secrets = dict((key, {"value": value, "fingerprint": fingerprints[key]}) for key, value in values.items())
        write_json_atomic(self.secrets_file(name), secrets, mode=0o600)

    def load_secrets(self, name, fingerprints):
        """{key: value} of the secrets the document's fingerprints stand for; a run killed between saving the
        values and the document leaves values no fingerprint proves, and those are not used."""
        secrets = read_json(self.secrets_file(name)) or {}
        missing = sorted(key for key in fingerprints if (secrets.get(key) or {}).get("fingerprint") != fingerprints[key])
        if missing:
            raise PartitionError("partition %s: the values of secret_env %s are not on this host as recorded; give "
                                 "secret_env again" % (name, ", ".join(missing)))
        return dict((key, secrets[key]["value"]) for key in fingerprints)

    def partition_names(self):
        return _subdirectories(self.partitions_base)

    def load_network(self, name):
        return read_json(self.network_document(name))

    def save_network(self, name, document):
        self.ensure_layout()
        write_json_atomic(self.network_document(name), dict(document, version=DOCUMENT_VERSION))

    def remove_network(self, name):
        if os.path.exists(self.network_document(name)):
            os.unlink(self.network_document(name))

    def network_names(self):
        try:
            return sorted(entry[:-5] for entry in os.listdir(self.networks_base) if entry.endswith(".json"))
        except OSError:
            return []

    def load_tenant(self, name):
        """The tenant's document ({name, resources, max_partitions}), or None when it has none (not declared)."""
        document = read_json(self.tenant_document(name))
        if document is not None and not (isinstance(document, dict) and isinstance(document.get("resources"), dict)):
            raise CorruptDocument("state document %s is not a tenant's document (it has no resources)"
                                  % self.tenant_document(name), path=self.tenant_document(name))
        return document

    def save_tenant(self, name, document):
        self.ensure_layout()
        os.makedirs(self.tenants_base, 0o700, exist_ok=True)
        write_json_atomic(self.tenant_document(name), dict(document, version=DOCUMENT_VERSION))

    def remove_tenant(self, name):
        if os.path.exists(self.tenant_document(name)):
            os.unlink(self.tenant_document(name))

    def tenant_names(self):
        """The declared tenants (those with a document), sorted."""
        try:
            # a tenant's name has no ".": <name>.counters.json and the like are its counters (tenant_counters.py)
            return sorted(entry[:-5] for entry in os.listdir(self.tenants_base)
                          if entry.endswith(".json") and "." not in entry[:-5])
        except OSError:
            return []

    def load_rootfs(self, name):
        return read_json(self.rootfs_manifest(name))

    def rootfs_names(self):
        return [name for name in _subdirectories(self.rootfs_base)
                if os.path.exists(self.rootfs_manifest(name))]

    # ---- lock (hostlock.py) ----------------------------------------------
    @contextmanager
    def lock(self, timeout=600.0, create=True, on_behalf_of=None):
        """Hold the host lock: one run at a time changes this state directory.

        With create=False (check mode) a state directory that does not exist is not made;
        there is then nothing to lock. on_behalf_of: see HostLock.hold.
        """
        if not create and not os.path.isdir(self.root):
            yield
            return
        if create:
            self.ensure_layout()
        with HostLock(self.root).hold(timeout, on_behalf_of):
            yield

    def hand_over(self, name):
        """Let partition name's systemd unit commands run on the lock this run holds (see hostlock.py)."""
        HostLock(self.root).hand_over(name)


def _store(state_dir_or_store):
    return state_dir_or_store if isinstance(state_dir_or_store, StateStore) else StateStore(state_dir_or_store)


def load_tenant(state_dir_or_store, name):
    """The tenant's document in a state directory (a path or a StateStore), or None when it is not declared."""
    return _store(state_dir_or_store).load_tenant(name)


def tenant_names(state_dir_or_store):
    """The tenants declared in a state directory (a path or a StateStore)."""
    return _store(state_dir_or_store).tenant_names()


def _subdirectories(path):
    try:
        names = os.listdir(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise
    return sorted(name for name in names
                  if not name.startswith(".") and os.path.isdir(os.path.join(path, name)))
