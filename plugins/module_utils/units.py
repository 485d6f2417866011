# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing of sizes, CPU amounts and CPU lists, each naming the option on bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from fractions import Fraction

from ansible.module_utils.six import integer_types, string_types

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*\Z", re.IGNORECASE)
_CPU_RANGE = re.compile(r"^(\d+)(?:-(\d+))?\Z")
_SIZE_UNITS = "BKMGTPE"

CPU_PERIOD_US = 100000
MIN_CPU_QUOTA_US = 1000
# Near 2**63 (8E) the kernel's page counters and quota fields read a size as "no limit", and a longer number not
# at all: up to 4E, every size accepted is a real limit.
MAX_SIZE = 4 * 1024 ** 6
MAX_CPU = 1 << 16  # above any kernel's NR_CPUS; keeps a CPU range from expanding without end
# tc's tbf takes a 32-bit byte rate: a faster one fails on the host, after the interface exists.
MAX_RATE_BITS = (2 ** 32 - 1) * 8


def parse_size(option, value):
    """Return bytes for 1024, '1024', '512M', '2G', '1.5GiB'; raise InvalidOption otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidOption(option, value, "expected a size such as 512M, 2G or a number of bytes")
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value) or value != int(value):
            raise InvalidOption(option, value, "a size in bytes must be a whole, non-negative number")
        size = int(value)
    elif isinstance(value, integer_types):
        size = value
    elif isinstance(value, string_types):
        match = _SIZE.match(value)
        number = _fraction(match.group(1)) if match else None
        if number is None:
            raise InvalidOption(option, value, "expected a size such as 512M, 2G or a number of bytes "
                                               "(units B, K, M, G, T, P, E; binary multiples)")
        size = int(round(number * 1024 ** _SIZE_UNITS.index(match.group(2).upper() or "B")))
    else:
        raise InvalidOption(option, value, "expected a size such as 512M, 2G or a number of bytes")
    if size < 0:
        raise InvalidOption(option, value, "a size cannot be negative")
    if size > MAX_SIZE:
        raise InvalidOption(option, value, "must be at most 4E (%d bytes)" % MAX_SIZE)
    return int(size)


def _fraction(digits):
    """The exact number a decimal string says (a float would make a long one inf, or lose its last digits); None when
    it has more digits than Python converts."""
    try:
        return Fraction(digits)
    except ValueError:
        return None


def parse_cpus(option, value, host_cpus):
    """Return fractional CPUs as a float in (0, host_cpus]."""
    if value is None:
        return None
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise InvalidOption(option, value, "expected a number of CPUs such as 0.5 or 2")
    if isinstance(value, bool) or math.isnan(cpus) or math.isinf(cpus):
        raise InvalidOption(option, value, "expected a number of CPUs such as 0.5 or 2")
    if cpus <= 0:
        raise InvalidOption(option, value, "must be greater than 0")
    if cpus > host_cpus:
        raise InvalidOption(option, value, "this host has only %d CPUs" % host_cpus)
    if cpus * CPU_PERIOD_US < MIN_CPU_QUOTA_US:
        raise InvalidOption(option, value, "must be at least %.2f" % (MIN_CPU_QUOTA_US / float(CPU_PERIOD_US)))
    return round(cpus, 3)


def cpus_to_quota(cpus):
    """CFS quota in microseconds per CPU_PERIOD_US for fractional CPUs (None = unlimited)."""
    if cpus is None:
        return None
    return int(round(cpus * CPU_PERIOD_US))


def quota_to_cpus(quota, period=CPU_PERIOD_US):
    if quota is None or quota < 0:
        return None
    return round(float(quota) / period, 3)


def parse_cpu_list(text):
    """'0-2,5' -> [0, 1, 2, 5]. Raise ValueError on bad syntax."""
    cpus = set()
    text = (text or "").strip()
    if not text:
        return []
    for part in text.split(","):
        match = _CPU_RANGE.match(part.strip())
        if not match:
            raise ValueError("bad CPU list element %r" % part)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first or last >= MAX_CPU:
            raise ValueError("bad CPU range %r" % part)
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def format_cpu_list(cpus):
    """[0, 1, 2, 5] -> '0-2,5' (the kernel's own canonical form)."""
    parts = []
    cpus = sorted(set(cpus))
    index = 0
    while index < len(cpus):
        start = end = cpus[index]
        while index + 1 < len(cpus) and cpus[index + 1] == end + 1:
            index += 1
            end = cpus[index]
        parts.append(str(start) if start == end else "%d-%d" % (start, end))
        index += 1
    return ",".join(parts)


def parse_cpuset(option, value, online_cpus):
    """Validate a cpuset against the CPUs online on the host; return its canonical form."""
    if value is None:
        return None
    if isinstance(value, integer_types) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, string_types):
        raise InvalidOption(option, value, "expected a CPU list such as '0-1' or '0,2'")
    try:
        cpus = parse_cpu_list(value)
    except ValueError:
        raise InvalidOption(option, value, "expected a CPU list such as '0-1' or '0,2'")
    if not cpus:
        raise InvalidOption(option, value, "names no CPU")
    missing = sorted(set(cpus) - set(online_cpus))
    if missing:
        raise InvalidOption(option, value, "CPU %s does not exist on this host (online: %s)"
                            % (format_cpu_list(missing), format_cpu_list(online_cpus)))
    return format_cpu_list(cpus)


def parse_int_range(option, value, low, high=None):
    """An integer within [low, high]."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidOption(option, value, "expected an integer")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        raise InvalidOption(option, value, "expected an integer")
    if isinstance(value, float) and number != value:
        raise InvalidOption(option, value, "expected an integer")
    if number < low:
        raise InvalidOption(option, value, "must be at least %d" % low)
    if high is not None and number > high:
        raise InvalidOption(option, value, "must be at most %d" % high)
    return number


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps)?\s*\Z", re.IGNORECASE)
_RATE_FACTORS = {"bit": 1, "kbit": 10 ** 3, "mbit": 10 ** 6, "gbit": 10 ** 9, "tbit": 10 ** 12,
                 "bps": 8, "kbps": 8 * 10 ** 3, "mbps": 8 * 10 ** 6, "gbps": 8 * 10 ** 9}


def parse_rate(option, value):
    """'100mbit', '512kbit', '1gbit' (tc's units: bit, and bps = bytes/s) or bits/s -> bits per second."""
    if value is None:
        return None
    match = _RATE.match(str(value)) if not isinstance(value, bool) else None
    number = _fraction(match.group(1)) if match else None
    if number is None:
        raise InvalidOption(option, value, "expected a rate such as 10mbit, 512kbit or 1gbit")
    bits = int(number * _RATE_FACTORS[(match.group(2) or "bit").lower()])
    if bits < 8000:
        raise InvalidOption(option, value, "must be at least 8kbit")
    if bits > MAX_RATE_BITS:
        raise InvalidOption(option, value, "must be at most %dbit (tc's 32-bit byte rate)" % MAX_RATE_BITS)
    return bits
