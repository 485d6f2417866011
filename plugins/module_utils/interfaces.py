# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `interfaces` option of a partition: validation against host networks and other partitions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible.module_utils.six import string_types

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.net import default_mac, legacy_default_mac
from ansible_collections.linuxvps.partitions.plugins.module_utils.networks import validate_bridge_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import parse_int_range, parse_rate

# \Z, not $: $ also matches before a final newline. lo is the partition's own loopback, there already.
INNER_NAME = re.compile(r"^(?!lo\Z)[a-z][a-z0-9]{0,14}\Z")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")

# Fields that can change while the partition runs; the rest define the interface itself.
LIVE_FIELDS = ("addresses", "gateway", "gateway6", "rate", "dns")
IDENTITY_FIELDS = ("name", "network", "mode", "mac", "mtu")

INTERFACES_ARGSPEC = dict(
    name=dict(type="str"),
    network=dict(type="str"),
    mode=dict(type="str", choices=["bridge", "routed"]),
    addresses=dict(type="list", elements="str"),
    gateway=dict(type="str"),
    gateway6=dict(type="str"),
    mac=dict(type="str"),
    mtu=dict(type="int"),
    rate=dict(type="raw"),
    dns=dict(type="dict", options=dict(
        nameservers=dict(type="list", elements="str"),
        search=dict(type="list", elements="str"),
    )),
)


def _address(option, value, network, mode, host_owned):
    try:
        iface = ipaddress.ip_interface(str(value))
    except ValueError:
        raise InvalidOption(option, value, "expected an IPv4 or IPv6 address, optionally with /prefix")
    for ip in (iface.ip, getattr(iface.ip, "ipv4_mapped", None)):
        if ip is not None and (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified):
            raise InvalidOption(option, value, "is a loopback, link-local, multicast or unspecified address, not one a partition can own")
    if mode == "routed":
        if str(iface.ip) in host_owned:  # a host route to the partition would take it from the host
            raise InvalidOption(option, value, "is %s" % host_owned[str(iface.ip)])
        return iface.ip, "%s/%d" % (iface.ip, iface.max_prefixlen)
    gateway = network.get("ipv%d" % iface.version)
    if not gateway:
        raise InvalidOption(option, value, "network %s has no IPv%d subnet" % (network["name"], iface.version))
    subnet = ipaddress.ip_interface(gateway).network
    if iface.ip not in subnet:
        raise InvalidOption(option, value, "is outside network %s's subnet %s" % (network["name"], subnet))
    if iface.ip == ipaddress.ip_interface(gateway).ip:
        raise InvalidOption(option, value, "is the gateway address of network %s" % network["name"])
    if subnet.num_addresses > 2 and iface.ip in (subnet.network_address, getattr(subnet, "broadcast_address", None)):
        raise InvalidOption(option, value, "is the network or broadcast address of %s" % subnet)
    return iface.ip, "%s/%d" % (iface.ip, subnet.prefixlen)


def _rate(option, value):
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = set(value) - set(("ingress", "egress"))
        if unknown:
            raise InvalidOption(option, value, "only ingress and egress can be set")
        return {"ingress": parse_rate(option + ".ingress", value.get("ingress")),
                "egress": parse_rate(option + ".egress", value.get("egress"))}
    bits = parse_rate(option, value)
    return {"ingress": bits, "egress": bits}


def _gateway(option, value, version):
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        raise InvalidOption(option, value, "expected an IPv%d address" % version)
    if address.version != version:
        raise InvalidOption(option, value, "expected an IPv%d address" % version)
    return str(address)


def _dns(option, value):
    if not value:
        return None
    nameservers = []
    for server in value.get("nameservers") or []:
        try:
            nameservers.append(str(ipaddress.ip_address(str(server))))
        except ValueError:
            raise InvalidOption(option + ".nameservers", server, "expected an IP address")
    search = []
    for domain in value.get("search") or []:
        if not isinstance(domain, string_types) or not DOMAIN.match(domain):
            raise InvalidOption(option + ".search", domain, "is not a domain name")
        search.append(domain)
    return {"nameservers": nameservers, "search": search}


def _host_owned(networks, host_addresses):
    """{ip: whose} of the addresses a routed interface may not take: the host's own and its networks' gateways."""
    owned = dict((str(ipaddress.ip_interface(str(address)).ip), "an address of the host") for address in host_addresses or ())
    for network in networks.values():
        for key in ("ipv4", "ipv6"):
            if (network or {}).get(key):
                owned[str(ipaddress.ip_interface(network[key]).ip)] = "the gateway address of network %s" % network["name"]
    return owned


def _default_mac(partition, name, identity, recorded):
    """The MAC of an interface given none: the one recorded for it when that is the default from before identities
    (a partition keeps its MAC across the upgrade), else the default of this state directory's identity."""
    legacy = legacy_default_mac(partition, name)
    if any(iface.get("name") == name and iface.get("mac") == legacy for iface in recorded or []):
        return legacy
    return default_mac(identity, partition, name)


def normalise_interfaces(raw, partition, networks, used, host_addresses=(), identity=None, recorded=None, network_refusal=None):
    """raw interface dicts -> normalised list.

    networks: {name: network spec}; used: {ip: partition} for addresses of *other* partitions;
    host_addresses: the host's own addresses (with or without /prefix), which no routed interface may take;
    identity: the state directory's, for default MACs; recorded: the partition's recorded interfaces;
    network_refusal(name): why the bridge of a recorded network is not this state directory's to join, or None.
    """
    result = []
    seen_names, seen_ips = set(), {}
    host_owned = _host_owned(networks, host_addresses)
    for index, item in enumerate(raw or []):
        option = "interfaces[%d]" % index
        name = item.get("name") or "eth%d" % index
        if not INNER_NAME.match(name) or name in seen_names:
            raise InvalidOption(option + ".name", name, "must be a unique interface name such as eth0")
        seen_names.add(name)
        mode = item.get("mode") or ("bridge" if item.get("network") else None)
        network = None
        if mode == "routed":
            if item.get("network"):
                raise InvalidOption(option + ".network", item["network"], "a routed interface has no network")
        elif mode == "bridge":
            network = networks.get(validate_bridge_name(option + ".network", item.get("network")))
            if network is None:
                raise InvalidOption(option + ".network", item.get("network"),
                                    "no such network; create it with linuxvps.partitions.network")
            refusal = network_refusal(network["name"]) if network_refusal else None
            if refusal:
                raise InvalidOption(option + ".network", item.get("network"), refusal)
        else:
            raise InvalidOption(option + ".network", None, "give a network, or mode: routed")
        addresses = []
        for value in item.get("addresses") or []:
            ip, cidr = _address(option + ".addresses", value, network, mode, host_owned)
            owner = used.get(str(ip)) or seen_ips.get(str(ip))
            if owner:
                raise InvalidOption(option + ".addresses", value, "is already used by partition %s" % owner)
            seen_ips[str(ip)] = partition
            addresses.append(cidr)
        mac = (item.get("mac") or _default_mac(partition, name, identity, recorded)).lower()
        if not MAC.match(mac) or int(mac[:2], 16) & 1:
            raise InvalidOption(option + ".mac", item.get("mac"), "expected a unicast MAC such as 02:00:00:00:00:01")
        has4 = any(":" not in cidr for cidr in addresses)
        has6 = any(":" in cidr for cidr in addresses)
        gateway = _gateway(option + ".gateway", item.get("gateway"), 4)
        gateway6 = _gateway(option + ".gateway6", item.get("gateway6"), 6)
        if mode == "bridge":
            if gateway is None and has4 and network.get("ipv4"):
                gateway = str(ipaddress.ip_interface(network["ipv4"]).ip)
            if gateway6 is None and has6 and network.get("ipv6"):
                gateway6 = str(ipaddress.ip_interface(network["ipv6"]).ip)
        result.append({
            "name": name,
            "network": network["name"] if network else None,
            "mode": mode,
            "addresses": sorted(addresses),
            "gateway": gateway,
            "gateway6": gateway6,
            "mac": mac,
            "mtu": parse_int_range(option + ".mtu", item.get("mtu"), 576, 65535),
            "rate": _rate(option + ".rate", item.get("rate")),
            "dns": _dns(option + ".dns", item.get("dns")),
        })
    return result


def identity(interfaces):
    return [dict((key, iface.get(key)) for key in IDENTITY_FIELDS) for iface in interfaces or []]


def live_part(interfaces):
    return [dict((key, iface.get(key)) for key in LIVE_FIELDS) for iface in interfaces or []]


def resolv_conf(interfaces):
    """/etc/resolv.conf content from the interfaces' dns settings, or None when none is set."""
    nameservers, search = [], []
    for iface in interfaces or []:
        for server in ((iface.get("dns") or {}).get("nameservers") or []):
            if server not in nameservers:
                nameservers.append(server)
        for domain in ((iface.get("dns") or {}).get("search") or []):
            if domain not in search:
                search.append(domain)
    if not nameservers and not search:
        return None
    lines = ["# Written by linuxvps.partitions from the partition's interfaces."]
    lines += ["nameserver %s" % server for server in nameservers]
    if search:
        lines.append("search %s" % " ".join(search))
    return "\n".join(lines) + "\n"
