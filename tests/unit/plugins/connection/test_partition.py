# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.linuxvps.partitions.plugins.plugin_utils import partition_runner
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.partition_runner import TransferFailed


def connection(**variables):
    """The plugin as Ansible loads it (needs the collection loader of ansible-test units)."""
    conn = connection_loader.get("linuxvps.partitions.partition", PlayContext(), None)
    conn.set_options(var_options=dict({"inventory_hostname": "web1"}, **variables))
    return conn


def test_defaults_reach_the_partition_named_like_the_host_on_this_machine():
    conn = connection()._connect()
    assert conn.has_pipelining
    runner = conn.runner
    assert runner.name == "web1" and runner.transport.local
    assert runner.runtime is None and runner.state_dir == "/var/lib/linuxvps"  # the host picks it
    assert runner.label == "partition web1 on this host"


def test_ansible_host_names_the_partition_and_host_options_make_the_transport():
    conn = connection(ansible_host="db1", linuxvps_host="vps1.example", linuxvps_host_user="ops",
                      linuxvps_host_port=2222, linuxvps_host_private_key_file="/keys/id",
                      linuxvps_host_ssh_args="-o ProxyJump=bastion", linuxvps_state_dir="/srv/vps",
                      linuxvps_runtime="crun")._connect()
    runner = conn.runner
    assert runner.name == "db1" and runner.runtime == "crun" and runner.root == "/srv/vps/crun"
    transport = runner.transport
    assert (transport.host, transport.user, transport.port, transport.private_key_file) == ("vps1.example", "ops", 2222, "/keys/id")
    assert transport.ssh_args == ["-o", "ProxyJump=bastion"]
    assert runner.label == "partition db1 on host vps1.example"


def test_localhost_is_this_machine():
    assert connection(linuxvps_host="localhost")._connect().runner.transport.local


def test_a_bad_partition_name_is_unreachable_naming_the_option():
    with pytest.raises(AnsibleConnectionFailure) as info:
        connection(ansible_host="../../etc")._connect()
    assert "remote_addr" in str(info.value)


def test_exec_runs_the_shell_inside_and_passes_stdin(monkeypatch):
    conn = connection()._connect()
    seen = {}

    def popen(inner, stdin=None, stdout=None, stderr=None):
        seen["argv"] = conn.runner.argv(inner)
        return subprocess.Popen(["sh", "-c", "cat; echo err >&2; exit 3"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    monkeypatch.setattr(conn.runner, "popen", popen)
    assert conn.exec_command("echo 'hi there'", in_data=b"module source") == (3, b"module source", b"err\n")
    assert seen["argv"][-4:] == ["web1", "/bin/sh", "-c", "echo 'hi there'"]


def test_exec_on_a_stopped_partition_is_unreachable(monkeypatch):
    conn = connection()._connect()
    monkeypatch.setattr(conn.runner, "popen", lambda inner, **kw: subprocess.Popen(
        ["sh", "-c", "echo 'level=error msg=\"exec failed: container does not exist\"' >&2; exit 255"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    monkeypatch.setattr(conn.runner.transport, "run", lambda argv, data=None, timeout=None: (
        1, b"", b'level=error msg="container does not exist"\n'))
    with pytest.raises(AnsibleConnectionFailure) as info:
        conn.exec_command("true")
    assert "partition web1 on this host is stopped" in str(info.value)


def test_transfer_errors_are_mapped(monkeypatch, tmp_path):
    conn = connection()._connect()
    source = tmp_path / "f"
    source.write_bytes(b"x")

    def failed(*args):
        raise TransferFailed("put /x into partition web1 on this host failed (rc 1): no such directory")

    def unreachable(*args):
        raise partition_runner.PartitionUnreachable("partition web1 on this host is frozen (paused)")

    monkeypatch.setattr(conn.runner, "put", failed)
    with pytest.raises(AnsibleError) as info:
        conn.put_file(str(source), "/x")
    assert not isinstance(info.value, AnsibleConnectionFailure) and "no such directory" in str(info.value)
    monkeypatch.setattr(conn.runner, "fetch", unreachable)
    with pytest.raises(AnsibleConnectionFailure) as info:
        conn.fetch_file("/x", str(tmp_path / "back"))
    assert "frozen" in str(info.value)


def test_put_of_a_missing_local_file():
    with pytest.raises(AnsibleError) as info:
        connection()._connect().put_file("/nonexistent/file", "/x")
    assert "does not exist" in str(info.value)


def test_become_sends_the_password_at_the_prompt_and_drops_the_marker(monkeypatch):
    from ansible.plugins.loader import become_loader
    from ansible.plugins.loader import shell_loader

    conn = connection()._connect()
    become = become_loader.get("sudo")
    become.set_options(direct={"become_user": "cxuser", "become_pass": "s3cret"})
    conn.set_become_plugin(become)
    become.build_become_command("whoami", shell_loader.get("sh"))
    prompt = become.prompt
    script = ("printf '%s' >&2; read pw; echo %s; echo \"got $pw\"; cat" % (prompt, become.success))
    monkeypatch.setattr(conn.runner, "popen", lambda inner, **kw: subprocess.Popen(
        ["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    rc, out, err = conn.exec_command("ignored", in_data=b"module\n")
    assert rc == 0
    assert out == b"got s3cret\nmodule\n"
    assert become.success.encode() not in out


def test_become_that_never_succeeds_fails_in_time(monkeypatch):
    from ansible.plugins.loader import become_loader
    from ansible.plugins.loader import shell_loader

    conn = connection(ansible_linuxvps_become_success_timeout=1)._connect()
    become = become_loader.get("sudo")
    become.set_options(direct={"become_user": "cxuser"})
    conn.set_become_plugin(become)
    become.build_become_command("whoami", shell_loader.get("sh"))
    monkeypatch.setattr(conn.runner, "popen", lambda inner, **kw: subprocess.Popen(
        ["sh", "-c", "echo 'sudo: unknown user cxuser' >&2; exec sleep 30"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    with pytest.raises(AnsibleError) as info:
        conn.exec_command("ignored")
    assert "become inside partition web1 on this host did not succeed" in str(info.value)
    assert "unknown user" in str(info.value)
