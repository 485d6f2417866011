# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import guest
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError


def test_identity_is_written_and_idempotent(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tbuildhost\n::1\tlocalhost\n")
    guest.configure_identity(str(tmp_path), "web1")
    assert (tmp_path / "etc" / "hostname").read_text() == "web1\n"
    assert (tmp_path / "etc" / "hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n::1\tlocalhost\n"
    assert guest.write_file(str(tmp_path), "etc/hostname", "web1\n") is False


def test_planted_symlinks_are_refused(tmp_path):
    outside = tmp_path / "host-secret"
    outside.write_text("host")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink(str(outside), str(root / "etc" / "hostname"))
    with pytest.raises(PartitionError):
        guest.write_file(str(root), "etc/hostname", "web1\n")
    assert outside.read_text() == "host"
    other = tmp_path / "root2"
    other.mkdir()
    os.symlink(str(tmp_path), str(other / "etc"))
    with pytest.raises(PartitionError):
        guest.write_file(str(other), "etc/hostname", "web1\n")


def test_missing_directory_is_skipped(tmp_path):
    assert guest.write_file(str(tmp_path), "etc/hostname", "x\n") is False
