# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driver for the OCI runtime CLI (runc by default, crun where it works)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import select
import shutil
import sys
import tempfile
import threading
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import (
    CommandFailed,
    InvalidOption,
    MissingDependency,
    PartitionError,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.lowlevel import MOUNTINFO, mount_at

SIGKILL = 9
STAT_FILE = "/proc/stat"
INSTALL_HINT = "Install it with 'apt-get install runc' (Debian/Ubuntu) or 'dnf install runc' (RPM family)."
RUNTIME_NAMES = ("runc", "crun")
UNIFIED_ROOT = "/sys/fs/cgroup"
# The crun probe's answer, once per boot (a tmpfs) and binary.
PROBE_CACHE_DIR = "/run/linuxvps"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
# Where each runtime keeps a container's state in its root (torn by a power loss: see OciRuntime).
STATE_FILES = ("state.json", "status")
# What the runtimes say when the container is not there or no longer runs (runc's and crun's words).
GONE = ("does not exist", "No such file", "not exist")
NOT_RUNNING = ("not running", "process already finished", "No such process") + GONE
# A freeze the kernel did not finish in time (cgroup v1's freezer, tasks busy forking or in the kernel, as when many
# partitions start at once): the runtime thaws what it froze and says so; the freeze is tried again a few times.
NOT_FROZEN = ("unable to freeze", "freezer")
FREEZE_ATTEMPTS = 5


def runtime_root(state_root, name):
    """Each runtime's own --root in the state directory (runc/ as ever, crun/): neither reads the other's state."""
    return os.path.join(state_root, name)


def pure_unified(mountinfo=MOUNTINFO, root=UNIFIED_ROOT):
    """Whether root is the cgroup2 filesystem itself (a pure v2 host), not the tmpfs of a v1 or hybrid host."""
    try:
        found = mount_at(os.path.normpath(root), mountinfo)
    except (IOError, OSError):
        return False
    return found is not None and found.fstype == "cgroup2"


def select_runtime(choice="auto", state_root=None, mountinfo=MOUNTINFO, probe=None):
    """Return the Runtimes of a state directory, whose new containers use the runtime option's choice.

    auto: crun where it is installed, the host is pure cgroup v2 and a container of it runs (probe_works, once
    per boot); else runc (crun refuses cgroup v1 and hybrid hosts), and crun only where runc is missing.
    """
    if choice not in ("auto",) + RUNTIME_NAMES:
        raise InvalidOption("runtime", choice, "must be one of auto, runc, crun")
    if choice != "auto":
        path = find_program(choice)
        if not path:
            raise MissingDependency(choice, INSTALL_HINT)
        return Runtimes(OciRuntime(path, _root(state_root, choice)), state_root, explicit=True)
    crun, runc = find_program("crun"), find_program("runc")
    if crun and pure_unified(mountinfo) and (probe or probe_works)(crun):
        return Runtimes(OciRuntime(crun, _root(state_root, "crun")), state_root)
    for path, name in ((runc, "runc"), (crun, "crun")):
        if path:
            return Runtimes(OciRuntime(path, _root(state_root, name)), state_root)
    raise MissingDependency("runc or crun", INSTALL_HINT)


def _root(state_root, name):
    return runtime_root(state_root, name) if state_root else None


def probe_works(binary, cache_dir=PROBE_CACHE_DIR, boot_id_file=BOOT_ID_FILE):
    """Whether binary runs a container on this host: /usr/bin/true in its own namespaces and cgroup on a
    read-only view of /usr (tens of milliseconds). Asked once per boot and binary: the answer is kept in
    cache_dir, a tmpfs that a reboot empties (the key names the boot too, for a cache_dir that is not one)."""
    try:
        with open(boot_id_file) as handle:
            boot_id = handle.read().strip()
        info = os.stat(binary)
    except (IOError, OSError):
        return False
    facts = (boot_id, os.path.realpath(binary), info.st_size, info.st_mtime, probe_config(""))  # a changed probe asks again
    key = hashlib.sha256(repr(facts).encode()).hexdigest()[:16]
    cached = os.path.join(cache_dir, "runtime-probe-%s" % key)
    try:
        with open(cached) as handle:
            return handle.read().strip() == "works"
    except (IOError, OSError):
        pass
    works = _run_probe(binary)
    try:
        os.makedirs(cache_dir, 0o755, exist_ok=True)
        partial = "%s.%d" % (cached, os.getpid())  # runs probing at once each write their own
        with open(partial, "w") as handle:
            handle.write("works\n" if works else "fails\n")
        os.rename(partial, cached)
    except (IOError, OSError):
        pass  # not cached: asked again next time
    return works


def probe_config(cgroup):
    """The probe container's config.json: nothing but /usr (read-only), /proc and /dev, no network namespace."""
    return {
        "ociVersion": "1.0.2",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["/usr/bin/true"], "cwd": "/", "env": ["PATH=/usr/bin"],
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "probe",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   # the runtime makes /dev/null and the other default devices in it (crun needs /dev to exist)
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "mode=755", "size=64k"]},
                   {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro", "nosuid", "nodev"]}],
        "linux": {"namespaces": [{"type": name} for name in ("pid", "mount", "ipc", "uts", "cgroup")],
                  "cgroupsPath": cgroup},
    }


def _run_probe(binary):
    directory = tempfile.mkdtemp(prefix="linuxvps-runtime-probe-")
    name = "linuxvps-probe-%d" % os.getpid()
    try:
        rootfs = os.path.join(directory, "rootfs")
        for sub in ("proc", "dev", "usr"):
            os.makedirs(os.path.join(rootfs, sub))
        for link in ("bin", "lib", "lib64", "sbin"):  # merged /usr: the loader's path goes through these
            os.symlink("usr/" + link, os.path.join(rootfs, link))
        with open(os.path.join(directory, "config.json"), "w") as handle:
            json.dump(probe_config("/" + name), handle)
        state = os.path.join(directory, "state")
        try:
            rc = run([binary, "--root", state, "run", "--bundle", directory, name], check=False)[0]
        finally:
            run([binary, "--root", state, "delete", "--force", name], check=False)
        return rc == 0
    except (IOError, OSError, PartitionError):
        return False
    finally:
        shutil.rmtree(directory, ignore_errors=True)


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
    return cmd + exec_args(container_id, argv, cwd, env)


def exec_args(container_id, argv, cwd=None, env=None):
    """exec_argv after the runtime's global options (the same for runc and crun)."""
    cmd = ["exec"]
    if cwd:
        cmd += ["--cwd", cwd]
    for key in sorted(env or {}):
        cmd += ["--env", "%s=%s" % (key, env[key])]
    return cmd + ["--", container_id] + list(argv)


class InitWatch:
    """Waits for one process (a container's init) to end without running any program: on a pidfd (Linux 5.3+,
    Python 3.9+), else by looking at /proc/<pid>/stat every interval. Open it right after the runtime named the
    pid, so that the pid has had no time to be reused; the runtime's word after the end settles it all the same
    (OciRuntime.wait_stopped)."""

    def __init__(self, pid, proc="/proc"):
        self.pid = pid
        self.proc = proc
        self.fd = None
        self.ended = False
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is None:
            return
        try:
            self.fd = pidfd_open(pid)
        except OSError as exc:
            # ESRCH: gone already; ENOSYS (an older kernel) and the rest: /proc is looked at instead
            self.ended = exc.errno == errno.ESRCH

    def wait(self, timeout, interval=0.1):
        """Whether the process ended within timeout (seconds)."""
        if self.ended:
            return True
        if self.fd is not None:
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            self.ended = bool(poller.poll(max(0, timeout) * 1000))  # readable once the process has exited
            return self.ended
        deadline = time.monotonic() + timeout
        while not self._gone():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(interval, max(0, deadline - time.monotonic())))
        self.ended = True
        return True

    def _gone(self):
        """Whether the process has exited: no /proc entry, or a zombie not reaped yet (its exit is what counts)."""
        try:
            with open("%s/%d/stat" % (self.proc, self.pid), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return True
        except OSError:  # ESRCH while it goes, or no /proc here: ask the kernel
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
            return False
        return data[data.rfind(b")") + 2:][:1] in (b"Z", b"X")

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


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
        # {container ID: the signal kill() sent it}: the stop of a container signalled already (a bulk call signals
        # all it stops first) does not signal it again. Bulk calls kill and stop from worker threads.
        self._signalled = {}
        self._signalled_lock = threading.Lock()

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
            if any(word in err for word in GONE) or "not exist" in out:
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
        for path in [os.path.join(directory, state) for state in STATE_FILES] + [directory]:
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
        if rc == 0:
            return dict((item["id"], item) for item in (json.loads(out or "null") or []))
        if not self.root or not os.path.isdir(self.root):
            raise CommandFailed(self._cmd("list", "--format", "json"), rc, out, err)
        # One container's torn state (a power loss) fails crun's whole listing: then each container is asked on
        # its own, so one torn before this boot is stale (absent) and one torn since is the error it is.
        listed = {}
        for container_id in sorted(os.listdir(self.root)):
            if os.path.isdir(os.path.join(self.root, container_id)):
                state = self.state(container_id)
                if state is not None:
                    listed[container_id] = state
        return listed

    def create(self, container_id, bundle, pid_file, console):
        """Create the container with init's stdio on console's sink (console.py), never on our pipes.

        The runtime's own error goes to the same sink, so on failure it is read back from there.
        console None: init keeps this process's stdout and stderr (a systemd unit's journal), where the
        runtime's error then is too.
        """
        self._forget_stale(container_id)
        self._take_signalled(container_id)  # nor has a new container of that name (see delete)
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
        if rc == 0:
            with self._signalled_lock:
                self._signalled[container_id] = str(signal)
        # A container that stopped meanwhile is not an error for a caller that wants it stopped.
        elif not any(word in err for word in NOT_RUNNING):
            raise CommandFailed(self._cmd("kill", container_id, str(signal)), rc, out, err)

    def _take_signalled(self, container_id):
        """The signal kill() last sent the container (None if none), forgotten: it counts for one stop."""
        with self._signalled_lock:
            return self._signalled.pop(container_id, None)

    def delete(self, container_id):
        self._forget_stale(container_id)
        self._take_signalled(container_id)  # the next container of that name has not been signalled
        rc, out, err = run(self._cmd("delete", "--force", container_id), check=False)
        if rc != 0 and not any(word in err for word in GONE):
            raise CommandFailed(self._cmd("delete", "--force", container_id), rc, out, err)

    def pause(self, container_id, attempts=FREEZE_ATTEMPTS, delay=0.2):
        for attempt in range(attempts):
            try:
                run(self._cmd("pause", container_id))
                return
            except CommandFailed as exc:
                if attempt + 1 == attempts or not any(word in (exc.stderr or "") for word in NOT_FROZEN):
                    raise
                time.sleep(delay * (attempt + 1))

    def resume(self, container_id):
        run(self._cmd("resume", container_id))

    def wait_stopped(self, container_id, timeout, interval=0.1, pid=None):
        """Wait until the container has stopped or is gone; True if it did within timeout.

        pid: its init's, from a state just read. Then the process itself is waited for (InitWatch), which runs no
        program, and the runtime is asked once at the end; without it, the runtime is asked every interval.
        """
        if not pid:
            return self._poll_stopped(container_id, time.monotonic() + timeout, interval)
        watch = InitWatch(pid)
        try:
            return self._wait_stopped(container_id, timeout, interval, watch)
        finally:
            watch.close()

    def _wait_stopped(self, container_id, timeout, interval, watch):
        deadline = time.monotonic() + timeout
        if watch is not None:
            watch.wait(timeout, interval)
        # The runtime has the last word, once: init's pid may have been reused before the watch was opened (it then
        # waited on another process). Still running there, the runtime is asked every interval until the deadline.
        return self._poll_stopped(container_id, deadline, interval)

    def _poll_stopped(self, container_id, deadline, interval):
        while True:
            state = self.state(container_id)
            if state is None or state.get("status") == "stopped":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def stop(self, container_id, signal, timeout, interval=0.1):
        """Ask init to shut down, wait, then kill what is left; finally delete the container.

        A container kill() sent the same signal already (the pre-signal of a bulk call) is not sent it again.
        """
        signalled = self._take_signalled(container_id)
        state = self.state(container_id)
        if state is None:
            return
        status = state.get("status")
        # watched from right after the state named init's pid, not to wait on a process that reused it
        watch = InitWatch(state["pid"]) if status in ("running", "paused") and state.get("pid") else None
        try:
            if status == "paused":
                self.resume(container_id)  # frozen tasks would not see any signal (one sent before is delivered now)
            if status in ("running", "paused"):
                if signalled != str(signal):
                    self.kill(container_id, signal)
                if not self._wait_stopped(container_id, timeout, interval, watch):
                    self.kill(container_id, SIGKILL)  # PID 1 of a pid namespace takes the rest with it
                    if not self._wait_stopped(container_id, 10, interval, watch):
                        raise PartitionError("partition %s did not stop after SIGKILL" % container_id)
        finally:
            if watch is not None:
                watch.close()
        self.delete(container_id)


class Runtimes:
    """A state directory's runtimes: a container is always driven by the runtime whose root holds it, so a
    partition never changes runtime while a container of it exists; new ones use the preferred runtime (the
    runtime option's choice), or under auto the runtime the partition's document recorded (for_start).

    OciRuntime's calls by container ID are here too, dispatched that way.
    """

    def __init__(self, preferred, state_root, explicit=False):
        self.preferred = preferred
        self.state_root = state_root
        self.explicit = explicit  # the runtime option named it: it also applies to a stopped partition's next start
        self._runtimes = {preferred.name: preferred}

    @property
    def name(self):
        return self.preferred.name

    @property
    def binary(self):
        return self.preferred.binary

    @property
    def root(self):
        return self.preferred.root

    def named(self, name):
        """The OciRuntime called name with its root in the state directory; None when it is not installed."""
        if name not in self._runtimes:
            path = find_program(name) if name in RUNTIME_NAMES else None
            # setdefault: worker threads asking at once all get the one instance (it remembers what it signalled)
            return self._runtimes.setdefault(name, OciRuntime(path, _root(self.state_root, name)) if path else None)
        return self._runtimes[name]

    def _names(self):
        return [self.preferred.name] + [name for name in RUNTIME_NAMES if name != self.preferred.name]

    def owner(self, container_id):
        """The runtime whose root holds the container, or None when none does. Its root holding it while the
        runtime is gone from the host is an error that names it."""
        if not self.state_root:
            return self.preferred
        for name in self._names():
            if os.path.isdir(os.path.join(runtime_root(self.state_root, name), container_id)):
                found = self.named(name)
                if found is None:
                    raise MissingDependency(name, "The container %s was made by %s; install it again to drive it."
                                            % (container_id, name))
                return found
        return None

    def of(self, container_id):
        """The runtime that drives the container: its owner, else the preferred one."""
        return self.owner(container_id) or self.preferred

    def for_start(self, container_id, recorded=None):
        """The runtime that makes the partition's next container: the one holding a container of it (stale or
        not); else, unless the option named a runtime, the one its document recorded when still installed; else
        the preferred one."""
        found = self.owner(container_id)
        if found is not None:
            return found
        if not self.explicit and recorded in RUNTIME_NAMES and self.named(recorded) is not None:
            return self.named(recorded)
        return self.preferred

    def exec_argv(self, container_id, argv, cwd=None, env=None):
        return self.of(container_id).exec_argv(container_id, argv, cwd, env)

    def state(self, container_id):
        found = self.owner(container_id)
        return found.state(container_id) if found is not None else None

    def list(self):
        """{id: state} of every container in every runtime's root there is, in one call per runtime; each state
        names its runtime."""
        listed = {}
        for name in self._names():
            root = runtime_root(self.state_root, name) if self.state_root else None
            if root and not os.path.isdir(root):
                continue
            found = self.named(name) if root else self.preferred
            if found is None:
                continue
            for container_id, state in found.list().items():
                listed.setdefault(container_id, dict(state, runtime=name))
            if not root:
                break
        return listed

    def create(self, container_id, bundle, pid_file, console, recorded=None):
        self.for_start(container_id, recorded).create(container_id, bundle, pid_file, console)

    def start(self, container_id):
        self.of(container_id).start(container_id)

    def kill(self, container_id, signal):
        found = self.owner(container_id)
        if found is not None:
            found.kill(container_id, signal)

    def delete(self, container_id):
        found = self.owner(container_id)
        if found is not None:
            found.delete(container_id)

    def pause(self, container_id):
        self.of(container_id).pause(container_id)

    def resume(self, container_id):
        self.of(container_id).resume(container_id)

    def wait_stopped(self, container_id, timeout, interval=0.1, pid=None):
        found = self.owner(container_id)
        return True if found is None else found.wait_stopped(container_id, timeout, interval, pid)

    def stop(self, container_id, signal, timeout):
        found = self.owner(container_id)
        if found is not None:
            found.stop(container_id, signal, timeout)
