# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching inside partitions: N partitions of a template with Python and sshd, then

  ping       one play of ansible.builtin.ping on all N (forks 20) through the connection plugin
             linuxvps.partitions.partition, and the same play through SSH into each partition's sshd (what
             users do without the plugin: ansible_connection ssh to the partition's address, key auth,
             ansible's own ControlMaster/ControlPersist defaults); each with its own defaults (the plugin
             pipelines, ssh does not) the first play and the same play again (the SSH masters still open),
             then both with pipelining and both without
  transfer   put_file of a 100 MB random file into one partition and fetch_file back, through the connection
             plugin and through the ssh connection (its default transfer), checksums compared inside and back
  inventory  `ansible-inventory --list` of the inventory plugin linuxvps.partitions.partitions for this host

Run by bench.py (`--inside-sizes`); `inside.py transfer PLUGIN JSON-VARS FILE` is its child for one transfer.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = "debian12-py"
FORKS = 20
TRANSFER_BYTES = 100 * 1000 ** 2
MB = 1000.0 ** 2
MB_BLOCK = 1000 ** 2
SSH_ARGS = "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR"
CONNECTION = "linuxvps.partitions.partition"


def name_of(index):
    return "r%03d" % index


def address(index):
    value = 10 + index  # 10.213.66.10 and up: the upper half of the bench's 10.213.64.0/22
    return "10.213.%d.%d" % (66 + value // 256, value % 256)


def write_json(path, data):
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1)
    return path


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class Inside:
    """The partitions and the inventories both sides use; bench.Collection runs the playbooks."""

    def __init__(self, count, collection, state_dir, workdir):
        self.count = count
        self.collection = collection
        self.state_dir = state_dir
        self.workdir = workdir
        self.names = [name_of(i) for i in range(count)]
        self.key = os.path.join(workdir, "id_ed25519")
        if not os.path.exists(self.key):
            subprocess.check_call(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "linuxvps-bench", "-f", self.key])
        with open(self.key + ".pub") as handle:
            self.public_key = handle.read().strip()

    def partitions(self, state):
        return {"bench_state_dir": self.state_dir, "bench_rootfs": TEMPLATE, "bench_partitions": [
            {"name": name, "state": state, "hostname": name, "authorized_keys": [self.public_key],
             "resources": {"memory": 256 * 1024 ** 2, "pids": 1024},
             "interfaces": [{"network": "lvbench0", "addresses": [address(i)]}]} for i, name in enumerate(self.names)]}

    def ssh_vars(self, index):
        return {"ansible_connection": "ssh", "ansible_host": address(index), "ansible_user": "root",
                "ansible_ssh_private_key_file": self.key, "ansible_ssh_common_args": SSH_ARGS,
                "ansible_python_interpreter": "/usr/bin/python3"}

    def plugin_vars(self, index):
        return {"ansible_connection": CONNECTION, "ansible_host": self.names[index],
                "linuxvps_state_dir": self.state_dir, "ansible_python_interpreter": "/usr/bin/python3"}

    def inventory(self, side):
        hostvars = self.ssh_vars if side == "ssh" else self.plugin_vars
        return write_json(os.path.join(self.workdir, "%s.json" % side), {"all": {"hosts": {
            name: hostvars(i) for i, name in enumerate(self.names)}}})

    def wait_for_sshd(self, timeout=300):
        deadline = time.monotonic() + timeout
        for index in range(self.count):
            while True:
                try:
                    socket.create_connection((address(index), 22), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("sshd in %s does not answer" % self.names[index])
                    time.sleep(0.2)

    def ping(self, side, pipelining=None):
        """Seconds of one ping play on all partitions; every host must answer. pipelining None: each
        connection's own default (the plugin pipelines, ssh does not)."""
        env = dict(self.collection.env, ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(self.workdir, "cp"))
        env.pop("ANSIBLE_PIPELINING", None)
        if pipelining is not None:
            env["ANSIBLE_PIPELINING"] = str(pipelining)
        cmd = ["ansible-playbook", "-i", self.inventory(side), "-f", str(FORKS), os.path.join(HERE, "playbooks", "ping.yml")]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        elapsed = time.monotonic() - started
        output = proc.stdout.decode("utf-8", "replace")
        answered = [line for line in output.splitlines() if " ok=1 " in line and "unreachable=0" in line]
        if proc.returncode != 0 or len(answered) != self.count:
            sys.stdout.write(output[-5000:])
            raise RuntimeError("ping through %s: %d of %d answered" % (side, len(answered), self.count))
        return elapsed

    def transfer(self, side, source):
        hostvars = self.ssh_vars(0) if side == "ssh" else self.plugin_vars(0)
        hostvars = dict(hostvars, ansible_ssh_control_path_dir=os.path.join(self.workdir, "cp"))
        plugin = "ansible.builtin.ssh" if side == "ssh" else CONNECTION
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "transfer", plugin, json.dumps(hostvars), source],
                              env=self.collection.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace"))
            raise RuntimeError("transfer through %s failed" % side)
        return json.loads(proc.stdout.decode().splitlines()[-1])

    def list_inventory(self):
        """Seconds of `ansible-inventory --list` by the inventory plugin; it must list all the partitions."""
        return list_inventory(self.state_dir, self.workdir, self.collection.env, self.names)


def plain(value):
    """A value of `ansible-inventory --list` as it is: ansible-core 2.19 writes an unsafe string (what inventory
    plugins give) as {"__ansible_unsafe": string}."""
    return value.get("__ansible_unsafe") if isinstance(value, dict) else value


def list_inventory(state_dir, workdir, env, names):
    config = os.path.join(workdir, "bench.linuxvps.yml")
    with open(config, "w") as handle:
        handle.write("plugin: linuxvps.partitions.partitions\nhosts:\n  - name: localhost\n    state_dir: %s\n" % state_dir)
    started = time.monotonic()
    proc = subprocess.run(["ansible-inventory", "-i", config, "--list"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.monotonic() - started
    listed = json.loads(proc.stdout or b"{}").get("_meta", {}).get("hostvars", {}) if proc.returncode == 0 else {}
    missing = [name for name in names if plain(listed.get(name, {}).get("ansible_connection")) != CONNECTION]
    if proc.returncode != 0 or missing:
        sys.stdout.write(proc.stderr.decode("utf-8", "replace")[-3000:])
        raise RuntimeError("the inventory plugin did not list %d of %d partitions" % (len(missing), len(names)))
    return elapsed


def run(count, collection, state_dir, workdir, wait_running, leftovers):
    """The rows for count partitions: ping both ways, transfer both ways, inventory listing; then teardown."""
    inside = Inside(count, collection, state_dir, workdir)
    result = {}
    source = os.path.join(workdir, "random.bin")
    with open(source, "wb") as handle:
        for _block in range(TRANSFER_BYTES // MB_BLOCK):
            handle.write(os.urandom(MB_BLOCK))
    try:
        started = time.monotonic()
        result["converge"], _changed = collection.playbook("converge.yml", inside.partitions("started"))
        result["running"] = wait_running(os.path.join(state_dir, "runc"), inside.names, started)
        inside.wait_for_sshd()
        result["inventory"] = inside.list_inventory()
        # each connection as it comes (the first play, at once the same again with the SSH masters open), then
        # both with pipelining and both without: like for like
        for side in ("plugin", "ssh"):
            result["ping_first_" + side] = inside.ping(side)
            result["ping_again_" + side] = inside.ping(side)
            result["ping_pipelining_" + side] = inside.ping(side, True)
            result["ping_no_pipelining_" + side] = inside.ping(side, False)
        for side in ("plugin", "ssh"):
            moved = inside.transfer(side, source)
            result["put_mbps_" + side] = TRANSFER_BYTES / MB / moved["put"]
            result["fetch_mbps_" + side] = TRANSFER_BYTES / MB / moved["fetch"]
    finally:
        collection.playbook("converge.yml", inside.partitions("absent"))
        os.unlink(source)
    result["left"] = leftovers()
    return result


# ---- the child that times one transfer ---------------------------------------------------------
def transfer_child(plugin, hostvars, source):
    """put_file then fetch_file of source through one connection plugin, loaded as a play would load it."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader, init_plugin_loader
    init_plugin_loader()
    connection = connection_loader.get(plugin, PlayContext())
    connection.set_options(var_options=hostvars)
    connection._connect()  # the SSH master, for ssh: not part of the transfer
    inside = "/root/bench-transfer.bin"
    back = source + ".back"
    try:
        started = time.monotonic()
        connection.put_file(source, inside)
        put = time.monotonic() - started
        rc, stdout, stderr = connection.exec_command("sha256sum %s" % inside)
        started = time.monotonic()
        connection.fetch_file(inside, back)
        fetch = time.monotonic() - started
        connection.exec_command("rm -f %s" % inside)
        expected = sha256_of(source)
        if rc != 0 or stdout.split()[:1] != [expected.encode()] or sha256_of(back) != expected:
            raise RuntimeError("checksums differ (inside: rc=%s %r %r)" % (rc, stdout[:80], stderr[:200]))
    finally:
        connection.close()
        if os.path.exists(back):
            os.unlink(back)
    sys.stdout.write(json.dumps({"put": put, "fetch": fetch}) + "\n")


ROWS = [("converge", "create + start all (s)"), ("running", "until all inits report running (s)"),
        ("inventory", "`ansible-inventory --list` by the inventory plugin (s)")]
COMPARED = [("ping_first", "ping play, %d partitions, forks %d, each connection's defaults (s)", "lower"),
            ("ping_again", "the same play again, SSH masters open (s)", "lower"),
            ("ping_pipelining", "ping play, both with pipelining (s)", "lower"),
            ("ping_no_pipelining", "ping play, both without pipelining (s)", "lower"),
            ("put_mbps", "put_file, 100 MB (MB/s)", "higher"),
            ("fetch_mbps", "fetch_file, 100 MB (MB/s)", "higher")]


def table(results):
    lines = []
    for count, result in sorted(results.items()):
        lines += ["", "Inside N = %d partitions (Python, sshd)" % count, "",
                  "| metric | connection plugin | SSH into partitions | ratio |", "| --- | ---: | ---: | ---: |"]
        for key, label, _better in COMPARED:
            ours, theirs = result.get(key + "_plugin"), result.get(key + "_ssh")
            ratio = "%.2f" % (theirs / ours if key.startswith("ping") else ours / theirs) if ours and theirs else "-"
            label = label % (count, FORKS) if "%d" in label else label
            lines.append("| %s | %s | %s | %s |" % (label, "-" if ours is None else "%.1f" % ours,
                                                    "-" if theirs is None else "%.1f" % theirs, ratio))
        for key, label in ROWS:
            lines.append("| %s | %s | | |" % (label, "-" if result.get(key) is None else "%.2f" % result[key]))
        lines.append("\nratio: how many times faster the connection plugin is")
        lines.append("left after teardown: %s" % (", ".join(result["left"]) or "nothing"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] != ["transfer"] or len(sys.argv) != 5:
        sys.exit("usage: inside.py transfer PLUGIN JSON-VARS FILE (bench.py runs the rest)")
    transfer_child(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])
