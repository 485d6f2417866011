# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""I/O bandwidth and IOPS limits in the kernel's and systemd's terms: pure text in, text out.

A spec's limits (spec.IO_LIMITS: io_read_bps, io_write_bps in bytes per second, io_read_iops, io_write_iops)
bind per block device, and only on whole disks ("M:m" of a disk, dm, md or loop device; blockdev.py finds them):

* v2   io.max, one line per device: "8:0 rbps=4194304 wbps=max riops=max wiops=max" (all four, "max" = none);
       the kernel lists only devices with some limit.
* v1   blkio.throttle.{read,write}_{bps,iops}_device, one file per limit, lines "8:0 4194304"; writing
       "8:0 0" removes the device's line.
* systemd  IOReadBandwidthMax=/IOWriteBandwidthMax=/IOReadIOPSMax=/IOWriteIOPSMax= "<device> <value>" lines of a
       unit; a device listed with any of them gets all four written (the others "max").

Only we write these files (the limit cgroup, or on v1 the payload whose blkio directory is not delegated), so
a line for a device the partition no longer uses is ours too: it is reset.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import to_int

IO_MAX_FIELDS = (("io_read_bps", "rbps"), ("io_write_bps", "wbps"), ("io_read_iops", "riops"), ("io_write_iops", "wiops"))
THROTTLE_FILES = (("io_read_bps", "blkio.throttle.read_bps_device"), ("io_write_bps", "blkio.throttle.write_bps_device"),
                  ("io_read_iops", "blkio.throttle.read_iops_device"), ("io_write_iops", "blkio.throttle.write_iops_device"))
SLICE_DIRECTIVES = (("io_read_bps", "IOReadBandwidthMax"), ("io_write_bps", "IOWriteBandwidthMax"),
                    ("io_read_iops", "IOReadIOPSMax"), ("io_write_iops", "IOWriteIOPSMax"))
KEYS = tuple(key for key, _field in IO_MAX_FIELDS)


def device_key(device):
    """Sort key of 'M:m' (numeric, so 8:16 comes after 8:2)."""
    major, _sep, minor = device.partition(":")
    return to_int(major) or 0, to_int(minor) or 0


def _devices(devices):
    return sorted(set(devices), key=device_key)


def wanted(resources):
    """{key: value} of the I/O limits set in resources (None = no limit)."""
    return dict((key, (resources or {}).get(key)) for key in KEYS)


# ---- v2: io.max ------------------------------------------------------------------------------------
def parse_io_max(text):
    """io.max's text -> {device: {key: value or None}} of the devices it lists."""
    found = {}
    for line in (text or "").splitlines():
        words = line.split()
        if not words or ":" not in words[0]:
            continue
        fields = dict(word.split("=", 1) for word in words[1:] if "=" in word)
        found[words[0]] = dict((key, None if fields.get(field, "max") == "max" else to_int(fields[field]))
                               for key, field in IO_MAX_FIELDS)
    return found


def io_max_line(device, limits):
    return " ".join([device] + ["%s=%s" % (field, "max" if limits.get(key) is None else limits[key])
                                for key, field in IO_MAX_FIELDS])


def io_max_writes(text, resources, devices):
    """Lines to write to io.max so that devices have resources' limits and no other device has any."""
    current, limits, lines = parse_io_max(text), wanted(resources), []
    unlimited = dict.fromkeys(KEYS)
    for device in _devices(list(devices) + list(current)):
        desired = limits if device in devices else unlimited
        if current.get(device, unlimited) != desired:
            lines.append(io_max_line(device, desired))
    return lines


# ---- v1: blkio.throttle.* -------------------------------------------------------------------------
def parse_throttle(text):
    """A blkio.throttle.*_device file's text -> {device: value} (v1 lists only devices with a limit)."""
    found = {}
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) == 2 and ":" in words[0] and to_int(words[1]):
            found[words[0]] = to_int(words[1])
    return found


def throttle_writes(text, value, devices):
    """Lines to write to one blkio.throttle file so that devices have value (None = none) and no other device has one."""
    current, lines = parse_throttle(text), []
    for device in _devices(list(devices) + list(current)):
        desired = value if device in devices else None
        if current.get(device) != desired:
            lines.append("%s %d" % (device, desired or 0))
    return lines


# ---- reading back --------------------------------------------------------------------------------
def limits_in_force(per_device):
    """{device: {key: value}} -> {key: value} of the keys some device has a limit for (the strictest one)."""
    limits = {}
    for key in KEYS:
        values = [found[key] for found in per_device.values() if found.get(key) is not None]
        if values:
            limits[key] = min(values)
    return limits


# ---- systemd --------------------------------------------------------------------------------------
def slice_directives(resources, devices):
    """["IOReadBandwidthMax=/dev/block/8:0 4194304", ...] that give a systemd unit (a tenant's slice) these limits on
    devices. A device without any limit is still listed ("IOReadBandwidthMax=<dev> infinity"), so that systemd resets
    the io.max line it wrote before: systemd writes only the devices a unit lists."""
    limits, lines = wanted(resources), []
    if not any(value is not None for value in limits.values()):
        return ["IOReadBandwidthMax=/dev/block/%s infinity" % device for device in _devices(devices)]
    for device in _devices(devices):
        for key, directive in SLICE_DIRECTIVES:
            if limits[key] is not None:
                lines.append("%s=/dev/block/%s %d" % (directive, device, limits[key]))
    return lines
