# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import shutil
import struct

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import archive
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import OVERFLOW_ID, RANGE_SIZE

GALAXY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml")
BASE = 1 << 20
OTHER = BASE + 4 * RANGE_SIZE


def header(**changes):
    value = {"format": 1, "collection": archive.COLLECTION_VERSION, "partition": "web1", "spec": {"name": "web1"},
             "running": True, "template": {"name": "debian12", "source": "ab"}, "id_base": BASE, "fingerprint": "f"}
    value.update(changes)
    return value


def test_collection_version_is_galaxys():
    with open(GALAXY) as handle:
        version = re.search(r"^version:\s*(\S+)", handle.read(), re.M).group(1)
    assert archive.COLLECTION_VERSION == version


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_header_is_the_first_member_and_reads_back(tmp_path, compression):
    if compression != "none" and shutil.which(compression) is None:
        pytest.skip("%s is not installed" % compression)
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("web1\n")
    path = str(tmp_path / "a.tar")
    warnings = archive.write_archive(path, header(), str(tree), None, compression)
    assert warnings == []
    read, found = archive.read_header(path)
    assert read == header() and found == compression
    assert os.path.exists(path + archive.SNAPSHOT_SUFFIX)
    assert not os.path.exists(path + archive.PARTIAL_SUFFIX)
    out = tmp_path / "out"
    out.mkdir()
    archive.extract_archive(path, str(out))
    assert (out / "etc" / "hostname").read_text() == "web1\n"
    assert not (out / archive.HEADER_NAME).exists()


def test_not_an_archive_names_the_option(tmp_path):
    path = tmp_path / "x.tar"
    path.write_bytes(b"\0" * 2048)
    with pytest.raises(InvalidOption) as caught:
        archive.read_header(str(path), "incremental_from")
    assert caught.value.option == "incremental_from"


def test_a_fifo_is_refused_not_opened(tmp_path):
    path = str(tmp_path / "fifo")
    os.mkfifo(path)
    with pytest.raises(InvalidOption, match="not a regular file"):
        archive.read_header(path)


@pytest.mark.parametrize("changes", [{"format": 2}, {"collection": "9.0.0"}, {"format": None}])
def test_other_versions_are_refused_naming_path(changes):
    with pytest.raises(InvalidOption) as caught:
        archive.check_readable(header(**changes), "/srv/a.tar")
    assert caught.value.option == "path"


def test_owner_map_maps_the_range_to_relative_ids():
    lines = archive.owner_map(BASE).splitlines()
    assert len(lines) == RANGE_SIZE
    assert lines[0] == "+%d +0" % BASE and lines[-1] == "+%d +%d" % (BASE + RANGE_SIZE - 1, RANGE_SIZE - 1)


def test_shift_owner_relative_and_already_shifted():
    shift = archive.IdShift(OTHER, BASE)
    assert shift.owner(0) == OTHER
    assert shift.owner(1000) == OTHER + 1000
    assert shift.owner(OTHER + 5) == OTHER + 5  # an earlier restore's (an increment applies onto it)
    assert shift.owner(BASE + 5) == OTHER + OVERFLOW_ID  # no room in the range: never another range's
    assert shift.raw(BASE + 7) == OTHER + 7


def test_shift_privileged_keeps_ids():
    shift = archive.IdShift(None, None)
    assert shift.owner(1000) == 1000 and shift.raw(5) == 5


def test_acl_qualifiers_move_with_the_range():
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 4, BASE + 1000), (0x08, 4, BASE + 33), (0x20, 4, 0xFFFFFFFF)]
    value = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)
    moved = archive.IdShift(OTHER, BASE)._acl(value)
    got = [struct.unpack_from("<HHI", moved, 4 + 8 * index) for index in range(len(entries))]
    assert got == [(0x01, 6, 0xFFFFFFFF), (0x02, 4, OTHER + 1000), (0x08, 4, OTHER + 33), (0x20, 4, 0xFFFFFFFF)]


def test_v3_capability_root_moves_and_v2_stays():
    v3 = struct.pack("<IIIIII", 0x03000001, 1 << 10, 0, 0, 0, BASE)
    assert struct.unpack_from("<I", archive.IdShift(OTHER, BASE)._capability(v3), 20)[0] == OTHER
    v2 = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
    assert archive.IdShift(OTHER, BASE)._capability(v2) == v2


def test_fingerprint_sees_a_change_and_only_one(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("a")
    first = archive.fingerprint(str(tmp_path))
    assert archive.fingerprint(str(tmp_path)) == first
    os.chmod(str(tmp_path / "d" / "f"), 0o600)
    assert archive.fingerprint(str(tmp_path)) != first


def test_fingerprint_of_a_missing_tree_is_none(tmp_path):
    assert archive.fingerprint(str(tmp_path / "absent")) is None


def test_walk_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(str(outside), str(tree / "link"))
    seen = []
    archive.walk_tree(str(tree), lambda fd, name, relative, st: seen.append(relative))
    assert seen == ["", "link"]


def test_walk_any_depth(tmp_path):
    path = str(tmp_path)
    depth = 300
    for _level in range(depth):
        path = os.path.join(path, "d")
    os.makedirs(path)
    seen = []
    archive.walk_tree(str(tmp_path), lambda fd, name, relative, st: seen.append(relative))
    assert len(seen) == depth + 1


def test_a_kept_digest_is_used_while_the_archive_is_the_same_file(tmp_path):
    path = str(tmp_path / "web1.tar.zst")
    with open(path, "wb") as handle:
        handle.write(b"first")
    assert archive.file_digest(path) == (hashlib.sha256(b"first").hexdigest(), 5)
    assert not os.path.exists(path + archive.DIGEST_SUFFIX)  # remember=False (check mode) writes nothing
    archive.file_digest(path, remember=True)
    kept = path + archive.DIGEST_SUFFIX
    assert os.path.exists(kept)
    with open(kept) as handle:
        doctored = handle.read().replace(hashlib.sha256(b"first").hexdigest(), "0" * 64)
    with open(kept, "w") as handle:
        handle.write(doctored)
    assert archive.file_digest(path)[0] == "0" * 64  # taken from beside the archive: not read again
    os.unlink(path)
    with open(path, "wb") as handle:
        handle.write(b"other")  # another file under the same name: the kept digest no longer matches it
    assert archive.file_digest(path, remember=True)[0] == hashlib.sha256(b"other").hexdigest()
