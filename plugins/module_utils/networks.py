# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host networks: a Linux bridge with gateway addresses and optional NAT, recorded in the state directory.

The bridge is named by the user, so what makes it this state directory's is its owner mark (net.Owner) and the
record: the record is saved before the bridge is made, with "bridge": "creating", and says "made" once the bridge
carries the mark. A bridge another state directory marked, or an unmarked one no record of ours claims (docker0,
a bridge the administrator made), is never taken, changed or removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.linuxvps.partitions.plugins.module_utils import firewall, net
from ansible_collections.linuxvps.partitions.plugins.module_utils.diffs import named_diff
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import Conflict, InvalidOption

# \Z, not $: $ also matches before a final newline.
BRIDGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}\Z")  # the bridge's own name: IFNAMSIZ allows 15
IFNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,15}\Z")
# Links of the host a network may never be: its loopback, and the partitions' veth host ends (net.host_ifname; with "p",
# the partition end as earlier versions made it on the host before moving it in).
NOT_A_BRIDGE = re.compile(r"^(lo|lv[0-9a-f]{11}p?)\Z")


def validate_bridge_name(option, name):
    if not isinstance(name, str) or not BRIDGE_NAME.match(name):
        raise InvalidOption(option, name, "must be a bridge name: a letter, then up to 14 of a-z, 0-9 and '-'")
    if NOT_A_BRIDGE.match(name):
        raise InvalidOption(option, name, "is the host's loopback or the name of a partition's veth, not a bridge")
    return name


def gateway_interface(option, value, version):
    """'10.213.0.1/24' -> canonical CIDR of the host's address on the bridge."""
    if value is None:
        return None
    try:
        iface = ipaddress.ip_interface(str(value))
    except ValueError:
        raise InvalidOption(option, value, "expected an address with prefix such as %s"
                            % ("10.213.0.1/24" if version == 4 else "fd42:213::1/64"))
    if iface.version != version or "/" not in str(value):
        raise InvalidOption(option, value, "expected an IPv%d address with its prefix length" % version)
    if iface.network.num_addresses > 2 and iface.ip in (iface.network.network_address, getattr(iface.network, "broadcast_address", None)):
        raise InvalidOption(option, value, "is the subnet's network or broadcast address, not a host address")
    return str(iface)


def normalise_network(params):
    spec = {
        "name": validate_bridge_name("name", params.get("name")),
        "ipv4": gateway_interface("ipv4", params.get("ipv4"), 4),
        "ipv6": gateway_interface("ipv6", params.get("ipv6"), 6),
        "nat": bool(params.get("nat")),
        "uplink": params.get("uplink"),
    }
    if spec["nat"] and not spec["uplink"]:
        raise InvalidOption("uplink", None, "nat: true needs the uplink interface to masquerade on")
    if spec["nat"] and not spec["ipv4"]:
        raise InvalidOption("nat", True, "NAT needs an ipv4 subnet")
    if spec["uplink"] and not IFNAME.match(spec["uplink"]):
        raise InvalidOption("uplink", spec["uplink"], "is not an interface name")
    return spec


def claims_unmarked(document):
    """Whether the network's record claims a bridge without our mark: a record saved before the bridge was made and
    marked (a run killed in between), or one an earlier version saved (before marks)."""
    return document is not None and document.get("bridge") != "made"


def bridge_refusal(name, bridge, document, identity):
    """None when the state directory of identity may manage bridge (net.bridge_state of name) with its record
    document; else why not."""
    if not bridge["exists"]:
        return None
    if bridge["kind"] != "bridge":
        # eth0, a veth, a bond...: taking it would put the bridge's addresses on it, removing would delete it
        return "is a host interface that is not a bridge (%s)" % (bridge["kind"] or "a device")
    refusal = net.Owner(identity).refusal(bridge.get("alias"), "bridge %s" % name, claims_unmarked(document))
    return None if refusal is None else "is not this state directory's to manage: " + refusal


def bridge_addresses(spec):
    return sorted(cidr for cidr in (spec.get("ipv4"), spec.get("ipv6")) if cidr)


class NetworkStore:
    """Host networks of one state directory; nft objects live in its table."""

    def __init__(self, store, table):
        self.store = store
        self.table = table

    def users(self, name):
        users = []
        for partition in self.store.partition_names():
            spec = (self.store.load_partition(partition) or {}).get("spec") or {}
            if any(iface.get("network") == name for iface in spec.get("interfaces") or []):
                users.append(partition)
        return users

    def observe(self, name):
        bridge = net.bridge_state(name)
        return {"document": self.store.load_network(name), "bridge": bridge,
                "nat": firewall.nat_exists(self.table, name) if bridge["exists"] else False}

    def converge(self, params, check_mode=False):
        """Make the network present or absent; returns (changed, network, diff)."""
        state = params.get("state") or "present"
        spec = normalise_network(params) if state == "present" else {"name": validate_bridge_name("name", params.get("name"))}
        name = spec["name"]
        with self.store.lock(create=not check_mode):
            identity = self.store.identity()
            observed = self.observe(name)
            document, bridge = observed["document"], observed["bridge"]
            refusal = bridge_refusal(name, bridge, document, identity)
            if refusal and (state == "present" or document is None):
                raise InvalidOption("name", name, refusal)
            before = dict(document, state="present") if document else {"state": "absent"}
            before.pop("bridge", None)
            if state == "absent":
                return self._remove(name, params, document, bridge, refusal, before, check_mode)
            live_ok = (bridge["exists"] and bridge["owner"] is not None and bridge["owner"] == identity
                       and bridge["addresses"] == bridge_addresses(spec) and observed["nat"] == spec["nat"])
            changed = document is None or {k: document.get(k) for k in spec} != spec or not live_ok
            if changed and not check_mode:
                owner = net.Owner(identity)
                # recorded first: a run killed before the bridge carries the mark leaves a record claiming it
                self.store.save_network(name, dict(spec, bridge="made" if bridge["owner"] == identity else "creating"))
                net.ensure_bridge(name, bridge_addresses(spec), owner.mark("network/" + name))
                if spec["nat"]:
                    net.enable_forwarding()
                    firewall.ensure_nat(self.table, name, str(ipaddress.ip_interface(spec["ipv4"]).network), spec["uplink"])
                else:
                    firewall.remove_nat(self.table, name)
                self.store.save_network(name, dict(spec, bridge="made"))
            return changed, spec, named_diff("network", name, before, dict(spec, state="present"))

    def _remove(self, name, params, document, bridge, refusal, before, check_mode):
        """Remove the network: its NAT, its bridge (unless refusal says the bridge is not ours: it stays), its record."""
        if document is None and not bridge["exists"]:
            return False, None, named_diff("network", name, before, before)
        users = self.users(name)
        if users and not params.get("force"):
            raise Conflict("network %s has partitions attached: %s; detach them or use force: true"
                           % (name, ", ".join(users)), partitions=users)
        if not check_mode:
            firewall.remove_nat(self.table, name)
            if refusal is None:
                net.delete_bridge(name, net.Owner(self.store.identity()), unmarked_ok=claims_unmarked(document))
            self.store.remove_network(name)
            firewall.remove_empty_tables(self.table)
        return True, None, named_diff("network", name, before, {"state": "absent"})
