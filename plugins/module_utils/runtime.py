# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driver for the OCI runtime CLI (runc by default, crun where it works)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import (
    CommandFailed,
    InvalidOption,
    MissingDependency,
    PartitionError,
)

SIGKILL = 9
STAT_FILE = "/proc/stat"
INSTALL_HINT = "Install it with 'apt-get install runc' (Debian/Ubuntu) or 'dnf install runc' (RPM family)."


def select_runtime(choice="auto", root=None):
    """Return an OciRuntime for runtime option 'auto', 'runc' or 'crun'.

    auto prefers runc: crun refuses cgroup v1 hybrid hosts, and runc runs everywhere we test.
    """
    if choice not in ("auto", "runc", "crun"):
        raise InvalidOption("runtime", choice, "must be one of auto, runc, crun")
    names = ["runc", "crun"] if choice == "auto" else [choice]
    for name in names:
        path = find_program(name)
        if path:
            return OciRuntime(path, root)
    raise MissingDependency(" or ".join(names), INSTALL_HINT)


def exec_argv(binary, root, container_id, argv, cwd=None, env=None):
    """The command line that runs argv inside a running container: in all of its namespaces and its cgroup,
    as its init's user, with its capabilities, seccomp filter and no_new_privileges (the runtime takes them from
    the container's config). stdin, stdout and stderr pass through, never a terminal.

    One builder for every door in: partition_exec on the host, the connection plugin locally and, shell-quoted,
    over SSH. env: extra variables (a dict); cwd: the working directory inside (default: the config's).
    """
    cmd = [binary]
    if root:
        cmd += ["--root", root]
    cmd.append("exec")
    if cwd:
        cmd += ["--cwd", cwd]
    for key in sorted(env or {}):
        cmd += ["--env", "%s=%s" % (key, env[key])]
    return cmd + ["--", container_id] + list(argv)


def boot_time(stat_file=STAT_FILE):
    """When this boot began (seconds since the epoch), from the kernel's btime."""
    with open(stat_file) as handle:
        for line in handle:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise PartitionError("no btime line in %s" % stat_file)


class OciRuntime:
    """One runtime binary with one state root (--root).

    The root lives in the state directory, so it outlives a reboot: a container whose state the runtime cannot
    load and whose state was written before this boot began (a power loss tore its state.json) is stale. No
    process of it survived the reboot, so it is reported as absent, and its state is removed by the next create
    or delete (which are changes, never a read's).
    """

    def __init__(self, binary, root, stat_file=STAT_FILE):
        self.binary = binary
        self.root = root
        self.stat_file = stat_file
        self.stale = set()

    @property
    def name(self):
        return self.binary.rsplit("/", 1)[-1]

    def _cmd(self, *args):
        cmd = [self.binary]
        if self.root:
            cmd += ["--root", self.root]
        return cmd + list(args)

    def exec_argv(self, container_id, argv, cwd=None, env=None):
        return exec_argv(self.binary, self.root, container_id, argv, cwd, env)

    def state(self, container_id):
        """The runtime's state dict (status created|running|paused|stopped, pid), or None if unknown."""
        rc, out, err = run(self._cmd("state", container_id), check=False)
        if rc != 0:
            if "does not exist" in err or "not exist" in out or "No such file" in err:
                return None
            if self._from_earlier_boot(container_id):
                self.stale.add(container_id)
                return None
            raise CommandFailed(self._cmd("state", container_id), rc, out, err)
        return json.loads(out)

    def _from_earlier_boot(self, container_id):
        """Whether the container's state in root was last written before this boot began."""
        if not self.root:
            return False
        directory = os.path.join(self.root, container_id)
        for path in (os.path.join(directory, "state.json"), directory):
            try:
                return os.stat(path).st_mtime < boot_time(self.stat_file)
            except FileNotFoundError:
                continue
        return False

    def _forget_stale(self, container_id):
        """Remove the state of a container reported stale (see the class)."""
        if container_id in self.stale:
            shutil.rmtree(os.path.join(self.root, container_id), ignore_errors=True)
            self.stale.discard(container_id)

    def list(self):
        """{id: state} for every container under this root, in one call (for bulk reads)."""
        rc, out, err = run(self._cmd("list", "--format", "json"), check=False)
        if rc != 0:
            raise CommandFailed(self._cmd("list", "--format", "json"), rc, out, err)
        return dict((item["id"], item) for item in (json.loads(out or "null") or []))

    def create(self, container_id, bundle, pid_file, console):
        """Create the container with init's stdio on console's sink (console.py), never on our pipes.

        The runtime's own error goes to the same sink, so on failure it is read back from there.
        console None: init keeps this process's stdout and stderr (a systemd unit's journal), where the
        runtime's error then is too.
        """
        self._forget_stale(container_id)
        cmd = self._cmd("create", "--bundle", bundle, "--pid-file", pid_file, container_id)
        if console is None:
            sys.stdout.flush()
            rc = run(cmd, output_file=sys.stdout, check=False)[0]
            if rc != 0:
                raise CommandFailed(cmd, rc, "", "its error is in the unit's journal")
            return
        sink = console.open()
        rc = None
        try:
            rc = run(cmd, output_file=sink.stream, check=False)[0]
            if rc != 0:
                raise CommandFailed(cmd, rc, "", sink.written())
        finally:
            sink.close(created=rc == 0)

    def start(self, container_id):
        run(self._cmd("start", container_id))

    def kill(self, container_id, signal):
        rc, out, err = run(self._cmd("kill", container_id, str(signal)), check=False)
        # A container that stopped meanwhile is not an error for a caller that wants it stopped.
        if rc != 0 and "not running" not in err and "process already finished" not in err and "does not exist" not in err:
            raise CommandFailed(self._cmd("kill", container_id, str(signal)), rc, out, err)

    def delete(self, container_id):
        self._forget_stale(container_id)
        rc, out, err = run(self._cmd("delete", "--force", container_id), check=False)
        if rc != 0 and "does not exist" not in err:
            raise CommandFailed(self._cmd("delete", "--force", container_id), rc, out, err)

    def pause(self, container_id):
        run(self._cmd("pause", container_id))

    def resume(self, container_id):
        run(self._cmd("resume", container_id))

    def wait_stopped(self, container_id, timeout, interval=0.1):
        """Poll until the container has stopped or is gone; True if it did within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(container_id)
            if state is None or state.get("status") == "stopped":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def stop(self, container_id, signal, timeout):
        """Ask init to shut down, wait, then kill what is left; finally delete the container."""
        state = self.state(container_id)
        if state is None:
            return
        if state.get("status") == "paused":
            self.resume(container_id)  # frozen tasks would not see any signal
        if state.get("status") in ("running", "paused"):
            self.kill(container_id, signal)
            if not self.wait_stopped(container_id, timeout):
                self.kill(container_id, SIGKILL)  # PID 1 of a pid namespace takes the rest with it
                if not self.wait_stopped(container_id, 10):
                    raise PartitionError("partition %s did not stop after SIGKILL" % container_id)
        self.delete(container_id)
