# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall.py: the nft rule text, and the scripts it would feed `nft -f -` (run() replaced: no nft runs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import firewall
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency, NetworkError

MAC = "02:00:00:00:00:01"
LINK_LOCAL = "fe80::ff:fe00:1"
# a neighbour advertisement may claim fd42::5 and the link-local address, as 128-bit target fields
NEIGHBOUR_ADVERT = ("icmpv6 type nd-neighbor-advert @th,64,128 != { 0xfd420000000000000000000000000005, "
                    "0xfe80000000000000000000fffe000001 } drop")
NO_ROUTER = [
    "icmpv6 type { nd-router-advert, nd-redirect, router-renumbering } drop",
    "icmp type redirect drop",
    "udp sport { 67, 547 } drop",
]


class FakeNft:
    """Answers `nft list ...` from the objects it holds and keeps every script given to `nft -f -`."""

    def __init__(self):
        self.objects = set()  # ("chain", "netdev", "linuxvps", "if_lv1"), ("table", "ip", "linuxvps")
        self.listing = ""
        self.scripts = []
        self.answer = (0, "", "")
        self.commands = []  # every nft command line, in order

    def run(self, cmd, stdin_data=None, check=True):
        assert cmd[0] == "nft" and not check
        self.commands.append(cmd[1:])
        if cmd[1:3] == ["-f", "-"]:
            self.scripts.append(stdin_data)
            words = stdin_data.split()
            if words[:2] == ["delete", "chain"] and self.answer[0] == 0:  # nft refuses to delete what is not there
                chain = ("chain",) + tuple(words[2:5])
                if chain not in self.objects:
                    return 1, "", "Error: Could not process rule: No such file or directory"
                self.objects.discard(chain)
            return self.answer
        listed = [arg for arg in cmd[1:] if arg != "-j"]  # -j: the listing is JSON
        if listed[0] == "list" and tuple(listed[1:]) in self.objects:
            return 0, self.listing, ""
        return 1, "", "Error: No such file or directory"


@pytest.fixture
def nft(monkeypatch):
    fake = FakeNft()
    monkeypatch.setattr(firewall, "find_program", lambda name: "/usr/sbin/" + name)
    monkeypatch.setattr(firewall, "run", fake.run)
    return fake


def test_table_name_is_an_nft_identifier():
    assert firewall.table_name("linuxvps") == "linuxvps"
    assert firewall.table_name("linuxvps-1a2b.slice") == "linuxvps_1a2b_slice"


def test_interface_rules_allow_only_the_partitions_own_addresses_at_its_rate():
    rules = firewall.interface_rules(MAC, ["10.213.0.5/24", "fd42::5/64", "10.213.0.4/24"], LINK_LOCAL, 125000)
    assert rules == [
        "ether type != { arp, ip, ip6 } drop",
        "ether saddr != 02:00:00:00:00:01 drop",
        "arp saddr ether != 02:00:00:00:00:01 drop",
        "arp saddr ip != { 10.213.0.4, 10.213.0.5 } drop",
        "ip saddr != { 10.213.0.4, 10.213.0.5 } drop",
        "ip6 saddr != { fd42::5, fe80::ff:fe00:1, :: } drop",
        NEIGHBOUR_ADVERT,
    ] + NO_ROUTER + [
        "limit rate over 125000 bytes/second burst 65536 bytes drop",
    ]


def test_router_advertisements_redirects_and_dhcp_replies_are_dropped_but_solicitations_and_requests_pass():
    rules = firewall.interface_rules(MAC, ["fd42::5/64"], LINK_LOCAL, None)
    assert rules[-3:] == NO_ROUTER
    text = "\n".join(rules)
    assert "nd-router-solicit" not in text and "nd-neighbor-solicit" not in text  # a partition may ask
    assert "dport" not in text  # DHCP clients send to ports 67 and 547


def test_partition_rules_are_the_interfaces_own():
    iface = {"name": "eth0", "mac": MAC, "addresses": ["fd42::5/64"], "rate": {"ingress": 8000000, "egress": 8000000}}
    assert firewall.partition_rules(iface) == firewall.interface_rules(MAC, ["fd42::5/64"], LINK_LOCAL, 1000000)
    assert firewall.partition_rules(dict(iface, rate=None)) == firewall.interface_rules(MAC, ["fd42::5/64"], LINK_LOCAL, None)


def test_without_ipv4_arp_and_ipv4_are_dropped_and_no_rate_means_no_limit():
    rules = firewall.interface_rules(MAC, ["fd42::5/64"], LINK_LOCAL, None)
    assert "ether type { arp, ip } drop" in rules
    assert not any(rule.startswith(("arp saddr ip", "ip saddr", "limit")) for rule in rules)


def test_a_high_upload_rate_gets_a_quarter_second_burst():
    assert firewall.interface_rules(MAC, [], LINK_LOCAL, 10 ** 6)[-1] == "limit rate over 1000000 bytes/second burst 250000 bytes drop"


def test_guard_interface_replaces_the_chain_in_one_script_every_rule_marked_with_the_set(nft):
    rules = ["ether saddr != %s drop" % MAC, "ip saddr != { 10.0.0.2 } drop"]
    marker = "guard " + hashlib.sha1("\n".join(rules).encode()).hexdigest()[:16]
    firewall.guard_interface("linuxvps", "lv0123456789a", rules)
    assert nft.scripts == [
        "add table netdev linuxvps\n"
        "add chain netdev linuxvps if_lv0123456789a { type filter hook ingress device \"lv0123456789a\" priority -500; policy accept; }\n"
        "flush chain netdev linuxvps if_lv0123456789a\n"
        "add rule netdev linuxvps if_lv0123456789a ether saddr != 02:00:00:00:00:01 drop comment \"%s\"\n"
        "add rule netdev linuxvps if_lv0123456789a ip saddr != { 10.0.0.2 } drop comment \"%s\"\n" % (marker, marker)
    ]


def _listing(*rules):
    """`nft -j list table netdev linuxvps` with chain if_lv1 and these (chain, comment) rules."""
    items = [{"metainfo": {"json_schema_version": 1}}, {"table": {"family": "netdev", "name": "linuxvps"}},
             {"chain": {"family": "netdev", "table": "linuxvps", "name": "if_lv1", "hook": "ingress"}}]
    for handle, (chain, comment) in enumerate(rules):
        rule = {"family": "netdev", "table": "linuxvps", "chain": chain, "handle": handle + 3, "expr": []}
        if comment is not None:
            rule["comment"] = comment
        items.append({"rule": rule})
    return json.dumps({"nftables": items})


def test_a_guard_is_whole_only_with_every_rule_of_its_set(nft):
    rules = firewall.interface_rules(MAC, ["fd42::5/64"], LINK_LOCAL, None)
    firewall.guard_interface("linuxvps", "lv1", rules)
    marker = nft.scripts[0].split("comment ")[1].split("\n")[0].strip('"')
    nft.objects.add(("table", "netdev", "linuxvps"))
    nft.listing = _listing(*[("if_lv1", marker)] * len(rules))
    chains = firewall.guard_chains("linuxvps")
    assert chains == {"if_lv1": [marker] * len(rules)}
    assert firewall.is_guarded(chains, "lv1", rules)
    assert not firewall.is_guarded(chains, "lv2", rules)  # no chain
    assert not firewall.is_guarded(chains, "lv1", rules[:-1])  # other rules
    nft.listing = _listing(*[("if_lv1", marker)] * (len(rules) - 1))  # one deleted
    assert not firewall.is_guarded(firewall.guard_chains("linuxvps"), "lv1", rules)
    nft.listing = _listing()  # `nft flush table`: the chain stays, empty
    assert firewall.guard_chains("linuxvps") == {"if_lv1": []}
    assert not firewall.is_guarded(firewall.guard_chains("linuxvps"), "lv1", rules)


def test_without_the_table_or_nft_no_chain_is_seen(nft, monkeypatch):
    assert firewall.guard_chains("linuxvps") == {}  # `nft flush ruleset`
    monkeypatch.setattr(firewall, "find_program", lambda name: None)
    assert firewall.guard_chains("linuxvps") == {}


def test_unguard_deletes_the_chain_with_one_nft_call_and_a_chain_already_gone_is_no_error(nft):
    nft.objects.add(("chain", "netdev", "linuxvps", "if_lv0123456789a"))
    firewall.unguard_interface("linuxvps", "lv0123456789a")
    assert nft.commands == [["-f", "-"]] and nft.scripts == ["delete chain netdev linuxvps if_lv0123456789a\n"]
    assert nft.objects == set()
    firewall.unguard_interface("linuxvps", "lv0123456789a")  # gone: the refused delete is looked into, no error


def test_unguard_raises_when_nft_refuses_to_delete_a_chain_that_is_there(nft):
    nft.objects.add(("chain", "netdev", "linuxvps", "if_lv0123456789a"))
    nft.answer = (1, "", "Error: Could not process rule: Device or resource busy")
    with pytest.raises(NetworkError, match="Device or resource busy"):
        firewall.unguard_interface("linuxvps", "lv0123456789a")


def test_nat_masquerades_the_subnet_on_the_uplink_and_is_removed_by_name(nft):
    firewall.ensure_nat("linuxvps", "lan-0", "10.213.0.0/24", "eth0")
    assert nft.scripts == [
        "add table ip linuxvps\n"
        "add chain ip linuxvps nat_lan_0 { type nat hook postrouting priority srcnat; policy accept; }\n"
        "flush chain ip linuxvps nat_lan_0\n"
        "add rule ip linuxvps nat_lan_0 ip saddr 10.213.0.0/24 oifname \"eth0\" masquerade\n"
    ]
    assert firewall.nat_exists("linuxvps", "lan-0") is False
    nft.objects.add(("chain", "ip", "linuxvps", "nat_lan_0"))
    assert firewall.nat_exists("linuxvps", "lan-0") is True
    firewall.remove_nat("linuxvps", "lan-0")
    assert nft.scripts[-1] == "delete chain ip linuxvps nat_lan_0\n"


@pytest.mark.parametrize("listing, deleted", [
    ("table ip linuxvps {\n}\n", ["delete table ip linuxvps\n"]),
    ("table ip linuxvps {\n\tchain nat_lan0 {\n\t}\n}\n", []),
])
def test_only_empty_tables_are_dropped(nft, listing, deleted):
    nft.objects.add(("table", "ip", "linuxvps"))
    nft.listing = listing
    firewall.remove_empty_tables("linuxvps")
    assert nft.scripts == deleted


def test_a_refused_script_is_a_network_error_showing_the_script(nft):
    nft.answer = (1, "", "Error: Could not process rule: No such file or directory\n")
    with pytest.raises(NetworkError) as caught:
        firewall.ensure_nat("linuxvps", "lan0", "10.213.0.0/24", "eth0")
    assert caught.value.msg.startswith("nft failed: Error: Could not process rule: No such file or directory\nadd table ip linuxvps\n")


def test_without_nft_nothing_runs(nft, monkeypatch):
    monkeypatch.setattr(firewall, "find_program", lambda name: None)
    with pytest.raises(MissingDependency, match="nftables"):
        firewall.guard_interface("linuxvps", "lv0123456789a", [])
    assert nft.scripts == []
