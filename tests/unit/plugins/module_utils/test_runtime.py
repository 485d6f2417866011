# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import runtime
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, InvalidOption, MissingDependency, PartitionError


def test_auto_prefers_runc(monkeypatch):
    monkeypatch.setattr(runtime, "find_program", lambda name: "/usr/bin/" + name)
    assert runtime.select_runtime("auto", "/state/runc").name == "runc"
    assert runtime.select_runtime("crun", "/state/runc").name == "crun"


def test_auto_falls_back_to_crun(monkeypatch):
    monkeypatch.setattr(runtime, "find_program", lambda name: "/usr/bin/crun" if name == "crun" else None)
    assert runtime.select_runtime("auto", None).name == "crun"


def test_missing_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setattr(runtime, "find_program", lambda name: None)
    with pytest.raises(MissingDependency) as info:
        runtime.select_runtime("auto", None)
    assert "apt-get install runc" in info.value.msg
    with pytest.raises(InvalidOption):
        runtime.select_runtime("docker", None)


def test_commands_use_the_state_root():
    rt = runtime.OciRuntime("/usr/sbin/runc", "/state/runc")
    assert rt._cmd("state", "web1") == ["/usr/sbin/runc", "--root", "/state/runc", "state", "web1"]


FAKE_RUNC = """#!/bin/sh
# a runc that cannot load any container's state: what a state.json torn by a power loss gives
root=$2
shift 2
case "$1" in
  state) [ -d "$root/$2" ] || { echo "container does not exist" >&2; exit 1; }
         echo "load container $2: EOF" >&2; exit 1 ;;
  delete) exit 0 ;;
esac
exit 1
"""


def torn_container(tmp_path, written_at, booted_at):
    binary = tmp_path / "runc"
    binary.write_text(FAKE_RUNC)
    binary.chmod(0o755)
    container = tmp_path / "root" / "web1"
    container.mkdir(parents=True)
    (container / "state.json").write_text(u"")
    os.utime(str(container / "state.json"), (written_at, written_at))
    stat = tmp_path / "stat"
    stat.write_text(u"cpu  1 2 3\nbtime %d\n" % booted_at)
    return runtime.OciRuntime(str(binary), str(tmp_path / "root"), stat_file=str(stat)), container


def test_a_torn_state_from_an_earlier_boot_is_absent_and_removed_by_the_next_change(tmp_path):
    rt, container = torn_container(tmp_path, written_at=1000, booted_at=2000)
    assert rt.state("web1") is None
    assert container.exists(), "a read removes nothing"
    rt.delete("web1")
    assert not container.exists()
    assert rt.state("web1") is None


def test_a_torn_state_of_this_boot_is_an_error(tmp_path):
    rt, container = torn_container(tmp_path, written_at=3000, booted_at=2000)
    with pytest.raises(CommandFailed) as caught:
        rt.state("web1")
    assert "EOF" in caught.value.msg and container.exists()


def test_boot_time_reads_btime(tmp_path):
    assert runtime.boot_time() > 0
    empty = tmp_path / "stat"
    empty.write_text(u"cpu 1\n")
    with pytest.raises(PartitionError):
        runtime.boot_time(str(empty))
