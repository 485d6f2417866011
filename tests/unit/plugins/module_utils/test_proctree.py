# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""proctree.py: descendants read from /proc, and killing a whole tree (real processes of this test's own)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import proctree


def test_the_parent_is_read_after_the_last_parenthesis(tmp_path):
    """A tenant names its processes: ') S 1' in a command name must not be taken for the fields."""
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_bytes(b"42 (evil) S 1 (x) R 7 42 42 0 -1\n")
    (tmp_path / "43").mkdir()
    (tmp_path / "43" / "stat").write_bytes(b"43 (plain) S 42 43 43 0 -1\n")
    (tmp_path / "self").mkdir()
    assert proctree.parent_of(42, str(tmp_path)) == 7
    assert proctree.parent_map(str(tmp_path)) == {42: 7, 43: 42}
    assert proctree.parent_of(44, str(tmp_path)) is None


def test_descendants_are_listed_parents_first():
    parents = {2: 1, 3: 1, 4: 2, 5: 4, 6: 99}
    assert proctree.descendants(1, parents) == [2, 3, 4, 5]
    assert proctree.descendants(4, parents) == [5]
    assert proctree.descendants(6, parents) == []


def test_kill_tree_kills_every_descendant_and_spares_the_root():
    root = subprocess.Popen(["sh", "-c", "sleep 301 & (sleep 302 & wait) & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(proctree.descendants(root.pid, proctree.parent_map())) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        below = proctree.descendants(root.pid, proctree.parent_map())
        assert len(below) == 3  # sleep 301, the subshell, sleep 302
        assert proctree.kill_tree(root.pid) == 3
        root.wait(10)  # its children died, so its wait returned and it ended by itself
        # A grandchild reparented away dies when it is next scheduled, which a loaded box may delay: wait for it.
        deadline = time.monotonic() + 10
        alive = list(below)
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if not _gone(pid)]
            time.sleep(0.05)
        assert alive == []
    finally:
        if root.poll() is None:
            root.kill()
            root.wait()


def _gone(pid):
    """The pid has ended: no /proc entry left, or only a zombie waiting to be reaped."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
    except OSError:
        return True
    return data[data.rfind(b")") + 2:].split()[0] in (b"Z", b"X")
