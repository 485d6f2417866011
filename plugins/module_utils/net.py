# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink work with pyroute2: bridges, veth pairs into a partition's namespace, addresses, routes, tc.

Works with pyroute2 0.7 (Debian's python3-pyroute2) and 0.9 (PyPI): only IPRoute's long-standing
calls are used, and a partition's namespace is entered with setns(2) around the socket's creation
(a netlink socket stays bound to the namespace it was made in), not with either version's NetNS.

Every call on a socket goes through netlink_call(), so a failure is a NetworkError that names the call
and what it acted on; each call site says which errno values mean "already so" for it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import hashlib
import ipaddress
import os
import socket

from ansible_collections.linuxvps.partitions.plugins.module_utils import lowlevel
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency, NetworkError

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:  # require_pyroute2() raises MissingDependency before any netlink call
    IPRoute = None
    NetlinkError = OSError

CLONE_NEWNET = 0x40000000
IFA_F_NODAD = 0x02
TBF_HANDLE = 0x10000
ROUTED_GATEWAY6 = "fe80::1"  # what the host's side of a routed veth answers to
# Off where the host is the gateway: a neighbour's advertisement or redirect would take the partition's routes.
ROUTER_INPUT = (("ipv6", "accept_ra"), ("ipv6", "accept_redirects"), ("ipv4", "accept_redirects"))

# What the kernel answers when the object is already in the wanted state.
ADDRESS_PRESENT = (errno.EEXIST,)
ADDRESS_GONE = (errno.EADDRNOTAVAIL,)
LINK_GONE = (errno.ENODEV,)
LOOPBACK_INDEX = 1  # the kernel's LOOPBACK_IFINDEX: lo is the first link of every network namespace
ROUTE_GONE = (errno.ESRCH, errno.ENOENT)
QDISC_GONE = (errno.ENOENT,)


def require_pyroute2():
    if IPRoute is None:
        raise MissingDependency("pyroute2", "Install it with 'apt-get install python3-pyroute2' or 'pip install pyroute2'.")


def host_ifname(identity, partition, ifname):
    """Host-side veth name within IFNAMSIZ (15): 'lv' + 11 hex digits of (state directory identity, partition,
    interface), so partitions of the same name in two state directories never share (and remove) one name."""
    return "lv" + hashlib.sha1(("%s/%s/%s" % (identity, partition, ifname)).encode()).hexdigest()[:11]


def legacy_host_ifname(partition, ifname):
    """The name before identities: what partitions started by earlier versions still run with."""
    return "lv" + hashlib.sha1(("%s/%s" % (partition, ifname)).encode()).hexdigest()[:11]


def default_mac(identity, partition, ifname):
    """A stable, locally administered unicast MAC derived from the state directory, partition and interface."""
    return _mac(hashlib.sha1(("mac/%s/%s/%s" % (identity, partition, ifname)).encode()).digest())


def legacy_default_mac(partition, ifname):
    """The default MAC before identities (interfaces recorded with it keep it)."""
    return _mac(hashlib.sha1(("mac/%s/%s" % (partition, ifname)).encode()).digest())


def _mac(digest):
    return ":".join("%02x" % byte for byte in (0x02,) + tuple(bytearray(digest[:5])))


class Owner:
    """The links one state directory makes carry 'linuxvps:<identity>:<what>' as their alias (IFLA_IFALIAS): the kernel
    keeps it with the link, `ip link` shows it, and a state directory removes only links that carry its own.

    The kernel ignores an alias given with the link's creation, so it is set right after; a run killed in between
    leaves an unmarked link, which only a record of the state directory (or a name derived from its identity) claims.
    """

    PREFIX = "linuxvps:"

    def __init__(self, identity):
        self.identity = identity

    def mark(self, what):
        return "%s%s:%s" % (self.PREFIX, self.identity, what)

    @classmethod
    def of(cls, alias):
        """The identity an alias names, or None for a link without our mark (docker0, eth0, one of an earlier version)."""
        parts = (alias or "").split(":", 2)
        return parts[1] if len(parts) == 3 and alias.startswith(cls.PREFIX) and parts[1] else None

    def refusal(self, alias, name, unmarked_ok=False):
        """None when this state directory may change or remove the link; else why not."""
        owner = self.of(alias)
        if owner is not None and owner == self.identity:
            return None
        if owner is not None:
            return "%s belongs to another state directory (identity %s)" % (name, owner)
        if unmarked_ok:
            return None
        return "%s was not made by this state directory (it carries no linuxvps owner mark%s)" % (
            name, ", its alias is %r" % alias if alias else "")


def link_local(mac):
    """The EUI-64 fe80:: address the kernel gives an interface with this MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes(bytearray([0xFE, 0x80] + [0] * 6 + eui))))


def _host_end(host, partition, ifname):
    return "%s (host end of %s/%s)" % (host, partition, ifname)


def _inside(ifname, partition):
    return "%s in partition %s" % (ifname, partition)


def _errno(exc):
    code = getattr(exc, "code", None)  # NetlinkError has code, OSError errno
    return exc.errno if code is None else code


def _failure(what, exc):
    """The NetworkError for a NetlinkError or OSError raised while doing what."""
    code = _errno(exc)
    reason = exc.args[1] if len(exc.args) > 1 else str(exc)
    return NetworkError("%s failed: %s (errno %s)" % (what, reason, code), errno=code)


def netlink_call(ipr, method, *args, target, tolerate=(), **kwargs):
    """ipr.method(*args, **kwargs), acting on target (an interface, with its partition where known).

    An errno in tolerate means "already so" and returns None; any other failure is a NetworkError.
    """
    try:
        return getattr(ipr, method)(*args, **kwargs)
    except (NetlinkError, OSError) as exc:
        if _errno(exc) in tolerate:
            return None
        call = " ".join([method] + [str(arg) for arg in args] + ["%s=%s" % item for item in sorted(kwargs.items())])
        raise _failure("netlink %s on %s" % (call, target), exc)


def _open_socket(where):
    try:
        return IPRoute()
    except (NetlinkError, OSError) as exc:
        raise _failure("opening a netlink socket in %s" % where, exc)


def _setns(fd, where):
    try:
        lowlevel.setns(fd, CLONE_NEWNET)
    except OSError as exc:
        raise _failure("entering %s" % where, exc)


@contextlib.contextmanager
def host_netlink():
    require_pyroute2()
    ipr = _open_socket("the host")
    try:
        yield ipr
    finally:
        ipr.close()


def _own_namespace():
    """This thread's network namespace (setns moves one thread: a bulk converge enters partitions' from several
    threads at once, parallel_apply.py); the process's on kernels before 3.17 without /proc/thread-self."""
    return "/proc/thread-self/ns/net" if os.path.exists("/proc/thread-self") else "/proc/self/ns/net"


@contextlib.contextmanager
def _entered(pid, partition):
    """This thread inside the network namespace of process pid, the init of partition, for the with block only;
    yields how to name that namespace."""
    where = "the network namespace of partition %s (pid %d)" % (partition, pid)
    own = os.open(_own_namespace(), os.O_RDONLY)
    try:
        target = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    except OSError as exc:
        os.close(own)
        raise _failure("opening %s" % where, exc)
    try:
        _setns(target, where)
        try:
            yield where
        finally:
            _setns(own, "the host's network namespace again")
    finally:
        os.close(target)
        os.close(own)


@contextlib.contextmanager
def netns_netlink(pid, partition):
    """An IPRoute bound to the network namespace of process pid, the init of partition."""
    require_pyroute2()
    with _entered(pid, partition) as where:
        ipr = _open_socket(where)  # back out at once: only the socket lives in the partition's namespace
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr, ifname, target):
    """The interface's index, or None when there is no interface of that name."""
    found = netlink_call(ipr, "link_lookup", ifname=ifname, target=target)
    return found[0] if found else None


def _existing_index(ipr, ifname, target):
    index = _index(ipr, ifname, target)
    if index is None:
        raise NetworkError("interface %s is missing" % target)
    return index


def write_sysctl(path, value):
    try:
        with open(path, "w") as handle:
            handle.write(str(value))
    except (IOError, OSError) as exc:
        raise _failure("writing %s to %s" % (value, path), exc)


def _refuse_router_input(pid, partition, ifname):
    """No router advertisements or redirects taken on ifname inside the partition. /proc/sys/net is the namespace
    of the process that opens it (not of /proc/<pid>), so the files are opened from inside."""
    ipv6 = os.path.isdir("/proc/sys/net/ipv6")  # absent with ipv6.disable=1: nothing to advertise then
    keys = [(family, key) for family, key in ROUTER_INPUT if family == "ipv4" or ipv6]
    with _entered(pid, partition):
        for family, key in keys:
            write_sysctl("/proc/sys/net/%s/conf/%s/%s" % (family, ifname, key), 0)


def _host_is_gateway(ipr, iface, bridge_index):
    """Whether the partition routes through the host on iface: routed, or a gateway that is an address of its bridge
    (bridge_index: its index; None when it has none)."""
    if iface["mode"] == "routed":
        return True
    gateways = [(family, iface.get(key)) for family, key in ((socket.AF_INET, "gateway"), (socket.AF_INET6, "gateway6"))
                if iface.get(key)]
    if bridge_index is None:
        return False
    for family, gateway in gateways:  # one family each: the IPv6 list holds a link-local address of every host end
        own = set(cidr.split("/")[0] for cidr in _addresses(ipr, bridge_index, "bridge %s" % iface.get("network"), family))
        if gateway in own:
            return True
    return False


# ---- bridges (host networks) --------------------------------------------------------------------
def bridge_state(name):
    """{'exists', 'kind', 'alias', 'owner', 'addresses': [cidr...]} of a host bridge; kind is the link's ('bridge', 'veth';
    None for eth0, lo), owner the state directory identity its alias marks it with (None: unmarked)."""
    target = "bridge %s" % name
    with host_netlink() as ipr:
        found = _link(ipr, name, target)
        if found is None:
            return {"exists": False, "kind": None, "alias": None, "owner": None, "addresses": []}
        index, kind, alias = found
        return {"exists": True, "kind": kind, "alias": alias, "owner": Owner.of(alias), "addresses": _addresses(ipr, index, target)}


def _kind_and_alias_of(link):
    info = link.get_attr("IFLA_LINKINFO")
    return (None if info is None else info.get_attr("IFLA_INFO_KIND")), link.get_attr("IFLA_IFALIAS")


def _link(ipr, name, target):
    """(index, kind, alias) of the link called name, in one request; None when there is none."""
    found = netlink_call(ipr, "link", "get", ifname=name, target=target, tolerate=LINK_GONE)
    if not found:
        return None
    (link,) = found
    return (link["index"],) + _kind_and_alias_of(link)


def _set_alias(ipr, index, alias, target):
    netlink_call(ipr, "link", "set", index=index, ifalias=alias, target=target)


def _addresses(ipr, index, target, family=None):
    """The interface's scope-global addresses (of one family: AF_INET or AF_INET6) as sorted CIDRs."""
    found = []
    for msg in netlink_call(ipr, "get_addr", index=index, target=target, **({} if family is None else {"family": family})):
        if msg["scope"] == 0:
            found.append("%s/%d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"]))
    return sorted(found)


def host_addresses():
    """Every address of the host's own interfaces (IFA_LOCAL where set: the host's end of a point-to-point link)."""
    with host_netlink() as ipr:
        return sorted(set(msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
                          for msg in netlink_call(ipr, "get_addr", target="the host")))


def ensure_bridge(name, addresses, mark):
    """Create the bridge if needed, mark it as ours, bring it up and make its addresses exactly these.

    The caller has decided the bridge is its own (networks.bridge_refusal); a link of that name made by someone
    else meanwhile fails the creation (EEXIST) instead of being taken."""
    target = "bridge %s" % name
    with host_netlink() as ipr:
        found = _link(ipr, name, target)
        if found is None:
            netlink_call(ipr, "link", "add", ifname=name, kind="bridge", target=target)
            found = _link(ipr, name, target)
            if found is None:
                raise NetworkError("interface %s is missing" % target)
        index, _kind, alias = found
        if alias != mark:
            _set_alias(ipr, index, mark, target)
        netlink_call(ipr, "link", "set", index=index, state="up", target=target)
        _sync_addresses(ipr, index, addresses, target)


def delete_bridge(name, owner, unmarked_ok=False):
    """Remove the bridge if it is owner's (unmarked_ok: a record of owner's claims an unmarked one); else NetworkError."""
    _delete_owned(name, "bridge %s" % name, "bridge", owner, unmarked_ok)


def _delete_owned(name, target, kind, owner, unmarked_ok):
    """Remove the link name if it is a kind link of owner; gone already is fine, anyone else's is refused."""
    with host_netlink() as ipr:
        link = _link(ipr, name, target)
        if link is None:
            return
        index, found, alias = link
        refusal = owner.refusal(alias, target, unmarked_ok) if found == kind else "%s is not a %s (%s)" % (target, kind, found or "a device")
        if refusal:
            raise NetworkError("refusing to remove %s: %s" % (name, refusal), link=name)
        netlink_call(ipr, "link", "del", index=index, target=target, tolerate=LINK_GONE)


def _sync_addresses(ipr, index, wanted, target):
    current = set(_addresses(ipr, index, target))
    wanted = set(wanted)
    for cidr in sorted(current - wanted):
        address, prefix = cidr.split("/")
        netlink_call(ipr, "addr", "del", index=index, address=address, prefixlen=int(prefix), target=target, tolerate=ADDRESS_GONE)
    _add_addresses(ipr, index, wanted - current, target)


def _add_addresses(ipr, index, cidrs, target):
    """Add cidrs to the interface (one that was just made has none to list first)."""
    for cidr in sorted(cidrs):
        address, prefix = cidr.split("/")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kwargs = {"flags": IFA_F_NODAD} if family == socket.AF_INET6 else {}
        netlink_call(ipr, "addr", "add", index=index, address=address, prefixlen=int(prefix), family=family,
                     target=target, tolerate=ADDRESS_PRESENT, **kwargs)


def enable_forwarding():
    """Routed partitions and NAT need the host to forward; set only when it is off."""
    for path in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"):
        if lowlevel.read_text(path) != "1":
            write_sysctl(path, 1)


# ---- partition interfaces ---------------------------------------------------------------------
def attach(pid, partition, iface, host, owner, bridge=None, bridge_unmarked_ok=False):
    """Create the veth pair for one interface of a running partition: host, its host end, marked as owner's, and the
    partition's end made straight inside the partition's namespace with its name, MAC and MTU; then configure both.
    The bridge must be owner's (bridge_unmarked_ok: a record of owner's claims an unmarked one).

    The interface is new, so nothing of it is listed first: about ten netlink requests in all, each one costing a
    start Python time on a host busy booting partitions."""
    outside = _host_end(host, partition, iface["name"])
    inside = _inside(iface["name"], partition)
    with host_netlink() as ipr:
        bridge_index = None if bridge is None else _owned_bridge(ipr, bridge, owner, bridge_unmarked_ok)
        index = _add_veth(ipr, pid, partition, iface, host, owner, bridge_index)
        _set_alias(ipr, index, owner.mark("partition/%s/%s" % (partition, iface["name"])), outside)
        if iface["mode"] == "routed":
            write_sysctl("/proc/sys/net/ipv4/conf/%s/proxy_arp" % host, 1)
            netlink_call(ipr, "addr", "add", index=index, address=ROUTED_GATEWAY6, prefixlen=64, family=socket.AF_INET6,
                         flags=IFA_F_NODAD, target=outside, tolerate=ADDRESS_PRESENT)
            enable_forwarding()
            _sync_host_routes(ipr, index, [], iface["addresses"], outside)
        host_gateway = _host_is_gateway(ipr, iface, bridge_index)
    with netns_netlink(pid, partition) as nipr:
        loopback = _inside("lo", partition)
        netlink_call(nipr, "link", "set", index=LOOPBACK_INDEX, state="up", target=loopback)
        inner = _existing_index(nipr, iface["name"], inside)
        if host_gateway:  # before the link is up: not one advertisement taken in between
            _refuse_router_input(pid, partition, iface["name"])
        netlink_call(nipr, "link", "set", index=inner, state="up", target=inside)
        _add_addresses(nipr, inner, iface["addresses"], inside)
        _sync_routes(nipr, inner, iface, inside, fresh=True)
    return host


def _add_veth(ipr, pid, partition, iface, host, owner, bridge_index):
    """Make the pair in one request: the host end up (on its bridge, with the MTU), the partition's end down inside the
    namespace of pid, named and addressed. A host end of that name is one left by a partition that died without us, or
    by a run killed before marking it (the name derives from owner's identity): it goes, and the pair is made again.
    The host end's index."""
    outside = _host_end(host, partition, iface["name"])
    peer = {"ifname": iface["name"], "net_ns_pid": pid, "address": iface["mac"]}
    extra = {} if bridge_index is None else {"master": bridge_index}
    if iface.get("mtu"):
        peer["mtu"] = extra["mtu"] = iface["mtu"]

    def make():
        netlink_call(ipr, "link", "add", ifname=host, kind="veth", peer=peer, state="up", target=outside, **extra)

    try:
        make()
    except NetworkError as exc:
        if exc.details.get("errno") != errno.EEXIST:
            raise
        if _index(ipr, host, outside) is None:  # the name taken is the partition's end's, inside
            raise NetworkError("%s already exists" % _inside(iface["name"], partition), errno=errno.EEXIST)
        _delete_owned(host, outside, "veth", owner, unmarked_ok=True)
        make()
    return _existing_index(ipr, host, outside)


def _owned_bridge(ipr, bridge, owner, unmarked_ok):
    """The index of the bridge a partition joins, once it is known to be a bridge of owner's."""
    target = "bridge %s" % bridge
    found = _link(ipr, bridge, target)
    if found is None:
        raise NetworkError("network bridge %s does not exist; create it with linuxvps.partitions.network" % bridge)
    index, kind, alias = found
    refusal = owner.refusal(alias, target, unmarked_ok) if kind == "bridge" else "%s is not a bridge (%s)" % (target, kind or "a device")
    if refusal:
        raise NetworkError("refusing to join %s: %s" % (bridge, refusal), link=bridge)
    return index


def update(pid, partition, old, new, host):
    """Apply address and gateway changes of one interface live (host: the name of its host end)."""
    with host_netlink() as ipr:
        if new["mode"] == "routed":
            outside = _host_end(host, partition, new["name"])
            index = _existing_index(ipr, host, outside)
            _sync_host_routes(ipr, index, old["addresses"], new["addresses"], outside)
        bridge = new.get("network")
        host_gateway = _host_is_gateway(ipr, new, _index(ipr, bridge, "bridge %s" % bridge) if bridge else None)
    inside = _inside(new["name"], partition)
    with netns_netlink(pid, partition) as nipr:
        inner = _existing_index(nipr, new["name"], inside)
        if host_gateway:  # the gateway may have just become the host's
            _refuse_router_input(pid, partition, new["name"])
        _sync_addresses(nipr, inner, new["addresses"], inside)
        _sync_routes(nipr, inner, new, inside)


def _host_routes(addresses):
    return set(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses)


def _sync_host_routes(ipr, index, old, new, target):
    """One host route per partition address through the host end of a routed interface."""
    old_ips, new_ips = _host_routes(old), _host_routes(new)
    for ip in sorted(old_ips - new_ips):
        netlink_call(ipr, "route", "del", dst=ip, dst_len=128 if ":" in ip else 32, oif=index,
                     family=socket.AF_INET6 if ":" in ip else socket.AF_INET, target=target, tolerate=ROUTE_GONE)
    for ip in sorted(new_ips):
        netlink_call(ipr, "route", "replace", dst=ip, dst_len=128 if ":" in ip else 32, oif=index,
                     family=socket.AF_INET6 if ":" in ip else socket.AF_INET, target=target)


def _sync_routes(ipr, index, iface, target, fresh=False):
    """Default routes inside the partition: via the gateways, or via the host's veth when routed. fresh: index was
    just made, so no default route of a family without a gateway goes through it to be removed."""
    for family, gateway in ((socket.AF_INET, iface.get("gateway")), (socket.AF_INET6, iface.get("gateway6"))):
        has_family = any((":" in cidr) == (family == socket.AF_INET6) for cidr in iface["addresses"])
        default = {"dst": "::/0" if family == socket.AF_INET6 else "0.0.0.0/0", "oif": index, "family": family, "target": target}
        if has_family and iface["mode"] == "routed":
            if family == socket.AF_INET:
                netlink_call(ipr, "route", "replace", scope=253, **default)  # on-link: the host proxies ARP
            else:
                netlink_call(ipr, "route", "replace", gateway=ROUTED_GATEWAY6, **default)
        elif has_family and gateway:
            netlink_call(ipr, "route", "replace", gateway=gateway, **default)
        elif not fresh:
            netlink_call(ipr, "route", "del", tolerate=ROUTE_GONE, **default)


def set_download_rate(host, partition, ifname, bits_per_second, fresh=False):
    """Shape what the host sends into the partition (the egress of host, its host end) with tbf; None removes it.
    fresh: host was just made (attach), so it has no shaper to remove."""
    if bits_per_second is None and fresh:
        return  # no qdisc listing: the kernel dumps every interface's, one per partition on the host
    outside = _host_end(host, partition, ifname)
    with host_netlink() as ipr:
        index = _existing_index(ipr, host, outside)
        if bits_per_second is None:
            qdiscs = netlink_call(ipr, "get_qdiscs", index=index, target=outside)
            if any(qdisc.get_attr("TCA_KIND") == "tbf" for qdisc in qdiscs):
                # pyroute2 0.9 builds tbf parameters even to delete: give it the ones it asks for
                netlink_call(ipr, "tc", "del", "tbf", index, TBF_HANDLE, rate="1mbit", burst=32768, latency="50ms",
                             target=outside, tolerate=QDISC_GONE)
            return
        burst = max(bits_per_second // 8 // 20, 32768)
        netlink_call(ipr, "tc", "replace", "tbf", index, TBF_HANDLE, rate="%dbit" % bits_per_second, burst=burst, latency="50ms",
                     target=outside)


def detach(host, partition, ifname, owner):
    """Remove host, the host end of an interface (its peer and the routes through it go with it), unless another
    state directory marked it. Its name derives from owner's identity (or, for a partition an earlier version
    started, from the partition's): unmarked, it is one a run killed before marking it left."""
    _delete_owned(host, _host_end(host, partition, ifname), "veth", owner, unmarked_ok=True)


COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")


def counters(host):
    """rx/tx bytes and packets as the partition sees them (host, its host end, counts the other way)."""
    base = "/sys/class/net/%s/statistics/" % host
    values = dict((name, lowlevel.to_int(lowlevel.read_text(base + name))) for name in COUNTERS)
    return {"rx_bytes": values["tx_bytes"], "tx_bytes": values["rx_bytes"],
            "rx_packets": values["tx_packets"], "tx_packets": values["rx_packets"]}
