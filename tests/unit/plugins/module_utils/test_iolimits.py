# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""io.max, blkio.throttle and systemd's IO*Max= in the kernel's and systemd's own terms."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import iolimits

MIB = 2 ** 20


def test_io_max_is_parsed_per_device():
    text = "254:0 rbps=4194304 wbps=max riops=max wiops=120\n8:16 rbps=max wbps=1048576 riops=50 wiops=max\n"
    assert iolimits.parse_io_max(text) == {
        "254:0": {"io_read_bps": 4 * MIB, "io_write_bps": None, "io_read_iops": None, "io_write_iops": 120},
        "8:16": {"io_read_bps": None, "io_write_bps": MIB, "io_read_iops": 50, "io_write_iops": None}}
    assert iolimits.parse_io_max("") == {} and iolimits.parse_io_max(None) == {}
    assert iolimits.limits_in_force(iolimits.parse_io_max(text)) == {"io_read_bps": 4 * MIB, "io_write_bps": MIB,
                                                                     "io_read_iops": 50, "io_write_iops": 120}


def test_io_max_plan_sets_our_devices_and_resets_the_others():
    limits = {"io_write_bps": 4 * MIB, "io_read_iops": 100, "memory": 1}
    assert iolimits.io_max_writes("", limits, ["8:0"]) == ["8:0 rbps=max wbps=4194304 riops=100 wiops=max"]
    assert iolimits.io_max_writes("8:0 rbps=max wbps=4194304 riops=100 wiops=max", limits, ["8:0"]) == []
    # a device it no longer uses (the old loop device) is reset; a new one is set; numeric order
    assert iolimits.io_max_writes("7:3 rbps=max wbps=4194304 riops=100 wiops=max", limits, ["8:16", "8:2"]) == [
        "7:3 rbps=max wbps=max riops=max wiops=max", "8:2 rbps=max wbps=4194304 riops=100 wiops=max",
        "8:16 rbps=max wbps=4194304 riops=100 wiops=max"]
    # removing the limits resets every line, whatever the devices
    assert iolimits.io_max_writes("8:0 rbps=max wbps=4194304 riops=100 wiops=max", {}, []) == [
        "8:0 rbps=max wbps=max riops=max wiops=max"]
    assert iolimits.io_max_writes("", {}, ["8:0"]) == []


def test_throttle_plan_sets_our_devices_and_removes_the_others():
    assert iolimits.parse_throttle("8:0 4194304\n7:3 100\n") == {"8:0": 4 * MIB, "7:3": 100}
    assert iolimits.parse_throttle("") == {}
    assert iolimits.throttle_writes("", 4 * MIB, ["8:0", "7:3"]) == ["7:3 4194304", "8:0 4194304"]
    assert iolimits.throttle_writes("8:0 4194304", 4 * MIB, ["8:0"]) == []
    assert iolimits.throttle_writes("8:0 4194304", 8 * MIB, ["8:0"]) == ["8:0 8388608"]
    assert iolimits.throttle_writes("8:0 4194304\n7:3 4194304", 4 * MIB, ["8:0"]) == ["7:3 0"]
    assert iolimits.throttle_writes("8:0 4194304", None, ["8:0"]) == ["8:0 0"]
    assert iolimits.throttle_writes("", None, ["8:0"]) == []


def test_slice_directives_list_every_device_and_reset_those_without_limits():
    assert iolimits.slice_directives({"io_read_bps": 4 * MIB, "io_write_iops": 50}, ["8:0", "7:3"]) == [
        "IOReadBandwidthMax=/dev/block/7:3 4194304", "IOWriteIOPSMax=/dev/block/7:3 50",
        "IOReadBandwidthMax=/dev/block/8:0 4194304", "IOWriteIOPSMax=/dev/block/8:0 50"]
    # systemd writes io.max only for the devices a unit lists: without limits each device is listed as unlimited
    assert iolimits.slice_directives({"io_read_bps": None}, ["8:0"]) == ["IOReadBandwidthMax=/dev/block/8:0 infinity"]
    assert iolimits.slice_directives({}, []) == []
