# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the inventory plugin's listing of N partitions takes on one host (issue 15's target: 500 in under 3 s).

Runs as root. N real running partitions do not fit on a small test host, so N are cloned from ONE real running
partition of SOURCE_STATE_DIR into a fresh state directory under /var/tmp: its document (renamed, with an
interface each), its runtime state (every clone then shows as running to ``runc list``, which checks the same live
init), and a real cgroup each (so every limit is read from the kernel). What is timed is exactly what the plugin
runs: listing.list_state_dir in process (this machine), the packed program on a ``python3 -`` stdin (what a
VPS host runs over SSH, without the SSH), and ``ansible-inventory --list`` end to end with the plugin (Ansible's
start, the listing, the hosts with their groups and a keyed group). Everything made is removed at the end.

    ANSIBLE_COLLECTIONS_PATH=$BUILD PYTHONPATH=$BUILD python3 benchmarks/inventory_listing.py SOURCE_STATE_DIR PARTITION [N] [REPEAT]
"""

from __future__ import absolute_import, division, print_function

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import listing
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore, read_json, write_json_atomic
from ansible_collections.linuxvps.partitions.plugins.plugin_utils import engine_payload

STATES = ["running", "stopped", "frozen"]


def clone(source, partition, target, count):
    """Names of count clones of partition (of state directory source) made in state directory target."""
    document = read_json(StateStore(source).partition_document(partition))
    runtime_state = read_json(os.path.join(source, "runc", partition, "state.json"))
    store = StateStore(target)
    store.ensure_layout()
    names = []
    for index in range(count):
        name = "lvbench%04d" % index
        spec = dict(copy.deepcopy(document["spec"]), name=name, hostname=name, labels={"role": "web%d" % (index % 5)})
        spec["interfaces"] = [{"name": "eth0", "mode": "routed", "network": None, "mac": "02:42:0a:d5:%02x:%02x" % (index // 256, index % 256),
                               "addresses": ["10.213.%d.%d/32" % (index // 250, index % 250 + 2)], "gateway": None, "gateway6": None,
                               "mtu": None, "rate": None, "dns": None}]
        running = dict(document["running"], spec=spec, host_interfaces={"eth0": "lvb%04d" % index})
        store.save_partition(name, dict(document, name=name, spec=spec, running=running))
        os.makedirs(os.path.join(target, "runc", name), 0o711)
        write_json_atomic(os.path.join(target, "runc", name, "state.json"), dict(runtime_state, id=name))
        names.append(name)
    return names


def timed(what, repeat, call):
    best = None
    for _round in range(repeat):
        began = time.monotonic()
        result = call()
        took = time.monotonic() - began
        best = took if best is None else min(best, took)
    print("%-40s best of %d: %.3f s" % (what, repeat, best))
    return result


def main(argv):
    source, partition = argv[0], argv[1]
    count = int(argv[2]) if len(argv) > 2 else 500
    repeat = int(argv[3]) if len(argv) > 3 else 5
    target = tempfile.mkdtemp(prefix="lvp-inventory-bench-", dir="/var/tmp")
    engine = PartitionEngine.open(target, check_mode=True)
    names = []
    try:
        names = clone(source, partition, target, count)
        for name in names:
            engine.cgroup(name).create()
        result = timed("in process (this machine), %d partitions" % count, repeat, lambda: listing.list_state_dir(target, STATES))
        running = sum(1 for item in result["partitions"] if item["state"] == "running")
        print("listed %d partitions, %d running" % (len(result["partitions"]), running))
        program = engine_payload.program("listing", "main")
        command = engine_payload.command([target] + STATES, python="/usr/bin/python3")

        def remote_style():
            done = subprocess.run(command, input=program, stdout=subprocess.PIPE, check=True)
            return json.loads(done.stdout)
        result = timed("python3 - with the packed engine (a VPS host's side)", repeat, remote_style)
        print("listed %d partitions; program %d bytes" % (len(result["partitions"]), len(program)))
        config = os.path.join(target, "bench.linuxvps.yml")
        with open(config, "w") as handle:
            json.dump({"plugin": "linuxvps.partitions.partitions", "hosts": [{"name": "localhost", "state_dir": target}],
                       "states": STATES, "keyed_groups": [{"key": "linuxvps_partition.labels.role", "prefix": "role"}]}, handle)

        def inventory():
            done = subprocess.run(["ansible-inventory", "-i", config, "--list"], stdout=subprocess.PIPE, check=True,
                                  env=dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"))
            return json.loads(done.stdout)
        result = timed("ansible-inventory --list, end to end", repeat, inventory)
        print("inventory hosts: %d" % len(result["_meta"]["hostvars"]))
    finally:
        for name in names:
            engine.cgroup(name).remove()
        engine.cgroups.remove_parent(engine.parent)
        shutil.rmtree(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
