# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lowlevel.py: the one mount table parser (escapes, optional fields, odd lines), libc errors, small readers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import lowlevel

MOUNTINFO = (
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "25 22 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 master:2 - cgroup cgroup rw,cpu,cpuacct\n"
    "26 22 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    "32 22 7:2 /sub /srv/with\\040space\\011tab\\134back rw - ext4 /dev/loop2 rw,prjquota\n"
    "33 22 0:51 / /srv/caf\xc3\xa9 rw - tmpfs tmp\\040fs rw\n"
    "garbage line\n"
)


def test_mountinfo_fields_and_both_option_sets():
    found = lowlevel.parse_mountinfo(MOUNTINFO.encode("latin-1").decode("utf-8"))
    assert [entry.mount_point for entry in found] == [
        "/", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified", "/srv/with space\ttab\\back", u"/srv/caf\xe9"]
    cgroup = found[1]
    assert (cgroup.fstype, cgroup.source) == ("cgroup", "cgroup")
    assert {"cpu", "cpuacct", "nosuid"} <= cgroup.options  # super options and mount options, past two optional fields
    assert found[3].root == "/sub" and "prjquota" in found[3].options
    assert found[4].source == "tmp fs"


def test_unescape_keeps_utf8_and_decodes_only_octal_escapes():
    assert lowlevel.unescape(u"/a\\040b/caf\xe9") == u"/a b/caf\xe9"
    assert lowlevel.unescape("/plain\\x41") == "/plain\\x41"


def test_mount_at_and_filesystem_of(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_bytes(MOUNTINFO.encode("latin-1"))
    assert lowlevel.mount_at("/srv/with space\ttab\\back", str(info)).source == "/dev/loop2"
    assert lowlevel.mount_at("/srv", str(info)) is None
    assert lowlevel.filesystem_of("/sys/fs/cgroup/unified/x", str(info)).fstype == "cgroup2"
    assert lowlevel.filesystem_of("/sys/fs/cgroup/unifiedx", str(info)).mount_point == "/"
    assert "/" in lowlevel.mount_points(str(info))


def test_mount_at_takes_the_last_mount_on_the_point_and_points_match_the_full_parse(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_bytes((MOUNTINFO + "34 33 0:52 / /srv/caf\xc3\xa9 rw - overlay overlay rw,lowerdir=/a\n").encode("latin-1"))
    assert lowlevel.mount_at(u"/srv/caf\xe9", str(info)).fstype == "overlay"  # mounted over the tmpfs: the visible one
    assert lowlevel.mount_points(str(info)) == set(entry.mount_point for entry in lowlevel.mounts(str(info)))


def test_this_hosts_mount_table_has_its_root():
    assert "/" in lowlevel.mount_points()


def test_libc_failure_is_an_oserror_with_errno(tmp_path):
    with pytest.raises(OSError) as caught:
        lowlevel.umount(str(tmp_path / "not-mounted"))
    assert caught.value.errno in (errno.EINVAL, errno.ENOENT, errno.EPERM)
    assert "umount" in str(caught.value)


def test_readers(tmp_path):
    path = tmp_path / "value"
    path.write_text(u" 42\n")
    assert lowlevel.read_text(str(path)) == "42"
    assert lowlevel.read_text(str(tmp_path / "absent")) is None
    assert lowlevel.read_text(str(tmp_path)) is None  # a directory
    assert lowlevel.to_int("42") == 42
    assert lowlevel.to_int("max") is None and lowlevel.to_int(None) is None
    assert os.path.isabs(lowlevel.MOUNTINFO)
