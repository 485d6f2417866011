# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every partition of a state directory as plain dicts, in one read of the host: the inventory plugin's listing.

One runtime listing (``runc list``) gives every container's state at once, and each partition is observed by the
engine as every other read observes it (engine.observe over one HostReads): no process per partition, no second
reader of the state documents. Reads only; nothing on the host changes.

The inventory plugin calls list_state_dir in its own process for this machine; for a VPS host reached over SSH it
sends this package to one Python there, whose ``main`` prints the listing as JSON (see
plugin_utils/engine_payload.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys

from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.intents import IntentJournal
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import describe_os_error
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import describe
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR

STATES = ("running", "stopped", "frozen")
USAGE = "usage: python3 - STATE_DIR STATE... (the listing of linuxvps.partitions, sent on stdin)"


def validate_states(states):
    """The states as a list, or InvalidOption naming the first unknown one."""
    states = list(states)
    for state in states:
        if state not in STATES:
            raise InvalidOption("states", state, "each must be one of %s" % ", ".join(STATES))
    return states


def partition_entry(name, observed):
    """What an inventory says of one observed partition: plain data, JSON as it is."""
    spec = observed["document"]["spec"]
    view = describe(observed["status"], spec, observed["live"])
    interfaces = [dict(iface) for iface in spec.get("interfaces") or []]
    return {
        "name": name,
        "state": observed["status"],
        "tenant": spec.get("tenant") or name,
        "labels": dict(spec.get("labels") or {}),
        "rootfs": spec.get("rootfs"),
        "hostname": spec.get("hostname"),
        "privileged": bool(spec.get("privileged")),
        "pid": observed["pid"],
        # bare addresses, for an ansible_host or a check; interfaces keep their prefix lengths
        "addresses": [cidr.split("/")[0] for iface in interfaces for cidr in iface.get("addresses") or []],
        "interfaces": interfaces,
        "resources": view.get("resources") or {},
    }


def list_partitions(engine, states=("running",)):
    """{"partitions": [entry, ...] sorted by name, in the given states; "warnings": [...]} of one engine's state
    directory. A partition whose document cannot be read is left out with a warning, as partition_info does."""
    states = validate_states(states)
    warnings = list(IntentJournal(engine.store).pending_warnings()[0])
    reads = engine.read_host()
    partitions = []
    for name in engine.store.partition_names():
        observed = engine.observe(name, reads, guards=False)  # the entry shows the limits in force, not the guards
        if observed["corrupt"] is not None:
            warnings.append("partition %s is left out: %s (state: absent removes it)" % (name, observed["corrupt"].msg))
        if observed["document"] is not None and observed["status"] in states:
            partitions.append(partition_entry(name, observed))
    return {"partitions": partitions, "warnings": warnings}


def list_state_dir(state_dir=DEFAULT_STATE_DIR, states=("running",), runtime="auto"):
    """list_partitions of the state directory on this machine, with the runtime it is run by; reads only."""
    validate_states(states)
    return list_partitions(PartitionEngine.open(state_dir, runtime, check_mode=True), states)


def main(argv, out=None):
    """The host command: the listing of STATE_DIR as one JSON document on stdout, exit 0; or exit 1 with
    {"failed": true, "msg": ...} when the engine refuses (no runtime, a corrupt identity) or a file cannot be read
    (a user other than root)."""
    out = out or sys.stdout
    if not argv:
        out.write(json.dumps({"failed": True, "msg": USAGE}) + "\n")
        return 2
    try:
        result = list_state_dir(argv[0], argv[1:] or ["running"])
    except PartitionError as exc:
        out.write(json.dumps({"failed": True, "msg": exc.msg}) + "\n")
        return 1
    except (IOError, OSError) as exc:
        out.write(json.dumps({"failed": True, "msg": "%s (listing partitions reads the state directory as root)"
                              % describe_os_error(exc)}) + "\n")
        return 1
    out.write(json.dumps(result, sort_keys=True) + "\n")
    return 0
