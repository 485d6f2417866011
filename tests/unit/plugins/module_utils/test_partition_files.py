# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""partition_files.py: the busy lock, the freeze/stop/live consistency on fake collaborators, copy_tree over a tree
with links, FIFOs, hard links and holes, and shift_tree's ID arithmetic (on real files where the test runs as root)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import partition_files
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, NotFound, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import OVERFLOW_ID, RANGE_SIZE
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import remove_directory
from ansible_collections.linuxvps.partitions.plugins.module_utils.partition_files import (
    PartitionBusy,
    PartitionFiles,
    copy_tree,
    hold_busy,
    refuse_busy,
    shift_tree,
    shifted_id,
)
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine

OLD = 1 << 20
NEW = OLD + RANGE_SIZE
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def started(engine, name="web1", **params):
    Converger(engine).converge(dict({"name": name, "rootfs": "debian12"}, **params))
    del engine.log[:]
    return PartitionFiles(engine, name)


# ---- ID arithmetic ------------------------------------------------------------------------------------
@pytest.mark.parametrize("owner, old, new, expected", [
    (OLD, OLD, NEW, NEW),                              # the partition's root
    (OLD + 1000, OLD, NEW, NEW + 1000),
    (OLD + RANGE_SIZE - 1, OLD, NEW, NEW + RANGE_SIZE - 1),
    (0, OLD, NEW, NEW + OVERFLOW_ID),                  # the host's root in a tenant's tree: no place in the new range
    (OLD + RANGE_SIZE, OLD, NEW, NEW + OVERFLOW_ID),   # the next range's
    (1000, None, NEW, NEW + 1000),                     # privileged -> a range
    (70000, None, NEW, NEW + OVERFLOW_ID),
    (OLD + 33, OLD, None, 33),                         # a range -> privileged
    (OLD - 1, OLD, None, OVERFLOW_ID),
    (70000, None, None, 70000),                        # privileged -> privileged: as is
])
def test_shifted_id_moves_within_the_ranges_and_sends_strangers_to_overflow(owner, old, new, expected):
    assert shifted_id(owner, old, new) == expected


@as_root
def test_shift_tree_changes_each_inode_once_follows_no_link_and_keeps_setuid(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.write_text("host file")
    os.chown(str(outside), 0, 0)
    (tree / "etc" / "passwd").write_text("x")
    os.link(str(tree / "etc" / "passwd"), str(tree / "hardlink"))  # shifted once, not twice
    (tree / "suid").write_text("#!")
    os.symlink(str(outside), str(tree / "escape"))
    os.mkfifo(str(tree / "fifo"))
    for path in (tree, tree / "etc", tree / "etc" / "passwd", tree / "suid", tree / "fifo"):
        os.lchown(str(path), OLD, OLD)
    os.lchown(str(tree / "escape"), OLD + 5, OLD + 5)
    os.chmod(str(tree / "suid"), 0o4755)
    os.lchown(str(tree / "etc"), OLD + 2000, 7)  # gid 7: outside the range

    assert shift_tree(str(tree), OLD, NEW) == 6  # the hard link is one inode
    owners = dict((path, (os.lstat(str(tree / path)).st_uid, os.lstat(str(tree / path)).st_gid))
                  for path in (".", "etc", "etc/passwd", "hardlink", "suid", "escape", "fifo"))
    assert owners == {".": (NEW, NEW), "etc": (NEW + 2000, NEW + OVERFLOW_ID), "etc/passwd": (NEW, NEW), "hardlink": (NEW, NEW),
                      "suid": (NEW, NEW), "escape": (NEW + 5, NEW + 5), "fifo": (NEW, NEW)}
    assert stat.S_IMODE(os.lstat(str(tree / "suid")).st_mode) == 0o4755
    assert (os.stat(str(outside)).st_uid, os.stat(str(outside)).st_gid) == (0, 0)  # the link's target is untouched
    assert shift_tree(str(tree), NEW, NEW) == 0


@as_root
def test_shift_tree_walks_a_tree_deeper_than_the_recursion_limit(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    fd = os.open(str(tree), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _level in range(1500):  # deeper than Python's recursion limit and PATH_MAX
            os.mkdir("d", dir_fd=fd)
            os.chown("d", OLD, OLD, dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        assert os.fstat(fd).st_uid == OLD
    finally:
        os.close(fd)
    assert shift_tree(str(tree), OLD, NEW) == 1501
    fd = os.open(str(tree), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _level in range(1500):
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        assert os.fstat(fd).st_uid == NEW
    finally:
        os.close(fd)
        remove_directory(str(tree))  # pytest's own clean-up recurses per level


# ---- copy_tree --------------------------------------------------------------------------------------------
def test_copy_tree_keeps_links_fifos_hard_links_and_holes_and_reads_no_fifo(tmp_path):
    source = tmp_path / "upper"
    (source / "etc").mkdir(parents=True)
    (source / "etc" / "hostname").write_text("web1\n")
    os.link(str(source / "etc" / "hostname"), str(source / "linked"))
    os.symlink("/etc/shadow", str(source / "escape"))
    os.mkfifo(str(source / "pipe"))  # a reader would block here forever
    with open(str(source / "sparse"), "wb") as handle:
        handle.truncate(1 << 30)

    size = copy_tree(str(source), str(tmp_path / "snap"))
    copy = tmp_path / "snap"
    assert (copy / "etc" / "hostname").read_text() == "web1\n"
    assert os.readlink(str(copy / "escape")) == "/etc/shadow"
    assert stat.S_ISFIFO(os.lstat(str(copy / "pipe")).st_mode)
    assert os.lstat(str(copy / "linked")).st_ino == os.lstat(str(copy / "etc" / "hostname")).st_ino
    assert os.path.getsize(str(copy / "sparse")) == 1 << 30 and os.lstat(str(copy / "sparse")).st_blocks < 1024
    assert 0 < size < 1 << 20
    assert not os.path.exists(str(copy) + ".partial")


def test_copy_tree_sweeps_what_a_killed_copy_left_and_never_overwrites(tmp_path):
    source = tmp_path / "upper"
    source.mkdir()
    (source / "new").write_text("new")
    staging = tmp_path / "snap.partial"
    staging.mkdir()
    (staging / "half").write_text("half")
    copy_tree(str(source), str(tmp_path / "snap"))
    assert sorted(os.listdir(str(tmp_path / "snap"))) == ["new"]
    with pytest.raises(PartitionError, match="exists"):
        copy_tree(str(source), str(tmp_path / "snap"))
    with pytest.raises(PartitionError, match="cannot copy"):
        copy_tree(str(tmp_path / "missing"), str(tmp_path / "other"))
    assert not os.path.exists(str(tmp_path / "other.partial"))


# ---- the busy lock ------------------------------------------------------------------------------------------
def test_a_copy_in_progress_makes_a_second_one_and_a_removal_refuse_naming_it(tmp_path):
    directory = str(tmp_path / "web1")
    os.mkdir(directory)
    with hold_busy(directory, "web1", "snapshot before"):
        with pytest.raises(PartitionBusy, match=r"partition web1: snapshot before \(pid \d+\) is in progress; cannot remove it"):
            refuse_busy(directory, "web1", "remove it")
        with pytest.raises(PartitionBusy) as caught:
            with hold_busy(directory, "web1", "backup"):
                pass
        assert caught.value.details["partition"] == "web1" and isinstance(caught.value, PartitionError)
    refuse_busy(directory, "web1", "remove it")  # free again
    refuse_busy(str(tmp_path / "gone"), "gone", "remove it")  # nothing to refuse without a directory


def test_busy_refuses_a_partition_that_is_gone(engine):
    files = started(engine)
    engine.store.save_partition("web1", files.document)
    os.unlink(engine.store.partition_document("web1"))
    with pytest.raises(NotFound, match="partition web1 does not exist"):
        with files.busy("snapshot"):
            pass


def test_a_destroy_refuses_while_a_copy_is_in_progress_and_goes_after(engine):
    files = started(engine)
    with files.busy("snapshot before"):
        with pytest.raises(PartitionBusy, match="snapshot before"):
            Converger(engine).converge({"name": "web1", "state": "absent"})
        assert engine.store.load_partition("web1") is not None and engine.runtime.state("web1")["status"] == "running"
        assert not os.listdir(os.path.join(engine.store.root, "intents"))  # refused when planned: nothing journaled
        with pytest.raises(PartitionBusy, match="cannot replace its disk"):
            Converger(engine).converge({"name": "web1", "storage": "copy", "recreate": "options-changed"})
    Converger(engine).converge({"name": "web1", "state": "absent"})
    assert engine.store.load_partition("web1") is None


def test_planning_a_removal_in_check_mode_makes_no_lock_file(engine):
    files = started(engine)
    Converger(engine.checking()).converge({"name": "web1", "state": "absent"})
    assert not os.path.exists(os.path.join(files.dir, partition_files.BUSY_FILE))


# ---- PartitionFiles ---------------------------------------------------------------------------------------
def test_partition_files_name_their_root_range_and_template(engine):
    with pytest.raises(NotFound, match="partition nope does not exist"):
        PartitionFiles(engine, "nope")
    files = started(engine)
    assert files.root == engine.disk(files.spec).upper
    assert files.id_base is not None and files.id_base == engine.id_ranges.lookup(engine.tenant_key(files.spec))
    assert files.template == {"name": "debian12", "source": "digest-of-debian12"}
    assert started(engine, "priv", privileged=True).id_base is None
    assert started(engine, "full", storage="copy").root == engine.disk({"name": "full"}).copy
    with pytest.raises(InvalidOption, match="option mode"):
        files.consistent("snapshot")


def test_freeze_pauses_a_running_partition_for_the_copy_only(engine):
    files = started(engine)
    with files.consistent("freeze") as root:
        assert root == files.root and engine.runtime.state("web1")["status"] == "paused"
        assert os.path.exists(os.path.join(files.dir, partition_files.FROZEN_MARK))
    assert engine.log == [("pause", "web1"), ("resume", "web1")]
    assert not os.path.exists(os.path.join(files.dir, partition_files.FROZEN_MARK))


def test_freeze_resumes_after_a_failed_copy(engine):
    files = started(engine)
    with pytest.raises(PartitionError, match="copy failed"):
        with files.consistent("freeze"):
            raise PartitionError("copy failed")
    assert engine.runtime.state("web1")["status"] == "running"


def test_freeze_leaves_a_frozen_partition_frozen_and_a_stopped_one_stopped(engine):
    files = started(engine)
    engine.runtime.pause("web1")
    del engine.log[:]
    with files.consistent("freeze"):
        pass
    assert engine.log == [] and engine.runtime.state("web1")["status"] == "paused"
    stopped = started(engine, "web2", state="stopped")
    with stopped.consistent("freeze"):
        pass
    assert engine.log == [] and engine.runtime.state("web2") is None


def test_a_freeze_a_killed_copy_left_is_resumed_by_the_next_copy(engine):
    files = started(engine)
    engine.runtime.pause("web1")
    with open(os.path.join(files.dir, partition_files.FROZEN_MARK), "w") as handle:
        handle.write("4242\n")
    with files.consistent("freeze"):
        assert engine.runtime.state("web1")["status"] == "paused"
    assert engine.runtime.state("web1")["status"] == "running"


def test_a_partition_stopped_by_another_run_during_the_copy_is_not_resumed(engine):
    files = started(engine)
    with files.consistent("freeze"):
        engine.runtime.delete("web1")
    assert engine.runtime.state("web1") is None and ("resume", "web1") not in engine.log


def test_stop_stops_through_the_engine_and_starts_again(engine):
    files = started(engine)
    with files.consistent("stop") as root:
        assert root == files.root and engine.runtime.state("web1") is None
        assert engine.store.load_partition("web1")["running"] is None
    assert engine.runtime.state("web1")["status"] == "running"
    assert engine.store.load_partition("web1")["running"] is not None
    engine.runtime.pause("web1")
    with files.consistent("stop"):
        assert engine.runtime.state("web1") is None
    assert engine.runtime.state("web1")["status"] == "paused"  # frozen before, frozen after
    stopped = started(engine, "web2", state="stopped")
    with stopped.consistent("stop"):
        pass
    assert engine.runtime.state("web2") is None and engine.log == []


def test_live_touches_nothing(engine):
    files = started(engine)
    with files.consistent("live") as root:
        assert root == files.root
    assert engine.log == [] and engine.runtime.state("web1")["status"] == "running"


# ---- replacing the own files in place ---------------------------------------------------------------------
def test_a_partition_whose_files_are_half_replaced_does_not_start(engine):
    files = started(engine, state="stopped")
    intent = {"what": "restore of snapshot before", "redo": "snapshot name=before state=restored"}
    with pytest.raises(PartitionError, match="copy failed"):
        with partition_files.replacing(files.dir, intent):
            raise PartitionError("copy failed")
    assert partition_files.interrupted_replacement(files.dir) == intent
    with pytest.raises(PartitionBusy, match="partition web1: restore of snapshot before did not finish.*snapshot name=before"):
        Converger(engine).converge({"name": "web1", "state": "started"})
    assert engine.runtime.state("web1") is None
    with partition_files.replacing(files.dir, intent):
        pass
    assert partition_files.interrupted_replacement(files.dir) is None
    Converger(engine).converge({"name": "web1", "state": "started"})
    assert engine.runtime.state("web1")["status"] == "running"
