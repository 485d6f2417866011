#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tenant
short_description: Limits of a tenant as a whole, over all its Linux VPS partitions
version_added: 0.2.0
description:
  - Declares a tenant (the name the partition module's O(linuxvps.partitions.partition#module:tenant) option gives) with
    limits that bound all its partitions together, whatever each partition's own limit says, and how many partitions it
    may have.
  - A tenant's partitions run below the tenant's cgroup (cgroup v1 and v2), C(/<parent>/<tenant>.tenant/<partition>);
    where systemd supervises partitions, their units run in the tenant's slice C(linuxvps-<tenant>.slice) below
    C(linuxvps.slice). The kernel enforces the tenant's totals; a memory limit hit is counted on the tenant.
  - Changes apply live, to the partitions running in the tenant's cgroup. Partitions an earlier version of the collection
    started run outside it until they are restarted; a warning names them.
  - Without systemd the limits are written to the tenant's cgroup, which is made again (with the recorded limits) before
    a partition of the tenant starts, after a reboot too. With systemd they are the slice's unit file in
    C(/etc/systemd/system), and applied to the running slice at once.
  - A tenant that is not declared has no limits of its own; its partitions still run below its cgroup.
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
    details:
      - Shows the tenant's settings before and after (with O(reset_counters), its event counters), headed with the
        tenant's name.
options:
  name:
    description: Name of the tenant, a DNS label (V(a-z), V(0-9), V(-), at most 63 characters).
    type: str
    required: true
  state:
    description:
      - Whether the tenant is declared.
      - V(absent) removes the tenant's limits, cgroup (or slice), kept counters and record. It is refused while any
        partition names the tenant (the error names them).
    type: str
    choices: [present, absent]
    default: present
  resources:
    description:
      - Limits over all the tenant's partitions together, in the partition module's units
        (O(linuxvps.partitions.partition#module:resources)). When given, the whole set is taken as desired; a limit
        left out bounds nothing. A tenant has no default memory limit.
    type: dict
    suboptions:
      memory:
        description: Memory of all the tenant's partitions together, as bytes or a size such as V(4G) (at least V(4M)).
        type: raw
      swap:
        description:
          - Swap of all the tenant's partitions together, as bytes or a size. Needs O(resources.memory).
        type: raw
      cpus:
        description: CPU time of all the tenant's partitions together, as a number of CPUs, fractions allowed.
        type: raw
      cpu_weight:
        description: Relative CPU share of the tenant against other tenants under contention, 1 to 10000 (default 100).
        type: int
      pids:
        description: Processes and threads of all the tenant's partitions together.
        type: int
      io_weight:
        description: Relative block I/O share of the tenant against other tenants, 1 to 10000 (default 100).
        type: int
      io_read_bps:
        description: Read bandwidth of the tenant's partitions together, as a size per second; as the partition module's.
        type: raw
      io_write_bps:
        description: Write bandwidth of the tenant's partitions together, as a size per second; as the partition module's.
        type: raw
      io_read_iops:
        description: Read operations per second of the tenant's partitions together; as the partition module's.
        type: int
      io_write_iops:
        description: Write operations per second of the tenant's partitions together; as the partition module's.
        type: int
  max_partitions:
    description:
      - How many partitions the tenant may have (at least 1). The partition module refuses to make one more, naming the
        tenant's partitions; null for no limit. Lower than the partitions the tenant has now is refused.
    type: int
  reset_counters:
    description:
      - Start the tenant's own counters (RV(linuxvps.partitions.partition_info#module:tenants[].counters), the hits of
        the tenant's limits, kept across its cgroup's lives and host reboots) again from now. It acts on this run only
        and is not recorded; with O(state=absent) it does nothing (the counters go with the tenant).
      - It changes something only when the counters counted an event since the last reset (a limit hit, an OOM kill,
        a throttled period), so a task that always sets it stays idempotent; CPU time and peaks alone never make it due.
      - Peaks start again from what is held now where the kernel can restart its own (cgroup v1 memory); elsewhere
        they are lower bounds from samples until the tenant's cgroup is made again, and C(approximate) says so.
      - Default V(false).
    type: bool
    version_added: 0.2.0
seealso:
  - module: linuxvps.partitions.partition
"""

EXAMPLES = r"""
- name: Tenant acme may use 4 GB and 2 CPUs across at most 5 partitions
  linuxvps.partitions.tenant:
    name: acme
    resources:
      memory: 4G
      cpus: 2
      pids: 2000
    max_partitions: 5

- name: Its partitions name it
  linuxvps.partitions.partition:
    name: acme-web1
    tenant: acme
    rootfs: debian12
    resources:
      memory: 2G

- name: Start the tenant's own counters again (a change only when something was counted)
  linuxvps.partitions.tenant:
    name: acme
    resources:
      memory: 4G
      cpus: 2
      pids: 2000
    max_partitions: 5
    reset_counters: true

- name: Remove the tenant's limits once it has no partitions
  linuxvps.partitions.tenant:
    name: acme
    state: absent
"""

RETURN = r"""
actions:
  description:
    - What the run did (in check mode, would do), in order. V(record) saves the tenant's record, V(create) makes its
      cgroup, V(limits) writes its limits there, V(slice) writes and applies its systemd slice, V(remove_cgroup) and
      V(remove_slice) remove them, V(reset_counters) starts its own counters again, V(forget) removes its record and
      kept counters.
  returned: always
  type: list
  elements: str
  sample: [record, create, limits]
tenant:
  description: The tenant as the run leaves it (in check mode, as it would).
  returned: always
  type: dict
  contains:
    name:
      description: Tenant name.
      type: str
      sample: acme
    state:
      description: V(present) or V(absent).
      type: str
    resources:
      description: The limits over all the tenant's partitions, in bytes, CPUs and counts; keys left out bound nothing.
      type: dict
      sample: {memory: 4294967296, cpus: 2.0, pids: 2000}
    max_partitions:
      description: How many partitions the tenant may have, null for no limit.
      type: int
    partitions:
      description: Names of the partitions that name the tenant.
      type: list
      elements: str
      sample: [acme-db1, acme-web1]
    cgroup:
      description: The tenant's cgroup, below each hierarchy's root; null when absent.
      type: str
      sample: /linuxvps/acme.tenant
    slice:
      description: The tenant's systemd slice where systemd supervises partitions, else null.
      type: str
      sample: linuxvps-acme.slice
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_converge import TenantConverger
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenants import TENANT_ARGSPEC


def main():
    module = AnsibleModule(argument_spec=TENANT_ARGSPEC, supports_check_mode=True)

    def work():
        engine = PartitionEngine.open(module.params["state_dir"], check_mode=module.check_mode)
        return TenantConverger(engine).converge(module.params)

    plan, tenant = run_engine(module, work)
    emit_warnings(module, plan.warnings)
    result = dict(changed=plan.changed, tenant=tenant, actions=plan.actions)
    if module._diff:
        result["diff"] = plan.diff()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
