# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""state.py: search bits on the way to a partition's bundle, documents, the argument spec."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import stat
import tempfile

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CorruptDocument, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils import state
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import STATE_DIR_ARGSPEC, StateStore, read_json, write_json_atomic


@pytest.fixture
def searchable_base():
    """A directory whose every ancestor others may pass (pytest's own tmp_path sits below a 0700 directory)."""
    base = tempfile.mkdtemp(prefix="linuxvps-unit-", dir="/var/tmp")
    os.chmod(base, 0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_private_state_directory_is_opened_for_passing_through_only(searchable_base):
    store = StateStore(os.path.join(searchable_base, "state"))
    bundle = os.path.join(store.partition_dir("web1"), "bundle")
    os.makedirs(bundle)
    os.chmod(store.root, 0o700)
    os.chmod(bundle, 0o750)
    store.ensure_searchable(bundle)
    assert mode(store.root) == 0o701 and mode(bundle) == 0o751  # search only: nothing becomes readable


def test_a_closed_directory_above_the_state_directory_fails_naming_it(searchable_base):
    closed = os.path.join(searchable_base, "private")
    store = StateStore(os.path.join(closed, "state"))
    os.makedirs(store.partition_dir("web1"))
    os.chmod(closed, 0o700)
    with pytest.raises(PartitionError) as caught:
        store.ensure_searchable(store.partition_dir("web1"))
    assert closed in caught.value.msg and "0700" in caught.value.msg
    assert mode(closed) == 0o700  # not ours to change


def test_state_dir_option_is_defined_once_with_the_default():
    assert STATE_DIR_ARGSPEC == {"state_dir": {"type": "path", "default": "/var/lib/linuxvps"}}


def test_a_document_that_cannot_be_written_is_a_plain_error_and_leaves_nothing(tmp_path, monkeypatch):
    with pytest.raises(PartitionError) as caught:
        write_json_atomic(str(tmp_path / "missing" / "doc.json"), {})
    assert str(tmp_path / "missing" / "doc.json") in caught.value.msg

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state.os, "fsync", full_disk)
    with pytest.raises(PartitionError) as caught:
        write_json_atomic(str(tmp_path / "doc.json"), {"a": 1})
    assert "No space left on device" in caught.value.msg and caught.value.details["errno"] == errno.ENOSPC
    assert os.listdir(str(tmp_path)) == ["missing"] or os.listdir(str(tmp_path)) == []


def test_a_document_a_power_cut_makes_moot_is_written_whole_without_a_sync(tmp_path, monkeypatch):
    """An OCI config or a console reader's record is written anew by every start: not worth an fsync on a busy host."""
    synced = []
    monkeypatch.setattr(state.os, "fsync", synced.append)
    write_json_atomic(str(tmp_path / "config.json"), {"a": 1}, sync=False)
    assert synced == [] and read_json(str(tmp_path / "config.json")) == {"a": 1}
    write_json_atomic(str(tmp_path / "partition.json"), {"a": 2})
    assert len(synced) == 1


def test_the_identity_is_random_made_once_and_moves_with_the_directory(tmp_path):
    first, second = StateStore(str(tmp_path / "one")), StateStore(str(tmp_path / "two"))
    assert first.identity() is None
    first.ensure_layout()
    second.ensure_layout()
    identity = first.identity()
    assert state.IDENTITY.match(identity) and identity != second.identity()
    first.ensure_layout()
    assert first.identity() == identity
    os.rename(str(tmp_path / "one"), str(tmp_path / "moved"))
    assert StateStore(str(tmp_path / "moved")).identity() == identity
    assert [name for name in os.listdir(str(tmp_path / "moved")) if name.startswith(".tmp")] == []


def test_an_identity_made_meanwhile_is_kept(tmp_path, monkeypatch):
    store = StateStore(str(tmp_path / "state"))
    os.makedirs(store.root)
    real_link = os.link

    def racing_link(source, target):
        with open(target, "w") as handle:
            handle.write("a" * 32 + "\n")  # another run's, made between the look and the link
        real_link(source, target)

    monkeypatch.setattr(state.os, "link", racing_link)
    store.ensure_layout()
    assert store.identity() == "a" * 32


def test_directories_made_meanwhile_are_used(tmp_path, monkeypatch):
    """Workers of one bulk call make the layout at once on a fresh host: another may make a directory between a
    look and a make."""
    real_isdir = os.path.isdir

    def racing_isdir(path):  # answers as of just before another worker makes the directory
        if real_isdir(path):
            return True
        os.makedirs(path)
        return False

    store = StateStore(str(tmp_path / "state"))
    monkeypatch.setattr(os.path, "isdir", racing_isdir)
    store.ensure_layout()
    store.save_tenant("acme", {"limits": {}})
    assert store.identity() is not None and os.path.isfile(store.tenant_document("acme"))


def test_a_damaged_identity_is_a_corrupt_document(tmp_path):
    store = StateStore(str(tmp_path / "state"))
    os.makedirs(store.root)
    with open(store.identity_file, "w") as handle:
        handle.write("not hex\n")
    with pytest.raises(CorruptDocument, match="identity"):
        store.identity()


def test_a_partition_directory_without_a_document_is_left_out_of_the_scan(tmp_path):
    store = StateStore(str(tmp_path))
    store.ensure_layout()
    store.save_partition("web1", {"spec": {"name": "web1"}})
    os.makedirs(store.partition_dir("half-made"))  # a restore killed before its document was written
    os.makedirs(store.partition_dir("broken"))
    with open(store.partition_document("broken"), "w") as handle:
        handle.write("{}")
    found = dict((name, (document, error)) for name, document, error in store.partition_documents())
    assert sorted(found) == ["broken", "web1"]
    assert found["web1"][0]["spec"]["name"] == "web1"
    assert found["broken"][0] is None and isinstance(found["broken"][1], CorruptDocument)
