# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a command on the VPS host that holds the partitions, from the controller.

Shared by the partition connection plugin and the partitions inventory plugin. The host is this machine
(empty, None or ``localhost``: argv runs as it is) or a machine reached with the ssh client. Remotely, every
command of every plugin instance in every worker process goes through ONE multiplexed SSH master per
(user, host, port, key, ssh args): the first caller starts it under a lock file, later callers find its socket
and each command costs one channel on the open connection (no handshake). A master that died is started again.

Errors are typed (HostTransportError and subclasses) and carry no Ansible exception: each plugin maps them
to its own (AnsibleConnectionFailure, AnsibleParserError, ...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import hashlib
import os
import shlex
import socket
import subprocess
import tempfile

LOCAL_NAMES = ("", "localhost")
SSH_PROGRAM = "ssh"
# ssh exits with 255 when it could not connect or authenticate (a remote command's own 255 looks the same).
SSH_FAILED = 255
# A Unix socket's path is limited to 108 bytes (sun_path), and ssh adds a random suffix of up to 17
# characters to the path while it binds the master's socket: keep the whole path below this.
MAX_SOCKET_PATH = 90
DEFAULT_PERSIST = 60
MASTER_TIMEOUT = 60
CONNECT_TIMEOUT = 15


class HostTransportError(Exception):
    """Base of the transport's errors; msg names the host."""

    def __init__(self, msg):
        super(HostTransportError, self).__init__(msg)
        self.msg = msg


class HostUnreachable(HostTransportError):
    """The ssh client could not reach or log in to the VPS host."""


class HostProgramMissing(HostTransportError):
    """The program to run (the runtime, or the ssh client itself) is not installed where it must run."""


class HostTimeout(HostTransportError):
    """A command did not finish within its timeout (it was killed)."""


def is_local(host):
    return host is None or str(host).strip() in LOCAL_NAMES


def split_ssh_args(ssh_args):
    """ssh_args as a list: a string is split like a shell would, a list is taken as it is, None is empty."""
    if not ssh_args:
        return []
    if isinstance(ssh_args, (list, tuple)):
        return [str(arg) for arg in ssh_args]
    return shlex.split(str(ssh_args))


def quote_argv(argv):
    """argv as one remote shell command line that gives the remote program exactly these arguments."""
    return " ".join(shlex.quote(str(arg)) for arg in argv)


def default_control_dir():
    """Where master sockets live: ~/.ansible/cp like Ansible's ssh connection, unless that path is too long
    for a socket; then a private directory in the temporary directory."""
    home = os.path.expanduser("~")
    if home and home != "~":
        candidate = os.path.join(home, ".ansible", "cp")
        if len(candidate) + 1 + len(control_name("x")) <= MAX_SOCKET_PATH:
            return candidate
    return os.path.join(tempfile.gettempdir(), "lvp-%d" % os.getuid())


def control_name(key):
    """A short, fixed-length file name for one master (sockets have a 108-byte path limit)."""
    return "lvp-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class HostTransport:
    """argv on the VPS host: locally as it is, remotely through one shared SSH master.

    popen() returns a subprocess.Popen whose pipes are the remote program's stdin, stdout and stderr, so callers
    stream through them; run() is the buffered convenience for small outputs.
    """

    def __init__(self, host=None, user="root", port=None, private_key_file=None, ssh_args=None,
                 control_dir=None, control_persist=DEFAULT_PERSIST):
        self.host = None if is_local(host) else str(host).strip()
        if self.host is not None and self.host.startswith("-"):
            raise HostTransportError("invalid VPS host name %r: it must not begin with '-'" % self.host)
        self.user = user or "root"
        self.port = int(port) if port not in (None, "") else None
        # ~ and $VARS expanded here, at use: an AWX credential injects its key file under a path of each job's own
        self.private_key_file = os.path.expanduser(os.path.expandvars(private_key_file)) if private_key_file else None
        self.ssh_args = split_ssh_args(ssh_args)
        self.control_persist = int(control_persist)
        self._control_dir = control_dir

    @property
    def local(self):
        return self.host is None

    @property
    def label(self):
        """How messages name the host: ``host vps1`` or ``this host``."""
        return "this host" if self.local else "host %s" % self.host

    # --- the ssh command lines (pure, unit-tested) ---

    @property
    def control_path(self):
        key = "\0".join([self.user, self.host or "", str(self.port or ""), self.private_key_file or ""]
                        + self.ssh_args)
        return os.path.join(self._control_dir or default_control_dir(), control_name(key))

    def _ssh_options(self):
        """ssh's options except the multiplexing ones. The user's ssh_args come first: ssh keeps the first
        value it gets for an option, so they override the defaults after them."""
        opts = list(self.ssh_args)
        opts += ["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=%d" % CONNECT_TIMEOUT]
        if self.port:
            opts += ["-p", str(self.port)]
        if self.private_key_file:
            opts += ["-i", self.private_key_file, "-o", "IdentitiesOnly=yes"]
        opts += ["-l", self.user]
        return opts

    def master_argv(self):
        """The command that starts the shared master in the background (-f after authentication)."""
        return ([SSH_PROGRAM] + self._ssh_options()
                + ["-o", "ControlMaster=yes", "-o", "ControlPath=%s" % self.control_path,
                   "-o", "ControlPersist=%d" % self.control_persist, "-N", "-f", "--", self.host])

    def ssh_argv(self, argv):
        """The ssh command line that runs argv on the host through the master (never becoming one)."""
        return ([SSH_PROGRAM] + self._ssh_options()
                + ["-o", "ControlMaster=no", "-o", "ControlPath=%s" % self.control_path,
                   "-T", "--", self.host, quote_argv(argv)])

    def command(self, argv):
        """What popen() runs for argv: argv itself here, its ssh command line for a remote host."""
        if self.local:
            return list(argv)
        return self.ssh_argv(argv)

    # --- the shared master ---

    def _master_alive(self):
        """Whether a master listens on the control socket (a connect, no process); a dead one's socket is
        removed, so ssh can bind a new one there."""
        path = self.control_path
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOTSOCK):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            return False
        finally:
            probe.close()

    def ensure_master(self):
        """Start the shared master unless one is alive. One starter at a time (a lock file per master), so
        parallel workers do not race to bind the same socket; the others wait and then find it."""
        if self.local or self._master_alive():
            return
        directory = os.path.dirname(self.control_path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.control_path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not self._master_alive():
                self._start_master()
        finally:
            os.close(fd)

    def _start_master(self):
        # The master keeps the descriptors it inherited once it is in the background: its stderr goes to an
        # unnamed file, never to a pipe whose reader would wait for the master's end.
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(self.master_argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=errors, close_fds=True)
            except FileNotFoundError:
                raise HostProgramMissing("the ssh client (%s) is not installed on the controller; it is needed to "
                                         "reach %s" % (SSH_PROGRAM, self.label))
            try:
                rc = proc.wait(timeout=MASTER_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise HostUnreachable("cannot reach %s over ssh: no connection within %d s"
                                      % (self.label, MASTER_TIMEOUT))
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
        if rc != 0:
            raise HostUnreachable("cannot reach %s over ssh as %s: %s"
                                  % (self.label, self.user, message or "ssh exited with %d" % rc))

    # --- running commands ---

    def popen(self, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        """A Popen running argv (a list) on the host. stdin is /dev/null unless asked for: ssh would read the
        controller's own otherwise."""
        self.ensure_master()
        cmd = self.command(argv)
        try:
            return subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, close_fds=True)
        except FileNotFoundError:
            what = cmd[0] if self.local else "the ssh client (%s)" % SSH_PROGRAM
            where = "this host" if self.local else "the controller"
            raise HostProgramMissing("%s is not installed on %s" % (what, where))

    def run(self, argv, data=None, timeout=None):
        """(rc, stdout bytes, stderr bytes) of argv on the host; data (bytes) is its stdin."""
        proc = self.popen(argv, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL)
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise HostTimeout("%s did not finish within %s s on %s" % (quote_argv(argv[:3]), timeout, self.label))
        return proc.returncode, out, err

    def unreachable(self, rc, err):
        """Whether a finished command's (rc, stderr) says ssh itself failed (not the remote program)."""
        return not self.local and rc == SSH_FAILED and is_ssh_error(err)


def is_ssh_error(err):
    """Whether stderr looks like the ssh client's own failure (connection, resolution, authentication)."""
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or "")
    markers = ("ssh: ", "Connection refused", "Connection timed out", "Connection closed", "Permission denied",
               "Host key verification failed", "Could not resolve hostname", "No route to host",
               "kex_exchange_identification", "Connection reset")
    return any(marker in text for marker in markers)
