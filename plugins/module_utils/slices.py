# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's systemd slice where systemd supervises partitions: its name, its unit file, and systemctl.

Every partition unit of a tenant runs in the tenant's slice (``systemd-run --slice``), a child of
``linuxvps.slice`` by systemd's dash rule, so the kernel bounds the tenant's total whatever each partition's
own limit is. The slice's limits are never written to its cgroup files (systemd rewrites those on every
reload): they are the slice's unit file in /etc/systemd/system, which outlives reboots, and are applied to an
active slice at once with ``systemctl set-property --runtime`` (the same values, so the file stays the truth).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.iolimits import slice_directives
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import CPU_PERIOD_US, cpus_to_quota

UNIT_DIR = "/etc/systemd/system"
NOT_LOADED = 5  # systemctl's exit code for a unit that is not loaded
# Characters systemd keeps as they are in a unit name (unit_name_escape); "-" is the hierarchy separator.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.")
DEFAULT_PARENT = "linuxvps"  # cgroups.cgroup_parent of the default state directory


def escape(name):
    """systemd's unit name escaping (systemd-escape): "acme-corp" -> "acme\\x2dcorp", so the tenant's slice is not
    taken for a child of "linuxvps-acme.slice"."""
    out = []
    for index, char in enumerate(name):
        if char in _PLAIN and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend("\\x%02x" % byte for byte in char.encode("utf-8"))
    return "".join(out)


def tenant_slice(parent, tenant):
    """linuxvps-<tenant>.slice for the default state directory, <parent>_<tenant>.slice (parent =
    "linuxvps-<hash>") for others: tenant names have no "_", so the two forms never collide."""
    if parent == DEFAULT_PARENT:
        return "linuxvps-%s.slice" % escape(tenant)
    return "%s_%s.slice" % (parent, escape(tenant))


def slice_properties(resources, devices=()):
    """[(property, value)] that express a tenant's resources; the value systemd resets to where one is unset.

    devices: ["M:m"] the I/O limits apply to (none: no I/O bandwidth property); iolimits.slice_directives words them.
    """
    resources = resources or {}

    def size(key):
        return str(resources[key]) if resources.get(key) is not None else "infinity"

    quota = cpus_to_quota(resources.get("cpus"))
    props = [("MemoryMax", size("memory")), ("MemorySwapMax", size("swap")),
             # CPUQuota is per second: percent of one CPU, e.g. 1.5 CPUs = 150%
             ("CPUQuota", "%g%%" % (quota * 100.0 / CPU_PERIOD_US) if quota is not None else ""),
             ("CPUWeight", str(resources.get("cpu_weight") or "")),
             ("TasksMax", size("pids")),
             ("IOWeight", str(resources.get("io_weight") or ""))]
    props.extend(tuple(line.split("=", 1)) for line in slice_directives(resources, devices))
    return props


def slice_unit_text(tenant, state_dir, resources, devices=()):
    """The slice's unit file: only the limits that are set (an unset one is systemd's default, unlimited)."""
    lines = ["# Written by linuxvps.partitions.tenant: the limits of tenant %s of %s. Changed by that module;" % (tenant, state_dir),
             "# an edit here is undone by its next run.",
             "[Unit]",
             "Description=Linux VPS tenant %s (%s)" % (tenant, state_dir),
             "",
             "[Slice]"]
    # unset is the default: the file lists only what is set (a device's "infinity" resets a running slice only)
    lines += ["%s=%s" % (prop, value) for prop, value in slice_properties(resources, devices)
              if value not in ("", "infinity") and not value.endswith(" infinity")]
    return "\n".join(lines) + "\n"


class SliceManager:
    """The slices of tenants: their unit files and systemctl."""

    def __init__(self, systemctl, unit_dir=None):
        self.systemctl = systemctl
        self.unit_dir = unit_dir or UNIT_DIR

    def unit_file(self, slice_name):
        return os.path.join(self.unit_dir, slice_name)

    def read(self, slice_name):
        """The slice's unit file text, or None without one."""
        try:
            with open(self.unit_file(slice_name)) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def active(self, slice_name):
        out = run([self.systemctl, "show", "--property", "ActiveState", slice_name], check=False)[1]
        return out.strip() == "ActiveState=active"

    def apply(self, slice_name, text, resources, devices=()):
        """Write the unit file, make systemd read it, start the slice, and set the limits of the active slice now."""
        path = self.unit_file(slice_name)
        tmp = path + ".tmp"
        try:
            with open(tmp, "w") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.rename(tmp, path)  # a reader sees the old file or the new one
        except (IOError, OSError) as exc:
            raise PartitionError("cannot write %s: %s" % (path, exc.strerror), path=path)
        run([self.systemctl, "daemon-reload"])
        run([self.systemctl, "start", slice_name])
        # a reload does not re-apply every property to a running unit; --runtime keeps the file the only lasting source
        run([self.systemctl, "set-property", "--runtime", slice_name]
            + ["%s=%s" % (prop, value) for prop, value in slice_properties(resources, devices)])

    def stop(self, slice_name):
        """Stop the slice (it holds no partition); one never loaded is already gone."""
        cmd = [self.systemctl, "stop", slice_name]
        rc, out, err = run(cmd, check=False)
        if rc not in (0, NOT_LOADED):
            raise CommandFailed(cmd, rc, out, err)

    def remove(self, slice_name):
        """Stop the slice (it holds no partition), drop its runtime properties and its unit file."""
        self.stop(slice_name)
        run([self.systemctl, "revert", slice_name], check=False)  # the --runtime properties
        path = self.unit_file(slice_name)
        if os.path.exists(path):
            os.unlink(path)
        run([self.systemctl, "daemon-reload"])
