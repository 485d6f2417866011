# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import runtime
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, MissingDependency


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
