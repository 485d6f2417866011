# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils import units


@pytest.mark.parametrize("value, expected", [
    (1024, 1024), ("1024", 1024), ("512M", 512 * 2 ** 20), ("2G", 2 * 2 ** 30), ("2g", 2 * 2 ** 30),
    ("1.5GiB", 3 * 2 ** 29), ("64k", 65536), ("10MB", 10 * 2 ** 20), ("0", 0), (None, None),
    ("4E", 4 * 2 ** 60), ("4096P", 4 * 2 ** 60), (4 * 2 ** 60, 4 * 2 ** 60), (2048.0, 2048), ("512M\n", 512 * 2 ** 20),
    ("9007199254740993", 9007199254740993),  # exact: a float would make it ...992
])
def test_parse_size_accepts(value, expected):
    assert units.parse_size("resources.memory", value) == expected


@pytest.mark.parametrize("value", [
    "12XB", "-1M", "M", "", "1 2M", True, [1], -5, 1.5, -5.0,
    # what once became "no limit" or a crash: infinities, NaN, exponents, numbers past what the kernel holds
    float("inf"), float("-inf"), float("nan"), "inf", "nan", "1e400", "1e3", "1" * 23, 10 ** 23, "5E", 4 * 2 ** 60 + 1,
    "1" + "0" * 400, "1" * 5000, "1G\nx",
])
def test_parse_size_rejects_naming_option_and_value(value):
    with pytest.raises(InvalidOption) as info:
        units.parse_size("resources.memory", value)
    assert "resources.memory" in info.value.msg
    assert repr(value) in info.value.msg


def test_parse_cpus():
    assert units.parse_cpus("resources.cpus", "0.5", 2) == 0.5
    assert units.parse_cpus("resources.cpus", 2, 2) == 2.0
    for bad in (0, -1, "abc", 3, 0.001, True, "inf", "nan", float("inf"), "1e400"):
        with pytest.raises(InvalidOption) as info:
            units.parse_cpus("resources.cpus", bad, 2)
        assert "resources.cpus" in info.value.msg


def test_cpu_quota_round_trip():
    assert units.cpus_to_quota(0.5) == 50000
    assert units.cpus_to_quota(1.25) == 125000
    assert units.quota_to_cpus(125000) == 1.25
    assert units.quota_to_cpus(-1) is None
    assert units.cpus_to_quota(None) is None


def test_cpu_lists():
    assert units.parse_cpu_list("0-2,5") == [0, 1, 2, 5]
    assert units.format_cpu_list([5, 0, 1, 2]) == "0-2,5"
    assert units.format_cpu_list([0, 2]) == "0,2"
    assert units.parse_cpu_list("") == []
    with pytest.raises(ValueError):
        units.parse_cpu_list("3-1")


def test_parse_cpuset_checks_online_cpus():
    assert units.parse_cpuset("resources.cpuset", "1,0", [0, 1]) == "0-1"
    assert units.parse_cpuset("resources.cpuset", 1, [0, 1]) == "1"
    with pytest.raises(InvalidOption) as info:
        units.parse_cpuset("resources.cpuset", "0-7", [0, 1])
    assert "2-7" in info.value.msg and "'0-7'" in info.value.msg
    for bad in ("a-b", "0-99999999999", "1\n-2"):
        with pytest.raises(InvalidOption) as info:
            units.parse_cpuset("resources.cpuset", bad, [0, 1])
        assert "resources.cpuset" in info.value.msg


def test_parse_int_range():
    assert units.parse_int_range("resources.pids", 1, 1) == 1
    assert units.parse_int_range("resources.pids", "20", 1) == 20
    for bad in (0, -3, "x", 1.5, False, float("inf"), float("nan"), "1e3"):
        with pytest.raises(InvalidOption) as info:
            units.parse_int_range("resources.pids", bad, 1)
        assert "resources.pids" in info.value.msg
    with pytest.raises(InvalidOption):
        units.parse_int_range("resources.cpu_weight", 10001, 1, 10000)


@pytest.mark.parametrize("value, expected", [
    ("100mbit", 10 ** 8), ("8kbit", 8000), (8000, 8000), ("1gbps", 8 * 10 ** 9), ("34gbit", 34 * 10 ** 9),
    ("0.1mbit", 10 ** 5), ("%dbit" % units.MAX_RATE_BITS, units.MAX_RATE_BITS), (None, None),
])
def test_parse_rate_accepts(value, expected):
    assert units.parse_rate("interfaces[0].rate", value) == expected


@pytest.mark.parametrize("value", ["fast", "7kbit", "35gbit", "1tbit", "1" + "0" * 400, "1" * 5000, "inf", "nan", "1e9bit", True, "-1mbit",
                                   "%dbit" % (units.MAX_RATE_BITS + 1)])
def test_parse_rate_rejects_naming_option_and_value(value):
    with pytest.raises(InvalidOption) as info:
        units.parse_rate("interfaces[0].rate", value)
    assert info.value.option == "interfaces[0].rate" and repr(value) in info.value.msg
