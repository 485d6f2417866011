# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: partition
short_description: Run tasks inside a linuxvps partition through its OCI runtime
version_added: 0.2.0
author:
  - linuxvps.partitions contributors (@linuxvps)
description:
  - Runs commands and copies files inside a partition made by M(linuxvps.partitions.partition), without sshd or any
    network in the partition. Each command is C(runc exec) (the partition's runtime) on the VPS host that runs the
    partition, so it runs as the partition's root in all of its namespaces B(and in its cgroup), with its capabilities
    and seccomp filter, so what a play runs inside counts against the partition's limits, never the host's.
  - The VPS host is this machine (O(linuxvps_host) empty or V(localhost)) or a machine reached with the ssh client.
    All partitions on one VPS host share one multiplexed SSH master, started on first use and kept for 60 s after
    the last command; each command then costs one channel on that connection, and each file one more.
  - Files are streamed through the command's pipes (C(cat) inside the partition), written by the partition's root,
    with nothing written on the VPS host.
  - A partition that is stopped, frozen (paused) or absent makes the host unreachable, with a message that names
    the partition and the VPS host.
notes:
  - Modules need Python inside the partition (its template must include C(python3)). M(ansible.builtin.raw) works
    without it (with facts gathering off).
  - The VPS host needs the partition's runtime (C(runc) or C(crun)) and, reached over SSH, a login as root
    (or a user allowed to run the runtime on the state directory).
  - C(become) works inside where the partition has C(sudo) or C(su); partitions run with no_new_privileges off, so
    setuid programs work.
  - The connection runs as the partition's root; C(ansible_user) (remote_user) is ignored (use C(become) for another
    user inside).
seealso:
  - module: linuxvps.partitions.partition
options:
  remote_addr:
    description:
      - The partition's name.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  linuxvps_host:
    description:
      - The VPS host that runs the partition. Empty or V(localhost) means the machine this connection runs on
        (the controller); any other name or address is reached with the C(ssh) client.
    type: str
    default: ''
    vars:
      - name: linuxvps_host
    env:
      - name: LINUXVPS_HOST
  linuxvps_host_user:
    description: The user that logs in to the VPS host over SSH.
    type: str
    default: root
    vars:
      - name: linuxvps_host_user
    env:
      - name: LINUXVPS_HOST_USER
  linuxvps_host_port:
    description: The VPS host's SSH port (default the ssh client's, normally 22).
    type: int
    vars:
      - name: linuxvps_host_port
    env:
      - name: LINUXVPS_HOST_PORT
  linuxvps_host_private_key_file:
    description: The private key that logs in to the VPS host over SSH.
    type: path
    vars:
      - name: linuxvps_host_private_key_file
    env:
      - name: LINUXVPS_HOST_PRIVATE_KEY_FILE
  linuxvps_host_ssh_args:
    description:
      - Extra arguments of the ssh client for the VPS host, split like a shell would, e.g.
        C(-o StrictHostKeyChecking=accept-new -o ProxyJump=bastion). They come before the connection's own options,
        so they override them (ssh keeps the first value of an option).
      - Partitions whose VPS host settings differ in any of these options use separate SSH masters.
    type: str
    default: ''
    vars:
      - name: linuxvps_host_ssh_args
    env:
      - name: LINUXVPS_HOST_SSH_ARGS
    ini:
      - section: linuxvps_partition_connection
        key: ssh_args
  linuxvps_state_dir:
    description: The state directory on the VPS host, as the modules' O(linuxvps.partitions.partition#module:state_dir).
    type: path
    default: /var/lib/linuxvps
    vars:
      - name: linuxvps_state_dir
    env:
      - name: LINUXVPS_STATE_DIR
  linuxvps_runtime:
    description:
      - The runtime program that runs the partition. V(auto) takes the one the partition's state document recorded
        when the VPS host is this machine, else the VPS host picks, in the same command, the runtime whose state
        directory (C(crun/) or C(runc/) in the state directory) holds the partition's container.
    type: str
    choices: [auto, runc, crun]
    default: auto
    vars:
      - name: linuxvps_runtime
    env:
      - name: LINUXVPS_RUNTIME
  become_success_timeout:
    description: Seconds to wait for C(become) inside the partition to succeed (or to ask for its password).
    type: int
    default: 10
    vars:
      - name: ansible_linuxvps_become_success_timeout
  pipelining:
    description:
      - Send each module to the partition's Python on stdin instead of copying it in first, so a task costs one
        command inside instead of four or five.
      - On by default, unlike the ssh connection. Every command into a partition is a runtime exec (about 30 ms
        of CPU for runc), and the reason ssh leaves it off, C(requiretty) in sudoers, is something a partition's
        template decides; set it to V(false) where a template requires a tty for sudo.
      - Ansible turns it off by itself for a become method that cannot pipeline (su).
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
      - name: ansible_linuxvps_pipelining
"""

EXAMPLES = r"""
# inventory.yml: two partitions on this machine, one on vps1 over SSH
# all:
#   vars:
#     ansible_connection: linuxvps.partitions.partition
#   hosts:
#     web1: {}
#     web2: {linuxvps_state_dir: /srv/vps}
#     db1: {linuxvps_host: vps1.example.com, linuxvps_host_private_key_file: ~/.ssh/vps_ed25519}

- name: Reach partitions without sshd in them
  hosts: all
  gather_facts: false
  tasks:
    - name: Bootstrap Python where the template has none (raw needs nothing inside)
      ansible.builtin.raw: command -v python3 || (apt-get update && apt-get install -y python3 && echo installed)
      register: bootstrap
      changed_when: "'installed' in bootstrap.stdout"

    - name: Ping (modules need python3 inside)
      ansible.builtin.ping:
"""

import os
import selectors
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.linuxvps.partitions.plugins.plugin_utils.host_transport import HostTransport, HostTransportError
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.partition_runner import PartitionRunner, TransferFailed

display = Display()

DEFAULT_SHELL = "/bin/sh"


class Connection(ConnectionBase):
    """Commands and files inside a partition, by its runtime's exec on the VPS host."""

    transport = "linuxvps.partitions.partition"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self.runner = None

    def _connect(self):
        """No round trip: the first command shows whether the partition runs (an SSH master starts then)."""
        if not self._connected:
            try:
                transport = HostTransport(
                    host=self.get_option("linuxvps_host"),
                    user=self.get_option("linuxvps_host_user"),
                    port=self.get_option("linuxvps_host_port"),
                    private_key_file=self.get_option("linuxvps_host_private_key_file"),
                    ssh_args=self.get_option("linuxvps_host_ssh_args"),
                )
                self.runner = PartitionRunner(transport, self.get_option("remote_addr"),
                                              self.get_option("linuxvps_state_dir"), self.get_option("linuxvps_runtime"))
            except HostTransportError as exc:
                raise AnsibleConnectionFailure(exc.msg)
            display.vvv(u"ESTABLISH PARTITION CONNECTION TO %s (runtime %s)" % (self.runner.label, self.runner.runtime),
                        host=self.runner.name)
            self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        shell = (getattr(self._play_context, "executable", None) or DEFAULT_SHELL).split()[0]
        display.vvv(u"EXEC %s" % to_text(cmd), host=self.runner.name)
        try:
            proc = self.runner.popen([shell, "-c", to_text(cmd)])
            become_out, become_err = self._become_handshake(proc, sudoable)
            stdout, stderr = proc.communicate(in_data)
            self.runner.check_failure(proc.returncode, stderr)
        except HostTransportError as exc:
            raise AnsibleConnectionFailure(exc.msg)
        return proc.returncode, become_out + stdout, become_err + stderr

    def _become_handshake(self, proc, sudoable):
        """With become: read until the become plugin's success marker (sending its password at a prompt) and
        drop the marker; returns what came before on stderr and after the marker on stdout."""
        if not (sudoable and self.become and getattr(self.become, "success", None)):
            return b"", b""
        out, err = bytearray(), bytearray()
        captures = {proc.stdout: out, proc.stderr: err}
        sent = False
        deadline = time.monotonic() + max(1, self.get_option("become_success_timeout"))
        os.set_blocking(proc.stdout.fileno(), False)
        os.set_blocking(proc.stderr.fileno(), False)
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                selector.register(proc.stderr, selectors.EVENT_READ)
                while not self.become.check_success(bytes(out)):
                    if self.become.expect_prompt() and not sent and (
                            self.become.check_password_prompt(bytes(out)) or self.become.check_password_prompt(bytes(err))):
                        proc.stdin.write(to_bytes(self.become.get_option("become_pass") or "") + b"\n")
                        proc.stdin.flush()
                        sent = True
                    remaining = deadline - time.monotonic()
                    events = selector.select(remaining) if remaining > 0 and selector.get_map() else []
                    if not events:
                        self._abandon(proc)
                        self.runner.check_failure(proc.returncode, bytes(err))
                        raise AnsibleError("become inside %s did not succeed: %s"
                                           % (self.runner.label, to_text(bytes(err) or bytes(out)).strip() or "no output"))
                    for key, dummy in events:
                        chunk = key.fileobj.read()
                        if chunk:
                            captures[key.fileobj] += chunk
                        elif chunk is not None:  # end of the stream (None: nothing yet)
                            selector.unregister(key.fileobj)
        finally:
            for pipe in (proc.stdout, proc.stderr):
                if not pipe.closed:
                    os.set_blocking(pipe.fileno(), True)
        marker = to_bytes(self.become.success)
        after = bytes(out).split(marker, 1)[1]
        return after[1:] if after.startswith(b"\n") else after, bytes(err)

    @staticmethod
    def _abandon(proc):
        """Stop waiting for a command: end the runtime's process (or the ssh client) unless it ended, and close
        the pipes without reading on (what runs inside may hold them open)."""
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        proc.wait()

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        display.vvv(u"PUT %s TO %s" % (in_path, out_path), host=self.runner.name)
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_text(in_path))
        self._transfer(self.runner.put, in_path, out_path)

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv(u"FETCH %s TO %s" % (in_path, out_path), host=self.runner.name)
        self._transfer(self.runner.fetch, in_path, out_path)

    def _transfer(self, method, source, target):
        try:
            method(source, target)
        except TransferFailed as exc:
            raise AnsibleError(exc.msg)
        except HostTransportError as exc:
            raise AnsibleConnectionFailure(exc.msg)
        except OSError as exc:
            raise AnsibleError("%s: %s" % (self.runner.label, exc))

    def reset(self):
        """Nothing to reset: every command is a new exec (meta reset_connection is a no-op, not a warning)."""
        self.close()

    def close(self):
        """Nothing to close: the shared SSH master ends by itself when idle."""
        self._connected = False
