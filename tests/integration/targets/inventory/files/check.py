# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of one `ansible-inventory --list` output (the inventory target's partitions only: lvinv-*).

    check.py running|all_states|prefixed LIST_JSON
    check.py remote LIST_JSON LOCAL_LIST_JSON SSH_PORT KEY_FILE
"""

from __future__ import absolute_import, division, print_function

import json
import sys

SHARED = "/var/tmp/linuxvps-test"
SECOND = "/var/tmp/linuxvps-test-inventory"
MIB = 1024 * 1024


def plain(value):
    """The value without ansible-core 2.19's markers of untrusted strings."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


class Listing:
    def __init__(self, path):
        with open(path) as handle:
            self.data = plain(json.load(handle))
        self.hostvars = self.data["_meta"]["hostvars"]

    def hosts(self, marker="lvinv-"):
        return sorted(name for name in self.hostvars if marker in name)

    def members(self, group, marker="lvinv-"):
        return sorted(name for name in (self.data.get(group) or {}).get("hosts") or [] if marker in name)


def expect(what, got, wanted):
    if got != wanted:
        sys.exit("FAIL: %s: got %r, expected %r" % (what, got, wanted))


def running(listing):
    expect("running partitions", listing.hosts(), ["lvinv-web1", "lvinv-web2"])
    expect("host group", listing.members("linuxvps_host_localhost"), ["lvinv-web1", "lvinv-web2"])
    expect("tenant group", listing.members("linuxvps_tenant_acme"), ["lvinv-web1", "lvinv-web2"])
    expect("keyed group role_web", listing.members("role_web"), ["lvinv-web1"])
    expect("keyed group role_db", listing.members("role_db"), ["lvinv-web2"])
    expect("composed group routed", listing.members("routed"), ["lvinv-web1"])
    expect("tenant of stopped and frozen ones", listing.members("linuxvps_tenant_beta_corp"), [])
    web1 = listing.hostvars["lvinv-web1"]
    expect("connection", web1["ansible_connection"], "linuxvps.partitions.partition")
    expect("linuxvps_host", web1["linuxvps_host"], "localhost")
    expect("linuxvps_state_dir", web1["linuxvps_state_dir"], SHARED)
    expect("no ansible_host without prefixing", "ansible_host" in web1, False)
    partition = web1["linuxvps_partition"]
    expect("partition name, state, tenant, labels, rootfs",
           [partition[key] for key in ("name", "state", "tenant", "labels", "rootfs")],
           ["lvinv-web1", "running", "acme", {"role": "web"}, "debian12"])
    expect("addresses", partition["addresses"], ["10.213.61.11", "fd42:213::61:11"])
    expect("memory limit", partition["resources"]["memory"], 128 * MIB)
    expect("pid of a running partition is a number", isinstance(partition["pid"], int), True)
    expect("composed first_address", web1["first_address"], "10.213.61.11")
    expect("composed memory_mib", web1["memory_mib"], 128)
    expect("composed first_address without one", listing.hostvars["lvinv-web2"]["first_address"], "none")


def all_states(listing):
    expect("partitions in every state", listing.hosts(), ["lvinv-cold", "lvinv-off", "lvinv-web1", "lvinv-web2"])
    expect("state_running", listing.members("state_running"), ["lvinv-web1", "lvinv-web2"])
    expect("state_stopped", listing.members("state_stopped"), ["lvinv-off"])
    expect("state_frozen", listing.members("state_frozen"), ["lvinv-cold"])
    expect("sanitised tenant group", listing.members("linuxvps_tenant_beta_corp"), ["lvinv-cold", "lvinv-off"])
    expect("stopped pid", listing.hostvars["lvinv-off"]["linuxvps_partition"]["pid"], None)


def prefixed(listing):
    expect("prefixed names", listing.hosts(), ["alpha_lvinv-off", "alpha_lvinv-web1", "alpha_lvinv-web2", "beta_lvinv-web1"])
    beta = listing.hostvars["beta_lvinv-web1"]
    expect("ansible_host is the partition", beta["ansible_host"], "lvinv-web1")
    expect("its state directory", beta["linuxvps_state_dir"], SECOND)
    expect("its state", beta["linuxvps_partition"]["state"], "stopped")
    expect("alpha's copy", listing.hostvars["alpha_lvinv-web1"]["linuxvps_partition"]["state"], "running")
    expect("host group beta", listing.members("linuxvps_host_beta"), ["beta_lvinv-web1"])
    expect("host group alpha", listing.members("linuxvps_host_alpha"), ["alpha_lvinv-off", "alpha_lvinv-web1", "alpha_lvinv-web2"])


def remote(listing, local, port, key):
    """The remote listing (over ssh) says of each partition exactly what the in-process one says."""
    expect("partitions listed over ssh", listing.hosts(), local.hosts())
    for name in listing.hosts():
        variables = listing.hostvars[name]
        expect("%s linuxvps_host" % name, variables["linuxvps_host"], "127.0.0.1")
        expect("%s user, port, key, ssh args" % name,
               [variables[key_] for key_ in ("linuxvps_host_user", "linuxvps_host_port", "linuxvps_host_private_key_file",
                                             "linuxvps_host_ssh_args")],
               ["root", int(port), key, "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"])
        expect("%s linuxvps_partition" % name, variables["linuxvps_partition"], local.hostvars[name]["linuxvps_partition"])
    expect("host group", listing.members("linuxvps_host_vps_remote"), local.hosts())


def main(argv):
    if argv[0] == "remote":
        remote(Listing(argv[1]), Listing(argv[2]), argv[3], argv[4])
    else:
        {"running": running, "all_states": all_states, "prefixed": prefixed}[argv[0]](Listing(argv[1]))
    print("ok: %s" % argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
