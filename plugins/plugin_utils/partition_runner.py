# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running commands and copying files inside one partition, from the controller (the connection plugin's core).

Every door is ``<runtime> exec`` (runtime.exec_argv) on the VPS host, through a HostTransport: the command runs as
the partition's root in all of its namespaces and in its cgroup, with its capabilities, seccomp filter and
no_new_privileges. The normal path is one process (one ssh channel remotely). Only when a command fails the way
the runtime's own errors do, one more call (``<runtime> state`` and a look for its state document) tells a stopped, frozen or absent partition
(PartitionUnreachable) from a command that failed inside.

Files are streamed through the process's pipes in chunks (nothing is buffered whole, nothing is written on the
VPS host): put runs ``cat`` inside, which writes the file as the partition's root; fetch reads with ``cat``.
The partition never gets a descriptor of a controller file, only pipes: a hostile tenant could reopen a file
descriptor through /proc/self/fd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import subprocess
import threading

from ansible_collections.linuxvps.partitions.plugins.module_utils.runtime import exec_args, exec_argv
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.host_transport import HostTransportError

# spec.NAME_PATTERN, repeated: importing spec.py would load pyroute2 (through net.py), 200 ms on every task's
# connection load. tests/unit/plugins/plugin_utils/test_partition_runner.py checks that both are the same.
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")

RUNTIMES = ("auto", "runc", "crun")
CHUNK = 1 << 20
# How much of a command's stderr a copy keeps for its error message (the rest is read and dropped, so a
# chatty or hostile command cannot block the copy or fill the controller's memory).
STDERR_TAIL = 64 * 1024
# The runtime's own failures (not the command's): it exits 255 and logs at level error.
RUNTIME_FAILED = 255
RUNTIME_ERROR_MARK = b"level=error"
PUT_SCRIPT = 'cat > "$1"'
# Through the partition's shell, as put: crun's exec with --env runs a bare program name without the config's PATH.
FETCH_SCRIPT = 'exec cat -- "$1"'
# What a command run inside gets besides the partition's configured environment (runc takes PATH from there).
EXEC_ENV = {"HOME": "/root"}
# The failure path's one call: the runtime's state, and whether the partition exists at all (its state
# document), since a stopped partition is unknown to the runtime.
NO_DOCUMENT = "linuxvps: no partition document"
STATE_SCRIPT = 'doc=$1; shift; "$@"; rc=$?; [ -e "$doc" ] || echo "%s" >&2; exit $rc' % NO_DOCUMENT
# With auto and no document to read (a remote host): the runtime whose root holds the container, chosen on the
# VPS host in the same command (runtime.Runtimes: each runtime has its own root in the state directory).
PICK_SCRIPT = 'd=$1; n=$2; shift 2; if [ -d "$d/crun/$n" ]; then exec crun --root "$d/crun" "$@"; fi; exec runc --root "$d/runc" "$@"'


class PartitionUnreachable(HostTransportError):
    """The partition cannot run commands: absent, stopped or frozen (or its name is not a partition name)."""


class TransferFailed(HostTransportError):
    """A put or fetch that reached the partition failed there (a missing directory, a full disk, ...)."""


def check_name(name):
    """The partition's name as given, or PartitionUnreachable naming the option when it is not a valid name."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PartitionUnreachable("remote_addr (ansible_host): %r is not a partition name (lower-case letters, digits "
                                   "and '-', at most 63 characters)" % (name,))
    return name


def runtime_of(choice, transport, state_dir, name):
    """The runtime program that runs the partition: the choice, or with 'auto' the one its state document
    recorded at start when that document is on this machine (a read, no process), else None: the VPS host
    picks it by the runtime root that holds the container (PICK_SCRIPT)."""
    if choice not in RUNTIMES:
        raise HostTransportError("linuxvps_runtime: invalid value %r: must be one of %s" % (choice, ", ".join(RUNTIMES)))
    if choice != "auto":
        return choice
    if transport.local:
        try:
            with open(os.path.join(state_dir, "partitions", name, "partition.json")) as handle:
                running = (json.load(handle) or {}).get("running") or {}
            if running.get("runtime") in RUNTIMES[1:]:
                return running["runtime"]
        except (OSError, ValueError, AttributeError):
            pass  # absent or unreadable: the exec's failure will say what is wrong
    return None


def text(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


def runtime_failed(rc, stderr):
    """Whether a finished exec may have failed in the runtime itself (then its state is asked)."""
    return rc == RUNTIME_FAILED and RUNTIME_ERROR_MARK in (stderr or b"")


def runtime_message(stderr):
    """The runtime's last error message from its log lines, e.g. ``exec failed: container does not exist``."""
    for line in reversed(text(stderr).splitlines()):
        if "level=error" in line and 'msg="' in line:
            return line.split('msg="', 1)[1].rsplit('"', 1)[0]
    return text(stderr).strip()


def state_problem(rc, stdout, stderr):
    """What is wrong with a partition, from its state_argv result: a phrase, or None when it runs."""
    if rc != 0:
        message = runtime_message(stderr)
        if "does not exist" in message:
            return "does not exist" if NO_DOCUMENT in text(stderr) else "is stopped"
        return "has no readable runtime state (%s)" % message
    try:
        status = json.loads(text(stdout)).get("status")
    except (ValueError, AttributeError):
        return "has an unreadable runtime state"
    if status == "running":
        return None
    if status == "paused":
        return "is frozen (paused)"
    return "is %s" % status


class _Tail:
    """Reads a pipe to its end in a thread, keeping only the last STDERR_TAIL bytes."""

    def __init__(self, pipe):
        self.data = b""
        self._pipe = pipe
        self._thread = threading.Thread(target=self._drain)
        self._thread.daemon = True
        self._thread.start()

    def _drain(self):
        while True:
            chunk = self._pipe.read(CHUNK)
            if not chunk:
                break
            self.data = (self.data + chunk)[-STDERR_TAIL:]

    def join(self):
        self._thread.join()
        self._pipe.close()
        return self.data


def _write_all(fd, view):
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send_file(source, fd):
    """Copy the open file source to the pipe fd: by the kernel (sendfile) where it can, else in chunks."""
    try:
        while os.sendfile(fd, source.fileno(), None, CHUNK * 8) > 0:
            pass
        return
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        count = source.readinto(buf)
        if not count:
            return
        _write_all(fd, view[:count])


def _receive_file(fd, target):
    """Copy the pipe fd to the open file target in chunks, to the end of the stream."""
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            return
        target.write(chunk)


class PartitionRunner:
    """One partition on one VPS host: argv inside it, and files in and out of it."""

    def __init__(self, transport, name, state_dir, runtime="auto"):
        self.transport = transport
        self.name = check_name(name)
        self.state_dir = state_dir
        self.runtime = runtime_of(runtime, transport, state_dir, self.name)
        self.root = os.path.join(state_dir, self.runtime) if self.runtime else None

    def _runtime_argv(self):
        """The runtime with its root, or the VPS host's pick of it, before its command."""
        if self.runtime:
            return [self.runtime, "--root", self.root]
        return ["/bin/sh", "-c", PICK_SCRIPT, "sh", self.state_dir, self.name]

    @property
    def label(self):
        """``partition web1 on host vps1`` / ``... on this host``."""
        return "partition %s on %s" % (self.name, self.transport.label)

    def argv(self, inner):
        """The command line on the VPS host that runs inner inside the partition."""
        if self.runtime:
            return exec_argv(self.runtime, self.root, self.name, inner, env=EXEC_ENV)
        return self._runtime_argv() + exec_args(self.name, inner, env=EXEC_ENV)

    def popen(self, inner, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        return self.transport.popen(self.argv(inner), stdin=stdin, stdout=stdout, stderr=stderr)

    def state_argv(self):
        document = os.path.join(self.state_dir, "partitions", self.name, "partition.json")
        return ["/bin/sh", "-c", STATE_SCRIPT, "sh", document] + self._runtime_argv() + ["state", self.name]

    def check_failure(self, rc, stderr):
        """After a command inside ended with rc and stderr: raise if it never ran because the host or the
        partition is unreachable; return when the failure (if any) is the command's own."""
        if self.transport.unreachable(rc, stderr):
            raise HostTransportError("cannot reach %s for %s over ssh: %s"
                                     % (self.transport.label, self.label, text(stderr).strip()))
        names = [self.runtime] if self.runtime else RUNTIMES[1:]
        missing = [name for name in names if name.encode() in (stderr or b"")]
        if not self.transport.local and rc == 127 and missing:
            raise PartitionUnreachable("%s: the runtime %s is not installed on %s"
                                       % (self.label, missing[0], self.transport.label))
        if not runtime_failed(rc, stderr):
            return
        state_rc, out, err = self.transport.run(self.state_argv(), timeout=60)
        if self.transport.unreachable(state_rc, err):
            raise HostTransportError("cannot reach %s for %s over ssh: %s" % (self.transport.label, self.label, text(err).strip()))
        problem = state_problem(state_rc, out, err)
        if problem:
            raise PartitionUnreachable("%s %s (state directory %s): %s"
                                       % (self.label, problem, self.state_dir, runtime_message(stderr)))

    def put(self, local_path, remote_path):
        """Stream the controller's file local_path to remote_path inside (written by the partition's root)."""
        with open(local_path, "rb") as source:
            proc = self.popen(["/bin/sh", "-c", PUT_SCRIPT, "sh", remote_path], stdout=subprocess.DEVNULL)
            tail = _Tail(proc.stderr)
            broken = False
            try:
                _send_file(source, proc.stdin.fileno())
            except BrokenPipeError:
                broken = True  # the command ended early: its status and stderr say why
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    broken = True
            rc = proc.wait()
            stderr = tail.join()
        self.check_failure(rc, stderr)
        if rc != 0 or broken:
            raise TransferFailed("put %s into %s failed (rc %s): %s" % (remote_path, self.label, rc, text(stderr).strip()))

    def fetch(self, remote_path, local_path):
        """Stream remote_path inside the partition to the controller's file local_path."""
        proc = self.popen(["/bin/sh", "-c", FETCH_SCRIPT, "sh", remote_path], stdin=subprocess.DEVNULL)
        tail = _Tail(proc.stderr)
        try:
            with open(local_path, "wb") as target:
                _receive_file(proc.stdout.fileno(), target)
        finally:
            proc.stdout.close()
            rc = proc.wait()
            stderr = tail.join()
        self.check_failure(rc, stderr)
        if rc != 0:
            raise TransferFailed("fetch %s from %s failed (rc %s): %s" % (remote_path, self.label, rc, text(stderr).strip()))
