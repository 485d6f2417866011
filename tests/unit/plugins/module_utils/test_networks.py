# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""networks.py: the network options, and converge() over a state directory in tmp_path with the bridge and
NAT of a fake host (net and firewall replaced), so nothing on this machine changes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import net, networks
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import Conflict, InvalidOption, NetworkError
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore

LAN = {"name": "lan0", "ipv4": "10.213.0.1/24", "ipv6": "fd42:213::1/64", "nat": True, "uplink": "eth0"}


@pytest.mark.parametrize("value, version, expected", [
    ("10.213.0.1/24", 4, "10.213.0.1/24"),
    ("fd42:213:0::1/64", 6, "fd42:213::1/64"),
    (None, 4, None),
])
def test_gateway_interface_is_canonical(value, version, expected):
    assert networks.gateway_interface("ipv%d" % version, value, version) == expected


@pytest.mark.parametrize("value, version, reason", [
    ("10.213.0.1", 4, "with its prefix length"),
    ("fd42::1/64", 4, "expected an IPv4 address"),
    ("10.213.0.0/24", 4, "network or broadcast"),
    ("10.213.0.255/24", 4, "network or broadcast"),
    ("gateway", 6, "such as fd42:213::1/64"),
])
def test_a_bad_gateway_interface_names_its_option(value, version, reason):
    with pytest.raises(InvalidOption) as caught:
        networks.gateway_interface("ipv%d" % version, value, version)
    assert caught.value.option == "ipv%d" % version
    assert reason in caught.value.msg


def test_normalise_network_keeps_what_was_given():
    assert networks.normalise_network(dict(LAN, state="present")) == LAN
    assert networks.normalise_network({"name": "br-x"})["nat"] is False


@pytest.mark.parametrize("name", ["lvdemo0", "lvtestbr0", "lvvm0", "lo0", "lan", "a" * 15])
def test_bridge_names_the_roles_and_tests_use_stay_valid(name):
    assert networks.normalise_network({"name": name})["name"] == name


@pytest.mark.parametrize("params, option", [
    ({"name": "Lan"}, "name"),
    ({"name": "a-very-long-bridge"}, "name"),
    ({"name": "lan0", "ipv4": "10.213.0.1/24", "nat": True}, "uplink"),
    ({"name": "lan0", "ipv6": "fd42::1/64", "nat": True, "uplink": "eth0"}, "nat"),
    ({"name": "lan0", "uplink": "eth 0"}, "uplink"),
    ({"name": "lan0\n"}, "name"),
    ({"name": "lo"}, "name"),
    ({"name": "lv0123456789a"}, "name"),
    ({"name": "lv0123456789ap"}, "name"),
    ({"name": None}, "name"),
    ({"name": "lan0", "uplink": "eth0\n"}, "uplink"),
])
def test_invalid_networks_name_the_option(params, option):
    with pytest.raises(InvalidOption) as caught:
        networks.normalise_network(params)
    assert caught.value.option == option


def test_bridge_addresses_are_the_gateways_sorted():
    assert networks.bridge_addresses(LAN) == ["10.213.0.1/24", "fd42:213::1/64"]
    assert networks.bridge_addresses({"ipv4": None, "ipv6": None}) == []


class FakeHost:
    """The bridges and NAT chains of a host, as networks.py sees them through net and firewall."""

    def __init__(self):
        self.bridges = {}  # name -> addresses
        self.aliases = {}  # bridge name -> its alias (the owner mark)
        self.devices = {"eth0": None, "veth1": "veth"}  # other links: name -> kind
        self.nat = {}  # network -> (subnet, uplink)
        self.calls = []
        self.fail_ensure = False  # ensure_bridge fails once the bridge is made, before it is marked (a run killed there)

    def bridge_state(self, name):
        if name in self.devices:
            return {"exists": True, "kind": self.devices[name], "alias": None, "owner": None, "addresses": ["192.0.2.1/24"]}
        alias = self.aliases.get(name)
        return {"exists": name in self.bridges, "kind": "bridge" if name in self.bridges else None, "alias": alias,
                "owner": net.Owner.of(alias), "addresses": self.bridges.get(name, [])}

    def ensure_bridge(self, name, addresses, mark):
        self.calls.append("ensure_bridge %s" % name)
        self.bridges.setdefault(name, [])
        if self.fail_ensure:
            raise NetworkError("killed between making and marking %s" % name)
        self.aliases[name] = mark
        self.bridges[name] = addresses

    def delete_bridge(self, name, owner, unmarked_ok=False):
        assert owner.refusal(self.aliases.get(name), name, unmarked_ok) is None
        self.calls.append("delete_bridge %s" % name)
        self.bridges.pop(name, None)
        self.aliases.pop(name, None)

    def enable_forwarding(self):
        self.calls.append("enable_forwarding")

    def nat_exists(self, table, network):
        return network in self.nat

    def ensure_nat(self, table, network, subnet, uplink):
        self.calls.append("ensure_nat %s %s %s %s" % (table, network, subnet, uplink))
        self.nat[network] = (subnet, uplink)

    def remove_nat(self, table, network):
        self.calls.append("remove_nat %s" % network)
        self.nat.pop(network, None)

    def remove_empty_tables(self, table):
        self.calls.append("remove_empty_tables %s" % table)


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost()
    for name in ("bridge_state", "ensure_bridge", "delete_bridge", "enable_forwarding"):
        monkeypatch.setattr(networks.net, name, getattr(fake, name))
    for name in ("nat_exists", "ensure_nat", "remove_nat", "remove_empty_tables"):
        monkeypatch.setattr(networks.firewall, name, getattr(fake, name))
    return fake


@pytest.fixture
def store(tmp_path):
    return networks.NetworkStore(StateStore(str(tmp_path / "state")), "linuxvps")


def test_converge_creates_the_network_then_finds_nothing_to_do(host, store):
    changed, spec, diff = store.converge(dict(LAN))
    assert (changed, spec, diff["before"]) == (True, LAN, {"state": "absent"})
    assert diff["before_header"] == diff["after_header"] == "network lan0"  # --diff shows which network
    assert host.calls == ["ensure_bridge lan0", "enable_forwarding", "ensure_nat linuxvps lan0 10.213.0.0/24 eth0"]
    assert store.store.load_network("lan0")["ipv4"] == "10.213.0.1/24"
    assert store.store.load_network("lan0")["bridge"] == "made"
    assert net.Owner.of(host.aliases["lan0"]) == store.store.identity()
    del host.calls[:]
    assert store.converge(dict(LAN))[0] is False
    assert host.calls == []


def test_converge_repairs_a_bridge_whose_addresses_drifted(host, store):
    store.converge(dict(LAN))
    host.bridges["lan0"] = ["10.213.0.1/24"]
    assert store.converge(dict(LAN))[0] is True
    assert host.bridges["lan0"] == ["10.213.0.1/24", "fd42:213::1/64"]


def test_converge_restores_a_lost_nat_chain(host, store):
    store.converge(dict(LAN))
    host.nat.clear()
    assert store.converge(dict(LAN))[0] is True
    assert host.nat == {"lan0": ("10.213.0.0/24", "eth0")}


def test_check_mode_reports_the_change_and_touches_nothing(host, store):
    assert store.converge(dict(LAN), check_mode=True)[0] is True
    assert host.calls == []
    assert store.store.load_network("lan0") is None


def test_removing_a_network_in_use_needs_force(host, store):
    store.converge(dict(LAN))
    store.store.save_partition("web1", {"spec": {"interfaces": [{"name": "eth0", "network": "lan0"}]}})
    with pytest.raises(Conflict, match="web1"):
        store.converge({"name": "lan0", "state": "absent"})
    del host.calls[:]
    changed, spec, diff = store.converge({"name": "lan0", "state": "absent", "force": True})
    assert (changed, spec, diff["after"]) == (True, None, {"state": "absent"})
    assert diff["before_header"] == diff["after_header"] == "network lan0"
    assert host.calls == ["remove_nat lan0", "delete_bridge lan0", "remove_empty_tables linuxvps"]
    assert store.store.load_network("lan0") is None
    assert store.converge({"name": "lan0", "state": "absent"})[0] is False


@pytest.mark.parametrize("name, state", [("eth0", "present"), ("eth0", "absent"), ("veth1", "present"), ("veth1", "absent")])
def test_a_host_link_that_is_not_a_bridge_is_neither_taken_nor_removed(host, store, name, state):
    with pytest.raises(InvalidOption) as caught:
        store.converge(dict(LAN, name=name, state=state, force=True))
    assert caught.value.option == "name" and repr(name) in caught.value.msg and "not a bridge" in caught.value.msg
    assert host.calls == [] and name in host.devices
    assert store.store.load_network(name) is None


def test_removing_names_the_loopback_refused_before_any_look(host, store):
    with pytest.raises(InvalidOption) as caught:
        store.converge({"name": "lo", "state": "absent"})
    assert caught.value.option == "name"
    assert host.calls == []


# ---- bridges that are not ours ---------------------------------------------------------------------
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.mark.parametrize("alias, why", [
    (None, "carries no linuxvps owner mark"),  # docker0, one the administrator made
    ("docker0 bridge", "its alias is 'docker0 bridge'"),
    (net.Owner(OTHER).mark("network/lan0"), "belongs to another state directory (identity %s)" % OTHER),
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_bridge_no_record_of_ours_claims_is_neither_taken_nor_removed(host, store, alias, why, state):
    host.bridges["lan0"], host.aliases["lan0"] = ["172.17.0.1/16"], alias
    with pytest.raises(InvalidOption) as caught:
        store.converge(dict(LAN, state=state, force=True))
    assert caught.value.option == "name" and "'lan0'" in caught.value.msg and why in caught.value.msg
    assert host.calls == [] and host.bridges["lan0"] == ["172.17.0.1/16"] and host.aliases["lan0"] == alias
    assert store.store.load_network("lan0") is None


def test_check_mode_refuses_a_foreign_bridge_too(host, store):
    host.bridges["lan0"] = []
    with pytest.raises(InvalidOption, match="no linuxvps owner mark"):
        store.converge(dict(LAN), check_mode=True)


def test_our_record_of_a_bridge_another_state_directory_now_has_goes_without_the_bridge(host, store):
    store.converge(dict(LAN))
    host.aliases["lan0"] = net.Owner(OTHER).mark("network/lan0")  # ours was removed, the other made its own
    with pytest.raises(InvalidOption, match="belongs to another state directory"):
        store.converge(dict(LAN))
    del host.calls[:]
    assert store.converge({"name": "lan0", "state": "absent"})[0] is True
    assert host.calls == ["remove_nat lan0", "remove_empty_tables linuxvps"]
    assert "lan0" in host.bridges and store.store.load_network("lan0") is None


def test_a_run_killed_between_making_and_marking_the_bridge_is_converged_by_the_next(host, store):
    host.fail_ensure = True
    with pytest.raises(NetworkError):
        store.converge(dict(LAN))
    assert store.store.load_network("lan0")["bridge"] == "creating"  # recorded before the bridge was made
    assert "lan0" in host.bridges and host.aliases.get("lan0") is None
    host.fail_ensure = False
    assert store.converge(dict(LAN), check_mode=True)[0] is True
    assert store.converge(dict(LAN))[0] is True
    assert net.Owner.of(host.aliases["lan0"]) == store.store.identity()
    assert store.store.load_network("lan0")["bridge"] == "made"
    assert store.converge(dict(LAN))[0] is False


def test_an_unmarked_bridge_is_refused_once_the_record_says_it_was_made_and_marked(host, store):
    store.converge(dict(LAN))
    host.aliases["lan0"] = None  # replaced behind our back by an unmarked one
    with pytest.raises(InvalidOption, match="no linuxvps owner mark"):
        store.converge(dict(LAN))


def test_a_network_an_earlier_version_recorded_is_marked_by_the_next_run(host, store):
    store.store.save_network("lan0", dict(LAN))  # no "bridge": saved before marks
    host.bridges["lan0"] = ["10.213.0.1/24", "fd42:213::1/64"]
    host.nat["lan0"] = ("10.213.0.0/24", "eth0")
    assert store.converge(dict(LAN))[0] is True
    assert net.Owner.of(host.aliases["lan0"]) == store.store.identity()
    assert store.converge(dict(LAN))[0] is False


@pytest.mark.parametrize("document, bridge, refused", [
    (None, {"exists": False}, None),
    (None, {"exists": True, "kind": "bridge", "alias": net.Owner("a" * 32).mark("network/x")}, None),
    (None, {"exists": True, "kind": "bridge", "alias": None}, "no linuxvps owner mark"),
    ({"bridge": "creating"}, {"exists": True, "kind": "bridge", "alias": None}, None),
    ({}, {"exists": True, "kind": "bridge", "alias": None}, None),
    ({"bridge": "made"}, {"exists": True, "kind": "bridge", "alias": None}, "no linuxvps owner mark"),
    ({"bridge": "creating"}, {"exists": True, "kind": "bridge", "alias": net.Owner(OTHER).mark("network/x")}, "another state directory"),
    ({}, {"exists": True, "kind": None, "alias": None}, "not a bridge (a device)"),
])
def test_bridge_refusal(document, bridge, refused):
    refusal = networks.bridge_refusal("x", bridge, document, "a" * 32)
    assert refusal is None if refused is None else refused in refusal
