# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import socket
import sys
import time

import pytest

from ansible_collections.linuxvps.partitions.plugins.plugin_utils import host_transport
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.host_transport import (
    HostProgramMissing,
    HostTimeout,
    HostTransport,
    HostTransportError,
    HostUnreachable,
)

# A stand-in for the ssh client: as a master (-N -f) it binds the control socket in a background child that
# serves until killed; as a client it runs its last argument with sh, as sshd would with the login shell.
FAKE_SSH = r'''#!%(python)s
import os, socket, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
opts = [args[i + 1] for i, arg in enumerate(args) if arg == "-o"]
path = [o.split("=", 1)[1] for o in opts if o.startswith("ControlPath=")][0]
if os.environ.get("FAKE_SSH_FAIL"):
    sys.stderr.write("ssh: connect to host %%s port 22: Connection refused\n" %% args[-1])
    sys.exit(255)
if "-N" in args:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    child = os.fork()
    if child:
        with open(path + ".pid", "w") as pid_file:
            pid_file.write(str(child))
    else:
        os.setsid()
        while True:
            listener.accept()[0].close()
    sys.exit(0)
sys.exit(subprocess.call(["sh", "-c", args[-1]]))
'''


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    program = tmp_path / "ssh"
    program.write_text(FAKE_SSH % {"python": sys.executable})
    program.chmod(0o755)
    log = tmp_path / "ssh.log"
    log.write_text("")
    monkeypatch.setattr(host_transport, "SSH_PROGRAM", str(program))
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    control = tmp_path / "cp"
    masters = []

    def make(**kwargs):
        transport = HostTransport("vps1", control_dir=str(control), **kwargs)
        masters.append(transport.control_path)
        return transport

    yield make, log
    for path in masters:  # end the fake masters this test started
        kill_master(path)


def kill_master(path):
    try:
        with open(path + ".pid") as pid_file:
            os.kill(int(pid_file.read()), signal.SIGKILL)
        os.unlink(path + ".pid")
    except (OSError, ValueError):
        pass


def masters_started(log):
    return sum(1 for line in log.read_text().splitlines() if " -N " in line)


def test_local_host_names():
    for host in (None, "", "localhost", " localhost "):
        transport = HostTransport(host)
        assert transport.local and transport.label == "this host"
        assert transport.command(["runc", "list"]) == ["runc", "list"]
    remote = HostTransport("vps1")
    assert not remote.local and remote.label == "host vps1"


def test_local_run_passes_stdin_and_output():
    rc, out, err = HostTransport().run(["sh", "-c", "cat; echo oops >&2; exit 3"], data=b"in\x00put")
    assert (rc, out, err) == (3, b"in\x00put", b"oops\n")


def test_local_run_without_data_gets_no_stdin():
    assert HostTransport().run(["cat"], timeout=10) == (0, b"", b"")


def test_local_timeout_kills_and_says_so():
    with pytest.raises(HostTimeout) as info:
        HostTransport().run(["sleep", "30"], timeout=0.2)
    assert "this host" in info.value.msg


def test_missing_program_is_typed():
    with pytest.raises(HostProgramMissing) as info:
        HostTransport().run(["/nonexistent/runc", "list"])
    assert "/nonexistent/runc" in info.value.msg


def test_ssh_command_line_quotes_each_argument():
    transport = HostTransport("vps1.example", user="admin", port=2222, private_key_file="/keys/id",
                              ssh_args='-o "ProxyJump=jump host" -v', control_dir="/c")
    cmd = transport.ssh_argv(["runc", "exec", "--env", "A=b c", "--", "web1", "sh", "-c", "echo '$HOME'; true"])
    assert cmd[:4] == ["ssh", "-o", "ProxyJump=jump host", "-v"]  # the user's first: ssh keeps the first value
    assert cmd[cmd.index("-p") + 1] == "2222" and cmd[cmd.index("-i") + 1] == "/keys/id"
    assert cmd[cmd.index("-l") + 1] == "admin"
    assert "ControlMaster=no" in cmd and "BatchMode=yes" in cmd and "-T" in cmd
    assert cmd[-3:-1] == ["--", "vps1.example"]
    assert cmd[-1] == "runc exec --env 'A=b c' -- web1 sh -c 'echo '\"'\"'$HOME'\"'\"'; true'"


def test_master_command_line_backgrounds_one_persistent_master():
    transport = HostTransport("vps1", control_dir="/c")
    cmd = transport.master_argv()
    assert "ControlMaster=yes" in cmd and "ControlPersist=60" in cmd
    assert cmd[-4:] == ["-N", "-f", "--", "vps1"]
    assert "ControlPath=%s" % transport.control_path in cmd


def test_one_control_path_per_host_settings_and_short():
    a = HostTransport("vps1", control_dir="/c")
    assert a.control_path == HostTransport("vps1", user="root", control_dir="/c").control_path
    others = [HostTransport("vps2", control_dir="/c"), HostTransport("vps1", user="ops", control_dir="/c"),
              HostTransport("vps1", port=2222, control_dir="/c"), HostTransport("vps1", ssh_args="-4", control_dir="/c")]
    assert len(set(t.control_path for t in others + [a])) == 5
    long_name = HostTransport("h" * 250)
    assert len(long_name.control_path) <= host_transport.MAX_SOCKET_PATH


def test_long_home_falls_back_to_a_private_temporary_directory(monkeypatch):
    monkeypatch.setenv("HOME", "/home/" + "x" * 120)
    directory = host_transport.default_control_dir()
    assert directory.endswith("lvp-%d" % os.getuid()) and len(directory) < 60


def test_a_host_name_cannot_be_an_ssh_option():
    with pytest.raises(HostTransportError):
        HostTransport("-oProxyCommand=touch /tmp/x")


def test_remote_arguments_arrive_unchanged(fake_ssh):
    make, log = fake_ssh
    args = ["a b", "it's", "$HOME", "", "`id`", "*", "new\nline", "; rm -rf /"]
    rc, out, err = make().run(["printf", "%s|"] + args)
    assert (rc, err) == (0, b"")
    assert out.decode() == "|".join(args) + "|"


def test_remote_stdin_streams_through(fake_ssh):
    make, log = fake_ssh
    data = os.urandom(3 << 20)
    assert make().run(["cat"], data=data) == (0, data, b"")


def test_one_master_for_many_commands_and_transports(fake_ssh):
    make, log = fake_ssh
    for dummy in range(3):
        assert make().run(["true"])[0] == 0
    assert masters_started(log) == 1
    clients = [line for line in log.read_text().splitlines() if " -N " not in line]
    assert len(clients) == 3 and all("ControlMaster=no" in line for line in clients)


def test_a_dead_master_is_started_again(fake_ssh):
    make, log = fake_ssh
    transport = make()
    transport.run(["true"])
    kill_master(transport.control_path)
    for dummy in range(50):  # the listener is gone once a connect is refused
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(transport.control_path)
        except OSError:
            break
        finally:
            probe.close()
        time.sleep(0.05)
    assert transport.run(["true"])[0] == 0
    assert masters_started(log) == 2


def test_unreachable_host_is_typed_and_named(fake_ssh, monkeypatch):
    make, log = fake_ssh
    monkeypatch.setenv("FAKE_SSH_FAIL", "1")
    with pytest.raises(HostUnreachable) as info:
        make().run(["true"])
    assert "host vps1" in info.value.msg and "Connection refused" in info.value.msg


def test_unreachable_tells_ssh_failures_from_a_command_exiting_255():
    remote = HostTransport("vps1")
    assert remote.unreachable(255, b"ssh: connect to host vps1 port 22: Connection refused\n")
    assert not remote.unreachable(255, b"my program failed\n")
    assert not remote.unreachable(1, b"ssh: something")
    assert not HostTransport().unreachable(255, b"ssh: connect to host")


def test_the_key_file_is_expanded_at_use(monkeypatch):
    monkeypatch.setenv("LINUXVPS_TEST_KEY", "/run/awx/key")
    transport = HostTransport("vps1.example", private_key_file="$LINUXVPS_TEST_KEY")
    argv = transport.ssh_argv(["true"])
    assert argv[argv.index("-i") + 1] == "/run/awx/key"
