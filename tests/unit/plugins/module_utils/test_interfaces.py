# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""interfaces.py: the `interfaces` option normalised and checked against networks and other partitions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import interfaces
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.net import default_mac, legacy_default_mac

NETWORKS = {
    "lan": {"name": "lan", "ipv4": "10.213.0.1/24", "ipv6": "fd42:213::1/64"},
    "v4only": {"name": "v4only", "ipv4": "10.9.0.1/24", "ipv6": None},
    "odd": {"name": "odd", "ipv4": "169.254.0.1/16", "ipv6": "fe80::1/64"},
}
HOST_ADDRESSES = ["192.0.2.1/24", "2001:db8::1"]
IDENTITY = "0123456789abcdef0123456789abcdef"


def normalise(raw, used=None, **kwargs):
    return interfaces.normalise_interfaces(raw, "web1", NETWORKS, used or {}, host_addresses=HOST_ADDRESSES, identity=IDENTITY, **kwargs)


def test_a_bridged_interface_gets_defaults_from_its_network():
    [iface] = normalise([{"network": "lan", "addresses": ["10.213.0.5", "fd42:213::5"], "rate": "10mbit"}])
    assert iface == {
        "name": "eth0", "network": "lan", "mode": "bridge",
        "addresses": ["10.213.0.5/24", "fd42:213::5/64"],
        "gateway": "10.213.0.1", "gateway6": "fd42:213::1",
        "mac": default_mac(IDENTITY, "web1", "eth0"), "mtu": None,
        "rate": {"ingress": 10 ** 7, "egress": 10 ** 7}, "dns": None,
    }


def test_a_routed_interface_has_host_addresses_and_no_gateway():
    [iface] = normalise([{"name": "uplink0", "mode": "routed", "addresses": ["192.0.2.7/24", "2001:db8::7"],
                          "mac": "02:AA:BB:CC:DD:EE", "mtu": 1400, "rate": {"ingress": "1mbit"}}])
    assert (iface["network"], iface["addresses"]) == (None, ["192.0.2.7/32", "2001:db8::7/128"])
    assert (iface["gateway"], iface["gateway6"], iface["mac"], iface["mtu"]) == (None, None, "02:aa:bb:cc:dd:ee", 1400)
    assert iface["rate"] == {"ingress": 10 ** 6, "egress": None}


def test_names_count_up_and_gateways_follow_the_families_used():
    first, second = normalise([{"network": "lan", "addresses": ["10.213.0.5"]}, {"network": "v4only"}])
    assert (first["name"], first["gateway"], first["gateway6"]) == ("eth0", "10.213.0.1", None)
    assert (second["name"], second["addresses"], second["gateway"]) == ("eth1", [], None)


@pytest.mark.parametrize("raw, used, option, reason", [
    ([{"name": "Eth0", "network": "lan"}], {}, "interfaces[0].name", "unique interface name"),
    ([{"network": "lan"}, {"name": "eth0", "network": "lan"}], {}, "interfaces[1].name", "unique interface name"),
    ([{"mode": "routed", "network": "lan"}], {}, "interfaces[0].network", "a routed interface has no network"),
    ([{"network": "wan"}], {}, "interfaces[0].network", "no such network"),
    ([{}], {}, "interfaces[0].network", "give a network, or mode: routed"),
    ([{"network": "lan", "addresses": ["10.1.0.5"]}], {}, "interfaces[0].addresses", "outside network lan's subnet"),
    ([{"network": "lan", "addresses": ["10.213.0.1"]}], {}, "interfaces[0].addresses", "gateway address of network lan"),
    ([{"network": "lan", "addresses": ["10.213.0.255"]}], {}, "interfaces[0].addresses", "network or broadcast"),
    ([{"network": "v4only", "addresses": ["fd42::5"]}], {}, "interfaces[0].addresses", "has no IPv6 subnet"),
    ([{"network": "lan", "addresses": ["not-an-ip"]}], {}, "interfaces[0].addresses", "expected an IPv4 or IPv6 address"),
    ([{"network": "lan", "addresses": ["10.213.0.5"]}], {"10.213.0.5": "db1"}, "interfaces[0].addresses",
     "already used by partition db1"),
    ([{"network": "lan", "addresses": ["10.213.0.5"]}, {"network": "lan", "addresses": ["10.213.0.5/24"]}], {},
     "interfaces[1].addresses", "already used by partition web1"),
    ([{"network": "lan", "mac": "01:00:00:00:00:01"}], {}, "interfaces[0].mac", "unicast MAC"),
    ([{"network": "lan", "mac": "02:00:00:00:00"}], {}, "interfaces[0].mac", "unicast MAC"),
    ([{"network": "lan", "gateway": "fd42::1"}], {}, "interfaces[0].gateway", "expected an IPv4 address"),
    ([{"network": "lan", "gateway6": "10.0.0.1"}], {}, "interfaces[0].gateway6", "expected an IPv6 address"),
    ([{"network": "lan", "mtu": 100}], {}, "interfaces[0].mtu", "at least 576"),
    ([{"network": "lan", "rate": {"up": "1mbit"}}], {}, "interfaces[0].rate", "only ingress and egress"),
    ([{"network": "lan", "rate": {"egress": "fast"}}], {}, "interfaces[0].rate.egress", "expected a rate"),
    ([{"network": "lan", "dns": {"nameservers": ["dns.example"]}}], {}, "interfaces[0].dns.nameservers", "expected an IP address"),
    ([{"network": "lan", "dns": {"search": ["-bad-"]}}], {}, "interfaces[0].dns.search", "not a domain name"),
    # names end where they seem to: no final newline
    ([{"name": "eth0\n", "network": "lan"}], {}, "interfaces[0].name", "unique interface name"),
    ([{"name": "lo", "network": "lan"}], {}, "interfaces[0].name", "unique interface name"),
    ([{"network": "lan\n"}], {}, "interfaces[0].network", "must be a bridge name"),
    ([{"network": "lo"}], {}, "interfaces[0].network", "loopback"),
    ([{"mode": "bridge"}], {}, "interfaces[0].network", "must be a bridge name"),
    ([{"network": "lan", "mac": "02:00:00:00:00:01\n"}], {}, "interfaces[0].mac", "unicast MAC"),
    ([{"network": "lan", "dns": {"search": ["example.org\n"]}}], {}, "interfaces[0].dns.search", "not a domain name"),
    # addresses no partition can own, routed or bridged
    ([{"mode": "routed", "addresses": ["127.0.0.1"]}], {}, "interfaces[0].addresses", "loopback"),
    ([{"mode": "routed", "addresses": ["::1"]}], {}, "interfaces[0].addresses", "loopback"),
    ([{"mode": "routed", "addresses": ["::ffff:127.0.0.1"]}], {}, "interfaces[0].addresses", "loopback"),
    ([{"mode": "routed", "addresses": ["169.254.169.254"]}], {}, "interfaces[0].addresses", "link-local"),
    ([{"mode": "routed", "addresses": ["fe80::1"]}], {}, "interfaces[0].addresses", "link-local"),
    ([{"mode": "routed", "addresses": ["224.0.0.1"]}], {}, "interfaces[0].addresses", "multicast"),
    ([{"mode": "routed", "addresses": ["ff02::1"]}], {}, "interfaces[0].addresses", "multicast"),
    ([{"mode": "routed", "addresses": ["0.0.0.0"]}], {}, "interfaces[0].addresses", "unspecified"),
    ([{"mode": "routed", "addresses": ["::"]}], {}, "interfaces[0].addresses", "unspecified"),
    ([{"network": "odd", "addresses": ["169.254.0.5"]}], {}, "interfaces[0].addresses", "link-local"),
    ([{"network": "odd", "addresses": ["fe80::5"]}], {}, "interfaces[0].addresses", "link-local"),
    # routed addresses the host itself answers to
    ([{"mode": "routed", "addresses": ["192.0.2.1"]}], {}, "interfaces[0].addresses", "an address of the host"),
    ([{"mode": "routed", "addresses": ["2001:db8:0::1/64"]}], {}, "interfaces[0].addresses", "an address of the host"),
    ([{"mode": "routed", "addresses": ["10.213.0.1"]}], {}, "interfaces[0].addresses", "the gateway address of network lan"),
    ([{"mode": "routed", "addresses": ["fd42:213::1"]}], {}, "interfaces[0].addresses", "the gateway address of network lan"),
])
def test_invalid_interfaces_name_the_option(raw, used, option, reason):
    with pytest.raises(InvalidOption) as caught:
        normalise(raw, used)
    assert caught.value.option == option
    assert reason in caught.value.msg


def test_routed_edges_stay_valid():
    [iface] = normalise([{"mode": "routed", "addresses": ["192.0.2.2", "10.213.0.2", "2001:db8::2", "203.0.113.255"]}])
    assert iface["addresses"] == ["10.213.0.2/32", "192.0.2.2/32", "2001:db8::2/128", "203.0.113.255/32"]
    [iface] = interfaces.normalise_interfaces([{"mode": "routed", "addresses": ["192.0.2.1"]}], "web1", {}, {})
    assert iface["addresses"] == ["192.0.2.1/32"]  # without the host's addresses, only the networks' gateways are known


def test_identity_and_live_part_split_the_fields():
    [iface] = normalise([{"network": "lan", "addresses": ["10.213.0.5"], "dns": {"nameservers": ["10.213.0.1"]}}])
    assert interfaces.identity([iface]) == [{"name": "eth0", "network": "lan", "mode": "bridge", "mac": iface["mac"], "mtu": None}]
    assert interfaces.live_part([iface]) == [{"addresses": ["10.213.0.5/24"], "gateway": "10.213.0.1", "gateway6": None,
                                              "rate": None, "dns": {"nameservers": ["10.213.0.1"], "search": []}}]
    assert interfaces.identity(None) == interfaces.live_part(None) == []


def test_resolv_conf_merges_the_interfaces_dns_in_order_without_repeats():
    ifaces = [{"dns": {"nameservers": ["10.213.0.1", "1.1.1.1"], "search": ["example.org"]}},
              {"dns": None},
              {"dns": {"nameservers": ["1.1.1.1", "fd42::1"], "search": ["example.org", "lan"]}}]
    assert interfaces.resolv_conf(ifaces) == (
        "# Written by linuxvps.partitions from the partition's interfaces.\n"
        "nameserver 10.213.0.1\nnameserver 1.1.1.1\nnameserver fd42::1\nsearch example.org lan\n")


def test_no_resolv_conf_without_dns_settings():
    assert interfaces.resolv_conf([{"dns": None}, {"dns": {"nameservers": [], "search": []}}]) is None
    assert interfaces.resolv_conf(None) is None


def test_a_recorded_mac_from_before_identities_is_kept_and_otherwise_the_identitys_default_is_used():
    legacy = legacy_default_mac("web1", "eth0")
    kept = normalise([{"network": "lan"}], recorded=[{"name": "eth0", "mac": legacy}])
    assert kept[0]["mac"] == legacy
    fresh = normalise([{"network": "lan"}], recorded=[{"name": "eth0", "mac": "02:00:00:00:00:09"}, {"name": "eth1", "mac": legacy}])
    assert fresh[0]["mac"] == default_mac(IDENTITY, "web1", "eth0") != legacy
    assert normalise([{"network": "lan", "mac": "02:00:00:00:00:07"}], recorded=[{"name": "eth0", "mac": legacy}])[0]["mac"] == "02:00:00:00:00:07"


def test_a_network_whose_bridge_is_not_ours_is_refused_naming_the_option():
    with pytest.raises(InvalidOption) as caught:
        normalise([{"network": "lan"}], network_refusal=lambda name: "is not this state directory's to manage" if name == "lan" else None)
    assert (caught.value.option, caught.value.value) == ("interfaces[0].network", "lan")
    assert normalise([{"network": "v4only"}], network_refusal=lambda name: "no" if name == "lan" else None)[0]["network"] == "v4only"
