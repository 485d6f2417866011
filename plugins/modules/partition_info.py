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
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
  - linuxvps.partitions.runtime
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, but for each running partition's and tenant's counters sample (see
        RV(partitions[].counters)), which check mode does not write.
  diff_mode:
    support: none
    details: The module only reads.
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
      description: Name of the partition.
      type: str
      sample: web1
    state:
      description: V(running), V(stopped) or V(frozen).
      type: str
      sample: running
    pid:
      description: Host PID of the partition's init, null when it does not run.
      type: int
      sample: 12345
    hostname:
      description: Host name inside the partition.
      type: str
      sample: web1
    rootfs:
      description: The template it was cloned from.
      type: str
      sample: debian-12
    storage:
      description: V(overlay) or V(copy).
      type: str
    tenant:
      description: The tenant whose host ID range the partition uses (its own name unless set).
      type: str
      sample: acme
    privileged:
      description: Whether the partition runs without a user namespace.
      type: bool
    autostart:
      description: Whether the host's boot service starts it.
      type: bool
    autostart_order:
      description: Its place in the boot order, lowest first.
      type: int
      sample: 100
    labels:
      description: Free-form labels (the C(tenant) role sets C(tenant), C(profile) and C(managed_by)).
      type: dict
      sample: {tenant: acme, profile: small, managed_by: linuxvps.partitions.tenant}
    authorized_keys:
      description: SSH public keys written to root's C(authorized_keys) inside the partition.
      type: list
      elements: str
    stop_timeout:
      description: Seconds init has to stop before it is killed.
      type: int
      sample: 30
    lxcfs:
      description:
        - The C(lxcfs) setting; only present when it was set (absent means where the host runs lxcfs).
      type: bool
    idmapped_template:
      description:
        - The C(idmapped_template) setting; only present when it is V(false).
      type: bool
      version_added: 0.2.0
    command:
      description: The init command, null for the template's C(/sbin/init).
      type: list
      elements: str
    env:
      description: Extra environment variables of init.
      type: dict
    secret_env:
      description:
        - Fingerprints (C(pbkdf2-sha256:<salt>:<digest>)) of the secret environment variables, never their values.
        - Only present when the partition has any.
      type: dict
      sample: {DB_TOKEN: "pbkdf2-sha256:5f1e...:9a0b..."}
    mounts:
      description: Host directories bind-mounted into the partition, each with C(source), C(target) and C(read_only).
      type: list
      elements: dict
    resources:
      description: Limits in force; sizes in bytes, null means no limit. The I/O limits (C(io_read_bps) ...) are there only when set.
      type: dict
      sample: {memory: 536870912, swap: 268435456, cpus: 0.5, cpu_weight: 100, cpuset: null, pids: 512, io_weight: 100, io_write_bps: 4194304,
               nofile: null}
    interfaces:
      description: The partition's network interfaces, with their settings, host-side name and counters.
      type: list
      elements: dict
      contains:
        name:
          description: Interface name inside the partition.
          type: str
          sample: eth0
        network:
          description: The host network (bridge) it is attached to, null when routed.
          type: str
        mode:
          description: V(bridge) or V(routed).
          type: str
        addresses:
          description: Its IPv4 and IPv6 addresses with prefix lengths.
          type: list
          elements: str
          sample: [10.213.0.11/24]
        gateway:
          description: IPv4 default gateway, or null.
          type: str
        gateway6:
          description: IPv6 default gateway, or null.
          type: str
        mac:
          description: MAC address.
          type: str
        mtu:
          description: MTU, null for the default.
          type: int
        rate:
          description: Bandwidth limits in bits per second (C(ingress), C(egress)), or null.
          type: dict
        dns:
          description: Name servers and search domains written to the partition's C(resolv.conf) (C(nameservers), C(search)), or null.
          type: dict
        host_interface:
          description: Name of the interface's host end (the veth on the host).
          type: str
          sample: lv3f9a0c1d2e
        rx_bytes:
          description: Bytes received, as the partition counts them; null while it is stopped.
          type: int
        tx_bytes:
          description: Bytes sent, as the partition counts them; null while it is stopped.
          type: int
        rx_packets:
          description: Packets received; null while it is stopped.
          type: int
        tx_packets:
          description: Packets sent; null while it is stopped.
          type: int
    created:
      description: UTC time the partition was created.
      type: str
      sample: "2026-12-01T00:40:51Z"
    cloned_from:
      description: The partition whose files this one's started as a copy of (O(linuxvps.partitions.partition#module:clone_from)), null when none.
      type: str
      sample: web1
      version_added: 0.2.0
    started:
      description: UTC time its init was last started, null while it is stopped.
      type: str
      sample: "2026-12-01T00:41:02Z"
    runtime:
      description: The OCI runtime that runs it (or would run it).
      type: str
      sample: runc
    cgroup:
      description:
        - The cgroup that holds the partition's limits, below each hierarchy's root, inside its tenant's cgroup (under
          systemd, its unit in the tenant's slice). One an earlier version started stays where it was until it is restarted.
      type: str
      sample: /linuxvps/acme.tenant/web1
    unit:
      description:
        - The transient systemd service that supervises the partition on hosts where systemd is PID 1 with cgroup v2;
          its journal holds the console. Null elsewhere.
      type: str
      sample: linuxvps-web1.service
    console_log:
      description: File with the partition's latest console output (the file its console ring writes); null where a systemd unit's journal holds it.
      type: str
    config:
      description: The whole recorded configuration (the partition module's options, normalised).
      type: dict
    id_base:
      description: Host ID the partition's root maps to (its tenant's range starts there); null when privileged.
      type: int
      sample: 1065536
    template_access:
      description:
        - How the partition takes its rootfs template.
        - C(idmapped) through an idmapped mount of the template shifted to its tenant's ID range (kernel 5.19+ and a
          template filesystem that allows idmapped mounts; no byte of the template is copied per tenant).
        - C(shifted_copy) through a copy of the template whose owners are shifted to that range, made once per tenant
          and template where the host refuses idmapped mounts (a warning says why) or C(idmapped_template=false).
        - C(direct) the template itself (a privileged partition, in no user namespace).
        - Null when it takes none (C(storage=copy) makes its own full copy).
        - For a running partition what its start used; for a stopped one what a start would use now.
      type: str
      choices: [idmapped, shifted_copy, direct]
      sample: idmapped
      version_added: 0.2.0
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
    counters:
      description:
        - Beancounters in the OpenVZ style, kept across restarts and host reboots since the partition was made or its
          counters were last reset (O(linuxvps.partitions.partition#module:reset_counters)); they survive a stop, and a
          crash or a reboot without one loses only what happened after the last sample (each C(partition_info) run and
          the metrics command take one).
        - C(memory), C(swap), C(pids), C(disk) and C(inodes) each have C(held) (now; null while stopped, but for disk and
          inodes), C(maxheld) (the highest since C(since)), C(limit) (null = none) and C(failcnt) (times the limit was
          hit; null for disk and inodes, which the kernel does not count).
        - C(cpu) has C(held) (CPU seconds used), C(maxheld) (always null), C(limit) (CPUs), C(failcnt) (periods its quota
          throttled it) and C(throttled_seconds).
        - C(oom_kills) counts processes the OOM killer killed in the partition.
        - C(approximate) lists the fields that are lower bounds on this host because the kernel keeps no exact count
          and they come from samples, e.g. C(pids.maxheld) without C(pids.peak) (a fork burst between two samples is
          missed), C(swap.maxheld), C(disk.maxheld), peaks after a reset, and on cgroup v1 C(oom_kills) (a kill in a
          sub-cgroup removed before it was read is lost).
        - On cgroup v1, C(swap.failcnt) counts hits of the memory+swap limit.
      type: dict
      sample:
        memory: {held: 16777216, maxheld: 268435456, limit: 268435456, failcnt: 12}
        swap: {held: 0, maxheld: 0, limit: 0, failcnt: 0}
        pids: {held: 12, maxheld: 60, limit: 512, failcnt: 3}
        disk: {held: 1048576, maxheld: 1048576, limit: 1073741824, failcnt: null}
        inodes: {held: 120, maxheld: 120, limit: 65536, failcnt: null}
        cpu: {held: 12.5, maxheld: null, limit: 0.5, failcnt: 40, throttled_seconds: 2.5}
        oom_kills: 1
        since: "2026-12-01T00:40:51Z"
        approximate: [disk.maxheld, inodes.maxheld]
tenants:
  description:
    - One entry per tenant that a reported partition belongs to (its O(linuxvps.partitions.partition#module:tenant)) or
      that the tenant module declares.
    - C(declared) says whether a tenant document exists; C(limits) and C(max_partitions) are the tenant's (null when not
      declared); C(partitions) names its partitions and C(running) counts those running or frozen.
    - C(usage) sums what its partitions hold now (C(memory), C(swap), C(pids), C(disk), C(inodes) and C(cpu) seconds).
    - C(totals) sums its partitions' C(counters) (C(maxheld) is null, as peaks of different partitions do not add up), with
      the tenant's limits.
    - C(counters) are the tenant cgroup's own (C(failcnt) counts hits of the tenant's own limits where the kernel tells
      them apart; on cgroup v1 and before Linux 6.12 C(pids.failcnt) also holds its partitions' own refusals), kept like a
      partition's across the tenant cgroup's removal (when its last partition stops) and host reboots, since C(since)
      (the first start of a partition of the tenant, or the last O(linuxvps.partitions.tenant#module:reset_counters));
      null where the tenant has neither a cgroup nor kept counters.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The tenant.
      type: str
    declared:
      description: Whether the tenant has a document of its own (limits set with the tenant module).
      type: bool
    limits:
      description: The tenant's own limits, null when not declared.
      type: dict
    max_partitions:
      description: How many partitions the tenant may have, null for no bound.
      type: int
    partitions:
      description: Its partitions' names.
      type: list
      elements: str
    running:
      description: How many of them run (or are frozen).
      type: int
    usage:
      description: What its partitions hold now, summed (bytes, counts, CPU seconds).
      type: dict
    totals:
      description: Its partitions' counters summed, with the tenant's limits.
      type: dict
    counters:
      description: The tenant's own counters, kept across its cgroup's lives (as RV(partitions[].counters)), null without any.
      type: dict
  sample:
    - name: acme
      declared: false
      limits: null
      max_partitions: null
      partitions: [acme-db, acme-web]
      running: 2
      usage: {memory: 33554432, swap: 0, pids: 24, disk: 2097152, inodes: 240, cpu: 25.0}
      totals: {oom_kills: 1, memory: {held: 33554432, maxheld: null, limit: null, failcnt: 12}}
      counters: null
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
        # what is read is kept as each running partition's counters sample (not in check mode: nothing is written)
        reporter = Reporter(engine, record_samples=not module.check_mode)
        reports = reporter.info(module.params["name"], warnings)
        return reports, reporter.tenants(reports, warnings)

    partitions, tenants = run_engine(module, work)
    emit_warnings(module, warnings)
    module.exit_json(changed=False, partitions=partitions, tenants=tenants)


if __name__ == "__main__":
    main()
