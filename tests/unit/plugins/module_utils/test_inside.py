# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""inside.py: partition_exec's input checks, what is run inside, and the runner that drives commands side by side
with bounded output, fed stdin and a deadline that kills what they started (local processes stand in for runc exec)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import inside, proctree
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.runtime import OciRuntime


def params(**given):
    return dict(dict(name="web1", argv=None, command=None, chdir=None, env=None, stdin=None, stdin_add_newline=True,
                     creates=None, removes=None, timeout=None), **given)


def test_argv_runs_as_given_and_command_through_the_shell():
    assert inside.command_argv(argv=["echo", "a b", "$HOME"]) == ["echo", "a b", "$HOME"]
    assert inside.command_argv(command="ps -e | wc -l") == ["/bin/sh", "-c", "ps -e | wc -l"]


@pytest.mark.parametrize("given, option", [
    (dict(argv=["true"], command="true"), "argv"),
    (dict(), "argv"),
    (dict(argv=[]), "argv"),
    (dict(argv=[""]), "argv"),
    (dict(argv=["echo", 3]), "argv"),
    (dict(argv=["echo", "a\0b"]), "argv"),
    (dict(command="   "), "command"),
    (dict(command="true", chdir="relative"), "chdir"),
    (dict(command="true", env={"1BAD": "x"}), "env"),
    (dict(command="true", env={"A": "x\0"}), "env"),
    (dict(command="true", creates="/a\0b"), "creates"),
    (dict(command="true", timeout=-1), "timeout"),
    (dict(command="true", timeout=0), "timeout"),
    (dict(command="true", timeout=True), "timeout"),
    (dict(command="true", name="Web_1"), "name"),
])
def test_bad_input_is_refused_naming_the_option(given, option):
    with pytest.raises(InvalidOption) as info:
        inside.exec_request(params(**given))
    assert info.value.option == option


def test_a_request_normalised():
    request = inside.exec_request(params(command="make", chdir="/srv//app/", env={"B": 2, "A": None}, stdin="in",
                                         creates="build/out", removes="/tmp/../tmp/lock", timeout=30))
    assert request.argv == ["/bin/sh", "-c", "make"]
    assert request.cwd == "/srv/app"
    assert request.env == {"A": "", "B": "2"}
    assert request.stdin == b"in\n"
    assert request.creates == "/srv/app/build/out"  # relative to chdir, as ansible.builtin.command takes it
    assert request.removes == "/tmp/lock"
    assert request.timeout == 30
    assert inside.exec_request(params(argv=["cat"], stdin="x", stdin_add_newline=False)).stdin == b"x"


def test_the_runtime_runs_it_inside_with_cwd_and_env():
    runtime = OciRuntime("/usr/sbin/runc", "/state/runc")
    assert runtime.exec_argv("web1", ["/bin/sh", "-c", "x"], cwd="/srv", env={"B": "2", "A": "1"}) == [
        "/usr/sbin/runc", "--root", "/state/runc", "exec", "--cwd", "/srv", "--env", "A=1", "--env", "B=2",
        "--", "web1", "/bin/sh", "-c", "x"]


class FakeRoot:
    def __init__(self, paths):
        self.paths = paths

    def holds(self, path):
        return path in self.paths


@pytest.mark.parametrize("creates, removes, reason", [
    (None, None, None),
    ("/done", None, "skipped, since /done exists"),
    ("/missing", None, None),
    (None, "/done", None),
    (None, "/missing", "skipped, since /missing does not exist"),
    ("/missing", "/missing", "skipped, since /missing does not exist"),
])
def test_creates_and_removes_decide(creates, removes, reason):
    request = inside.exec_request(params(argv=["true"], creates=creates, removes=removes))
    assert inside.skip_reason(request, FakeRoot({"/done"})) == reason


# ---- the runner, on local processes ------------------------------------------------------------------------------
def test_output_stdin_and_exit_status():
    run = inside.InsideRun(["sh", "-c", "cat; echo err >&2; exit 4"], stdin=b"fed\n" * 50000).start()
    inside.drive([run], time.monotonic() + 30)
    assert run.rc == 4 and not run.timed_out
    assert run.text("stdout") == "fed\n" * 50000  # more than a pipe holds: fed and read without a deadlock
    assert run.text("stderr") == "err\n"


def test_output_past_the_bound_is_dropped_never_blocking_the_command():
    run = inside.InsideRun(["sh", "-c", "head -c 3000000 /dev/zero; echo done >&2"], limit=1000).start()
    inside.drive([run], time.monotonic() + 30)
    assert run.rc == 0 and len(run.output["stdout"]) == 1000 and run.truncated == {"stdout"}
    assert run.text("stderr") == "done\n"


def test_runs_go_side_by_side():
    runs = [inside.InsideRun(["sleep", "1"]).start() for unused in range(4)]
    started = time.monotonic()
    inside.drive(runs, started + 30)
    assert [run.rc for run in runs] == [0, 0, 0, 0]
    assert time.monotonic() - started < 3  # four one-second commands at once, not one after another


def test_the_deadline_kills_the_command_and_what_it_started():
    """The outer shell stands in for runc exec (it ends once what it runs ends); the subshell with its background
    sleeps is the command, a daemon-like child included."""
    run = inside.InsideRun(["sh", "-c", "(sleep 311 & sleep 312 & echo up; wait); exit 9"]).start()
    started = time.monotonic()
    inside.drive([run], started + 1)
    assert run.timed_out and run.rc == 9
    assert run.text("stdout") == "up\n"
    assert time.monotonic() - started < inside.KILL_GRACE
    assert proctree.descendants(run.proc.pid, proctree.parent_map()) == []
