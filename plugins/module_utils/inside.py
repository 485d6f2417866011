# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running commands inside running partitions: in all of their namespaces and their cgroup, as their root, by the
runtime's exec (runtime.exec_argv, the one door in).

Several commands run side by side in one loop (``drive``), each with its output bounded, its stdin fed without
blocking, and a deadline past which it is killed with everything it started (proctree.py). What a tenant's
programs do never blocks the host for longer than the deadline, nor takes more of its memory than the bound.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import selectors
import subprocess
import time

from ansible.module_utils.six import string_types

from ansible_collections.linuxvps.partitions.plugins.module_utils import proctree
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, NotFound, NotRunning, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import normalise_env, validate_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_tree import is_directory_at, lookup_at

SHELL = "/bin/sh"
MAX_OUTPUT = 32 * 1024 * 1024  # per stream of a command: what a module result can reasonably carry
CHUNK = 65536
KILL_GRACE = 5.0  # seconds the runtime has to report a killed command's end before it is killed too
MAX_TIMEOUT = 7 * 24 * 3600


class InsideRun:
    """One command started by the runtime's exec: its output (bounded), its stdin and how it ended."""

    def __init__(self, argv, stdin=None, limit=MAX_OUTPUT, label=None):
        self.argv = list(argv)
        self.stdin = stdin  # bytes or None
        self.limit = limit
        self.label = label
        self.proc = None
        self.output = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated = set()
        self.timed_out = False
        self.rc = None
        self.started = None
        self.ended = None

    def start(self):
        self.started = time.time()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE if self.stdin is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
        for stream in self._streams():
            fcntl.fcntl(stream, fcntl.F_SETFL, fcntl.fcntl(stream, fcntl.F_GETFL) | os.O_NONBLOCK)
        return self

    def _streams(self):
        return [stream for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr) if stream is not None]

    def register(self, selector):
        self._pending_input = memoryview(self.stdin or b"")
        if self.proc.stdin is not None:
            if self.stdin:
                selector.register(self.proc.stdin, selectors.EVENT_WRITE, (self, "stdin"))
            else:
                self.proc.stdin.close()
        selector.register(self.proc.stdout, selectors.EVENT_READ, (self, "stdout"))
        selector.register(self.proc.stderr, selectors.EVENT_READ, (self, "stderr"))

    def handle(self, selector, stream, which):
        """Move data for one ready stream; unregister and close it at its end."""
        if which == "stdin":
            try:
                written = os.write(stream.fileno(), self._pending_input[:CHUNK])
                self._pending_input = self._pending_input[written:]
                done = not self._pending_input
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                done = True  # the command stopped reading: the rest of its input is not wanted
        else:
            try:
                data = os.read(stream.fileno(), CHUNK)
            except BlockingIOError:
                return
            room = self.limit - len(self.output[which])
            if len(data) > room:
                self.truncated.add(which)
            self.output[which] += data[:max(room, 0)]  # the rest is read and dropped, so the command never blocks on it
            done = not data
        if done:
            selector.unregister(stream)
            stream.close()

    def kill(self):
        """End the command and everything it started; the runtime's exec then reports its end."""
        self.timed_out = True
        try:
            proctree.kill_tree(self.proc.pid)
        except Exception:
            self.proc.kill()  # the runtime at least: what it ran must never outlive a failed kill unnoticed
            raise

    def finish(self):
        self.rc = self.proc.wait()
        self.ended = time.time()

    def text(self, which):
        return bytes(self.output[which]).decode("utf-8", "replace")


def drive(runs, deadline, clock=time.monotonic):
    """Run every InsideRun (started) to its end, side by side; those still running at deadline (a clock() value, or
    None for none) are killed with what they started. Returns runs."""
    selector = selectors.DefaultSelector()
    try:
        for run in runs:
            run.register(selector)
        killed_at = None
        while selector.get_map():
            now = clock()
            if deadline is not None and now >= deadline and killed_at is None:
                for run in runs:
                    if run.proc.poll() is None:
                        run.kill()
                killed_at = now
            if killed_at is not None and now - killed_at > KILL_GRACE:
                for run in runs:
                    if run.proc.poll() is None:
                        run.proc.kill()  # the runtime itself did not end: what it ran is dead already
                killed_at = now
            wait = None if deadline is None else max(0.0, (deadline if killed_at is None else killed_at + KILL_GRACE) - now)
            for key, _events in selector.select(wait if wait is None else min(wait, 1.0)):
                run, which = key.data
                run.handle(selector, key.fileobj, which)
        for run in runs:  # output ended; the command may still run (it closed its output): it gets to the deadline
            try:
                run.proc.wait(None if deadline is None else max(0.0, deadline - clock()))
            except subprocess.TimeoutExpired:
                run.kill()
                try:
                    run.proc.wait(KILL_GRACE)
                except subprocess.TimeoutExpired:
                    run.proc.kill()
            run.finish()
    finally:
        selector.close()
        for run in runs:  # an error above (or an interrupt) leaves nothing running inside for nobody to wait for
            if run.proc.poll() is None:
                try:
                    proctree.kill_tree(run.proc.pid)
                finally:
                    run.proc.kill()
                    run.proc.wait()
    return runs


# ---- partition_exec --------------------------------------------------------------------------------------------
class ExecRequest:
    """A validated partition_exec call: what to run inside, where, with what."""

    def __init__(self, name, argv, cwd=None, env=None, stdin=None, creates=None, removes=None, timeout=None):
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = env or {}
        self.stdin = stdin
        self.creates = creates
        self.removes = removes
        self.timeout = timeout


def command_argv(argv=None, command=None):
    """The argv run inside: argv as given, or command run by /bin/sh -c. Exactly one of them."""
    if (argv is None) == (command is None):
        raise InvalidOption("argv", argv, "give exactly one of argv and command")
    if command is not None:
        if not isinstance(command, string_types) or not command.strip():
            raise InvalidOption("command", command, "must be a non-empty string")
        _refuse_nul("command", command)
        return [SHELL, "-c", command]
    if not isinstance(argv, list) or not argv or not all(isinstance(item, string_types) for item in argv):
        raise InvalidOption("argv", argv, "must be a non-empty list of strings")
    if not argv[0]:
        raise InvalidOption("argv", argv, "the program (argv[0]) must not be empty")
    for item in argv:
        _refuse_nul("argv", item)
    return list(argv)


def exec_request(params):
    """ExecRequest from partition_exec's parameters; InvalidOption naming the option before anything runs."""
    name = validate_name(params["name"])
    argv = command_argv(params.get("argv"), params.get("command"))
    cwd = params.get("chdir")
    if cwd is not None:
        cwd = _inside_path("chdir", cwd)
    env = normalise_env(params.get("env"), "env")
    for key, value in env.items():
        _refuse_nul("env", value)
    stdin = params.get("stdin")
    if stdin is not None:
        if params.get("stdin_add_newline", True):
            stdin += "\n"
        stdin = stdin.encode("utf-8", "surrogateescape")
    paths = {}
    for option in ("creates", "removes"):
        value = params.get(option)
        if value is not None:
            _refuse_nul(option, value)
            paths[option] = _inside_path(option, value if value.startswith("/") else os.path.join(cwd or "/", value))
    timeout = params.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT):
        raise InvalidOption("timeout", timeout, "must be a number of seconds from 1 to %d (leave it out for no limit)" % MAX_TIMEOUT)
    return ExecRequest(name, argv, cwd, env, stdin, paths.get("creates"), paths.get("removes"), timeout)


def _inside_path(option, value):
    if not isinstance(value, string_types) or not value.startswith("/"):
        raise InvalidOption(option, value, "must be an absolute path inside the partition")
    _refuse_nul(option, value)
    return "/" + os.path.normpath(value).lstrip("/")


def _refuse_nul(option, value):
    if "\0" in value:
        raise InvalidOption(option, value, "must not contain a NUL character")


def running_init(engine, name):
    """The host PID of the partition's init; NotFound or NotRunning (naming the partition and the state directory)
    when it is absent, stopped or frozen: there is nothing to run a command in."""
    observed = engine.observe(name)
    where = "in %s" % engine.store.root
    if observed["document"] is None and not observed["runtime_exists"]:
        raise NotFound("partition %s does not exist %s" % (name, where), partition=name)
    if observed["status"] != "running" or not observed["pid"]:
        raise NotRunning("partition %s is %s %s; a command runs only in a running partition"
                         % (name, observed["status"], where), partition=name, state=observed["status"])
    return observed["pid"], observed["document"]


class PartitionRoot:
    """The running partition's own root (/proc/<init>/root: its mounts, /tmp included), held open, proven to be its
    disk's root so that a PID reused by another process is never looked into."""

    def __init__(self, engine, name, pid, document):
        self.label = "partition %s" % name
        self.fd = None
        try:
            self.fd = os.open("/proc/%d/root" % pid, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            disk_root = engine.disk((document or {}).get("spec") or {"name": name}).root_path
            mine, disk = os.fstat(self.fd), os.stat(disk_root)
        except OSError as exc:
            self.close()
            raise NotRunning("partition %s: its init (pid %d) is gone: %s" % (name, pid, exc.strerror), partition=name)
        if (mine.st_dev, mine.st_ino) != (disk.st_dev, disk.st_ino):
            self.close()
            raise NotRunning("partition %s: pid %d no longer is its init" % (name, pid), partition=name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def holds(self, path):
        return lookup_at(self.fd, self.label, path, cross_mounts=True) is not None

    def is_directory(self, path):
        return is_directory_at(self.fd, self.label, path, cross_mounts=True)


def skip_reason(request, root):
    """Why creates/removes say the command need not run, or None when it runs."""
    if request.creates is not None and root.holds(request.creates):
        return "skipped, since %s exists" % request.creates
    if request.removes is not None and not root.holds(request.removes):
        return "skipped, since %s does not exist" % request.removes
    return None


class ExecOutcome:
    """What partition_exec reports: ran (or would), skipped with why, and the command's end."""

    def __init__(self, request, run=None, skipped=None):
        self.request = request
        self.run = run
        self.skipped = skipped


def execute(engine, request, check_mode=False):
    """Run request in its partition (in check mode, only decide whether it would); an ExecOutcome."""
    pid, document = running_init(engine, request.name)
    with PartitionRoot(engine, request.name, pid, document) as root:
        if request.cwd is not None and not root.is_directory(request.cwd):
            raise InvalidOption("chdir", request.cwd, "is not a directory in partition %s" % request.name)
        reason = skip_reason(request, root)
    if reason is not None or check_mode:
        return ExecOutcome(request, skipped=reason)
    run = InsideRun(engine.runtime.exec_argv(request.name, request.argv, cwd=request.cwd, env=request.env),
                    stdin=request.stdin, label=request.name)
    try:
        run.start()
    except OSError as exc:
        raise PartitionError("partition %s: cannot run the runtime (%s): %s" % (request.name, run.argv[0], exc.strerror))
    drive([run], None if request.timeout is None else time.monotonic() + request.timeout)
    return ExecOutcome(request, run=run)
