# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hosting operations on one running partition with MIB MiB of its own files (random, so incompressible: 1 MiB
files written inside it), each timed as one Ansible task (`ansible -m`, whose own cost is timed too: `overhead`):

  snapshot   the snapshot module, state=present, while it runs (reflinked where the filesystem can, a copy here)
  backup     the backup module, state=present (mode freeze: paused for the copy), zstd; the archive's size
  restore    the backup module, state=restored under another name, start=false
  move       move.yml between two state directories of this host (through the controller like between two hosts:
             the same machine here), its downtime (from the source's stop to the target's start), until it is
             up on the target, the whole run, and its first pass (the live copy archived, fetched, copied and
             restored: what a move that stopped first would be down for, on top of its stop and start)
  cold copy  the same own files, the partition stopped: `cp -a` of the tree (page cache dropped, then warm), and
             `tar | zstd` then `zstd -d | tar -x` (what a stopped copy through an archive takes)

The target: a move's downtime under 10 % of the cold copy's time. Run by bench.py (`--operations-mib`).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATE_B = "/var/tmp/linuxvps-bench-b"  # the move's target: a second state directory with the same template
PARTITION = "bench-ops"
RESTORED = "bench-ops-r"
TENANT = "benchops"


def log(message):
    sys.stdout.write("bench: operations: %s\n" % message)
    sys.stdout.flush()


def timed(cmd, env, **kwargs):
    """(seconds, stdout) of a command that must pass."""
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **kwargs)
    elapsed = time.monotonic() - started
    output = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.stdout.write(output)
        raise RuntimeError("%s failed" % " ".join(cmd[:4]))
    return elapsed, output


def module(env, name, args):
    """(seconds, result) of one module run by `ansible -m` on this host."""
    elapsed, output = timed(["ansible", "-i", "localhost,", "-c", "local", "localhost", "-o", "-m", name]
                            + (["-a", json.dumps(args)] if args else []), env)
    line = [line for line in output.splitlines() if line.startswith("localhost | ") and " => {" in line][-1]
    return elapsed, json.loads(line.split(" => ", 1)[1])


def drop_caches():
    subprocess.call(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")


def tree_bytes(root):
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total


def fill(state, mib):
    """MIB files of 1 MiB of random data, written inside the partition (owned by its root)."""
    script = ("mkdir -p /srv/data && i=0 && while [ $i -lt %d ]; do head -c 1048576 /dev/urandom > /srv/data/f$i; "
              "i=$((i+1)); done && sync" % mib)
    subprocess.check_call(["runc", "--root", os.path.join(state, "runc"), "exec", PARTITION, "sh", "-c", script])


def cold_copies(env, upper, workdir):
    """Seconds of cp -a (cache dropped, then warm) and of tar|zstd + zstd -d|tar -x of the stopped partition's tree."""
    result = {}
    destination = os.path.join(workdir, "cold")
    for key, drop in (("cold_cp", True), ("cold_cp_warm", False)):
        if drop:
            drop_caches()
        result[key], _out = timed(["cp", "-a", upper, destination], env)
        shutil.rmtree(destination)
    archive = os.path.join(workdir, "cold.tar.zst")
    drop_caches()
    packed, _out = timed(["sh", "-c", "tar -C \"$1\" --numeric-owner --xattrs -cf - . | zstd -q -T0 > \"$2\"", "-",
                          upper, archive], env)
    os.mkdir(destination)
    unpacked, _out = timed(["sh", "-c", "zstd -dc \"$1\" | tar -C \"$2\" --numeric-owner --xattrs -xf -", "-",
                            archive, destination], env)
    result["cold_archive"] = packed + unpacked
    shutil.rmtree(destination)
    os.unlink(archive)
    return result


def run(mib, state, template, collection, workdir):
    """The figures (a dict) for a partition with mib MiB of its own files; everything it made is removed."""
    env = collection.env
    result = {"mib": mib}
    opdir = os.path.join(workdir, "operations")
    os.mkdir(opdir, 0o700)
    inventory = os.path.join(opdir, "inventory.json")
    with open(inventory, "w") as handle:
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "move_workdir": os.path.join(opdir, "move")}
        json.dump({"all": {"hosts": {"bench-a": dict(local, move_state_dir=state),
                                     "bench-b": dict(local, move_state_dir=STATE_B)}}}, handle)
    record = os.path.join(opdir, "move.json")
    remove_partitions(env, state)  # what an interrupted run left
    try:
        log("setup: the template in %s too, %s running" % (STATE_B, PARTITION))
        collection.playbook("operations_setup.yml", {"bench_state_dir": state, "bench_state_b": STATE_B,
                                                     "bench_rootfs": template, "bench_partition": PARTITION,
                                                     "bench_tenant": TENANT})
        log("%d MiB of random files inside %s" % (mib, PARTITION))
        fill(state, mib)
        upper = os.path.join(state, "partitions", PARTITION, "upper")
        result["own_bytes"] = tree_bytes(upper)
        result["overhead"], _ping = module(env, "ansible.builtin.ping", {})

        log("snapshot")
        try:
            result["snapshot"], snap = module(env, "linuxvps.partitions.snapshot", {
                "partition": PARTITION, "name": "bench", "state": "present", "state_dir": state})
            result["snapshot_bytes"] = (snap.get("snapshot") or {}).get("size")
            module(env, "linuxvps.partitions.snapshot", {"partition": PARTITION, "name": "bench", "state": "absent",
                                                         "state_dir": state})
        except RuntimeError as error:  # a collection without the snapshot module: the other figures still come
            result["snapshot_error"] = str(error)

        log("backup and restore")
        archive = os.path.join(opdir, "backup.tar.zst")
        result["backup"], backup = module(env, "linuxvps.partitions.backup", {
            "partition": PARTITION, "path": archive, "state_dir": state})
        result["backup_bytes"] = backup["archive"]["size"]
        drop_caches()
        result["restore"], _restored = module(env, "linuxvps.partitions.backup", {
            "state": "restored", "path": archive, "name": RESTORED, "start": False, "state_dir": state})
        module(env, "linuxvps.partitions.partition", {"name": RESTORED, "state": "absent", "state_dir": state})
        os.unlink(archive)
        os.unlink(archive + ".snar")

        log("move.yml from %s to %s" % (state, STATE_B))
        result["move"], _out = timed(["ansible-playbook", "-i", inventory, os.path.join(HERE, "playbooks", "move_recorded.yml"),
                                      "-e", "move_partition=%s" % PARTITION, "-e", "move_from=bench-a", "-e",
                                      "move_to=bench-b", "-e", "move_record=%s" % record], env)
        with open(record) as handle:
            moved = json.load(handle)
        for key in ("downtime_seconds", "up_seconds", "first_pass_seconds", "base_bytes", "delta_bytes"):
            result["move_" + key] = float(moved[key])

        log("cold copies of the same files, stopped")
        module(env, "linuxvps.partitions.partition", {"name": PARTITION, "state": "stopped", "state_dir": STATE_B})
        result.update(cold_copies(env, os.path.join(STATE_B, "partitions", PARTITION, "upper"), opdir))
        result["downtime_of_cold_cp"] = result["move_downtime_seconds"] / min(result["cold_cp"], result["cold_cp_warm"])
        result["downtime_of_first_pass"] = result["move_downtime_seconds"] / result["move_first_pass_seconds"]
    finally:
        remove_partitions(env, state)
        shutil.rmtree(opdir)
    return result


def remove_partitions(env, state):
    for state_dir in (state, STATE_B):
        for name in (PARTITION, RESTORED):
            subprocess.call(["ansible", "-i", "localhost,", "-c", "local", "localhost", "-m", "linuxvps.partitions.partition",
                             "-a", json.dumps({"name": name, "state": "absent", "state_dir": state_dir})],
                            env=env, stdout=subprocess.DEVNULL)


ROWS = [("own_bytes", "the partition's own files (MB)", 1e-6), ("overhead", "one Ansible task's own cost (s)", 1),
        ("snapshot", "snapshot, running (s)", 1), ("snapshot_bytes", "snapshot size (MB)", 1e-6),
        ("backup", "backup, zstd, paused for the copy (s)", 1), ("backup_bytes", "archive size (MB)", 1e-6),
        ("restore", "restore under another name, stopped (s)", 1),
        ("move", "move.yml, whole run (s)", 1), ("move_downtime_seconds", "move downtime: stop to start (s)", 1),
        ("move_up_seconds", "move: stop until up on the target (s)", 1),
        ("move_first_pass_seconds", "move: live copy through the controller, restored (s)", 1),
        ("move_base_bytes", "move: live archive (MB)", 1e-6), ("move_delta_bytes", "move: archive of the changes (MB)", 1e-6),
        ("cold_cp", "cold copy, cp -a, page cache dropped (s)", 1), ("cold_cp_warm", "cold copy, cp -a, warm (s)", 1),
        ("cold_archive", "cold copy, tar and zstd, then unpacked (s)", 1),
        ("downtime_of_cold_cp", "downtime / fastest cp -a (target < 0.10)", 1),
        ("downtime_of_first_pass", "downtime / the same copy made stopped (first pass)", 1)]


def table(result):
    if not result:
        return ""
    lines = ["", "Hosting operations, one partition with %d MiB of its own files" % result["mib"], "",
             "| figure | value |", "| --- | ---: |"]
    for key, label, scale in ROWS:
        value = result.get(key)
        lines.append("| %s | %s |" % (label, "-" if value is None else "%.2f" % (value * scale)))
    if result.get("snapshot_error"):
        lines.append("\nsnapshot: %s" % result["snapshot_error"])
    return "\n".join(lines) + "\n"
