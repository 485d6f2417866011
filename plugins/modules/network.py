#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network
short_description: Manage a host network (Linux bridge, gateway addresses, NAT) for Linux VPS partitions
version_added: 0.1.0
description:
  - Creates a Linux bridge on the target with the gateway addresses partitions on it use, and optionally
    masquerades its IPv4 subnet to an uplink with nftables (a table of the collection's own).
  - Partitions join it through their O(linuxvps.partitions.partition#module:interfaces[].network) option.
  - The network is recorded in O(state_dir) before its bridge is made, so a run killed in between leaves a record
    the next run converges.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
attributes:
  check_mode:
    support: full
    details: Reports what would change, changes nothing.
  diff_mode:
    support: full
    details: Shows the network's settings before and after, headed with the network's name.
options:
  name:
    description:
      - Name of the network, which is also the bridge's interface name (a letter, then up to 14 of V(a-z), V(0-9), V(-)).
      - The bridge carries an owner mark of the state directory in its alias. A host interface of that name that is not
        a bridge, a bridge another state directory marked, or a bridge without a mark that no record of this state
        directory claims (such as C(docker0)) is refused, with either O(state), before anything changes.
    type: str
    required: true
  state:
    description: Whether the network exists.
    type: str
    choices: [present, absent]
    default: present
  ipv4:
    description: The host's IPv4 address on the bridge with the subnet's prefix, e.g. V(10.213.0.1/24); partitions use it as gateway.
    type: str
  ipv6:
    description: The host's IPv6 address on the bridge with the prefix, e.g. V(fd42:213::1/64).
    type: str
  nat:
    description: Masquerade the IPv4 subnet to O(uplink). Turns on the host's IP forwarding.
    type: bool
    default: false
  uplink:
    description: Host interface that NAT leaves through. Required with O(nat=true).
    type: str
  force:
    description: With O(state=absent), remove the network even though partitions are attached (their interfaces lose it).
    type: bool
    default: false
requirements:
  - pyroute2 (0.7 or newer) for the Python that runs the module on the target
  - nftables (the C(nft) command) for O(nat)
seealso:
  - module: linuxvps.partitions.partition
"""

EXAMPLES = r"""
- name: A bridge for partitions with NAT to the internet
  linuxvps.partitions.network:
    name: vpsbr0
    ipv4: 10.213.0.1/24
    ipv6: fd42:213::1/64
    nat: true
    uplink: eth0

- name: Remove it
  linuxvps.partitions.network:
    name: vpsbr0
    state: absent
"""

RETURN = r"""
network:
  description: The network's settings, null when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Network and bridge name.
      type: str
    ipv4:
      description: Host address on the bridge with prefix.
      type: str
      sample: 10.213.0.1/24
    ipv6:
      description: Host IPv6 address on the bridge with prefix.
      type: str
    nat:
      description: Whether the IPv4 subnet is masqueraded.
      type: bool
    uplink:
      description: Interface NAT leaves through.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import cgroup_parent
from ansible_collections.linuxvps.partitions.plugins.module_utils.firewall import table_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import recover_pending
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.networks import NetworkStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import STATE_DIR_ARGSPEC, StateStore


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            ipv4=dict(type="str"),
            ipv6=dict(type="str"),
            nat=dict(type="bool", default=False),
            uplink=dict(type="str"),
            force=dict(type="bool", default=False),
            **STATE_DIR_ARGSPEC
        ),
        supports_check_mode=True,
    )

    def work():
        recovered = recover_pending(module.params["state_dir"], module.check_mode)
        store = StateStore(module.params["state_dir"])
        return NetworkStore(store, table_name(cgroup_parent(store.root))).converge(module.params, module.check_mode) + (recovered,)

    changed, network, diff, recovered = run_engine(module, work)
    emit_warnings(module, recovered)
    result = dict(changed=changed, network=network)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
