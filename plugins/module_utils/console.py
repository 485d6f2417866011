# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A partition's console (init's stdout and stderr) where no journal takes it.

With rotatelogs (Debian apache2-utils, RPM httpd-tools) init writes into a pipe. Its reader, rotatelogs, keeps a
ring of RING_SEGMENTS files (console.ring, console.ring.1) of RING_SEGMENT_BYTES each, overwriting the oldest,
and makes console.log a hard link to the one it writes: the console bytes kept stay bounded while the partition
runs, and console.log always names its latest output. The reader is an exec'd C program (no Python per
partition; about 150 KiB private memory), started in its own session, not our child, so it outlives the run that
started it. It ends by itself at end of file, when init and every process holding the pipe's write end are gone;
a stop waits for that (retire_pump).

Without rotatelogs, init appends to console.log, which is rotated to console.log.1 only when the partition
starts (the bound the collection had before), and a warning says so.

All these files are the host's (in the partition's state directory), never in the tenant's tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import signal
import subprocess
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import read_text
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json, write_json_atomic

CONSOLE_FILE = "console.log"  # the latest output: the file init appends to, or a hard link to the ring's current file
RING_FILE = "console.ring"  # the ring's files: console.ring, console.ring.1, ...
PUMP_FILE = "console.pump"  # the running reader: its pid, start time and boot
LEGACY_FILE = CONSOLE_FILE + ".1"  # the previous console.log of the rotation at start
RING_SEGMENTS = 2
RING_SEGMENT_BYTES = 1024 * 1024
READ_CHUNK = 65536  # rotatelogs reads at most this much at a time and checks a file's size before each write
ROTATE_BYTES = 1024 * 1024  # without rotatelogs: console.log is rotated at start once it is larger
# The reader runs outside the partition's cgroup, so a tenant that writes without end would spend the host's CPU on
# it: it yields to everything else, and a full pipe then slows the tenant's writes instead.
PUMP_NICENESS = 19
PUMP_EXIT_SECONDS = 5  # how long a stop waits for the reader to drain the pipe and end by itself
PUMP_SPAWN_SECONDS = 10  # the shell that starts the reader returns at once; a hung one fails the start
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
UNBOUNDED_WARNING = ("rotatelogs (Debian package apache2-utils, RPM httpd-tools) is not installed: the console.log of a "
                     "partition started without systemd is bounded only when it starts, not while it runs")


def ring_command(binary, directory, segments=RING_SEGMENTS, segment_bytes=RING_SEGMENT_BYTES):
    """The reader's command line: a ring of segments files of segment_bytes, console.log linked to the current one.

    -f opens (and links) the current file at once, so console.log exists before init writes anything.
    """
    return [binary, "-f", "-n", str(segments), "-L", os.path.join(directory, CONSOLE_FILE),
            os.path.join(directory, RING_FILE), "%dB" % segment_bytes]


def ring_files(directory, segments=RING_SEGMENTS):
    """The ring's files, in the order rotatelogs fills them."""
    base = os.path.join(directory, RING_FILE)
    return [base] + ["%s.%d" % (base, number) for number in range(1, segments)]


def ring_bound(segments=RING_SEGMENTS, segment_bytes=RING_SEGMENT_BYTES):
    """The most console bytes the ring keeps: each file passes its size by at most one read before it rotates."""
    return segments * (segment_bytes + READ_CHUNK)


def process_start(pid):
    """A process's start time (clock ticks since boot) from /proc, or None when there is no such live process."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (IOError, OSError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def boot_id(path=BOOT_ID_FILE):
    """This boot's random id: a pid and start time recorded in another boot name no process of this one."""
    return read_text(path)


def pump_pid(directory):
    """The recorded reader's pid while that very process (same boot, same start time) lives, else None."""
    try:
        record = read_json(os.path.join(directory, PUMP_FILE)) or {}
    except PartitionError:
        return None  # a torn record: its reader, if any, ends with its pipe
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    start = process_start(pid)
    if start is None or start != record.get("start") or record.get("boot") != boot_id():
        return None  # gone, or the pid was given to another process since
    return pid


def retire_pump(directory, timeout=PUMP_EXIT_SECONDS):
    """Wait until the partition's recorded reader has ended (init and every writer gone, the pipe drained); kill it
    after timeout, so that a process that kept the write end (passed on from inside) cannot keep a second reader
    going beside the next start's. Then forget it."""
    deadline = time.monotonic() + timeout
    pid = pump_pid(directory)
    while pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)
        pid = pump_pid(directory)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
        while pump_pid(directory) is not None and time.monotonic() < deadline + 1:
            time.sleep(0.02)
    record = os.path.join(directory, PUMP_FILE)
    if os.path.lexists(record):
        os.unlink(record)


class FileConsole:
    """console.log appended to, rotated once it grew past ROTATE_BYTES when the partition starts."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, CONSOLE_FILE)

    def open(self):
        """A sink for the runtime's create: init's stdio (and the runtime's own errors)."""
        retire_pump(self.directory)  # a reader left from a start with rotatelogs
        if os.path.exists(self.path) and os.path.getsize(self.path) > ROTATE_BYTES:
            os.rename(self.path, os.path.join(self.directory, LEGACY_FILE))
        return _FileSink(self.path)


class _FileSink:
    def __init__(self, path):
        self.path = path
        self.stream = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        self.offset = self.stream.tell()

    def written(self):
        """What the runtime wrote since the sink was opened (its error)."""
        self.stream.flush()
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(READ_CHUNK).decode("utf-8", "replace")  # the runtime's error: never a tenant's flood

    def close(self, created):
        self.stream.close()


class RingConsole:
    """init's stdio is a pipe that rotatelogs reads into a bounded ring (see the module's docstring)."""

    def __init__(self, directory, binary, segments=RING_SEGMENTS, segment_bytes=RING_SEGMENT_BYTES):
        self.directory = directory
        self.path = os.path.join(directory, CONSOLE_FILE)
        self.command = ring_command(binary, directory, segments, segment_bytes)

    def open(self):
        """A sink for the runtime's create: the pipe's write end; the reader starts once the create succeeded.

        Until `runtime start` nothing of the tenant runs, so before the reader starts the pipe holds only the
        runtime's own few lines (read back as its error when the create fails).
        """
        retire_pump(self.directory)  # one reader per ring: two would each keep a ring's worth
        legacy = os.path.join(self.directory, LEGACY_FILE)
        if os.path.lexists(legacy):
            os.unlink(legacy)  # from the rotation at start: the bound counts every console file
        return _PipeSink(self)

    def start_pump(self, read_fd):
        """Start rotatelogs on the pipe's read end, detached: its own session, the child of no process of ours, at
        the lowest CPU priority; its pid is recorded so that a stop can wait for it.

        No Python is forked (this runs in the worker threads of a bulk call, and forking a threaded process of this
        size copies its page tables and may leave the child a lock another thread held): a shell, spawned in its own
        session, starts `nice -n PUMP_NICENESS setsid <reader>` in the background and prints its pid. nice and setsid
        exec in place, so that pid is the reader's: setsid makes it a session leader (it is no group leader in a shell
        without job control, so setsid does not fork), and once the shell is reaped it is the child of no process of
        ours. The reader's command line reaches the shell as its arguments, never inside its text. It returns once
        the reader runs, niced in its own session (or, on a host too loaded to get there in PUMP_SPAWN_SECONDS, is
        still on its way), and fails when it ended before: an exec in the chain failed.
        """
        nice, setsid = find_program("nice"), find_program("setsid")
        if nice is None or setsid is None:
            raise PartitionError("cannot start the console reader: nice (coreutils) and setsid (util-linux) are needed")
        # The pipe is the shell's stdin, moved to fd 3 (a shell names only fds 0-9, read_fd may be any): without job
        # control a background command's stdin is /dev/null unless redirected explicitly, so it is, from fd 3.
        script = 'exec 3<&0; "$@" <&3 3<&- >/dev/null 2>&1 & echo $!'
        argv = ["/bin/sh", "-c", script, "sh", nice, "-n", str(PUMP_NICENESS), setsid] + self.command
        shell = subprocess.Popen(argv, stdin=read_fd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
                                 start_new_session=True, cwd="/", umask=0o077)
        try:
            pid = shell.communicate(timeout=PUMP_SPAWN_SECONDS)[0].decode().strip()
        except subprocess.TimeoutExpired:
            shell.kill()
            shell.communicate()
            pid = ""
        if not pid.isdigit() or not _reader_started(int(pid), self.command, PUMP_SPAWN_SECONDS):
            raise PartitionError("cannot start the console reader %s" % " ".join(self.command))
        pid = int(pid)
        record = {"pid": pid, "start": process_start(pid), "boot": boot_id(), "command": self.command}
        write_json_atomic(os.path.join(self.directory, PUMP_FILE), record, sync=False)  # a power cut ends the reader too


def _reader_started(pid, command, timeout):
    """Whether process pid came through the exec chain that ends in command: False when it ended before (an exec
    failed); True once it runs command, or still lives after timeout (a loaded host: it is on its way)."""
    wanted = b"".join(os.fsencode(arg) + b"\0" for arg in command)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                if handle.read() == wanted:
                    return True
        except (IOError, OSError):
            return False
        if process_start(pid) is None:
            return False  # a zombie (its cmdline is empty) or gone
        if time.monotonic() > deadline:
            return True
        time.sleep(0.002)


class _PipeSink:
    def __init__(self, console):
        self.console = console
        self.read_fd, write_fd = os.pipe()
        self.stream = os.fdopen(write_fd, "wb")

    def written(self):
        """What the runtime wrote into the pipe (its error); we hold the write end, so read without blocking."""
        os.set_blocking(self.read_fd, False)
        chunks = []
        while True:
            try:
                chunk = os.read(self.read_fd, READ_CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")

    def close(self, created):
        """Hand the read end to the reader when the container was created, then let go of both ends."""
        try:
            if created:
                self.console.start_pump(self.read_fd)
        finally:
            self.stream.close()
            os.close(self.read_fd)
