# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""idmap.py: tenant ID ranges allocated clear of host users and subordinate ranges, persisted, released."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import idmap
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json

FIRST, SIZE = idmap.FIRST_BASE, idmap.RANGE_SIZE


@pytest.fixture
def registry(tmp_path):
    return str(tmp_path / "idmap" / "ranges.json")


def test_subordinate_ranges_reads_every_well_formed_entry(tmp_path):
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("alice:100000:65536\n# comment\nbroken:x:1\nbob:1048576:131072\n")
    subgid.write_text("alice:200000:65536\n")
    paths = (str(subuid), str(subgid), str(tmp_path / "absent"))
    assert idmap.subordinate_ranges(paths) == [(100000, 65536), (1048576, 131072), (200000, 65536)]


def test_ranges_start_above_every_host_user(registry):
    base = idmap.IdRanges(registry, reserved=[]).allocate("/var/lib/linuxvps:acme")
    assert base == FIRST
    assert all(user.pw_uid < base for user in pwd.getpwall())


def test_each_owner_gets_its_own_range_and_keeps_it(registry):
    ranges = idmap.IdRanges(registry, reserved=[])
    assert [ranges.allocate("a"), ranges.allocate("b"), ranges.allocate("a")] == [FIRST, FIRST + SIZE, FIRST]
    assert read_json(registry) == {"ranges": {"a": FIRST, "b": FIRST + SIZE}}
    assert idmap.IdRanges(registry, reserved=[]).lookup("b") == FIRST + SIZE


def test_allocation_skips_subordinate_ranges(tmp_path, registry):
    subuid = tmp_path / "subuid"
    subuid.write_text("bob:%d:131072\n" % (FIRST + 10))  # overlaps the first two ranges
    reserved = idmap.subordinate_ranges((str(subuid),))
    assert idmap.IdRanges(registry, reserved=reserved).allocate("a") == FIRST + 3 * SIZE


def test_a_released_range_is_the_next_one_given(registry):
    ranges = idmap.IdRanges(registry, reserved=[])
    ranges.allocate("a")
    ranges.allocate("b")
    ranges.release("a")
    assert ranges.lookup("a") is None
    assert ranges.allocate("c") == FIRST
    ranges.release("nobody")
    assert read_json(registry) == {"ranges": {"b": FIRST + SIZE, "c": FIRST}}


def test_lookup_and_release_create_nothing(tmp_path, registry):
    ranges = idmap.IdRanges(registry, reserved=[])
    assert ranges.lookup("a") is None
    ranges.release("a")
    assert not (tmp_path / "idmap").exists()


def test_no_range_left_is_an_error(registry):
    with pytest.raises(PartitionError, match="no free ID range"):
        idmap.IdRanges(registry, reserved=[(0, 1 << 31)]).allocate("a")


def test_owner_key_is_the_normalised_state_dir_and_tenant():
    assert idmap.owner_key("/var/lib/linuxvps/", "acme") == idmap.owner_key("/var/lib//linuxvps", "acme") == "/var/lib/linuxvps:acme"


def test_owned_lists_one_state_directorys_ranges(registry):
    ranges = idmap.IdRanges(registry, reserved=[])
    for owner in ("/srv/a:t1", "/srv/ab:t2", "/srv/a:t0"):
        ranges.allocate(owner)
    assert [owner for owner, _base in ranges.owned("/srv/a:")] == ["/srv/a:t0", "/srv/a:t1"]
    assert ranges.owned("/srv/none:") == []


def test_host_ids_come_from_the_name_service_and_are_avoided(registry, monkeypatch):
    assert (0, 1) in idmap.host_ids()  # root, as getent lists it
    ldap_user = idmap.FIRST_BASE + 5  # a directory user whose ID falls in the first range
    monkeypatch.setattr(idmap, "host_ids", lambda: [(0, 1), (ldap_user, 1)])
    monkeypatch.setattr(idmap, "subordinate_ranges", lambda: [])
    assert idmap.IdRanges(registry).allocate("a") == FIRST + SIZE


def test_a_registry_directory_made_meanwhile_is_used(registry, monkeypatch):
    """Workers of one bulk call allocate at once on a fresh host: another may make the directory between a
    look and a make (CI's stock Debian 13 demo failed with FileExistsError there)."""
    monkeypatch.setattr(os.path, "isdir", racing_isdir(os.path.isdir))
    assert idmap.IdRanges(registry, reserved=[]).allocate("a") == FIRST


def racing_isdir(real_isdir):
    """os.path.isdir answering as of just before another worker makes the directory."""
    def isdir(path):
        if real_isdir(path):
            return True
        os.makedirs(path)
        return False
    return isdir
