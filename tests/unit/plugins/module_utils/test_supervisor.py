# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""supervisor.py: when systemd supervises, unit names and command lines, and leaving the unit's own cgroup.

The units themselves run for real in the systemd VM (tests/vm); here only what needs no systemd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import supervisor
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError


def test_unit_names_never_collide_between_state_directories():
    assert supervisor.unit_name("linuxvps", "web1") == "linuxvps-web1.service"
    assert supervisor.unit_name("linuxvps-1a2b3c4d", "web1") == "linuxvps-1a2b3c4d_web1.service"
    # a default-store partition whose name looks like another store's prefix still differs
    assert supervisor.unit_name("linuxvps", "1a2b3c4d-web1") != supervisor.unit_name("linuxvps-1a2b3c4d", "web1")


@pytest.mark.parametrize("value, quoted", [
    ("/var/lib/linuxvps", '"/var/lib/linuxvps"'),
    ("/srv/with space", '"/srv/with space"'),
    ('/a"b', '"/a\\"b"'),
    ("/50%", '"/50%%"'),
])
def test_unit_command_arguments_are_quoted_for_systemd(value, quoted):
    assert supervisor.quote_argument(value) == quoted


def test_no_supervision_without_systemd_as_init(tmp_path):
    assert supervisor.detect(2, run_dir=str(tmp_path / "absent")) == (None, None)


def test_no_supervision_on_cgroup_v1_even_with_systemd(tmp_path):
    assert supervisor.detect(1, run_dir=str(tmp_path)) == (None, None)


def test_missing_helper_is_a_notice_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "find_program", lambda name: "/usr/bin/" + name)
    unit_supervisor, notice = supervisor.detect(2, helper=str(tmp_path / "linuxvps-partition"), run_dir=str(tmp_path))
    assert unit_supervisor is None
    assert "host role" in notice


def test_supervision_with_systemd_v2_and_the_helper(tmp_path, monkeypatch):
    helper = tmp_path / "linuxvps-partition"
    helper.write_text(u"#!/bin/sh\n")
    helper.chmod(0o755)
    monkeypatch.setattr(supervisor, "find_program", lambda name: "/usr/bin/" + name)
    unit_supervisor, notice = supervisor.detect(2, helper=str(helper), run_dir=str(tmp_path))
    assert notice is None
    assert unit_supervisor.helper == str(helper)


def test_own_cgroup_reads_the_v2_line(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text(u"12:memory:/user.slice\n0::/linuxvps.slice/linuxvps-web1.service\n")
    assert supervisor.own_cgroup(str(proc)) == "/linuxvps.slice/linuxvps-web1.service"
    proc.write_text(u"12:memory:/user.slice\n")
    with pytest.raises(PartitionError):
        supervisor.own_cgroup(str(proc))


def test_leave_unit_root_moves_into_the_supervisor_leaf(tmp_path):
    unit = tmp_path / "linuxvps.slice" / "linuxvps-web1.service"
    unit.mkdir(parents=True)
    proc = tmp_path / "cgroup"
    proc.write_text(u"0::/linuxvps.slice/linuxvps-web1.service\n")
    supervisor.leave_unit_root(unified=str(tmp_path), proc_file=str(proc))
    assert (unit / "supervisor" / "cgroup.procs").read_text() == str(os.getpid())
    # already in the leaf (a restart of the start command in the same process): nothing to do
    proc.write_text(u"0::/linuxvps.slice/linuxvps-web1.service/supervisor\n")
    assert supervisor.leave_unit_root(unified=str(tmp_path), proc_file=str(proc)).endswith("/supervisor")
