#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: partition
short_description: Manage a Linux VPS partition (an isolated OS-level server run by an OCI runtime)
version_added: 0.1.0
description:
  - Creates, starts, stops, freezes, restarts and removes one partition on the target host.
  - A partition has its own root filesystem cloned from a rootfs template (see M(linuxvps.partitions.rootfs)),
    its own init, process tree, hostname, users and enforced resource limits. It shares the host kernel.
  - The partition's root filesystem is an overlay over the template, so creating it copies nothing.
  - Changing O(resources) of a running partition applies the new limits live (same init PID) and records them,
    so they hold after a restart. Settings that only take effect when init starts are reported in a warning and
    applied at the next restart, or at once with O(recreate=options-changed).
  - The partition's console (init's stdout and stderr) goes to the journal of its systemd unit where systemd supervises
    it. Elsewhere it goes to a ring of two 1 MiB files in its state directory kept by C(rotatelogs) (apache2-utils or
    httpd-tools), with C(console.log) naming the file being written, so the console never takes more of the host's
    disk while the partition runs. Without C(rotatelogs), C(console.log) is rotated only when the partition starts.
  - On hosts where systemd is PID 1 with the unified cgroup v2 hierarchy, and the collection's C(host) role has installed
    its C(linuxvps-partition) command, each running partition is a transient systemd service in its tenant's slice
    below C(linuxvps.slice) with a delegated cgroup. systemd restarts it when its init crashes or reboots (not after C(poweroff) inside), keeps its
    console in the journal, and it outlives the session that started it.
  - With O(partitions), one call converges many partitions under one host lock, reading the host once; a host with
    hundreds of partitions then pays Ansible's per-task cost once instead of once per partition.
  - With O(wait=running), the module returns only once every partition it leaves running says it is up (see O(wait)),
    so the next task can use them at once.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
  - linuxvps.partitions.runtime
requirements:
  - pyroute2 (0.7 or newer) for the Python that runs the module on the target, when O(interfaces) are used
  - nftables (the C(nft) command), when O(interfaces) are used
attributes:
  check_mode:
    support: full
    details: Reports what would change and changes nothing.
  diff_mode:
    support: full
    details: Shows the partition's settings and state before and after, headed with the partition's name.
options:
  name:
    description:
      - Name of the partition, a DNS label (V(a-z), V(0-9), V(-), at most 63 characters).
      - Also the runtime's container ID and the name of its cgroup.
      - Required unless O(partitions) is given.
    type: str
  partitions:
    description:
      - Many partitions in one call, each item a dict of this module's options for one partition (all but O(state_dir)
        and O(runtime), which the call shares), with O(name) required; or just a name, which takes every option from
        the top level (for example O(state=absent) for a list of names).
      - An option set at the top level, next to O(partitions), is the default for every item that does not set it.
      - Every item is validated and planned before anything changes; an error about one item names it by its index
        and name, as in C(partitions[3] (web7)) at the start of its message. A partition that then fails does not
        stop the others; the task fails at the end with each failed item's message, and that item's result holds it too.
      - In diff mode each item's diff is headed with the partition's name.
      - Mutually exclusive with O(name).
    type: list
    elements: raw
  workers:
    description:
      - With O(partitions), how many partitions are started, stopped, removed or changed at once, each by a thread of
        the one module run (which holds the host lock throughout). V(1) applies them one after another.
      - Default two per CPU core the host offers this run, at most 8 (4 on a 2-core host). From 1 to 64; any other value
        is refused, naming O(workers), before anything changes.
      - Partitions that start do so in waves by O(autostart_order), lowest first; a wave is completely started (or
        failed) before the next begins, and partitions with the same order start side by side. Stops, removals and
        changes to running partitions go in the first wave. Within a wave items are taken in list order.
      - Every item's result (C(actions), C(changed), its error) is its own and in list order, as with V(1); what all
        partitions share (address claims, ID ranges, nftables tables, cgroup parents) is decided before any change or
        changed by one thread at a time.
      - An option of the whole call, not of one item; ignored without O(partitions).
    type: int
    version_added: 0.2.0
  wait:
    description:
      - V(running) waits, after the partitions have been converged, until each one the run leaves running says it is
        up, and returns RV(partition.ready) (in the list form, C(ready) in each item). V(none) returns at once.
      - Up means, where the partition's init is systemd, that C(systemctl is-system-running) inside says C(running) or
        C(degraded) (C(initializing), C(starting) and C(offline) are waited out; C(maintenance) and C(stopping) end the
        wait, not ready); with any other init, that init is alive and every interface of the partition is up inside its
        network namespace with all of its addresses.
      - Partitions that were already running are waited for too (an up partition answers at once); those left stopped,
        frozen or absent are not, and have no C(ready).
      - In the list form all partitions are waited for at once, under one O(wait_timeout); it is an option of the whole
        call, not of one item.
      - A partition that is not up by then is reported with C(ready=false) and a warning naming it, and the task fails
        naming each such partition and why (its changes stay made). Use C(failed_when) to carry on regardless.
      - The host lock is not held while waiting. Check mode waits for nothing and returns no C(ready).
    type: str
    choices: [running, none]
    default: none
    version_added: 0.2.0
  wait_timeout:
    description:
      - Seconds O(wait=running) waits in all, from 1 to 3600.
    type: int
    default: 120
    version_added: 0.2.0
  state:
    description:
      - V(present) makes sure the partition exists without changing whether it runs; a new one is created stopped.
      - V(started) and V(stopped) make sure it runs or not. V(restarted) always stops and starts it again.
      - V(frozen) suspends every process of the partition (cgroup freezer); V(started) thaws it.
      - V(absent) stops the partition and removes everything it made, its files included.
      - Default V(started).
    type: str
    choices: [present, started, stopped, restarted, frozen, absent]
  rootfs:
    description:
      - Name of the rootfs template, made by M(linuxvps.partitions.rootfs), the partition is cloned from.
      - Required to create a partition. Changing it later needs O(recreate=options-changed), which gives the
        partition a new, empty disk from the new template.
    type: str
  clone_from:
    description:
      - Create the partition as a clone of the partition named here, of the same state directory. Its own files (the
        overlay's writable layer, or the full copy with O(storage=copy)) start as a consistent copy of that partition's
        as they are when the copy is made; a running source is frozen (cgroup freezer) for the copy and thawed after,
        keeping its processes and init PID, and is otherwise left as it is.
      - Everything else is the new partition's own, from its own options, never the source's (O(command),
        O(resources), O(interfaces) with their addresses, O(hostname), ...). Its MAC addresses are derived from its own
        name as for any new partition. Its files are moved to its tenant's host ID range when that differs from the
        source's (a file of user 1000 in the source is user 1000's in the clone).
      - What must be unique per machine is not copied, as a template holds none of it. C(/etc/machine-id) is emptied
        (systemd makes a new one at the clone's first start), D-Bus's copy of it and the SSH host keys are removed
        (made again at the first start).
      - O(rootfs) and O(storage) default to the source's and may not differ from them (an overlay layer means
        nothing over another template). O(privileged) may differ; O(resources.disk), when set, must hold the copy.
      - Only acts when the partition is created; on an existing partition it changes nothing (a warning says so when
        the partition was not made as a clone of this one). Refused before anything changes, naming this option, when
        the source does not exist, is the partition itself, or has another O(rootfs) or O(storage).
      - The copy is made without the host lock (in C(<state_dir>/clones/)), so other runs on the host go on while it
        runs; the lock is taken only to move it into place. A run killed while copying leaves only that staging
        directory, which the next run removes. The result's RV(partition.cloned_from) names the source.
    type: str
    version_added: 0.2.0
  storage:
    description:
      - V(overlay) keeps the template as a read-only lower layer and the partition's changes in its own layer.
      - V(copy) makes an independent full copy of the template (reflinked where the filesystem can).
      - Defaults to V(overlay) for a new partition; an existing partition keeps what it has.
    type: str
    choices: [overlay, copy]
  tenant:
    description:
      - Who the partition belongs to. Partitions of one tenant share one host ID range for their user namespace;
        different tenants never overlap. The range (65536 IDs, above host users and every /etc/subuid and /etc/subgid
        entry) is recorded on the host and released when the tenant's last partition goes. Defaults to O(name).
      - The partition's cgroup lives below its tenant's (under systemd, its unit in the tenant's slice), so limits set with
        M(linuxvps.partitions.tenant) bound all the tenant's partitions together; its C(max_partitions) refuses one more.
      - Changing it later needs O(recreate=options-changed), which gives the partition a new disk.
    type: str
  privileged:
    description:
      - Run without a user namespace, the partition's root being the host's root. Warns on every run.
      - By default root inside maps to an unprivileged host ID range, and the template is used through a copy
        shifted to that range (made once per template and range, then shared).
    type: bool
  hostname:
    description: Host name inside the partition. Defaults to O(name).
    type: str
  command:
    description:
      - Program to run as the partition's PID 1 instead of the template's init (C(/sbin/init)), as a list or a
        shell-like string.
      - With the template's init (systemd on Debian), stopping sends init's own shutdown signal (SIGRTMIN+3).
    type: raw
  env:
    description: Extra environment variables for the partition's init.
    type: dict
  secret_env:
    description:
      - Environment variables for the partition's init whose values are secret (passwords, tokens).
      - Their values are never returned, shown in a diff or written to the state document; those hold a salted
        PBKDF2 fingerprint per variable instead, which also tells whether a value changed. The values are kept in
        a file only root can read in the partition's directory, and reach init through the runtime's config.
      - Like O(env), a change takes effect when init starts again (a warning says so; O(recreate=options-changed)
        applies it at once). A variable may not be in both O(env) and O(secret_env). Omitted, the recorded
        secrets stay; V({}) removes them.
      - In the list form (O(partitions)), the values are also hidden from the module's output.
    type: dict
  mounts:
    description: Host directories bind-mounted into the partition.
    type: list
    elements: dict
    suboptions:
      source:
        description:
          - Absolute path on the host; must exist. Its real path (symlinks resolved) is what is mounted and recorded.
          - Unless O(privileged=true), it may not be V(/), lie inside the state directory or the ID range registry's
            directory, or be a directory above them.
        type: path
        required: true
      target:
        description:
          - Absolute path inside the partition, normalised (V(//data/) is V(/data)); no V(..) component.
          - It may not be V(/) nor be or lie under V(/proc), V(/sys) or V(/dev).
        type: str
        required: true
      read_only:
        description: Mount read-only, recursively (submounts too; needs kernel 5.12 or later).
        type: bool
        default: false
  autostart:
    description:
      - Start the partition when the host boots. The collection's C(host) role installs the boot service that reads this.
    type: bool
  autostart_order:
    description: Partitions with autostart start in this order at boot, lowest first (then by name). Default 100.
    type: int
  labels:
    description:
      - Free-form metadata kept with the partition and returned in reports, e.g. C(tenant) and C(profile).
        Changing labels never touches the running partition.
    type: dict
  authorized_keys:
    description:
      - OpenSSH public keys written to C(/root/.ssh/authorized_keys) inside the partition (the file then holds exactly
        these). Changes apply live.
    type: list
    elements: str
  stop_timeout:
    description:
      - Seconds to wait after init's shutdown signal before killing what is left in the partition. Default 30.
    type: int
  lxcfs:
    description:
      - Whether the partition sees its own limits in C(/proc/meminfo), C(cpuinfo), C(stat), C(uptime), C(loadavg),
        C(diskstats), C(swaps), C(slabinfo) and C(/sys/devices/system/cpu), served by lxcfs on the host, so C(free),
        C(top) and C(uptime) inside tell the partition's truth.
      - Omitted, the recorded value stays; a partition that never set it has the view where the host runs lxcfs
        (mounted at C(/var/lib/lxcfs); the host role runs it unless C(host_lxcfs=false)) and not elsewhere.
      - V(true) on a host where lxcfs does not serve fails naming this option before anything changes.
      - Takes effect when init starts again, like O(env).
    type: bool
  idmapped_template:
    description:
      - Whether a partition in a user namespace may take its template through an idmapped mount of it shifted to its
        tenant's ID range (where the kernel, 5.19+, and the template's filesystem allow it). Elsewhere, or with
        V(false), it takes a copy of the template shifted to that range, made once per tenant and template (where the
        host refuses, a warning says why).
      - V(false) is how the tests prove the shifted copy on hosts that allow idmapped mounts.
      - Omitted, the recorded value stays; a partition that never set it has V(true). The result's
        RV(partition.template_access) says what it uses. Takes effect when init starts again, like O(env).
    type: bool
    version_added: 0.2.0
  recreate:
    description:
      - V(never) never stops a running partition to change a setting; a setting that cannot change live is
        reported in a warning and applied at the next restart.
      - V(options-changed) restarts the partition when such a setting changed, and gives it a new disk when
        O(rootfs) or O(storage) changed.
      - Default V(never).
    type: str
    choices: [never, options-changed]
  reset_counters:
    description:
      - Start the partition's counters (RV(linuxvps.partitions.partition_info#module:partitions[].counters)) again from
        now, as OpenVZ's beancounters did at a restart. It acts on this run only and is not recorded.
      - It changes something only when the counters counted an event since the last reset (a limit hit, an OOM kill, a
        throttled period), so a task that always sets it stays idempotent; CPU time and peaks alone never make it due.
      - Peaks start again from what is held now; where the kernel cannot restart its own peak (cgroup v2's
        C(memory.peak), C(pids.peak)) they are lower bounds from samples until the partition restarts, and
        C(approximate) says so.
      - Default V(false).
    type: bool
    version_added: 0.2.0
  resources:
    description:
      - Resource limits, enforced through cgroups (v1 and v2). All but O(resources.nofile) change live.
      - When given, the whole set is taken as desired; a limit left out is removed. When not given, an existing
        partition keeps its limits.
    type: dict
    suboptions:
      memory:
        description: Memory limit, as bytes or a size such as V(512M) or V(2G). A quarter of the host's memory when unset.
        type: raw
      swap:
        description: Swap the partition may use on top of O(resources.memory), as bytes or a size. Needs O(resources.memory).
        type: raw
      cpus:
        description: CPU time as a number of CPUs, fractions allowed (V(0.5) is half a CPU). At most the host's CPU count.
        type: raw
      cpu_weight:
        description: Relative CPU share under contention, 1 to 10000 (cgroup v2 scale; default 100).
        type: int
      cpuset:
        description: CPUs the partition may run on, as a list such as V(0-1) or V(0,2). They must exist on the host.
        type: str
      pids:
        description: Maximum number of processes and threads in the partition (at least 1). 4096 when unset.
        type: int
      io_weight:
        description:
          - Relative block I/O share, 1 to 10000 (cgroup v2 scale; default 100).
          - Needs a proportional I/O scheduler (BFQ) or C(io.weight) on the host; a warning says when it is not enforced.
        type: int
      io_read_bps:
        description:
          - Read bandwidth limit in bytes per second, as bytes or a size such as V(4M) (or V(4M/s)); at least V(64K).
          - Like the other I/O limits it binds on the whole disk(s) holding the partition's files (its directory in the
            state directory, its template, the loop device of a disk image). A partition's number is mapped to its disk,
            a dm, md or loop device is its own. Where the files are on a filesystem without a block device (tmpfs,
            overlay) a warning says it is not enforced.
          - cgroup v2 C(io.max) on the partition's cgroup; cgroup v1 C(blkio.throttle.*) on the cgroup its processes run
            in, which is not delegated to the partition on the blkio hierarchy (v1's throttling is not hierarchical, so a
            sub-cgroup would escape it). Changes apply live; a limit left out is removed live.
          - Direct I/O and reads are limited on both versions; buffered writes are flushed later by the kernel's
            writeback, which cgroup v1 never charges to the partition (v2 does).
        type: raw
      io_write_bps:
        description: Write bandwidth limit in bytes per second, as O(resources.io_read_bps).
        type: raw
      io_read_iops:
        description: Read I/O operations per second, at least 10 (below that a partition stalls its own start).
        type: int
      io_write_iops:
        description: Write I/O operations per second, at least 10.
        type: int
      disk:
        description:
          - Disk quota of the partition's own files, as bytes or a size (at least V(64M)); writing past it fails inside the
            partition only (EDQUOT or ENOSPC).
          - Where the state directory's filesystem enforces project quotas (XFS or ext4 mounted with C(prjquota)), the
            partition's layer is a directory with its own project quota, which grows and shrinks live (not below what is used).
          - Elsewhere the layer lives in a loop-mounted filesystem image of that size, XFS from V(300M) (grows live) or ext4
            below that or with O(resources.inodes) (grows live only where root has CAP_SYS_RESOURCE); images never shrink.
          - Adding or removing a quota gives the partition a new disk, so it needs O(recreate=options-changed).
        type: raw
      inodes:
        description: Inode limit of the disk quota, fixed when the disk is made. Needs O(resources.disk).
        type: int
      nofile:
        description:
          - Open files limit (RLIMIT_NOFILE) of init and its children. Cannot change live; at most the host's hard limit.
        type: int
  interfaces:
    description:
      - Network interfaces of the partition, each a veth pair whose host end is named deterministically
        (C(lv) and 11 hex digits) and filtered so that the partition sends only from its own MAC and addresses.
      - Addresses, gateways, rates and DNS change live; adding or removing an interface or changing its name, network,
        mode, MAC or MTU takes effect at the next restart (or at once with O(recreate=options-changed)).
      - When given, the whole list is taken as desired. When not given, an existing partition keeps its interfaces.
      - Without interfaces a partition has only loopback in its own network namespace.
    type: list
    elements: dict
    suboptions:
      name:
        description: Interface name inside the partition. Defaults to C(eth<index>).
        type: str
      network:
        description:
          - A network made by M(linuxvps.partitions.network) in the same O(state_dir) (bridge mode).
          - Host interfaces that are no network of the state directory (C(eth0), C(lo), C(docker0), a partition's veth)
            and a recorded network whose bridge now belongs to someone else are refused.
        type: str
      mode:
        description:
          - V(bridge) joins the network's bridge (the default when O(interfaces[].network) is given).
          - V(routed) gives the partition host routes (/32, /128) through its veth and proxy ARP, with no layer 2 neighbours,
            like OpenVZ's venet. Turns on the host's IP forwarding.
        type: str
        choices: [bridge, routed]
      addresses:
        description:
          - Static IPv4 and IPv6 addresses. In bridge mode they must lie in the network's subnets (the prefix is the subnet's);
            in routed mode they are host addresses. An address used by another partition is refused.
        type: list
        elements: str
      gateway:
        description: IPv4 default gateway. Defaults to the network's address in bridge mode.
        type: str
      gateway6:
        description: IPv6 default gateway. Defaults to the network's address in bridge mode.
        type: str
      mac:
        description:
          - MAC address. Defaults to a stable, locally administered one derived from the state directory's identity and
            the partition and interface names (an interface recorded with the default of earlier versions keeps it).
        type: str
      mtu:
        description: MTU of both ends of the veth pair.
        type: int
      rate:
        description:
          - Bandwidth limit such as V(100mbit) for both directions, or a dict with C(ingress) (into the partition, shaped with
            tc on the host end) and C(egress) (from the partition, policed at the host end's ingress).
        type: raw
      dns:
        description: Resolver settings written to the partition's C(/etc/resolv.conf).
        type: dict
        suboptions:
          nameservers:
            description: Name server addresses.
            type: list
            elements: str
          search:
            description: Search domains.
            type: list
            elements: str
notes:
  - Partitions run with their own PID, IPC, UTS, mount, cgroup and network namespaces.
  - A run that changes the host in several steps records an intent in C(<state_dir>/intents/) first and clears it
    after. A run killed halfway leaves it, and the next run that may change the host (of this module, the rootfs and
    network modules, or the boot service) first finishes a removal, stop or disk reset, or rolls back an unfinished
    start, says so in a warning and reports C(changed). Check mode and M(linuxvps.partitions.partition_info) say what
    is pending.
seealso:
  - module: linuxvps.partitions.rootfs
  - module: linuxvps.partitions.partition_info
"""

EXAMPLES = r"""
- name: A Debian partition with limits, running systemd
  linuxvps.partitions.partition:
    name: web1
    rootfs: debian12
    resources:
      memory: 512M
      swap: 256M
      cpus: 0.5
      pids: 512
    autostart: true

- name: Give it more memory, live (no restart)
  linuxvps.partitions.partition:
    name: web1
    resources:
      memory: 1G
      swap: 256M
      cpus: 0.5
      pids: 512

- name: A partition that runs one program instead of an init
  linuxvps.partitions.partition:
    name: batch1
    rootfs: debian12
    command: [sleep, infinity]
    mounts:
      - source: /srv/data
        target: /data
        read_only: true

- name: Start three CI hosts and return once systemd in each says it is up
  linuxvps.partitions.partition:
    rootfs: debian12
    wait: running
    wait_timeout: 180
    partitions: [ci1, ci2, ci3]

- name: A new partition starting with a copy of web1's files (web1 keeps running), with its own address
  linuxvps.partitions.partition:
    name: web2
    clone_from: web1
    interfaces:
      - network: lan0
        addresses: [10.213.100.12]

- name: Suspend it
  linuxvps.partitions.partition:
    name: web1
    state: frozen

- name: Remove it with its files
  linuxvps.partitions.partition:
    name: web1
    state: absent

- name: Many partitions in one call, sharing defaults set at the top level
  linuxvps.partitions.partition:
    rootfs: debian12
    resources:
      memory: 256M
      pids: 512
    partitions:
      - name: shop1
        interfaces:
          - network: lan0
            addresses: [10.213.100.21]
      - name: shop2
        interfaces:
          - network: lan0
            addresses: [10.213.100.22]
"""

RETURN = r"""
partitions:
  description:
    - With O(partitions), one item per listed partition, in order, each holding what RV(partition) holds for one
      partition plus C(changed), C(actions) and, when it failed, C(failed) and C(msg).
    - With O(wait=running), each item the run leaves running also holds C(ready), as RV(partition.ready).
  returned: when O(partitions) is given
  type: list
  elements: dict
  sample: [{name: shop1, state: running, changed: true, actions: [record, prepare, start]}]
partition:
  description: The partition after the run (in check mode, as it would be); only C(name), C(state) and C(pid) once it is absent.
  returned: when O(name) is given
  type: dict
  contains:
    name:
      description: Name of the partition.
      type: str
      sample: web1
    state:
      description: V(running), V(stopped), V(frozen), or V(absent) for a partition the run removed or did not find.
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
        - The O(lxcfs) setting; only present when it was set (absent means where the host runs lxcfs).
      type: bool
    idmapped_template:
      description:
        - The O(idmapped_template) setting; only present when it is V(false).
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
      description:
        - File that holds the partition's latest console output (the ring file being written, the one before is
          C(console.ring) or C(console.ring.1) beside it); null where a systemd unit supervises it (see RV(partition.unit)).
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
          and template where the host refuses idmapped mounts (a warning says why) or O(idmapped_template=false).
        - C(direct) the template itself (a privileged partition, in no user namespace).
        - Null when it takes none (O(storage=copy) makes its own full copy).
        - For a running partition what its start used; for a stopped one what a start would use now.
      type: str
      choices: [idmapped, shifted_copy, direct]
      sample: idmapped
      version_added: 0.2.0
    ready:
      description:
        - Whether the partition said it is up within O(wait_timeout) (see O(wait)); false makes the task fail.
        - Only with O(wait=running), for a partition the run leaves running, and never in check mode.
      type: bool
      returned: when O(wait=running), the partition runs after the run, and not in check mode
      sample: true
      version_added: 0.2.0
item:
  description:
    - When the list form fails on one item's input, which item, as its error message starts (C(partitions[3] (web7)));
      C(name) is null when the item gives none.
  returned: when O(partitions) is given and one item's input is refused
  type: dict
  sample: {index: 3, name: web7}
actions:
  description: What the run did (or would do in check mode), in order.
  returned: when O(name) is given
  type: list
  elements: str
  sample: [record, prepare, start]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import item_label
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.parallel_apply import resolve_workers
from ansible_collections.linuxvps.partitions.plugins.module_utils.readiness import await_ready, validate_wait
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import ENGINE_ARGSPEC, ITEM_ARGSPEC, PARTITION_ARGSPEC


def list_items(module):
    """The partitions option's items, validated like the single form, with top-level options as defaults."""
    defaults = dict((key, module.params[key]) for key in ITEM_ARGSPEC if key != "name" and module.params.get(key) is not None)
    validator = ArgumentSpecValidator(ITEM_ARGSPEC)
    items = []
    for index, raw in enumerate(module.params["partitions"]):
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            module.fail_json(msg="%s: must be a dict of options or a partition name, got %r" % (item_label(index), raw),
                             item=dict(index=index, name=None))
        merged = dict(defaults, **dict((key, value) for key, value in raw.items() if value is not None))
        result = validator.validate(merged)
        if result.error_messages:
            module.fail_json(msg="%s: %s" % (item_label(index, raw.get("name")), "; ".join(item_errors(result))),
                             item=dict(index=index, name=raw.get("name")))
        for value in (result.validated_parameters.get("secret_env") or {}).values():
            module.no_log_values.add(str(value))  # the list's items are raw, so their no_log comes from here
        items.append(result.validated_parameters)
    return items


def item_errors(result):
    """The validator's messages for one item; an unknown key is said to be one (AnsibleModule words it so itself)."""
    return ["unsupported parameters: %s" % error.msg if isinstance(error, UnsupportedError) else error.msg
            for error in result.errors.errors]


def main():
    module = AnsibleModule(argument_spec=PARTITION_ARGSPEC, supports_check_mode=True,
                           mutually_exclusive=[("name", "partitions")], required_one_of=[("name", "partitions")])
    wait, wait_timeout = run_engine(module, lambda: validate_wait(module.params["wait"], module.params["wait_timeout"]))
    # check mode starts nothing, so there is nothing to wait for and readiness is not claimed
    timeout = wait_timeout if wait == "running" and not module.check_mode else None
    if module.params["partitions"] is not None:
        converge_list(module, list_items(module), timeout)
    else:
        converge_one(module, timeout)


def open_converger(module):
    return run_engine(module, lambda: Converger(PartitionEngine.open(module.params["state_dir"], module.params["runtime"],
                                                                     module.check_mode)))


def wait_ready(module, converger, reports, timeout):
    """With wait=running: every running partition of reports gets ``ready``; the failure message when one is not."""
    if timeout is None:
        return None
    warnings, failure = run_engine(module, lambda: await_ready(converger.engine, reports, timeout))
    emit_warnings(module, warnings)
    return failure


def converge_one(module, timeout):
    params = dict((key, module.params[key]) for key in list(ITEM_ARGSPEC) + list(ENGINE_ARGSPEC))
    converger = open_converger(module)
    plan, report = run_engine(module, lambda: converger.converge(params))
    emit_warnings(module, plan.warnings)
    result = dict(changed=plan.changed, partition=report, actions=plan.actions)
    if module._diff:
        result["diff"] = plan.diff()
    failure = wait_ready(module, converger, [report], timeout)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


def converge_list(module, items, timeout):
    converger = open_converger(module)
    workers = run_engine(module, lambda: resolve_workers(module.params["workers"], converger.engine.host_facts.cpu_count))
    outcomes = run_engine(module, lambda: converger.converge_many(items, workers=workers))
    emit_warnings(module, [warning for outcome in outcomes for warning in outcome.plan.warnings])
    results = []
    for outcome in outcomes:
        item = dict(outcome.report, changed=outcome.plan.changed, actions=outcome.plan.actions)
        if outcome.failed:
            item.update(failed=True, msg=outcome.error.msg)
        results.append(item)
    # all at once, under one deadline; a partition that failed to converge is not waited for
    not_ready = wait_ready(module, converger, [outcome.report for outcome in outcomes if not outcome.failed], timeout)
    for item, outcome in zip(results, outcomes):
        if "ready" in outcome.report:
            item["ready"] = outcome.report["ready"]
    result = dict(changed=any(outcome.plan.changed for outcome in outcomes), partitions=results)
    if module._diff:
        result["diff"] = [outcome.plan.diff() for outcome in outcomes]
    failed = [outcome.error.msg for outcome in outcomes if outcome.failed]  # each names its item
    if failed:
        also = "; " + not_ready if not_ready else ""
        module.fail_json(msg="%d of %d partitions failed: %s%s" % (len(failed), len(outcomes), "; ".join(failed), also), **result)
    if not_ready:
        module.fail_json(msg=not_ready, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
