# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.py: names, MACs and link-local addresses; netlink through a fake IPRoute that keeps links like the
kernel does (add of a taken name is EEXIST, del of a gone link ENODEV) and can be told to fail a call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import socket

import re

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from ansible_collections.linuxvps.partitions.plugins.module_utils import net, networks
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency, NetworkError

IDENTITY = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
OWNER = net.Owner(IDENTITY)
HOST_END = net.host_ifname(IDENTITY, "web1", "eth0")
PEER = HOST_END + "p"
HOST_END_MARK = OWNER.mark("partition/web1/eth0")
MAC = "02:00:00:00:00:01"
BRIDGE_INDEX = 5
MUTATING = ("link", "addr", "route", "tc")
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
IP6_FORWARD = "/proc/sys/net/ipv6/conf/all/forwarding"
NO_ROUTER_INPUT = [("/proc/sys/net/ipv6/conf/eth0/accept_ra", 0), ("/proc/sys/net/ipv6/conf/eth0/accept_redirects", 0),
                   ("/proc/sys/net/ipv4/conf/eth0/accept_redirects", 0)]


class FakeMessage(dict):
    """A netlink message: fields by key, attributes by get_attr."""

    def __init__(self, attrs, **fields):
        super(FakeMessage, self).__init__(fields)
        self.attrs = attrs

    def get_attr(self, name):
        return self.attrs.get(name)


class FakeNetlink:
    """The host's and one partition's links, every call made on their sockets, and the failures asked for."""

    def __init__(self):
        self.links = {"host": {"lo": 1, "br0": BRIDGE_INDEX}, "partition": {"lo": 1}}
        self.kinds = {BRIDGE_INDEX: "bridge"}  # index -> IFLA_INFO_KIND; none for a device such as lo or eth0
        self.aliases = {BRIDGE_INDEX: OWNER.mark("network/br0")}  # index -> IFLA_IFALIAS
        self.addresses = {}  # (namespace, index) -> ["cidr", ...]
        self.qdiscs = {}  # index on the host -> ["tbf", ...]
        self.calls = []  # (namespace, method, *args, kwargs)
        self.failures = {}  # (method, first argument) -> errno
        self.sysctls = []  # written in the host's namespace
        self.inner_sysctls = []  # written from inside the partition's: /proc/sys/net is the writer's namespace
        self.sysctl_values = {}  # what reading a sysctl gives; None (unreadable) when absent
        self.namespace = "host"
        self.sockets = []
        self.next_index = 10

    def fail(self, method, command, code):
        self.failures[(method, command)] = code

    def setns(self, fd, nstype):
        assert nstype == net.CLONE_NEWNET
        self.namespace = "partition" if self.namespace == "host" else "host"  # in, then back out

    def write_sysctl(self, path, value):
        self.calls.append((self.namespace, "sysctl", path, {"value": value}))
        (self.sysctls if self.namespace == "host" else self.inner_sysctls).append((path, value))

    def socket(self):
        ipr = FakeIPRoute(self, self.namespace)
        self.sockets.append(ipr)
        return ipr

    def changes(self):
        """The calls that change something, without the lookups."""
        return [call for call in self.calls if call[1] in MUTATING and call[2:3] != ("get",)]


class FakeIPRoute:
    def __init__(self, world, namespace):
        self.world = world
        self.namespace = namespace
        self.closed = False

    def _record(self, method, args, kwargs):
        self.world.calls.append((self.namespace, method) + args + (kwargs,))
        code = self.world.failures.get((method, args[0] if args else None))
        if code:
            raise NetlinkError(code)

    def link_lookup(self, **kwargs):
        self._record("link_lookup", (), kwargs)
        index = self.world.links[self.namespace].get(kwargs["ifname"])
        return [index] if index else []

    def link(self, command, **kwargs):
        self._record("link", (command,), kwargs)
        links = self.world.links[self.namespace]
        names = dict((index, name) for name, index in links.items())
        if command == "get":
            index = links.get(kwargs["ifname"])
            if index is None:
                raise NetlinkError(errno.ENODEV)
            kind = self.world.kinds.get(index)
            return (FakeMessage({"IFLA_LINKINFO": FakeMessage({"IFLA_INFO_KIND": kind}) if kind else None,
                                 "IFLA_IFALIAS": self.world.aliases.get(index)}, index=index),)
        if command == "add":
            peer = kwargs.get("peer") or {}
            new = [(self.namespace, kwargs["ifname"])]
            if peer:  # a veth's other end: in the namespace of net_ns_pid when given
                new.append(("partition" if "net_ns_pid" in peer else self.namespace, peer["ifname"]))
            if any(name in self.world.links[space] for space, name in new):
                raise NetlinkError(errno.EEXIST)
            for space, name in new:
                self.world.links[space][name] = self.world.next_index
                self.world.kinds[self.world.next_index] = kwargs.get("kind")
                self.world.next_index += 1
        elif command == "del":
            if kwargs["index"] not in names:
                raise NetlinkError(errno.ENODEV)
            del links[names[kwargs["index"]]]
        elif "ifalias" in kwargs:
            self.world.aliases[kwargs["index"]] = kwargs["ifalias"]
        elif "net_ns_pid" in kwargs:
            self.world.links["partition"][names[kwargs["index"]]] = links.pop(names[kwargs["index"]])
        elif "ifname" in kwargs:
            links[kwargs["ifname"]] = links.pop(names[kwargs["index"]])

    def get_links(self, index):
        self._record("get_links", (index,), {})
        kind = self.world.kinds.get(index)
        return (FakeMessage({"IFLA_LINKINFO": FakeMessage({"IFLA_INFO_KIND": kind}) if kind else None,
                             "IFLA_IFALIAS": self.world.aliases.get(index)}),)

    def get_addr(self, **kwargs):
        self._record("get_addr", (), kwargs)
        family = kwargs.get("family")
        cidrs = [cidr for (namespace, index), found in sorted(self.world.addresses.items())
                 if namespace == self.namespace and kwargs.get("index") in (None, index) for cidr in found
                 if family is None or family == (socket.AF_INET6 if ":" in cidr else socket.AF_INET)]
        return [FakeMessage({"IFA_ADDRESS": cidr.split("/")[0]}, scope=0, prefixlen=int(cidr.split("/")[1])) for cidr in cidrs]

    def get_qdiscs(self, **kwargs):
        self._record("get_qdiscs", (), kwargs)
        return [FakeMessage({"TCA_KIND": kind}) for kind in self.world.qdiscs.get(kwargs["index"], [])]

    def addr(self, *args, **kwargs):
        self._record("addr", args, kwargs)

    def route(self, *args, **kwargs):
        self._record("route", args, kwargs)

    def tc(self, *args, **kwargs):
        self._record("tc", args, kwargs)

    def close(self):
        self.closed = True


@pytest.fixture
def netlink(monkeypatch):
    world = FakeNetlink()
    monkeypatch.setattr(net, "IPRoute", world.socket)
    monkeypatch.setattr(net.lowlevel, "setns", world.setns)
    monkeypatch.setattr(net, "write_sysctl", world.write_sysctl)
    monkeypatch.setattr(net.lowlevel, "read_text", world.sysctl_values.get)
    return world


def bridged(**overrides):
    iface = {"name": "eth0", "network": "br0", "mode": "bridge", "addresses": ["10.213.0.2/24"], "gateway": "10.213.0.1",
             "gateway6": None, "mac": MAC, "mtu": None}
    iface.update(overrides)
    return iface


def routed(**overrides):
    return bridged(**dict({"mode": "routed", "network": None, "addresses": ["192.0.2.7/32", "2001:db8::7/128"], "gateway": None},
                          **overrides))


# ---- names ---------------------------------------------------------------------------------------
def test_host_ifname_fits_ifnamsiz_and_is_stable_per_interface():
    assert len(HOST_END) == 13 and HOST_END.startswith("lv")
    assert len(PEER) <= 15
    assert net.host_ifname(IDENTITY, "web1", "eth0") == HOST_END
    assert net.host_ifname(IDENTITY, "web1", "eth1") != HOST_END
    assert net.host_ifname(IDENTITY, "web2", "eth0") != HOST_END


def test_two_state_directories_name_the_same_partitions_interfaces_apart():
    # the control: before identities, web1/eth0 had one name on the host whichever state directory started it
    assert net.legacy_host_ifname("web1", "eth0") == "lv" + hashlib.sha1(b"web1/eth0").hexdigest()[:11]
    assert net.host_ifname(OTHER, "web1", "eth0") != HOST_END
    assert net.default_mac(OTHER, "web1", "eth0") != net.default_mac(IDENTITY, "web1", "eth0")
    assert net.legacy_host_ifname("web1", "eth0") not in (HOST_END, net.host_ifname(OTHER, "web1", "eth0"))
    assert networks.NOT_A_BRIDGE.match(HOST_END) and networks.NOT_A_BRIDGE.match(PEER)


def test_default_mac_is_stable_locally_administered_unicast():
    mac = net.default_mac(IDENTITY, "web1", "eth0")
    assert mac == net.default_mac(IDENTITY, "web1", "eth0") != net.default_mac(IDENTITY, "web1", "eth1")
    octets = [int(part, 16) for part in mac.split(":")]
    assert len(octets) == 6 and octets[0] == 0x02
    assert net.legacy_default_mac("web1", "eth0") == "02:" + ":".join(
        "%02x" % byte for byte in bytearray(hashlib.sha1(b"mac/web1/eth0").digest()[:5]))


@pytest.mark.parametrize("alias, unmarked_ok, refused", [
    ("linuxvps:%s:network/br0" % IDENTITY, False, None),
    ("linuxvps:%s:network/br0" % OTHER, True, "belongs to another state directory (identity %s)" % OTHER),
    (None, False, "was not made by this state directory (it carries no linuxvps owner mark)"),
    ("docker bridge", False, "no linuxvps owner mark, its alias is 'docker bridge'"),
    ("linuxvps::x", False, "no linuxvps owner mark"),
    (None, True, None),
])
def test_owner_marks_tell_ours_from_another_state_directorys_and_nobodys(alias, unmarked_ok, refused):
    refusal = OWNER.refusal(alias, "bridge br0", unmarked_ok)
    assert refusal == refused if refused is None else refused in refusal
    assert net.Owner.of(OWNER.mark("partition/web1/eth0")) == IDENTITY


@pytest.mark.parametrize("mac, address", [
    ("02:00:00:00:00:01", "fe80::ff:fe00:1"),
    ("52:54:00:12:34:56", "fe80::5054:ff:fe12:3456"),
])
def test_link_local_is_the_kernels_eui64_address(mac, address):
    assert net.link_local(mac) == address


# ---- the wrapper ---------------------------------------------------------------------------------
def test_netlink_call_turns_a_netlink_error_into_one_naming_call_and_target(netlink):
    netlink.fail("link", "set", errno.EBUSY)
    with pytest.raises(NetworkError) as caught:
        net.netlink_call(FakeIPRoute(netlink, "host"), "link", "set", index=7, mtu=1400, target="lvx (host end of web1/eth0)")
    assert caught.value.msg.startswith("netlink link set index=7 mtu=1400 on lvx (host end of web1/eth0) failed: ")
    assert "(errno %d)" % errno.EBUSY in caught.value.msg
    assert caught.value.details["errno"] == errno.EBUSY


def test_netlink_call_passes_only_the_tolerated_codes(netlink):
    ipr = FakeIPRoute(netlink, "host")
    netlink.fail("route", "del", errno.ESRCH)
    assert net.netlink_call(ipr, "route", "del", dst="0.0.0.0/0", target="eth0", tolerate=net.ROUTE_GONE) is None
    with pytest.raises(NetworkError):
        net.netlink_call(ipr, "route", "del", dst="0.0.0.0/0", target="eth0", tolerate=net.LINK_GONE)


def test_netlink_call_turns_a_socket_oserror_into_a_network_error():
    class BrokenSocket:
        def get_addr(self, **kwargs):
            raise OSError(errno.EBADF, "Bad file descriptor")

    with pytest.raises(NetworkError, match=r"netlink get_addr index=3 on br0 failed: Bad file descriptor \(errno 9\)"):
        net.netlink_call(BrokenSocket(), "get_addr", index=3, target="br0")


def test_a_socket_that_cannot_be_opened_is_a_network_error(monkeypatch):
    def refuse():
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(net, "IPRoute", refuse)
    with pytest.raises(NetworkError, match="opening a netlink socket in the host failed: Too many open files"):
        net.bridge_state("br0")


def test_without_pyroute2_nothing_is_tried(monkeypatch):
    monkeypatch.setattr(net, "IPRoute", None)
    with pytest.raises(MissingDependency, match="pyroute2"):
        net.bridge_state("br0")


# ---- namespaces and sysctls ----------------------------------------------------------------------
def test_the_partition_socket_is_made_inside_and_the_process_returns(netlink):
    with net.netns_netlink(os.getpid(), "web1") as ipr:
        assert ipr.namespace == "partition"
        assert netlink.namespace == "host"
    assert ipr.closed


def test_a_refused_setns_names_the_partition(netlink, monkeypatch):
    def refuse(fd, nstype):
        raise OSError(errno.EPERM, "setns: Operation not permitted")

    monkeypatch.setattr(net.lowlevel, "setns", refuse)
    with pytest.raises(NetworkError, match=r"entering the network namespace of partition web1 \(pid \d+\) failed: setns: Operation"):
        with net.netns_netlink(os.getpid(), "web1"):
            pytest.fail("no socket without the namespace")
    assert netlink.sockets == []


def test_a_dead_init_has_no_namespace(netlink):
    with pytest.raises(NetworkError, match="opening the network namespace of partition web1 .* failed"):
        with net.netns_netlink(2 ** 22 + 1, "web1"):
            pytest.fail("no socket without the namespace")


def test_write_sysctl_writes_and_names_the_path_it_could_not_write(tmp_path):
    path = tmp_path / "proxy_arp"
    net.write_sysctl(str(path), 1)
    assert path.read_text() == "1"
    with pytest.raises(NetworkError, match="writing 1 to %s failed" % (tmp_path / "missing" / "x")):
        net.write_sysctl(str(tmp_path / "missing" / "x"), 1)


def test_forwarding_is_written_only_where_it_is_off(netlink):
    netlink.sysctl_values[IP_FORWARD] = "1"
    net.enable_forwarding()
    assert netlink.sysctls == [(IP6_FORWARD, 1)]


def test_counters_are_the_partitions_view(monkeypatch):
    base = "/sys/class/net/%s/statistics/" % HOST_END
    seen = {base + "rx_bytes": "100", base + "tx_bytes": "200", base + "rx_packets": "3", base + "tx_packets": "junk"}
    monkeypatch.setattr(net.lowlevel, "read_text", seen.get)
    assert net.counters(HOST_END) == {"rx_bytes": 200, "tx_bytes": 100, "rx_packets": None, "tx_packets": 3}
    assert set(net.counters(HOST_END)) == set(net.COUNTERS)


# ---- bridges -------------------------------------------------------------------------------------
def test_ensure_bridge_creates_brings_up_and_syncs_addresses(netlink):
    netlink.addresses[("host", 10)] = ["10.9.0.1/24"]
    netlink.fail("addr", "add", errno.EEXIST)  # added meanwhile: already so
    net.ensure_bridge("lvbr", ["10.213.0.1/24", "fd42::1/64"], OWNER.mark("network/lvbr"))
    assert netlink.changes() == [
        ("host", "link", "add", {"ifname": "lvbr", "kind": "bridge"}),
        ("host", "link", "set", {"index": 10, "ifalias": OWNER.mark("network/lvbr")}),
        ("host", "link", "set", {"index": 10, "state": "up"}),
        ("host", "addr", "del", {"index": 10, "address": "10.9.0.1", "prefixlen": 24}),
        ("host", "addr", "add", {"index": 10, "address": "10.213.0.1", "prefixlen": 24, "family": socket.AF_INET}),
        ("host", "addr", "add", {"index": 10, "address": "fd42::1", "prefixlen": 64, "family": socket.AF_INET6,
                                 "flags": net.IFA_F_NODAD}),
    ]
    assert all(ipr.closed for ipr in netlink.sockets)


def test_a_bridge_that_cannot_be_made_is_not_taken_as_made(netlink):
    netlink.fail("link", "add", errno.EEXIST)
    with pytest.raises(NetworkError, match="netlink link add ifname=lvbr kind=bridge on bridge lvbr failed"):
        net.ensure_bridge("lvbr", [], OWNER.mark("network/lvbr"))


def test_bridge_state_reports_kind_and_global_addresses(netlink):
    netlink.addresses[("host", BRIDGE_INDEX)] = ["fd42::1/64", "10.213.0.1/24"]
    assert net.bridge_state("br0") == {"exists": True, "kind": "bridge", "alias": OWNER.mark("network/br0"), "owner": IDENTITY,
                                       "addresses": ["10.213.0.1/24", "fd42::1/64"]}
    assert net.bridge_state("nope") == {"exists": False, "kind": None, "alias": None, "owner": None, "addresses": []}


def test_bridge_state_tells_a_device_or_veth_from_a_bridge(netlink):
    netlink.links["host"].update(eth0=2, lv0=3)
    netlink.kinds[3] = "veth"
    assert net.bridge_state("eth0")["kind"] is None
    assert net.bridge_state("lo") == {"exists": True, "kind": None, "alias": None, "owner": None, "addresses": []}
    assert net.bridge_state("lv0")["kind"] == "veth"


def test_an_existing_bridge_of_ours_keeps_its_mark_unwritten(netlink):
    net.ensure_bridge("br0", [], OWNER.mark("network/br0"))
    assert netlink.changes() == [("host", "link", "set", {"index": BRIDGE_INDEX, "state": "up"})]


def test_delete_bridge_tolerates_a_link_gone_meanwhile_but_not_a_refusal(netlink):
    netlink.fail("link", "del", errno.ENODEV)
    net.delete_bridge("br0", OWNER)
    netlink.fail("link", "del", errno.EPERM)
    with pytest.raises(NetworkError, match="netlink link del index=5 on bridge br0 failed"):
        net.delete_bridge("br0", OWNER)
    net.delete_bridge("gone0", OWNER)


@pytest.mark.parametrize("alias, unmarked_ok, kind, refused", [
    ("linuxvps:%s:network/br0" % OTHER, True, "bridge", "belongs to another state directory"),
    (None, False, "bridge", "carries no linuxvps owner mark"),
    (OWNER.mark("network/br0"), False, "veth", "bridge br0 is not a bridge (veth)"),
    (OWNER.mark("network/br0"), False, None, "bridge br0 is not a bridge (a device)"),
])
def test_delete_bridge_refuses_what_is_not_a_bridge_of_ours(netlink, alias, unmarked_ok, kind, refused):
    netlink.aliases[BRIDGE_INDEX], netlink.kinds[BRIDGE_INDEX] = alias, kind
    with pytest.raises(NetworkError, match="refusing to remove br0: .*" + re.escape(refused)):
        net.delete_bridge("br0", OWNER, unmarked_ok)
    assert netlink.changes() == [] and netlink.links["host"]["br0"] == BRIDGE_INDEX


def test_delete_bridge_takes_an_unmarked_one_a_record_claims(netlink):
    netlink.aliases[BRIDGE_INDEX] = None
    net.delete_bridge("br0", OWNER, unmarked_ok=True)
    assert "br0" not in netlink.links["host"]


# ---- partition interfaces ------------------------------------------------------------------------
def test_attach_makes_the_pair_with_the_inner_end_in_place_and_configures_it_in_order(netlink):
    pid = os.getpid()
    assert net.attach(pid, "web1", bridged(mtu=1400), HOST_END, OWNER, "br0") == HOST_END
    assert netlink.changes() == [
        ("host", "link", "add", {"ifname": HOST_END, "kind": "veth", "state": "up", "master": BRIDGE_INDEX, "mtu": 1400,
                                 "peer": {"ifname": "eth0", "net_ns_pid": pid, "address": MAC, "mtu": 1400}}),
        ("host", "link", "set", {"index": 10, "ifalias": HOST_END_MARK}),
        ("partition", "link", "set", {"index": 1, "state": "up"}),
        ("partition", "link", "set", {"index": 11, "state": "up"}),
        ("partition", "addr", "add", {"index": 11, "address": "10.213.0.2", "prefixlen": 24, "family": socket.AF_INET}),
        ("partition", "route", "replace", {"dst": "0.0.0.0/0", "oif": 11, "family": socket.AF_INET, "gateway": "10.213.0.1"}),
    ]
    assert netlink.links["partition"] == {"lo": 1, "eth0": 11}
    assert netlink.sysctls == []
    assert [ipr.namespace for ipr in netlink.sockets] == ["host", "partition"]


def test_a_new_interface_costs_ten_netlink_requests_and_lists_nothing_of_itself(netlink):
    """Each request costs a start Python time on a host busy booting partitions: the new interface's own
    addresses, routes and links are not listed first (only the bridge's addresses, for the gateway)."""
    net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0")
    requests = [call for call in netlink.calls if call[1] != "sysctl"]
    assert len(requests) == 10
    assert [call for call in requests if call[1] == "get_addr"] == [("host", "get_addr", {"index": BRIDGE_INDEX, "family": socket.AF_INET})]


def test_attach_routed_gives_the_host_end_the_gateway_and_a_route_per_address(netlink):
    net.attach(os.getpid(), "web1", routed(), HOST_END, OWNER)
    assert netlink.sysctls == [("/proc/sys/net/ipv4/conf/%s/proxy_arp" % HOST_END, 1), (IP_FORWARD, 1), (IP6_FORWARD, 1)]
    host = [call[1:] for call in netlink.changes() if call[0] == "host" and call[1] != "link"]
    assert host == [
        ("addr", "add", {"index": 10, "address": net.ROUTED_GATEWAY6, "prefixlen": 64, "family": socket.AF_INET6,
                         "flags": net.IFA_F_NODAD}),
        ("route", "replace", {"dst": "192.0.2.7", "dst_len": 32, "oif": 10, "family": socket.AF_INET}),
        ("route", "replace", {"dst": "2001:db8::7", "dst_len": 128, "oif": 10, "family": socket.AF_INET6}),
    ]
    routes = [call[1:] for call in netlink.changes() if call[0] == "partition" and call[1] == "route"]
    assert routes == [
        ("route", "replace", {"dst": "0.0.0.0/0", "oif": 11, "family": socket.AF_INET, "scope": 253}),
        ("route", "replace", {"dst": "::/0", "oif": 11, "family": socket.AF_INET6, "gateway": net.ROUTED_GATEWAY6}),
    ]


def test_attach_routed_takes_no_router_advertisements_or_redirects_from_the_moment_it_is_up(netlink):
    net.attach(os.getpid(), "web1", routed(), HOST_END, OWNER)
    assert netlink.inner_sysctls == NO_ROUTER_INPUT
    inside = [call[1:3] if call[1] == "sysctl" else call[1:] for call in netlink.calls if call[0] == "partition" and call[1] in ("link", "sysctl")]
    assert inside == [  # made down, then the sysctls, then up: no advertisement is taken in between
        ("link", "set", {"index": 1, "state": "up"}),
        ("sysctl", NO_ROUTER_INPUT[0][0]), ("sysctl", NO_ROUTER_INPUT[1][0]), ("sysctl", NO_ROUTER_INPUT[2][0]),
        ("link", "set", {"index": 11, "state": "up"}),
    ]
    assert netlink.namespace == "host"


def test_attach_with_an_address_of_the_bridge_as_either_gateway_refuses_router_input(netlink):
    netlink.addresses[("host", BRIDGE_INDEX)] = ["10.213.0.1/24", "fd42:213::1/64"]
    net.attach(os.getpid(), "web1", bridged(gateway="10.213.0.9", gateway6="fd42:213::1"), HOST_END, OWNER, "br0")
    assert netlink.inner_sysctls == NO_ROUTER_INPUT


def test_the_bridges_addresses_are_listed_only_in_the_gateways_families(netlink):
    """The host's IPv6 list holds a link-local address of every partition's host end: an IPv4 gateway is looked
    up among the IPv4 addresses alone, and no gateway at all lists none."""
    netlink.addresses[("host", BRIDGE_INDEX)] = ["10.213.0.1/24", "fd42:213::1/64"]
    net.attach(os.getpid(), "web1", bridged(gateway="10.213.0.1"), HOST_END, OWNER, "br0")
    assert netlink.inner_sysctls == NO_ROUTER_INPUT
    listed = [call[-1].get("family") for call in netlink.calls if call[:2] == ("host", "get_addr")]
    assert listed == [socket.AF_INET]
    del netlink.calls[:]
    del netlink.links["partition"]["eth0"]  # web2's namespace is another one
    net.attach(os.getpid(), "web2", bridged(gateway=None), HOST_END + "x", OWNER, "br0")
    assert [call for call in netlink.calls if call[:2] == ("host", "get_addr")] == []


def test_a_bridged_partition_whose_gateway_is_not_the_host_keeps_its_sysctls(netlink):
    netlink.addresses[("host", BRIDGE_INDEX)] = ["10.213.0.1/24"]
    net.attach(os.getpid(), "web1", bridged(gateway="10.213.0.254"), HOST_END, OWNER, "br0")
    assert netlink.inner_sysctls == [] and netlink.sysctls == []


def test_without_ipv6_in_the_kernel_only_ipv4_redirects_are_refused(netlink, monkeypatch):
    monkeypatch.setattr(net.os.path, "isdir", lambda path: path != "/proc/sys/net/ipv6")
    net.attach(os.getpid(), "web1", routed(addresses=["192.0.2.7/32"]), HOST_END, OWNER)
    assert netlink.inner_sysctls == NO_ROUTER_INPUT[2:]


def test_update_refuses_router_input_again_where_the_host_is_the_gateway(netlink):
    netlink.links["host"][HOST_END] = 10
    netlink.links["partition"]["eth0"] = 11
    netlink.addresses[("host", BRIDGE_INDEX)] = ["10.213.0.1/24"]
    net.update(os.getpid(), "web1", bridged(gateway="10.213.0.254"), bridged(), HOST_END)
    assert netlink.inner_sysctls == NO_ROUTER_INPUT and netlink.namespace == "host"
    del netlink.inner_sysctls[:]
    net.update(os.getpid(), "web1", bridged(), bridged(gateway="10.213.0.254"), HOST_END)
    assert netlink.inner_sysctls == []


def test_a_refused_sysctl_names_it_and_the_process_returns_to_the_host(netlink, monkeypatch):
    def refuse(path, value):
        if netlink.namespace == "partition":
            raise net._failure("writing %s to %s" % (value, path), OSError(errno.EACCES, "Permission denied"))

    monkeypatch.setattr(net, "write_sysctl", refuse)
    with pytest.raises(NetworkError, match="writing 0 to /proc/sys/net/ipv6/conf/eth0/accept_ra failed: Permission denied"):
        net.attach(os.getpid(), "web1", routed(), HOST_END, OWNER)
    assert netlink.namespace == "host"


@pytest.mark.parametrize("alias", [None, HOST_END_MARK])
def test_attach_removes_a_stale_host_end_of_ours_first(netlink, alias):
    netlink.links["host"][HOST_END] = 7
    netlink.kinds[7], netlink.aliases[7] = "veth", alias  # unmarked: a run killed between making and marking it
    net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0")
    assert [call[1:3] + (call[-1].get("index"),) for call in netlink.changes()[:4]] == [
        ("link", "add", None),  # refused: the name is taken
        ("link", "del", 7),
        ("link", "add", None),
        ("link", "set", 10),
    ]
    assert netlink.links["host"][HOST_END] == 10 and netlink.aliases[10] == HOST_END_MARK


def test_attach_leaves_a_link_of_that_name_another_state_directory_marked(netlink):
    netlink.links["host"][HOST_END] = 7
    netlink.kinds[7], netlink.aliases[7] = "veth", net.Owner(OTHER).mark("partition/web1/eth0")
    with pytest.raises(NetworkError, match="refusing to remove %s: .* belongs to another state directory" % HOST_END):
        net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0")
    assert [call[1:3] for call in netlink.changes()] == [("link", "add")]  # refused by the kernel: the name is taken
    assert netlink.links["host"][HOST_END] == 7


@pytest.mark.parametrize("alias, unmarked_ok, kind, refused", [
    (net.Owner(OTHER).mark("network/br0"), True, "bridge", "belongs to another state directory"),
    (None, False, "bridge", "carries no linuxvps owner mark"),
    (None, True, "veth", "bridge br0 is not a bridge (veth)"),
])
def test_attach_joins_only_a_bridge_of_ours_and_changes_nothing_otherwise(netlink, alias, unmarked_ok, kind, refused):
    netlink.aliases[BRIDGE_INDEX], netlink.kinds[BRIDGE_INDEX] = alias, kind
    with pytest.raises(NetworkError, match="refusing to join br0: .*" + re.escape(refused)):
        net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0", bridge_unmarked_ok=unmarked_ok)
    assert netlink.changes() == []


def test_attach_joins_an_unmarked_bridge_a_record_claims(netlink):
    netlink.aliases[BRIDGE_INDEX] = None
    net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0", bridge_unmarked_ok=True)
    assert netlink.changes()[0][:3] == ("host", "link", "add") and netlink.changes()[0][-1]["master"] == BRIDGE_INDEX


def test_attach_fails_on_a_name_taken_inside_naming_the_interface_and_partition(netlink):
    netlink.links["partition"]["eth0"] = 8
    with pytest.raises(NetworkError, match="eth0 in partition web1 already exists") as caught:
        net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br0")
    assert caught.value.details["errno"] == errno.EEXIST
    assert HOST_END not in netlink.links["host"]


def test_attach_to_a_missing_bridge_fails_before_the_peer_moves(netlink):
    with pytest.raises(NetworkError, match="network bridge br9 does not exist"):
        net.attach(os.getpid(), "web1", bridged(), HOST_END, OWNER, "br9")
    assert not any("net_ns_pid" in call[-1] for call in netlink.calls)


def test_update_moves_host_routes_and_reports_a_missing_inner_interface(netlink):
    netlink.links["host"][HOST_END] = 10
    netlink.links["partition"]["eth0"] = 11
    net.update(os.getpid(), "web1", routed(), routed(addresses=["192.0.2.8/32"]), HOST_END)
    routes = [call[2:] for call in netlink.changes() if call[0] == "host"]
    assert routes == [
        ("del", {"dst": "192.0.2.7", "dst_len": 32, "oif": 10, "family": socket.AF_INET}),
        ("del", {"dst": "2001:db8::7", "dst_len": 128, "oif": 10, "family": socket.AF_INET6}),
        ("replace", {"dst": "192.0.2.8", "dst_len": 32, "oif": 10, "family": socket.AF_INET}),
    ]
    with pytest.raises(NetworkError, match="interface eth1 in partition web1 is missing"):
        net.update(os.getpid(), "web1", bridged(name="eth1"), bridged(name="eth1"), HOST_END)


def test_detach_names_the_partition_when_the_host_end_cannot_go(netlink):
    netlink.links["host"][HOST_END] = 10
    netlink.fail("link", "del", errno.EBUSY)
    netlink.kinds[10] = "veth"
    with pytest.raises(NetworkError, match=r"netlink link del index=10 on %s \(host end of web1/eth0\) failed" % HOST_END):
        net.detach(HOST_END, "web1", "eth0", OWNER)
    netlink.failures.clear()
    net.detach(HOST_END, "web1", "eth0", OWNER)
    assert HOST_END not in netlink.links["host"]
    net.detach(HOST_END, "web1", "eth0", OWNER)  # gone already


def test_detach_leaves_a_host_end_another_state_directory_marked(netlink):
    netlink.links["host"][HOST_END] = 10
    netlink.kinds[10], netlink.aliases[10] = "veth", net.Owner(OTHER).mark("partition/web1/eth0")
    with pytest.raises(NetworkError, match="refusing to remove %s: .*identity %s" % (HOST_END, OTHER)):
        net.detach(HOST_END, "web1", "eth0", OWNER)
    assert netlink.changes() == [] and HOST_END in netlink.links["host"]


# ---- download shaping ----------------------------------------------------------------------------
@pytest.mark.parametrize("qdiscs, rate, expected", [
    ([], 10 ** 7, [("tc", "replace", "tbf", 10, net.TBF_HANDLE, {"rate": "10000000bit", "burst": 62500, "latency": "50ms"})]),
    (["tbf"], 10 ** 6, [("tc", "replace", "tbf", 10, net.TBF_HANDLE, {"rate": "1000000bit", "burst": 32768, "latency": "50ms"})]),
    (["tbf"], None, [("tc", "del", "tbf", 10, net.TBF_HANDLE, {"rate": "1mbit", "burst": 32768, "latency": "50ms"})]),
    (["fq_codel"], None, []),
])
def test_set_download_rate_adds_replaces_and_removes_tbf(netlink, qdiscs, rate, expected):
    netlink.links["host"][HOST_END] = 10
    netlink.qdiscs[10] = qdiscs
    net.set_download_rate(HOST_END, "web1", "eth0", rate)
    assert [call[1:] for call in netlink.changes()] == expected


def test_a_fresh_host_end_is_shaped_without_listing_qdiscs(netlink):
    """A host end attach just made has no shaper: no qdisc list (the kernel's holds every host end's) to remove
    one, and a rate is set by replace alone."""
    netlink.links["host"][HOST_END] = 10
    net.set_download_rate(HOST_END, "web1", "eth0", None, fresh=True)
    net.set_download_rate(HOST_END, "web1", "eth0", 10 ** 7, fresh=True)
    net.set_download_rate(HOST_END, "web1", "eth0", 10 ** 7)
    assert [call[1] for call in netlink.calls if call[1] in ("get_qdiscs", "tc")] == ["tc", "tc"]


def test_set_download_rate_names_a_missing_host_end_and_a_refused_qdisc(netlink):
    with pytest.raises(NetworkError, match=r"interface %s \(host end of web1/eth0\) is missing" % HOST_END):
        net.set_download_rate(HOST_END, "web1", "eth0", 10 ** 7)
    netlink.links["host"][HOST_END] = 10
    netlink.fail("tc", "replace", errno.EINVAL)
    with pytest.raises(NetworkError, match="netlink tc replace tbf 10 65536 .* on %s" % HOST_END):
        net.set_download_rate(HOST_END, "web1", "eth0", 10 ** 7)


def test_host_addresses_lists_every_address_of_the_hosts_own_namespace(netlink):
    netlink.addresses[("host", BRIDGE_INDEX)] = ["10.213.0.1/24", "fd42:213::1/64"]
    netlink.addresses[("host", 1)] = ["127.0.0.1/8"]
    netlink.addresses[("partition", 7)] = ["10.213.0.2/24"]
    assert net.host_addresses() == ["10.213.0.1", "127.0.0.1", "fd42:213::1"]
