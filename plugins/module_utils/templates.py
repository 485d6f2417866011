# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rootfs template store: plan, build, remove; manifests; protection of templates in use.

A template is built in a staging directory ``rootfs/.build-<name>-*`` and renamed into place, and
removed by renaming it to ``rootfs/.trash-*`` first, so a killed run never leaves half a template
under its real name. Staging and trash directories found later are garbage and swept.
A copy shifted to a tenant's ID range (``rootfs/<name>/shifted-<base>``) is used only when its completion
marker ``shifted-<base>.complete`` is there: written last, removed first.

API for the rest of the engine (all paths are on the target)::

    ts = TemplateStore(StateStore(state_dir))        # run_command=... to inject AnsibleModule.run_command
    ts.exists(name) -> bool                           # a manifest is present (the tree is then complete)
    ts.manifest(name) -> dict or None                 # the manifest.json document
    ts.root(name) -> path                             # the tree, <state_dir>/rootfs/<name>/rootfs
    ts.get(name) -> (root, manifest)                  # raises NotFound when the template does not exist
    ts.users(name) -> [partition names]               # partitions whose spec.rootfs is name
    ts.converge(params, check_mode) -> (changed, manifest, warnings, diff)   # the module's door, takes the lock
    ts.build(name, builder) / ts.remove(name)         # callers hold the lock (store.lock())
    ts.shifted_root(name, base) / ts.drop_shifted(base)
    ts.idmapped_refusal(name) -> None or why not      # whether the template can be an idmapped lower layer here
    ts.idmapped_root(name, base) / ts.drop_idmapped(name=None, base=None)

Where the kernel and the template's filesystem allow it, a tenant's partitions take the template through an idmapped
mount of it (``rootfs/.idmapped/<name>@<base>``, in a private bind mount of ``rootfs/.idmapped`` so it propagates
to no other mount namespace) instead of a shifted copy: no byte of the template is copied per tenant.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from contextlib import contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils import idmapped
from ansible_collections.linuxvps.partitions.plugins.module_utils.builders import make_builder
from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, Conflict, InvalidOption, NotFound
from ansible_collections.linuxvps.partitions.plugins.module_utils.faults import pause_point
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import OVERFLOW_ID, RANGE_SIZE
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import check, libc, mount, mount_at, mounts, umount
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import remove_tree, tree_size

IDMAPPED_DIR = ".idmapped"
MS_BIND = 4096
MS_PRIVATE = 1 << 18
TEMPLATE_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?\Z")  # \Z: $ would let a final newline through

# Each partition must make its own SSH host keys: sshd on Debian refuses to start without them.
SSH_KEYGEN_DROPIN = """# Written by linuxvps.partitions: host keys are made per partition at first start.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""


def validate_template_name(name, option="name"):
    """A template's name, in the rootfs module (name) and in a partition (rootfs): one directory under rootfs/."""
    if not isinstance(name, str) or not TEMPLATE_NAME.match(name) or ".." in name:
        raise InvalidOption(option, name, "must be 1 to 63 characters of a-z, 0-9, '.' and '-', "
                                          "starting and ending with a letter or digit")
    return name


def source_digest(options):
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


class TemplateStore:
    """Rootfs templates under one state directory."""

    def __init__(self, store, run_command=run):
        self.store = store
        self.run_command = run_command
        self._refusals = {}  # template name: why it cannot be an idmapped lower layer (None: it can), probed once

    def manifest(self, name):
        """The template's manifest, or None when it does not exist."""
        return self.store.load_rootfs(name)

    def exists(self, name):
        # the manifest is written into the staging directory before the rename: present means complete
        return self.manifest(name) is not None

    def root(self, name):
        """Path of the template's tree (the partitions' read-only lower layer)."""
        return os.path.join(self.store.rootfs_dir(name), "rootfs")

    def get(self, name):
        """(root, manifest) of an existing template; NotFound otherwise."""
        manifest = self.manifest(name)
        if manifest is None:
            raise NotFound("rootfs template %s does not exist in %s" % (name, self.store.rootfs_base), rootfs=name)
        return self.root(name), manifest

    def users(self, name):
        """Names of the partitions cloned from this template."""
        users = []
        for partition in self.store.partition_names():
            document = self.store.load_partition(partition) or {}
            if (document.get("spec") or {}).get("rootfs") == name:
                users.append(partition)
        return users

    def refuse_if_used(self, name, what):
        users = self.users(name)
        if users:
            raise Conflict("rootfs %s is used by partition(s) %s; cannot %s it. Remove those partitions first."
                           % (name, ", ".join(users), what), partitions=users)

    def sweep(self):
        """Remove staging and trash directories left by killed runs (the caller holds the lock)."""
        base = self.store.rootfs_base
        if not os.path.isdir(base):
            return
        for entry in os.listdir(base):
            path = os.path.join(base, entry)
            if entry.startswith((".build-", ".trash-")):
                remove_tree(path)
            elif not entry.startswith(".") and os.path.isdir(path) and not os.path.islink(path):
                # a systemd unit's start shifts copies without the host lock: its staging tree is live while it holds this one
                with self._shift_lock(entry, wait=False) as held:
                    if held:
                        self._sweep_shifting(entry)

    def build(self, name, builder):
        """Build the template and put it in place (replacing an existing one); return its manifest."""
        self.store.ensure_layout()
        self.sweep()
        staging = tempfile.mkdtemp(prefix=".build-%s-" % name, dir=self.store.rootfs_base)
        try:
            tree = os.path.join(staging, "rootfs")
            os.mkdir(tree, 0o755)
            builder.build(tree, self.run_command)
            first_boot_hygiene(tree)
            manifest = describe_tree(tree)
            options = builder.options()
            manifest.update(name=name, method=builder.method, options=options, source=source_digest(options),
                            packages=options.get("packages", []), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            manifest.update((key, options[key]) for key in ("mirror", "variant", "src", "checksum") if key in options)
            write_json_atomic(os.path.join(staging, "manifest.json"), manifest, mode=0o644)
            final = self.store.rootfs_dir(name)
            if os.path.exists(final):
                os.rename(final, tempfile.mkdtemp(prefix=".trash-%s-" % name, dir=self.store.rootfs_base) + "/old")
            os.rename(staging, final)
        except BaseException:
            remove_tree(staging)
            raise
        self.sweep()
        return manifest

    def converge(self, params, check_mode=False):
        """Make the template named in params present or absent; return (changed, manifest, warnings, diff)."""
        name = validate_template_name(params.get("name"))
        state = params.get("state") or "present"
        builder = make_builder(params) if state == "present" else None  # bad options fail before any change
        with self.store.lock(create=not check_mode and state == "present"):
            if not check_mode:
                self.sweep()  # garbage of killed runs goes on the next run, whatever it does
            manifest = self.manifest(name)
            before = {"state": "absent"} if manifest is None else dict(manifest, state="present")
            if state == "absent":
                if manifest is None:
                    return False, None, [], named_diff("rootfs", name, before, before)
                self.refuse_if_used(name, "remove")
                if not check_mode:
                    self.remove(name)
                return True, None, [], named_diff("rootfs", name, before, {"state": "absent"})
            wanted = builder.options()
            warnings = []
            if manifest is not None and not params.get("force"):
                if manifest.get("source") != source_digest(wanted):
                    warnings.append("rootfs %s was built with other options than these (%s); it is kept as it is. "
                                    "Use force: true to rebuild it." % (name, ", ".join(_differences(manifest.get("options"), wanted))))
                return False, manifest, warnings, named_diff("rootfs", name, before, before)
            if manifest is not None:
                self.refuse_if_used(name, "rebuild")
            builder.check_installed()
            after = dict(wanted, name=name, state="present")
            if check_mode:
                return True, after, warnings, named_diff("rootfs", name, before, after)
            manifest = self.build(name, builder)
            return True, manifest, warnings, named_diff("rootfs", name, before, dict(manifest, state="present"))

    def shifted_root(self, name, base):
        """The template's tree with every owner moved up by base, for a user namespace mapping 0 to base.

        Made once per template and range (a reflinked copy where the filesystem can, then chown), staged
        and renamed into place, and reused by every partition of that range. Only a copy with its marker is
        whole: a kill may leave one half made, or half removed by drop_shifted.
        """
        final, marker = self._shifted_paths(name, base)
        with self._shift_lock(name):
            self._sweep_shifting(name)  # whoever staged what is left there held this lock: it was killed
            if os.path.lexists(final) and not os.path.exists(marker):
                if _mounted_as_lower(final):
                    _write_marker(marker, base)  # made whole by a version without markers: a partition runs on it
                else:
                    self._discard(name, final)
            if os.path.exists(marker) and os.path.isdir(final):
                return final
            staging = tempfile.mkdtemp(prefix=".shifting-%d-" % base, dir=self.store.rootfs_dir(name))
            try:
                tree = os.path.join(staging, "tree")
                run(["cp", "-a", "--reflink=auto", self.root(name), tree])
                shift_ownership(tree, base)
                _sync(tree, filesystem=True)  # the files and their owners are on disk before anything says they are whole
                pause_point("shift-copied")
                os.rename(tree, final)
                _sync(os.path.dirname(final))
                _write_marker(marker, base)
            finally:
                remove_tree(staging)
        return final

    def drop_shifted(self, base):
        """Remove every template's copy shifted to this ID range (its marker first, so no half is ever used) and its
        idmapped mounts for the range."""
        self.drop_idmapped(base=base)
        for name in self.store.rootfs_names():
            final, marker = self._shifted_paths(name, base)
            with self._shift_lock(name):
                self._sweep_shifting(name)
                if os.path.exists(marker):
                    os.unlink(marker)
                    _sync(os.path.dirname(marker))
                self._discard(name, final)

    def idmapped_refusal(self, name):
        """Why the template cannot be an idmapped lower layer on this host (None: it can); probed once per process."""
        if name not in self._refusals:
            self._refusals[name] = idmapped.refusal(self.root(name))
        return self._refusals[name]

    def refused(self, name, why):
        """Remember that an idmapped mount of the template failed (why): this process uses shifted copies of it."""
        self._refusals[name] = why

    def idmapped_path(self, name, base):
        return os.path.join(self.store.rootfs_base, IDMAPPED_DIR, "%s@%d" % (name, base))

    def is_idmapped(self, path):
        """Whether path is one of the idmapped mounts of this store's templates."""
        return os.path.dirname(path) == os.path.join(self.store.rootfs_base, IDMAPPED_DIR)

    def idmapped_root(self, name, base):
        """The template seen through an idmapped mount where ID n is base + n, made when missing (a host reboot or
        drop_idmapped took it); OSError when the kernel refuses. Shared by every partition of that range."""
        target = self.idmapped_path(name, base)
        with self._idmap_lock():
            found = mount_at(target)
            if found is not None and "idmapped" in found.options and _same_tree(target, self.root(name)):
                return target  # (not the tree of a template rebuilt since: a killed run may have left that one)
            self._private_holder()
            if found is not None:
                umount(target, lazy=True)  # something else was put there: never a lower layer
            if not os.path.isdir(target):
                os.mkdir(target, 0o755)
            fd = idmapped.idmapped_clone(self.root(name), base, RANGE_SIZE)
            try:
                idmapped.attach(fd, target)
            finally:
                os.close(fd)
        return target

    def drop_idmapped(self, name=None, base=None):
        """Unmount the idmapped mounts of the template name (all when None) for the range base (all when None); the
        private holder goes with the last. A mounted overlay keeps its own reference to its lower layer."""
        holder = os.path.join(self.store.rootfs_base, IDMAPPED_DIR)
        if not os.path.isdir(holder):
            return
        with self._idmap_lock():
            for entry in os.listdir(holder):
                entry_name, _sep, entry_base = entry.rpartition("@")
                if (name is None or entry_name == name) and (base is None or entry_base == str(base)):
                    path = os.path.join(holder, entry)
                    while mount_at(path) is not None:
                        umount(path, lazy=True)
                    os.rmdir(path)
            if not os.listdir(holder):
                while mount_at(holder) is not None:
                    umount(holder, lazy=True)
                os.rmdir(holder)

    def drop_unused_shifted(self, name, base):
        """Remove the template's copy shifted to base once no mounted overlay has it as its lower layer (its range's
        partitions moved to the idmapped mount as they started again)."""
        final, marker = self._shifted_paths(name, base)
        if not os.path.lexists(final) and not os.path.exists(marker):
            return
        with self._shift_lock(name):
            if _mounted_as_lower(final):
                return
            if os.path.exists(marker):
                os.unlink(marker)
                _sync(os.path.dirname(marker))
            self._discard(name, final)

    def _private_holder(self):
        """rootfs/.idmapped as a private bind mount of itself (the caller holds the idmap lock): mounts attached
        below it propagate to no peer or slave mount namespace, whatever the propagation of the filesystem above."""
        holder = os.path.join(self.store.rootfs_base, IDMAPPED_DIR)
        if not os.path.isdir(holder):
            os.mkdir(holder, 0o700)
        if mount_at(holder) is None:
            mount(holder, holder, "none", "", MS_BIND)
        mount("none", holder, "none", "", MS_PRIVATE)
        return holder

    @contextmanager
    def _idmap_lock(self):
        """Held while idmapped mounts are made or dropped: a systemd unit's start makes them without the host lock."""
        fd = os.open(os.path.join(self.store.rootfs_base, IDMAPPED_DIR + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _shifted_paths(self, name, base):
        """(copy, completion marker) of the template's copy shifted to base."""
        final = os.path.join(self.store.rootfs_dir(name), "shifted-%d" % base)
        return final, final + ".complete"

    @contextmanager
    def _shift_lock(self, name, wait=True):
        """Held by whoever makes, drops or sweeps the template's shifted copies; yields whether it is held.

        The host lock is not enough: a partition's systemd unit makes a missing copy in its start command,
        without it (the run that started the unit holds it, or no run at all when systemd restarts the unit).
        """
        fd = os.open(os.path.join(self.store.rootfs_dir(name), ".shift.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                held = True
            except (IOError, OSError) as exc:
                if wait or exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                held = False
            yield held
        finally:
            os.close(fd)

    def _sweep_shifting(self, name):
        """Staging and trash trees of shifted copies left by killed runs (the caller holds the shift lock)."""
        directory = self.store.rootfs_dir(name)
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if entry.startswith((".shifting-", ".trash-")):
                remove_tree(path)
            elif entry.startswith(".tmp-"):
                os.unlink(path)  # a marker being written

    def _discard(self, name, final):
        """Remove a copy without its marker: renamed away first, so a kill leaves trash, not half a copy under its name."""
        if os.path.lexists(final):
            trash = tempfile.mkdtemp(prefix=".trash-%s-" % os.path.basename(final), dir=self.store.rootfs_dir(name))
            os.rename(final, os.path.join(trash, "tree"))
            remove_tree(trash)

    def remove(self, name):
        self.drop_idmapped(name)  # none is in use: refuse_if_used found no partition of it
        self.sweep()
        final = self.store.rootfs_dir(name)
        if os.path.exists(final):
            trash = tempfile.mkdtemp(prefix=".trash-%s-" % name, dir=self.store.rootfs_base)
            os.rename(final, os.path.join(trash, "old"))
            remove_tree(trash)


def _differences(old, new):
    old = old or {}
    return ["%s %r -> %r" % (key, old.get(key), new.get(key)) for key in sorted(new) if old.get(key) != new.get(key)] or ["unknown"]


def _write_marker(marker, base):
    write_json_atomic(marker, {"base": base}, mode=0o644)
    _sync(os.path.dirname(marker))


def _sync(path, filesystem=False):
    """fsync(2) of the directory path (its entries), or syncfs(2) of the filesystem holding it (a whole tree in one call)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if filesystem:
            check(libc().syncfs(fd), "syncfs %s" % path)
        else:
            os.fsync(fd)
    finally:
        os.close(fd)


def _same_tree(one, other):
    """Whether two paths are the same directory (an idmapped mount's root and the tree it shows)."""
    try:
        first, second = os.stat(one), os.stat(other)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _mounted_as_lower(tree):
    """Whether a mounted overlay has tree as its lower layer."""
    return any(entry.fstype == "overlay" and "lowerdir=" + tree in entry.options for entry in mounts())


def in_range(owner):
    """An ID of a template as the tenant's range holds it: one the range has no room for (a tarball may carry any)
    becomes the overflow ID, as the kernel shows unmapped IDs, so a shifted file never lands in another range."""
    return owner if 0 <= owner < RANGE_SIZE else OVERFLOW_ID


def shift_ownership(tree, base):
    """Add base to every file's owner and group (kept inside the range); keep the setuid/setgid bits chown clears."""
    for top, dirs, files in os.walk(tree):
        for path in [top] + [os.path.join(top, entry) for entry in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]]:
            st = os.lstat(path)
            os.lchown(path, base + in_range(st.st_uid), base + in_range(st.st_gid))
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o6000:
                os.chmod(path, stat.S_IMODE(st.st_mode))


def first_boot_hygiene(tree, owner=None):
    """Nothing that must be unique per machine stays in a template (or a partition's copy, clones.py).

    The tree may come from anyone's tarball: no symlink in it is followed, so a planted link such as
    etc/ssh -> /etc/ssh can never make this touch the host. owner: host ID of the tree's root user, which what this
    writes belongs to (None: IDs as they are, a template's or a privileged partition's).
    """
    etc = _real_dir(tree, "etc")
    machine_id = etc and os.path.join(etc, "machine-id")
    if machine_id and _is_regular(machine_id):
        # empty, not absent: systemd then makes one at first boot (and a read-only /etc still boots)
        os.close(os.open(machine_id, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW))
    dbus = _real_dir(tree, "var/lib/dbus")
    dbus_id = dbus and os.path.join(dbus, "machine-id")
    if dbus_id and os.path.lexists(dbus_id) and not os.path.isdir(dbus_id):
        # a link to /etc/machine-id follows it; a copy of its own would be the same in every partition
        if not (os.path.islink(dbus_id) and os.path.normpath(os.path.join("/var/lib/dbus", os.readlink(dbus_id))) == "/etc/machine-id"):
            os.unlink(dbus_id)
    ssh = _real_dir(tree, "etc/ssh")
    if ssh:
        for entry in os.listdir(ssh):
            if entry.startswith("ssh_host_") and not stat.S_ISDIR(os.lstat(os.path.join(ssh, entry)).st_mode):
                os.unlink(os.path.join(ssh, entry))
    # Debian's sshd refuses to start without host keys and nothing makes them at boot: have each
    # partition make its own before sshd starts (ssh-keygen -A only fills in missing ones).
    for unit_dir in ("usr/lib/systemd/system", "lib/systemd/system"):
        units = _real_dir(tree, unit_dir)
        if units and os.path.lexists(os.path.join(units, "ssh.service")):
            dropin = _make_real_dir(tree, "etc/systemd/system/ssh.service.d", owner=owner)
            fd = os.open(os.path.join(dropin, "linuxvps-host-keys.conf"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w") as handle:
                if owner is not None:
                    os.fchown(handle.fileno(), owner, owner)
                handle.write(SSH_KEYGEN_DROPIN)
            break


def _real_dir(tree, relative):
    """tree/relative when it and each directory on the way are real directories (no symlinks), else None."""
    current = tree
    for part in [part for part in relative.split("/") if part]:
        current = os.path.join(current, part)
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return None
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise
    return current


def _make_real_dir(tree, relative, mode=0o755, owner=None):
    """tree/relative, its missing directories made (owned by owner when given: the directories an overlay layer holds
    stand for the lower ones, owner and all)."""
    current = tree
    for part in [part for part in relative.split("/") if part]:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            os.mkdir(current, mode)
            if owner is not None:
                os.lchown(current, owner, owner)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise BuildError("refusing to write into the template: /%s is not a directory" % os.path.relpath(current, tree))
    return current


def _is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise


def read_os_release(tree):
    """The tree's os-release as a dict (ID, VERSION_ID, VERSION_CODENAME, ...), {} when it has none."""
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        path = resolve_inside(tree, candidate)
        if path and os.path.isfile(path):
            values = {}
            with open(path, "rb") as handle:
                for line in handle.read().decode("utf-8", "replace").splitlines():
                    key, sep, value = line.strip().partition("=")
                    if sep and not key.startswith("#"):
                        values[key.strip()] = value.strip().strip('"').strip("'")
            return values
    return {}


def resolve_inside(tree, path, hops=16):
    """Resolve symlinks of path as seen from inside tree (absolute links point into the tree).

    Returns a host path below tree, or None for a loop of more than hops links.
    """
    parts = [part for part in path.split("/") if part]
    resolved = ""
    while parts and hops > 0:
        part = parts.pop(0)
        if part in (".", ".."):
            resolved = os.path.dirname(resolved) if part == ".." else resolved  # never above the tree's /
            continue
        candidate = os.path.join(tree, resolved.lstrip("/"), part)
        if os.path.islink(candidate):
            hops -= 1
            link = os.readlink(candidate)
            base = "" if link.startswith("/") else resolved
            parts = [p for p in link.split("/") if p] + parts
            resolved = base if not link.startswith("/") else ""
            continue
        resolved = resolved + "/" + part
    if parts:
        return None
    return os.path.join(tree, resolved.lstrip("/"))


def init_path(tree):
    """Path inside the tree of the program /sbin/init leads to, or None."""
    target = resolve_inside(tree, "/sbin/init")
    if target is None or not os.path.isfile(target):
        return None
    return "/" + os.path.relpath(target, tree)


def describe_tree(tree):
    release = read_os_release(tree)
    return {
        "distro": release.get("ID"),
        "release": release.get("VERSION_ID") or release.get("VERSION_CODENAME"),
        "codename": release.get("VERSION_CODENAME"),
        "pretty_name": release.get("PRETTY_NAME"),
        "arch": tree_arch(tree) or host_arch(),
        "init": init_path(tree),
        "size_bytes": tree_size(tree),
    }


def tree_arch(tree):
    """Architecture the tree's package manager records (dpkg's, or apk's), or None."""
    status = resolve_inside(tree, "/var/lib/dpkg/status")
    if status and os.path.isfile(status):
        package = None
        with open(status, "rb") as handle:
            for raw in handle:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("Package: "):
                    package = line[9:].strip()
                elif package == "dpkg" and line.startswith("Architecture: "):
                    return line[14:].strip()
    apk_arch = resolve_inside(tree, "/etc/apk/arch")
    if apk_arch and os.path.isfile(apk_arch):
        with open(apk_arch) as handle:
            return handle.read().strip() or None
    return None


def host_arch():
    if find_program("dpkg"):
        rc, out, _err = run(["dpkg", "--print-architecture"], check=False)
        if rc == 0 and out.strip():
            return out.strip()
    return os.uname()[4]
