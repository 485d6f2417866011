#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partition_info
short_description: Report Linux VPS partitions with their state, settings and resource usage
version_added: 0.1.0
description:
  - Lists the partitions of a state directory, or one of them, with state, init PID, hostname, rootfs, settings
    and usage read from their cgroups.
  - Usage gives the held / limit / failure-count view that OpenVZ beancounters gave, for memory, CPU, processes
    and block I/O.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.state
  - linuxvps.partitions.runtime
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module only reads.
options:
  name:
    description: Report only this partition; fails when it does not exist. All partitions when unset.
    type: str
seealso:
  - module: linuxvps.partitions.partition
"""

EXAMPLES = r"""
- name: Usage of every partition on the host
  linuxvps.partitions.partition_info:
  register: info

- name: Show memory used against the limit
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.usage.memory.current }} of {{ item.usage.memory.limit }}"
  loop: "{{ info.partitions }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
partitions:
  description: One entry per partition, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Partition name.
      type: str
    state:
      description: V(running), V(stopped) or V(frozen).
      type: str
    pid:
      description: Host PID of the partition's init, null when stopped.
      type: int
    hostname:
      description: Host name inside the partition.
      type: str
    rootfs:
      description: Template it was cloned from.
      type: str
    resources:
      description: Configured limits (bytes for sizes, null for no limit).
      type: dict
    interfaces:
      description:
        - Each interface with its addresses, host-side name and C(rx_bytes), C(tx_bytes), C(rx_packets), C(tx_packets)
          as the partition sees them (null while stopped).
      type: list
      elements: dict
    config:
      description: The partition's whole recorded configuration (the partition module's options, normalised).
      type: dict
    cgroup:
      description: The cgroup that holds the partition's limits, below each hierarchy's root.
      type: str
      sample: /linuxvps.slice/linuxvps-web1.service/partition
    unit:
      description: The systemd service that supervises the partition where systemd does (see M(linuxvps.partitions.partition)); null elsewhere.
      type: str
      sample: linuxvps-web1.service
    console_log:
      description: File with the partition's console output; null where a systemd unit's journal holds it.
      type: str
    usage:
      description:
        - Counters read from the partition's cgroups; empty for cgroup counters when the partition is stopped.
        - C(memory) has C(current), C(peak), C(limit), C(failcnt) (times the limit was hit) and C(oom_kills).
        - C(cpu) has C(usage_seconds), C(throttled_periods), C(throttled_seconds) and C(quota_cpus).
        - C(pids) has C(current), C(limit) and C(limit_hits) (forks refused at the limit).
        - C(io) has C(read_bytes) and C(write_bytes); C(disk) has C(used_bytes), C(limit_bytes), C(used_inodes) and
          C(limit_inodes) of the partition's own layer (limits null without a disk quota).
      type: dict
      sample:
        memory: {current: 16777216, peak: 33554432, limit: 536870912, failcnt: 0, oom_kills: 0}
        cpu: {usage_seconds: 1.25, throttled_periods: 0, throttled_seconds: 0.0, quota_cpus: 0.5}
        pids: {current: 12, limit: 512, limit_hits: 0}
        io: {read_bytes: 0, write_bytes: 4096}
        disk: {used_bytes: 1048576}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.intents import IntentJournal
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import ENGINE_ARGSPEC


def main():
    module = AnsibleModule(
        argument_spec=dict(ENGINE_ARGSPEC, name=dict(type="str")),
        supports_check_mode=True,
    )

    warnings = []

    def work():
        engine = PartitionEngine.open(module.params["state_dir"], module.params["runtime"], check_mode=True)
        warnings.extend(IntentJournal(engine.store).pending_warnings()[0])
        return Reporter(engine).info(module.params["name"], warnings)

    partitions = run_engine(module, work)
    emit_warnings(module, warnings)
    module.exit_json(changed=False, partitions=partitions)


if __name__ == "__main__":
    main()
