# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cgroup v1 and v2 behind one interface: detection, limits, live updates, usage.

detect() returns the host's V1Host or V2Host; host.partition(partition_path(...)) a V1Cgroup or
V2Cgroup with the same methods (common.py holds what both versions share, v1.py and v2.py the rest).

A partition's limits live in its own cgroup (partition_path: "/<parent>/<tenant>.tenant/<name>", or a unit's
"/linuxvps.slice/<tenant slice>/<unit>/partition" under systemd), which this package creates, below its
tenant's cgroup (tenant_path), whose limits bound the sum of the tenant's partitions; the runtime runs the
partition one level below, in "<that>/payload", with a cgroup namespace rooted there. The partition's
root can see and write only the payload's files, so it can never raise the limits that bind it (the
LXC layout). Limits are compared in the files' own terms (what the kernel would read back), so a lossy
mapping never makes a run report a change forever.

Weights use the v2 scale (1..10000, default 100) in the spec:
  cpu.shares (v1)          = round(weight * 1024 / 100) within 2..262144 (the kernel's own cpu.weight
                             conversion); weight = round(shares * 100 / 1024): exact for every weight.
  io.weight (v2)           = weight.
  io.bfq.weight, blkio.bfq.weight = weight within 1..1000 (BFQ's range, same default 100): ratios
                             between partitions stay exact up to 1000; 1000..10000 all read as 1000.
  blkio.weight (v1, CFQ)   = weight * 5 within 10..1000 (default 500); weight = round(value / 5).
Every weight file present is written (iocost devices use io.weight, BFQ devices the bfq file).
Swap: v1 memory.memsw.limit_in_bytes = memory + swap (so swap can only be bounded with memory);
v2 memory.swap.max = swap.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.common import (
    PAGE,
    CgroupHost,
    PartitionCgroup,
    _read,
    check_components,
    io_weight_from_file,
    io_weight_to_file,
    shares_to_weight,
    weight_to_shares,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.v1 import CONTROLLERS as V1_CONTROLLERS
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.v1 import V1Cgroup, V1Host
from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups.v2 import V2Cgroup, V2Host
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import MOUNTINFO, is_under, mounts
from ansible_collections.linuxvps.partitions.plugins.module_utils.slices import tenant_slice
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR

__all__ = ["CgroupHost", "LIMITS_LEAF", "PAGE", "PartitionCgroup", "SLICE", "V1Cgroup", "V1Host", "V2Cgroup", "V2Host",
           "cgroup_parent", "detect", "io_weight_from_file", "io_weight_to_file", "partition_path", "shares_to_weight",
           "tenant_path", "weight_to_shares"]

SLICE = "linuxvps.slice"  # systemd's slice of the partitions' units
LIMITS_LEAF = "partition"  # the limit cgroup inside a unit's delegated subtree, beside the supervisor's leaf
TENANT_SUFFIX = ".tenant"  # a "." never occurs in a partition's name: no clash with a partition's legacy "/<parent>/<name>"


def cgroup_parent(state_dir):
    """Cgroup directory that holds this state directory's partitions.

    The default store uses 'linuxvps'; any other store (tests, a second tenant store) gets its own
    parent so that two stores never share a partition's cgroup.
    """
    if os.path.normpath(state_dir) == DEFAULT_STATE_DIR:
        return "linuxvps"
    return "linuxvps-" + hashlib.sha1(os.path.normpath(state_dir).encode()).hexdigest()[:8]


def tenant_path(parent, tenant, systemd=False):
    """The tenant's cgroup, whose limits bound all its partitions together: "/<parent>/<tenant>.tenant", or
    its slice's "/linuxvps.slice/<slice>" where systemd supervises partitions (slices.tenant_slice)."""
    parts = [SLICE, tenant_slice(parent, tenant)] if systemd else [part for part in parent.split("/") if part] + [tenant + TENANT_SUFFIX]
    check_components(parts, "%r / tenant %r" % (parent, tenant))
    return "/" + "/".join(parts)


def partition_path(parent, name, unit=None, tenant=None):
    """The partition's limit cgroup, the one place that maps a partition to a path: "<tenant_path>/<name>", or
    inside the delegated subtree of the systemd unit that supervises it, in its tenant's slice.

    tenant None: where an earlier version put it (no tenant level): "/<parent>/<name>", "/linuxvps.slice/<unit>/partition".
    """
    if unit:
        parts = [SLICE] + ([tenant_slice(parent, tenant)] if tenant else []) + [unit, LIMITS_LEAF]
    elif tenant:
        parts = tenant_path(parent, tenant).strip("/").split("/") + [name]
    else:
        parts = [part for part in parent.split("/") if part] + [name]
    check_components(parts, "%r / %r" % (unit or parent, name))
    return "/" + "/".join(parts)


def detect(mountinfo=MOUNTINFO, root="/sys/fs/cgroup"):
    """Read the mount table and return the host's V1Host or V2Host; v1 wins when it holds the memory controller.

    Controllers are found from the mount options, not the directory names (cpu and cpuacct may
    share one mount). Mounts at or below root are preferred over copies elsewhere.
    """
    try:
        entries = [entry for entry in mounts(mountinfo) if entry.fstype in ("cgroup", "cgroup2")]
    except (IOError, OSError) as exc:
        raise CgroupError("cannot read %s: %s" % (mountinfo, exc.strerror)) from exc
    root = os.path.normpath(root)
    entries = [entry for entry in entries if is_under(entry.mount_point, root)] or entries
    v1, unified = {}, None
    for entry in entries:
        if entry.fstype == "cgroup2":
            if unified is None or entry.mount_point == root:
                unified = entry.mount_point
            continue
        for option in sorted(entry.options):
            if option in V1_CONTROLLERS or option.startswith("name="):
                v1.setdefault(option, entry.mount_point)
    if "memory" in v1:
        return V1Host(v1, unified)
    if unified and (_read(os.path.join(unified, "cgroup.controllers")) or "").split():
        return V2Host(unified)
    raise CgroupError("no usable cgroup hierarchy: neither a v1 memory controller nor a cgroup2 mount with controllers "
                      "(mounts read from %s)" % mountinfo)
