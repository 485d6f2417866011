# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables in tables of our own: anti-spoofing and upload policing per interface, NAT per network.

Each partition interface gets a netdev ingress chain on its host-side veth: everything the partition
sends passes it first, in bridge and routed mode alike. Changes go through `nft -f -`, one atomic
transaction each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import hashlib
import ipaddress
import json
import re
import threading

from ansible_collections.linuxvps.partitions.plugins.module_utils import net
from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency, NetworkError

_IDENT = re.compile(r"[^A-Za-z0-9_]")

# One change to our tables at a time in this process: a bulk converge guards and unguards interfaces in several threads
# (parallel_apply.py), and a look-then-change (is the chain there, is the table empty) must not interleave with another
# thread's change (a table found empty, then deleted with the chain another thread just added to it).
_NFT_LOCK = threading.RLock()


def _serialized(function):
    @functools.wraps(function)
    def locked(*args, **kwargs):
        with _NFT_LOCK:
            return function(*args, **kwargs)
    return locked


def table_name(cgroup_parent):
    """nft table of one state directory: named like its cgroup parent ('linuxvps', 'linuxvps_1a2b3c4d')."""
    return _IDENT.sub("_", cgroup_parent)


def _nft(script):
    if find_program("nft") is None:
        raise MissingDependency("nft", "Install it with 'apt-get install nftables'.")
    rc, out, err = run(["nft", "-f", "-"], stdin_data=script, check=False)
    if rc != 0:
        raise NetworkError("nft failed: %s\n%s" % ((err or out).strip(), script))


def _exists(kind, family, table, name=None):
    args = ["nft", "list", kind, family, table] + ([name] if name else [])
    return run(args, check=False)[0] == 0


def _hex128(address):
    return "0x%032x" % int(ipaddress.IPv6Address(address))


def interface_rules(mac, addresses, link_local, upload_bytes_per_second):
    """Rules that let a partition send only from its MAC and addresses, at most at its upload rate."""
    v4 = sorted(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses if ":" not in cidr)
    v6 = sorted(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses if ":" in cidr)
    rules = [
        "ether type != { arp, ip, ip6 } drop",  # no VLAN tags or other protocols that skip the checks below
        "ether saddr != %s drop" % mac,
        "arp saddr ether != %s drop" % mac,
    ]
    if v4:
        rules.append("arp saddr ip != { %s } drop" % ", ".join(v4))
        rules.append("ip saddr != { %s } drop" % ", ".join(v4))
    else:
        rules.append("ether type { arp, ip } drop")
    own6 = v6 + [link_local]
    rules.append("ip6 saddr != { %s } drop" % ", ".join(own6 + ["::"]))
    # a neighbour advertisement may only claim the partition's own addresses (no NDP poisoning)
    rules.append("icmpv6 type nd-neighbor-advert @th,64,128 != { %s } drop" % ", ".join(_hex128(a) for a in own6))
    # no router or address server for its neighbours: what only routers and DHCP servers or relays send
    rules += [
        "icmpv6 type { nd-router-advert, nd-redirect, router-renumbering } drop",
        "icmp type redirect drop",
        "udp sport { 67, 547 } drop",
    ]
    if upload_bytes_per_second:
        burst = max(upload_bytes_per_second // 4, 65536)
        rules.append("limit rate over %d bytes/second burst %d bytes drop" % (upload_bytes_per_second, burst))
    return rules


def partition_rules(iface):
    """The guard rules of one normalised partition interface, as applied to its host end."""
    rate = iface.get("rate") or {}
    return interface_rules(iface["mac"], iface["addresses"], net.link_local(iface["mac"]), (rate.get("egress") or 0) // 8)


def _marker(rules):
    """The comment every rule of a guard carries: a guard with a rule lost or changed no longer matches it."""
    return "guard " + hashlib.sha1("\n".join(rules).encode()).hexdigest()[:16]


@_serialized
def guard_interface(table, host_ifname, rules):
    chain = "if_" + host_ifname
    lines = [
        "add table netdev %s" % table,
        "add chain netdev %s %s { type filter hook ingress device \"%s\" priority -500; policy accept; }" % (table, chain, host_ifname),
        "flush chain netdev %s %s" % (table, chain),
    ]
    lines += ["add rule netdev %s %s %s comment \"%s\"" % (table, chain, rule, _marker(rules)) for rule in rules]
    _nft("\n".join(lines) + "\n")


def guard_chains(table):
    """{chain: [comment of each rule, in order]} of the table's netdev chains, from one `nft -j list table`
    ({} when the table is gone, e.g. after `nft flush ruleset`)."""
    if find_program("nft") is None:
        return {}  # nothing can guard then: every guard is missing, and restoring one names nft
    rc, out, _err = run(["nft", "-j", "list", "table", "netdev", table], check=False)
    if rc != 0:
        return {}
    chains = {}
    for item in json.loads(out).get("nftables") or []:
        if "chain" in item:
            chains.setdefault(item["chain"]["name"], [])
        elif "rule" in item:
            chains.setdefault(item["rule"]["chain"], []).append(item["rule"].get("comment"))
    return chains


def is_guarded(chains, host_ifname, rules):
    """Whether guard_chains() shows host_ifname's chain with exactly these rules."""
    return chains.get("if_" + host_ifname) == [_marker(rules)] * len(rules)


@_serialized
def unguard_interface(table, host_ifname):
    """Delete the host end's chain; one already gone is no error. Deleted first, looked for only when that fails:
    listing a chain costs nft more the more chains the table holds (one per partition interface)."""
    chain = "if_" + host_ifname
    try:
        _nft("delete chain netdev %s %s\n" % (table, chain))
    except NetworkError:
        if _exists("chain", "netdev", table, chain):
            raise


@_serialized
def ensure_nat(table, network, subnet, uplink):
    chain = "nat_" + _IDENT.sub("_", network)
    _nft("\n".join([
        "add table ip %s" % table,
        "add chain ip %s %s { type nat hook postrouting priority srcnat; policy accept; }" % (table, chain),
        "flush chain ip %s %s" % (table, chain),
        "add rule ip %s %s ip saddr %s oifname \"%s\" masquerade" % (table, chain, subnet, uplink),
    ]) + "\n")


def nat_exists(table, network):
    return _exists("chain", "ip", table, "nat_" + _IDENT.sub("_", network))


@_serialized
def remove_nat(table, network):
    if nat_exists(table, network):
        _nft("delete chain ip %s nat_%s\n" % (table, _IDENT.sub("_", network)))


@_serialized
def remove_empty_tables(table):
    """Drop our tables once no chain is left in them, so teardown leaves nothing."""
    for family in ("netdev", "ip"):
        if _exists("table", family, table):
            rc, out, _err = run(["nft", "list", "table", family, table], check=False)
            if rc == 0 and "chain " not in out:
                _nft("delete table %s %s\n" % (family, table))
