# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink work with pyroute2: bridges, veth pairs into a partition's namespace, addresses, routes, tc.

Works with pyroute2 0.7 (Debian's python3-pyroute2) and 0.9 (PyPI): only IPRoute's long-standing
calls are used, and a partition's namespace is entered with setns(2) around the socket's creation
(a netlink socket stays bound to the namespace it was made in), not with either version's NetNS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import ipaddress
import os
import socket
import traceback

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency, NetworkError

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    PYROUTE2_IMPORT_ERROR = None
except ImportError:  # the module reports it; nothing here runs without pyroute2
    IPRoute = None
    NetlinkError = OSError
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

CLONE_NEWNET = 0x40000000
IFA_F_NODAD = 0x02
ROUTED_GATEWAY6 = "fe80::1"  # what the host's side of a routed veth answers to


def require_pyroute2():
    if IPRoute is None:
        raise MissingDependency("pyroute2", "Install it with 'apt-get install python3-pyroute2' or 'pip install pyroute2'.")


def host_ifname(partition, ifname):
    """Deterministic host-side veth name within IFNAMSIZ (15): 'lv' + 11 hex digits."""
    return "lv" + hashlib.sha1(("%s/%s" % (partition, ifname)).encode()).hexdigest()[:11]


def default_mac(partition, ifname):
    """A stable, locally administered unicast MAC derived from partition and interface names."""
    digest = hashlib.sha1(("mac/%s/%s" % (partition, ifname)).encode()).digest()
    return ":".join("%02x" % byte for byte in (0x02,) + tuple(bytearray(digest[:5])))


def link_local(mac):
    """The EUI-64 fe80:: address the kernel gives an interface with this MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes(bytearray([0xFE, 0x80] + [0] * 6 + eui))))


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd):
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetworkError("setns failed: %s" % os.strerror(err))


@contextlib.contextmanager
def host_netlink():
    require_pyroute2()
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


@contextlib.contextmanager
def netns_netlink(pid):
    """An IPRoute bound to the network namespace of process pid."""
    require_pyroute2()
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        target = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    except OSError as exc:
        os.close(own)
        raise NetworkError("partition init %d has no network namespace: %s" % (pid, exc.strerror))
    try:
        _setns(target)
        try:
            ipr = IPRoute()
        finally:
            _setns(own)  # back at once: only the socket lives in the partition's namespace
    finally:
        os.close(target)
        os.close(own)
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr, ifname):
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def _attr(msg, name):
    return msg.get_attr(name)


def _ok(call, *args, **kwargs):
    """Run a netlink call; EEXIST/ENOENT/ESRCH (already so) are success for a converging caller."""
    try:
        return call(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code in (errno.EEXIST, errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL):
            return None
        raise NetworkError("netlink %s failed: %s" % (getattr(call, "__name__", "call"), exc))


def write_sysctl(path, value):
    with open(path, "w") as handle:
        handle.write(str(value))


def read_sysctl(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


# ---- bridges (host networks) --------------------------------------------------------------------
def bridge_state(name):
    """{'exists', 'addresses': [cidr...]} of a host bridge."""
    with host_netlink() as ipr:
        index = _index(ipr, name)
        if index is None:
            return {"exists": False, "addresses": []}
        return {"exists": True, "addresses": _addresses(ipr, index)}


def _addresses(ipr, index, scope_global_only=True):
    found = []
    for msg in ipr.get_addr(index=index):
        if scope_global_only and msg["scope"] != 0:
            continue
        found.append("%s/%d" % (_attr(msg, "IFA_ADDRESS"), msg["prefixlen"]))
    return sorted(found)


def ensure_bridge(name, addresses):
    """Create the bridge if needed, bring it up and make its addresses exactly these."""
    with host_netlink() as ipr:
        index = _index(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge")
            index = _index(ipr, name)
        ipr.link("set", index=index, state="up")
        _sync_addresses(ipr, index, addresses)


def delete_link(name):
    with host_netlink() as ipr:
        index = _index(ipr, name)
        if index is not None:
            _ok(ipr.link, "del", index=index)


def _sync_addresses(ipr, index, wanted):
    current = set(_addresses(ipr, index))
    wanted = set(wanted)
    for cidr in sorted(current - wanted):
        address, prefix = cidr.split("/")
        _ok(ipr.addr, "del", index=index, address=address, prefixlen=int(prefix))
    for cidr in sorted(wanted - current):
        address, prefix = cidr.split("/")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kwargs = {"flags": IFA_F_NODAD} if family == socket.AF_INET6 else {}
        _ok(ipr.addr, "add", index=index, address=address, prefixlen=int(prefix), family=family, **kwargs)


def enable_forwarding():
    """Routed partitions and NAT need the host to forward; set only when it is off."""
    for path in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"):
        if read_sysctl(path) != "1":
            write_sysctl(path, 1)


# ---- partition interfaces ---------------------------------------------------------------------
def attach(pid, partition, iface, bridge=None):
    """Create the veth pair for one interface of a running partition and configure both ends."""
    host = host_ifname(partition, iface["name"])
    peer = host + "p"
    with host_netlink() as ipr:
        stale = _index(ipr, host)
        if stale is not None:
            ipr.link("del", index=stale)  # left by a partition that died without us
        ipr.link("add", ifname=host, kind="veth", peer=peer)
        index, peer_index = _index(ipr, host), _index(ipr, peer)
        if iface.get("mtu"):
            ipr.link("set", index=index, mtu=iface["mtu"])
            ipr.link("set", index=peer_index, mtu=iface["mtu"])
        if bridge is not None:
            bridge_index = _index(ipr, bridge)
            if bridge_index is None:
                raise NetworkError("network bridge %s does not exist; create it with linuxvps.partitions.network" % bridge)
            ipr.link("set", index=index, master=bridge_index)
        ipr.link("set", index=peer_index, net_ns_pid=pid)
        if iface["mode"] == "routed":
            write_sysctl("/proc/sys/net/ipv4/conf/%s/proxy_arp" % host, 1)
            _ok(ipr.addr, "add", index=index, address=ROUTED_GATEWAY6, prefixlen=64, family=socket.AF_INET6, flags=IFA_F_NODAD)
        ipr.link("set", index=index, state="up")
        if iface["mode"] == "routed":
            enable_forwarding()
            _sync_host_routes(ipr, index, [], iface["addresses"])
    with netns_netlink(pid) as nipr:
        lo = _index(nipr, "lo")
        nipr.link("set", index=lo, state="up")
        inner = _index(nipr, peer)
        nipr.link("set", index=inner, ifname=iface["name"], address=iface["mac"])
        nipr.link("set", index=inner, state="up")
        _sync_addresses(nipr, inner, iface["addresses"])
        _sync_routes(nipr, inner, iface)
    return host


def update(pid, partition, old, new):
    """Apply address and gateway changes of one interface live."""
    host = host_ifname(partition, new["name"])
    if new["mode"] == "routed":
        with host_netlink() as ipr:
            index = _index(ipr, host)
            if index is None:
                raise NetworkError("host interface %s of partition %s is missing" % (host, partition))
            _sync_host_routes(ipr, index, old["addresses"], new["addresses"])
    with netns_netlink(pid) as nipr:
        inner = _index(nipr, new["name"])
        if inner is None:
            raise NetworkError("interface %s is missing inside partition %s" % (new["name"], partition))
        _sync_addresses(nipr, inner, new["addresses"])
        _sync_routes(nipr, inner, new)


def _host_routes(addresses):
    return set(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses)


def _sync_host_routes(ipr, index, old, new):
    old_ips, new_ips = _host_routes(old), _host_routes(new)
    for ip in sorted(old_ips - new_ips):
        _ok(ipr.route, "del", dst=ip, dst_len=128 if ":" in ip else 32, oif=index,
            family=socket.AF_INET6 if ":" in ip else socket.AF_INET)
    for ip in sorted(new_ips):
        _ok(ipr.route, "replace", dst=ip, dst_len=128 if ":" in ip else 32, oif=index,
            family=socket.AF_INET6 if ":" in ip else socket.AF_INET)


def _sync_routes(ipr, index, iface):
    """Default routes inside the partition: via the gateways, or via the host's veth when routed."""
    for family, gateway in ((socket.AF_INET, iface.get("gateway")), (socket.AF_INET6, iface.get("gateway6"))):
        has_family = any((":" in cidr) == (family == socket.AF_INET6) for cidr in iface["addresses"])
        dst = "::/0" if family == socket.AF_INET6 else "0.0.0.0/0"
        if not has_family:
            _ok(ipr.route, "del", dst=dst, oif=index, family=family)
            continue
        if iface["mode"] == "routed":
            if family == socket.AF_INET:
                _ok(ipr.route, "replace", dst=dst, oif=index, scope=253, family=family)  # on-link: the host proxies ARP
            else:
                _ok(ipr.route, "replace", dst=dst, gateway=ROUTED_GATEWAY6, oif=index, family=family)
        elif gateway:
            _ok(ipr.route, "replace", dst=dst, gateway=gateway, oif=index, family=family)
        else:
            _ok(ipr.route, "del", dst=dst, oif=index, family=family)


def set_download_rate(partition, ifname, bits_per_second):
    """Shape what the host sends into the partition (the host end's egress) with tbf; None removes it."""
    with host_netlink() as ipr:
        index = _index(ipr, host_ifname(partition, ifname))
        if index is None:
            raise NetworkError("host interface of %s/%s is missing" % (partition, ifname))
        shaped = any(qdisc.get_attr("TCA_KIND") == "tbf" for qdisc in ipr.get_qdiscs(index=index))
        if bits_per_second is None:
            if shaped:
                # pyroute2 0.9 builds tbf parameters even to delete: give it the ones it asks for
                ipr.tc("del", "tbf", index, 0x10000, rate="1mbit", burst=32768, latency="50ms")
            return
        burst = max(bits_per_second // 8 // 20, 32768)
        ipr.tc("replace", "tbf", index, 0x10000, rate="%dbit" % bits_per_second, burst=burst, latency="50ms")


def detach(partition, ifname):
    """Remove the host end of an interface (its peer and the routes through it go with it)."""
    delete_link(host_ifname(partition, ifname))


COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")


def counters(partition, ifname):
    """rx/tx bytes and packets as the partition sees them (the host end counts the other way)."""
    base = "/sys/class/net/%s/statistics/" % host_ifname(partition, ifname)
    values = dict((name, _int(read_sysctl(base + name))) for name in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"))
    return {"rx_bytes": values["tx_bytes"], "tx_bytes": values["rx_bytes"],
            "rx_packets": values["tx_packets"], "tx_packets": values["rx_packets"]}


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
