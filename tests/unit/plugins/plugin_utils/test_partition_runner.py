# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.linuxvps.partitions.plugins.plugin_utils import partition_runner
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.host_transport import HostTransport, HostTransportError
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.partition_runner import (
    PartitionRunner,
    PartitionUnreachable,
    TransferFailed,
)

NOT_THERE = b'time="2026-12-01T03:29:35Z" level=error msg="exec failed: container does not exist"\n'
STOPPED = b'time="2026-12-01T03:29:35Z" level=error msg="exec failed: cannot exec in a stopped container"\n'

# A stand-in for runc on this host: exec runs the inner argv here (no container), state answers from
# FAKE_RUNC_STATE; FAKE_RUNC_EXEC_FAIL makes exec fail as runc's own errors do.
FAKE_RUNC = r'''#!%(python)s
import os, sys
args = sys.argv[1:]
if "state" in args:
    state = os.environ.get("FAKE_RUNC_STATE", "")
    if not state:
        sys.stderr.write('time="x" level=error msg="container does not exist"\n')
        sys.exit(1)
    sys.stdout.write('{"id": "web1", "status": "%%s", "pid": 42}' %% state)
    sys.exit(0)
if os.environ.get("FAKE_RUNC_EXEC_FAIL"):
    sys.stderr.write(os.environ["FAKE_RUNC_EXEC_FAIL"] + "\n")
    sys.exit(255)
inner = args[args.index("--") + 2:]
os.execvp(inner[0], inner)
'''


class RecordingTransport:
    """A transport that answers state calls from a table and records them."""

    local = False
    label = "host vps1"

    def __init__(self, state=None):
        self.calls = []
        self.state = state

    def unreachable(self, rc, err):
        return HostTransport("vps1").unreachable(rc, err)

    def run(self, argv, data=None, timeout=None):
        self.calls.append(argv)
        if self.state in (None, "no document"):
            missing = partition_runner.NO_DOCUMENT.encode() + b"\n" if self.state else b""
            return 1, b"", b'time="x" level=error msg="container does not exist"\n' + missing
        return 0, json.dumps({"status": self.state}).encode(), b""


@pytest.fixture
def fake_runc(tmp_path, monkeypatch):
    program = tmp_path / "runc"
    program.write_text(FAKE_RUNC % {"python": sys.executable})
    program.chmod(0o755)
    runner = PartitionRunner(HostTransport(), "web1", str(tmp_path / "state"), "runc")
    runner.runtime = str(program)
    return runner


def test_the_name_rule_is_the_modules():
    from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import NAME_PATTERN
    assert partition_runner.NAME_PATTERN.pattern == NAME_PATTERN.pattern


def test_names_are_checked_before_any_path_is_made():
    for bad in ("../etc", "a/b", "Web1", "", None, "-x", "a" * 64):
        with pytest.raises(PartitionUnreachable) as info:
            PartitionRunner(HostTransport(), bad, "/var/lib/linuxvps")
        assert "remote_addr" in info.value.msg


def test_exec_argv_runs_inside_with_home_set():
    runner = PartitionRunner(HostTransport("vps1"), "web1", "/srv/vps", "runc")
    assert runner.argv(["/bin/sh", "-c", "id"]) == ["runc", "--root", "/srv/vps/runc", "exec", "--env", "HOME=/root",
                                                    "--", "web1", "/bin/sh", "-c", "id"]
    assert runner.state_argv()[-5:] == ["runc", "--root", "/srv/vps/runc", "state", "web1"]
    assert runner.state_argv()[4] == "/srv/vps/partitions/web1/partition.json"
    assert runner.label == "partition web1 on host vps1"


def picked(tmp_path, argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, env=dict(os.environ, PATH=str(tmp_path / "bin")),
                          check=True).stdout.decode().split()


def test_without_a_recorded_runtime_the_host_picks_the_root_that_holds_the_container(tmp_path):
    (tmp_path / "bin").mkdir()
    for name in ("runc", "crun"):
        program = tmp_path / "bin" / name
        program.write_text(u'#!/bin/sh\necho %s "$@"\n' % name)
        program.chmod(0o755)
    runner = PartitionRunner(HostTransport("vps1"), "web1", str(tmp_path))
    assert runner.runtime is None
    assert picked(tmp_path, runner.argv(["id"])) == ["runc", "--root", str(tmp_path / "runc"), "exec", "--env",
                                                     "HOME=/root", "--", "web1", "id"]
    (tmp_path / "crun" / "web1").mkdir(parents=True)
    assert picked(tmp_path, runner.argv(["id"]))[:3] == ["crun", "--root", str(tmp_path / "crun")]
    assert picked(tmp_path, runner.state_argv()) == ["crun", "--root", str(tmp_path / "crun"), "state", "web1"]


def test_auto_runtime_reads_the_local_document(tmp_path):
    doc = tmp_path / "partitions" / "web1" / "partition.json"
    doc.parent.mkdir(parents=True)
    doc.write_text(json.dumps({"name": "web1", "running": {"runtime": "crun"}}))
    assert PartitionRunner(HostTransport(), "web1", str(tmp_path)).runtime == "crun"
    assert PartitionRunner(HostTransport(), "web1", str(tmp_path), "runc").runtime == "runc"
    # No document, stopped, unreadable, remote (no extra round trip to read it): the VPS host picks it.
    assert PartitionRunner(HostTransport(), "web2", str(tmp_path)).runtime is None
    doc.write_text(json.dumps({"name": "web1", "running": None}))
    assert PartitionRunner(HostTransport(), "web1", str(tmp_path)).runtime is None
    doc.write_text("{not json")
    assert PartitionRunner(HostTransport(), "web1", str(tmp_path)).runtime is None
    assert PartitionRunner(HostTransport("vps1"), "web1", str(tmp_path)).runtime is None
    with pytest.raises(HostTransportError) as info:
        PartitionRunner(HostTransport(), "web1", str(tmp_path), "docker")
    assert "linuxvps_runtime" in info.value.msg


def test_runtime_messages():
    assert partition_runner.runtime_failed(255, NOT_THERE)
    assert not partition_runner.runtime_failed(255, b"python3: error\n")
    assert not partition_runner.runtime_failed(1, NOT_THERE)
    assert partition_runner.runtime_message(b"noise\n" + NOT_THERE) == "exec failed: container does not exist"


@pytest.mark.parametrize("rc, out, problem", [
    (0, b'{"status": "running"}', None),
    (0, b'{"status": "paused"}', "is frozen (paused)"),
    (0, b'{"status": "stopped"}', "is stopped"),
    (0, b'{"status": "created"}', "is created"),
    (1, b"", "is stopped"),
    (2, b"", "does not exist"),
    (0, b"garbage", "has an unreadable runtime state"),
])
def test_state_problem(rc, out, problem):
    err = b'level=error msg="container does not exist"\n' if rc else b""
    if rc == 2:
        err += partition_runner.NO_DOCUMENT.encode() + b"\n"
    assert partition_runner.state_problem(rc, out, err) == problem


def test_a_command_failing_on_its_own_costs_no_state_call():
    transport = RecordingTransport("running")
    runner = PartitionRunner(transport, "web1", "/srv/vps", "runc")
    runner.check_failure(0, b"")
    runner.check_failure(2, b"ls: cannot access\n")
    runner.check_failure(255, b"exit 255 of the command\n")
    assert transport.calls == []


@pytest.mark.parametrize("state, words", [
    ("no document", "does not exist"),
    (None, "is stopped"),
    ("stopped", "is stopped"),
    ("paused", "is frozen"),
])
def test_runtime_failure_asks_the_state_once_and_names_partition_and_host(state, words):
    transport = RecordingTransport(state)
    runner = PartitionRunner(transport, "web1", "/srv/vps", "runc")
    with pytest.raises(PartitionUnreachable) as info:
        runner.check_failure(255, STOPPED)
    assert transport.calls == [runner.state_argv()]
    assert "partition web1 on host vps1" in info.value.msg and words in info.value.msg
    assert "/srv/vps" in info.value.msg


def test_runtime_failure_of_a_running_partition_is_the_commands():
    runner = PartitionRunner(RecordingTransport("running"), "web1", "/srv/vps", "runc")
    runner.check_failure(255, b'level=error msg="exec failed: unable to start container process: exec: '
                              b'\\"/bin/sh\\": stat /bin/sh: no such file or directory"\n')


def test_ssh_failure_is_the_hosts():
    runner = PartitionRunner(RecordingTransport("running"), "web1", "/srv/vps", "runc")
    with pytest.raises(HostTransportError) as info:
        runner.check_failure(255, b"ssh: connect to host vps1 port 22: Connection refused\n")
    assert not isinstance(info.value, PartitionUnreachable)
    assert "host vps1" in info.value.msg and "web1" in info.value.msg


def test_missing_runtime_on_the_remote_host():
    runner = PartitionRunner(RecordingTransport("running"), "web1", "/srv/vps", "runc")
    with pytest.raises(PartitionUnreachable) as info:
        runner.check_failure(127, b"sh: 1: runc: not found\n")
    assert "runc is not installed on host vps1" in info.value.msg
    picking = PartitionRunner(RecordingTransport("running"), "web1", "/srv/vps")
    with pytest.raises(PartitionUnreachable) as info:
        picking.check_failure(127, b"sh: 1: exec: crun: not found\n")
    assert "crun is not installed on host vps1" in info.value.msg


def test_put_and_fetch_stream_binary_files(fake_runc, tmp_path):
    data = os.urandom((8 << 20) + 12345) + b"\x00\n\r\xff"
    source, inside, back = tmp_path / "source", tmp_path / "inside", tmp_path / "back"
    source.write_bytes(data)
    fake_runc.put(str(source), str(inside))
    fake_runc.fetch(str(inside), str(back))
    digest = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(inside.read_bytes()).hexdigest() == digest
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


def test_put_and_fetch_of_an_empty_file(fake_runc, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    fake_runc.put(str(tmp_path / "empty"), str(tmp_path / "inside"))
    fake_runc.fetch(str(tmp_path / "inside"), str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b""


def test_put_into_a_missing_directory_fails_with_the_commands_message(fake_runc, tmp_path):
    (tmp_path / "source").write_bytes(os.urandom(4 << 20))
    with pytest.raises(TransferFailed) as info:
        fake_runc.put(str(tmp_path / "source"), str(tmp_path / "no" / "such"))
    assert "partition web1 on this host" in info.value.msg and "no/such" in info.value.msg


def test_fetch_of_a_missing_file_fails(fake_runc, tmp_path):
    with pytest.raises(TransferFailed) as info:
        fake_runc.fetch(str(tmp_path / "nothing"), str(tmp_path / "back"))
    assert "nothing" in info.value.msg


def test_put_to_a_stopped_partition_is_unreachable(fake_runc, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_RUNC_EXEC_FAIL", STOPPED.decode().strip())
    monkeypatch.setenv("FAKE_RUNC_STATE", "stopped")
    (tmp_path / "source").write_bytes(os.urandom(1 << 20))
    with pytest.raises(PartitionUnreachable) as info:
        fake_runc.put(str(tmp_path / "source"), str(tmp_path / "inside"))
    assert "is stopped" in info.value.msg
    monkeypatch.setenv("FAKE_RUNC_STATE", "")
    with pytest.raises(PartitionUnreachable) as info:
        fake_runc.fetch(str(tmp_path / "source"), str(tmp_path / "back"))
    assert "does not exist" in info.value.msg


def test_a_chatty_command_cannot_block_a_copy(fake_runc, tmp_path):
    # 4 MiB on stderr while the copy runs: the tail reader keeps the end and the copy finishes.
    (tmp_path / "source").write_bytes(b"x")
    proc = fake_runc.popen(["sh", "-c", "head -c 4194304 /dev/zero >&2; cat > %s" % (tmp_path / "inside")])
    tail = partition_runner._Tail(proc.stderr)
    proc.stdin.write(b"data")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert len(tail.join()) == partition_runner.STDERR_TAIL
    proc.stdout.close()
    assert (tmp_path / "inside").read_bytes() == b"data"
