# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The packed engine runs in a Python that has neither the collection nor Ansible on its path, as on a VPS host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_collections.linuxvps.partitions.plugins.plugin_utils import engine_payload


def run_packed(tmp_path, args):
    """Run the listing program as a VPS host would: python -I (no PYTHONPATH, no user site), from an empty directory."""
    command = [sys.executable, "-I"] + engine_payload.command(args)[1:]
    done = subprocess.run(command, input=engine_payload.program("listing", "main"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=str(tmp_path), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_the_command_reads_the_program_on_stdin_then_takes_the_arguments():
    assert engine_payload.command(["/srv/lv", "running", "stopped"]) == ["python3", "-", "/srv/lv", "running", "stopped"]
    assert engine_payload.command(["/srv/lv"], python="/usr/bin/python3.11")[:2] == ["/usr/bin/python3.11", "-"]


def test_the_program_carries_the_engine_and_what_it_imports_of_ansible():
    sources = engine_payload.engine_sources()
    assert sources[engine_payload.ENGINE_PACKAGE + ".listing"][0] is False
    assert sources[engine_payload.ENGINE_PACKAGE + ".cgroups"][0] is True  # a package, with its __init__
    assert sources["ansible.module_utils.six"][0] is True and sources["ansible"] == (True, "")
    assert "ansible_collections.linuxvps.partitions.plugins" in sources


def test_the_packed_engine_imports_without_the_collection_installed(tmp_path):
    """The engine's imports all resolve from the packed sources: a bad state fails in listing's own words."""
    rc, out, err = run_packed(tmp_path, ["/nonexistent", "bogus"])
    assert rc == 1, err
    failed = json.loads(out)
    assert failed["failed"] is True and "states" in failed["msg"] and "bogus" in failed["msg"]
    assert os.listdir(str(tmp_path)) == []  # nothing written where it ran


def test_control_without_the_packed_sources_the_import_fails(tmp_path):
    """The control: the same entry point with nothing packed cannot import, so the test above proves the packing."""
    program = engine_payload.program("listing", "main", sources={"unrelated": (False, "")})
    done = subprocess.run([sys.executable, "-I", "-", "/nonexistent", "bogus"], input=program, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=str(tmp_path), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, check=False)
    assert done.returncode != 0 and b"ModuleNotFoundError" in done.stderr
