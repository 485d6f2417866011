# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The console where no journal takes it: the ring's command and bound, the reader's lifetime, and a runtime's
create writing into either console (a shell script stands in for the runtime; its background writer for init)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import subprocess
import time

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import console
from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.runtime import OciRuntime

ROTATELOGS = find_program("rotatelogs")
needs_rotatelogs = pytest.mark.skipif(ROTATELOGS is None, reason="rotatelogs (apache2-utils) is not installed")
MIB = 1024 * 1024

# create: init's stand-in writes $SIZE bytes to the stdout it inherits, in the background, like an init that
# holds the console after the runtime returned (once the file $HOLD exists, when set); FAIL makes the create fail
# with a message on stderr.
FAKE_RUNTIME = """#!/bin/sh
case "$*" in *create*) ;; *) exit 0 ;; esac
if [ -n "$FAIL" ]; then echo "container init failed: $FAIL" >&2; exit 1; fi
echo "runtime warning" >&2
( i=0; while [ -n "$HOLD" ] && [ ! -e "$HOLD" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
  head -c "$SIZE" /dev/zero | tr '\\0' x; echo; echo "init done" ) &
echo $! > "$PIDS"
"""


@pytest.fixture
def fake_runtime(tmp_path, monkeypatch):
    script = tmp_path / "runtime"
    script.write_text(FAKE_RUNTIME)
    script.chmod(0o755)
    monkeypatch.setenv("PIDS", str(tmp_path / "writer.pid"))
    monkeypatch.setenv("SIZE", "0")
    return OciRuntime(str(script), None)


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while console.process_start(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    return console.process_start(pid) is None


def console_files(directory):
    return sorted(name for name in os.listdir(directory) if name.startswith("console."))


def test_the_ring_command_keeps_two_segments_linked_to_console_log():
    assert console.ring_command("/usr/bin/rotatelogs", "/state/partitions/web1") == [
        "/usr/bin/rotatelogs", "-f", "-n", "2", "-L", "/state/partitions/web1/console.log",
        "/state/partitions/web1/console.ring", "1048576B"]
    assert console.ring_command("rl", "/d", segments=3, segment_bytes=4096)[3:] == ["3", "-L", "/d/console.log", "/d/console.ring", "4096B"]


def test_the_ring_files_and_their_bound():
    assert console.ring_files("/d") == ["/d/console.ring", "/d/console.ring.1"]
    assert console.ring_files("/d", 3) == ["/d/console.ring", "/d/console.ring.1", "/d/console.ring.2"]
    assert console.ring_bound() == 2 * (MIB + 65536)


def test_a_recorded_reader_counts_only_while_the_same_process_lives(tmp_path):
    directory = str(tmp_path)
    assert console.pump_pid(directory) is None  # nothing recorded
    proc = subprocess.Popen(["sleep", "30"])
    try:
        record = {"pid": proc.pid, "start": console.process_start(proc.pid), "boot": console.boot_id()}
        (tmp_path / "console.pump").write_text(json.dumps(record))
        assert console.pump_pid(directory) == proc.pid
        (tmp_path / "console.pump").write_text(json.dumps(dict(record, start=record["start"] - 1)))
        assert console.pump_pid(directory) is None  # the pid now belongs to another process
        (tmp_path / "console.pump").write_text(json.dumps(dict(record, boot="an earlier boot")))
        assert console.pump_pid(directory) is None
        (tmp_path / "console.pump").write_text("{torn")
        assert console.pump_pid(directory) is None
    finally:
        proc.kill()
        proc.wait()


def test_a_reader_that_does_not_end_is_killed_after_the_timeout_and_forgotten(tmp_path):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        record = {"pid": proc.pid, "start": console.process_start(proc.pid), "boot": console.boot_id()}
        (tmp_path / "console.pump").write_text(json.dumps(record))
        started = time.monotonic()
        console.retire_pump(str(tmp_path), timeout=0.3)
        assert time.monotonic() - started >= 0.3
        assert proc.wait(timeout=5) == -9
        assert not (tmp_path / "console.pump").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_rotatelogs_console_log_is_rotated_at_start_only(tmp_path, fake_runtime, monkeypatch):
    directory = str(tmp_path / "web1")
    os.mkdir(directory)
    (tmp_path / "web1" / "console.log").write_bytes(b"o" * (console.ROTATE_BYTES + 1))
    monkeypatch.setenv("SIZE", str(3 * MIB))
    fake_runtime.create("web1", "/bundle", "/pid", console.FileConsole(directory))
    assert wait_gone(int((tmp_path / "writer.pid").read_text()))
    assert os.path.getsize(os.path.join(directory, "console.log.1")) == console.ROTATE_BYTES + 1
    # while it runs nothing bounds it: the fallback's known limit
    assert os.path.getsize(os.path.join(directory, "console.log")) > 3 * MIB
    assert os.stat(os.path.join(directory, "console.log")).st_mode & 0o777 == 0o600


def test_a_failed_create_reports_the_runtime_error_from_either_console(tmp_path, fake_runtime, monkeypatch):
    monkeypatch.setenv("FAIL", "boom")
    consoles = [console.FileConsole(str(tmp_path))]
    if ROTATELOGS:
        consoles.append(console.RingConsole(str(tmp_path), ROTATELOGS))
    for each in consoles:
        with pytest.raises(CommandFailed) as info:
            fake_runtime.create("web1", "/bundle", "/pid", each)
        assert "container init failed: boom" in info.value.msg
    assert not (tmp_path / "console.pump").exists()  # no reader for a container that was not made


@needs_rotatelogs
def test_the_ring_stays_bounded_while_init_writes_and_its_reader_ends_with_the_last_writer(tmp_path, fake_runtime, monkeypatch):
    directory = str(tmp_path)
    (tmp_path / "console.log.1").write_bytes(b"old unbounded rotation")
    monkeypatch.setenv("SIZE", str(5 * MIB))
    monkeypatch.setenv("HOLD", str(tmp_path / "go"))  # init writes once the reader is looked at (a loaded host)
    fake_runtime.create("web1", "/bundle", "/pid", console.RingConsole(directory, ROTATELOGS, segment_bytes=256 * 1024))
    pump = console.pump_pid(directory)
    assert pump is not None and os.getsid(pump) == pump  # its own session
    assert os.getpriority(os.PRIO_PROCESS, pump) == console.PUMP_NICENESS
    assert os.getppid() != int(open("/proc/%d/stat" % pump).read().rsplit(")", 1)[1].split()[1])  # not our child
    (tmp_path / "go").write_text("")
    assert wait_gone(int((tmp_path / "writer.pid").read_text()))
    console.retire_pump(directory)  # returns once the reader drained the pipe and ended by itself
    assert console.process_start(pump) is None
    assert console_files(directory) == ["console.log", "console.ring", "console.ring.1"]
    sizes = [os.path.getsize(path) for path in console.ring_files(directory)]
    assert sum(sizes) <= console.ring_bound(segment_bytes=256 * 1024) and min(sizes) > 0  # both used: it rotated
    latest = os.path.join(directory, "console.log")
    assert os.path.samefile(latest, console.ring_files(directory)[1]) or os.path.samefile(latest, console.ring_files(directory)[0])
    with open(latest, "rb") as handle:
        newest = handle.read()
    assert newest.endswith(b"init done\n")  # the latest output, readable under the stable name
    # the ring may have turned between the last two writes: together the segments end as init's output did
    older = [path for path in console.ring_files(directory) if not os.path.samefile(path, latest)]
    with open(older[0], "rb") as handle:
        assert (handle.read() + newest).endswith(b"x\ninit done\n")
    assert all(os.stat(path).st_mode & 0o777 == 0o600 for path in console.ring_files(directory))


@needs_rotatelogs
def test_a_restart_keeps_the_bound_and_waits_for_the_previous_reader(tmp_path, fake_runtime, monkeypatch):
    directory = str(tmp_path)
    monkeypatch.setenv("SIZE", str(2 * MIB))
    ring = console.RingConsole(directory, ROTATELOGS, segment_bytes=256 * 1024)
    for _run in range(3):
        fake_runtime.create("web1", "/bundle", "/pid", ring)  # opening the ring first retires the previous reader
        assert wait_gone(int((tmp_path / "writer.pid").read_text()))
    console.retire_pump(directory)
    assert sum(os.path.getsize(path) for path in console.ring_files(directory)) <= console.ring_bound(segment_bytes=256 * 1024)
    assert not (tmp_path / "console.pump").exists()


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


@needs_rotatelogs
def test_the_reader_is_spawned_without_forking_python_detached_niced_and_reading_the_pipe(tmp_path, monkeypatch):
    def no_fork():
        raise AssertionError("os.fork called: the reader must be spawned without forking Python")

    monkeypatch.setattr(os, "fork", no_fork)
    directory = tmp_path / "web 1;$(touch pwned) '\""  # the reader's command line is never shell text
    directory.mkdir()
    pipe_r, write_fd = os.pipe()
    read_fd = fcntl.fcntl(pipe_r, fcntl.F_DUPFD_CLOEXEC, 20)  # a shell's redirections name only fds 0-9
    os.close(pipe_r)
    pump = None
    try:
        console.RingConsole(str(directory), ROTATELOGS).start_pump(read_fd)
        os.close(read_fd)
        read_fd = None
        pump = console.pump_pid(str(directory))
        assert pump is not None
        with open("/proc/%d/cmdline" % pump, "rb") as handle:
            assert handle.read().split(b"\0")[:-1] == [os.fsencode(arg) for arg in console.ring_command(ROTATELOGS, str(directory))]
        assert parent_of(pump) != os.getpid()  # the child of no process of ours
        assert os.getsid(pump) == pump != os.getsid(0)  # its own session
        assert os.getpriority(os.PRIO_PROCESS, pump) == min(os.getpriority(os.PRIO_PROCESS, 0) + console.PUMP_NICENESS, 19)
        assert os.stat("/proc/%d" % pump).st_uid == os.getuid()
        assert not os.path.exists(os.path.join(str(tmp_path), "pwned")) and not os.path.exists("/pwned")
        os.write(write_fd, b"hello from init\n")
        os.close(write_fd)
        write_fd = None
        assert wait_gone(pump)  # end of file: the reader ends by itself
        with open(str(directory / "console.log"), "rb") as handle:
            assert handle.read() == b"hello from init\n"
        assert os.stat(str(directory / "console.ring")).st_mode & 0o777 == 0o600
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)
        console.retire_pump(str(directory), timeout=0)  # kills a reader left running
        if pump is not None:
            assert wait_gone(pump)


@needs_rotatelogs
def test_a_reader_that_does_not_start_fails_the_start_and_is_not_recorded(tmp_path, monkeypatch):
    read_fd, write_fd = os.pipe()
    try:
        # an exec in the chain fails: the pid the shell printed ends at once
        monkeypatch.setattr(console, "find_program", lambda name: "/bin/false" if name == "nice" else find_program(name))
        with pytest.raises(PartitionError, match="cannot start the console reader"):
            console.RingConsole(str(tmp_path), ROTATELOGS).start_pump(read_fd)
        monkeypatch.setattr(console, "find_program", lambda name: None if name == "setsid" else find_program(name))
        with pytest.raises(PartitionError, match="setsid"):
            console.RingConsole(str(tmp_path), ROTATELOGS).start_pump(read_fd)
        assert not (tmp_path / "console.pump").exists()
    finally:
        os.close(read_fd)
        os.close(write_fd)
