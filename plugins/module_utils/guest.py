# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the host writes inside a partition's tree before its init starts (hostname, hosts).

The tree belongs to the tenant: any path in it may be a symlink planted to reach the host. Every
write here resolves nothing: parent directories must be real directories and the file is opened
with O_NOFOLLOW, so a planted link fails the write instead of redirecting it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError


def _safe_parent(root, relative):
    """Absolute path of relative under root, after checking each parent is a real directory."""
    parts = relative.strip("/").split("/")
    current = root
    for part in parts[:-1]:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        if not stat.S_ISDIR(mode):
            raise PartitionError("refusing to write /%s in the partition: /%s is not a directory" % (relative, os.path.relpath(current, root)))
    return os.path.join(current, parts[-1])


def read_file(root, relative):
    path = _safe_parent(root, relative)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return None
        raise
    with os.fdopen(fd) as handle:
        return handle.read()


def write_file(root, relative, content, mode=0o644, owner=None):
    """Write content to /relative inside the tree unless it already holds exactly that.

    owner: the host uid/gid of the partition's root when it runs in a user namespace.
    """
    if read_file(root, relative) == content:
        return False
    path = _safe_parent(root, relative)
    if path is None:
        return False  # no such directory in this distro: nothing to configure there
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PartitionError("refusing to write /%s in the partition: it is a symlink" % relative)
        raise
    if owner is not None:
        os.fchown(fd, owner, owner)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return True


def hosts_with_name(current, hostname):
    """/etc/hosts content with the 127.0.1.1 line naming hostname (Debian's convention)."""
    lines = [line for line in (current or "127.0.0.1\tlocalhost\n").splitlines() if not line.startswith("127.0.1.1")]
    insert_at = 1 if lines and lines[0].startswith("127.0.0.1") else 0
    lines.insert(insert_at, "127.0.1.1\t%s" % hostname)
    return "\n".join(lines) + "\n"


def configure_identity(root, hostname, owner=None):
    """Make the tree name itself hostname: init reads /etc/hostname and overrides the runtime's."""
    write_file(root, "etc/hostname", hostname + "\n", owner=owner)
    write_file(root, "etc/hosts", hosts_with_name(read_file(root, "etc/hosts"), hostname), owner=owner)


def write_authorized_keys(root, keys, owner=None):
    """root's authorized_keys in the tree: exactly these keys (no file when there are none and none was made)."""
    if not keys and read_file(root, "root/.ssh/authorized_keys") is None:
        return False
    ssh_dir = os.path.join(root, "root", ".ssh")
    if not os.path.lexists(ssh_dir) and os.path.isdir(os.path.join(root, "root")) and not os.path.islink(os.path.join(root, "root")):
        os.mkdir(ssh_dir, 0o700)
        if owner is not None:
            os.lchown(ssh_dir, owner, owner)
    return write_file(root, "root/.ssh/authorized_keys", "".join(key + "\n" for key in keys), mode=0o600, owner=owner)
