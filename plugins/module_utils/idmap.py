# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host ID ranges for user namespaces: one 65536-ID range per tenant, never overlapping.

The registry is host-wide (one file, whatever state directory a partition lives in), so tenants of
two stores never share IDs. Ranges avoid every user and group the host's name service knows (files, LDAP,
SSSD: what getent lists) and every /etc/subuid and /etc/subgid entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import grp
import os
import pwd
from contextlib import contextmanager

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic

RANGE_SIZE = 65536
OVERFLOW_ID = 65534  # where an ID without room in a range goes (the kernel's overflowuid, "nobody")
FIRST_BASE = 1 << 20  # above any ordinary host user and the usual subordinate ranges (100000...)
LAST_BASE = (1 << 31) - RANGE_SIZE
REGISTRY = "/var/lib/linuxvps-idmap/ranges.json"


def subordinate_ranges(paths=("/etc/subuid", "/etc/subgid")):
    """(start, count) of every subordinate ID entry on the host."""
    ranges = []
    for path in paths:
        try:
            with open(path) as handle:
                for line in handle:
                    fields = line.strip().split(":")
                    if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                        ranges.append((int(fields[1]), int(fields[2])))
        except IOError:
            continue
    return ranges


def host_ids():
    """(id, 1) for every user and group ID the host's name service lists (getpwent/getgrent go through NSS)."""
    ids = set(entry.pw_uid for entry in pwd.getpwall()) | set(entry.gr_gid for entry in grp.getgrall())
    return [(number, 1) for number in sorted(ids)]


def _overlaps(base, ranges):
    return any(base < start + count and start < base + RANGE_SIZE for start, count in ranges)


class IdRanges:
    """Allocate, look up and release tenant ranges under a lock."""

    def __init__(self, registry=REGISTRY, reserved=None):
        self.registry = registry
        self.reserved = reserved

    @contextmanager
    def _locked(self, create):
        directory = os.path.dirname(self.registry)
        if not create and not os.path.isdir(directory):
            yield {"ranges": {}}
            return
        os.makedirs(directory, 0o700, exist_ok=True)  # the workers of one bulk call may make it at once
        with open(os.path.join(directory, "lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield read_json(self.registry) or {"ranges": {}}

    def lookup(self, owner):
        with self._locked(create=False) as data:
            return data["ranges"].get(owner)

    def allocate(self, owner):
        """The base of owner's range, allocating the lowest free one on first use."""
        with self._locked(create=True) as data:
            if owner in data["ranges"]:
                return data["ranges"][owner]
            taken = [(base, RANGE_SIZE) for base in data["ranges"].values()]
            reserved = subordinate_ranges() + host_ids() if self.reserved is None else self.reserved
            base = FIRST_BASE
            while _overlaps(base, taken) or _overlaps(base, reserved):
                base += RANGE_SIZE
                if base > LAST_BASE:
                    raise PartitionError("no free ID range left for user namespaces")
            data["ranges"][owner] = base
            write_json_atomic(self.registry, data, mode=0o644)
            return base

    def owned(self, prefix):
        """[(owner, base)] of the ranges whose owner key starts with prefix (one state directory's), sorted."""
        with self._locked(create=False) as data:
            return sorted((owner, base) for owner, base in data["ranges"].items() if owner.startswith(prefix))

    def release(self, owner):
        with self._locked(create=False) as data:
            if owner in data["ranges"]:
                del data["ranges"][owner]
                write_json_atomic(self.registry, data, mode=0o644)


def owner_key(state_dir, tenant):
    return "%s:%s" % (os.path.normpath(state_dir), tenant)
