#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup
short_description: Back up a Linux VPS partition into an archive, and restore one from it
version_added: 0.2.0
description:
  - O(state=present) writes an archive of the partition's own files (its writable layer, or its full copy with
    C(storage=copy)) with their owners relative to its ID range, its spec, whether it ran and the identity (name and
    source digest) of its template. The archive is a tar stream (POSIX format, made by GNU tar), compressed with
    zstd or gzip or not; its first member C(linuxvps-backup.json) describes it. Xattrs (overlay whiteouts and opaque
    directories, file capabilities, POSIX ACLs), hard links, FIFOs and sparse files are kept as such.
  - The archive is written to O(path)C(.partial), synced and renamed, so a killed run leaves no half archive at O(path).
    Beside it C(PATH.snar) lists what it holds, for a later O(incremental_from).
  - With an archive at O(path) already, its header's fingerprint of the own files' metadata (every entry's path,
    mode, owners, size, inode, modification and change time), spec, running state, template, compression and
    incremental base is compared with a fresh walk; the same means nothing changed, and the module reports ok.
    A running partition usually writes something (logs), so its backup is usually changed.
  - O(state=restored) creates the partition on this host from the archive, with the archived spec (its name replaced by
    O(name), and its tenant and hostname too when they were the old name; addresses as archived); its files owned by
    this host's ID range for its tenant, and starts it if it ran (or as O(start) says). It refuses, changing nothing,
    when the partition exists, when the template is missing or was built from other options, or when the archive's
    format is not one this collection reads. Restoring the same archive again is ok.
    A restore killed halfway leaves the partition stopped with C(restoring) in its document; the next restore of the
    same archive removes what it made and restores again, or M(linuxvps.partitions.partition) O(state=absent) removes it.
  - An incremental archive (O(incremental_from)) holds what changed since the archive it is made against and every
    directory's list of entries; restoring it applies it onto the stopped partition restored from that archive
    (recorded in its document), removing what is gone. The move playbook uses it for a short downtime.
  - The archive and O(incremental_from) may not lie inside any partition's or template's tree.
  - C(secret_env) values are not archived; a restored partition needs them set again.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
attributes:
  check_mode:
    support: full
    details: Says whether an archive would be written or a partition restored, and does neither (no freeze, no stop).
  diff_mode:
    support: full
    details: Shows the archive's summary (or the restored partition's spec) before and after.
options:
  partition:
    description:
      - The partition to back up. Required with O(state=present).
      - With O(state=restored), when given, the partition the archive must hold.
    type: str
  path:
    description: The archive on the host (an absolute path outside every partition's tree).
    type: path
    required: true
  state:
    description: V(present) writes the archive; V(restored) creates the partition from it.
    type: str
    choices: [present, restored]
    default: present
  mode:
    description:
      - How the files hold still while they are read. V(freeze) pauses a running partition for the copy (its processes
        stop, its network stays); V(stop) stops it and starts it again after; V(live) reads while it runs, for the
        first pass of a move (files that change meanwhile are archived as found, with a warning).
      - A stopped partition is read as it is.
    type: str
    choices: [freeze, stop, live]
    default: freeze
  compression:
    description: Compression of the archive (C(zstd) and C(gzip) programs on the host).
    type: str
    choices: [zstd, gzip, none]
    default: zstd
  name:
    description: With O(state=restored), the partition to create; default the archived one.
    type: str
  incremental_from:
    description:
      - With O(state=present), an archive of the same partition made by this module on this host (its C(.snar) beside it).
        The new archive holds only what changed since, and every directory's list of entries.
    type: path
  start:
    description: With O(state=restored), whether to start the partition; default as archived (started if it ran).
    type: bool
requirements:
  - GNU tar, and zstd or gzip for compressed archives, on the target
seealso:
  - module: linuxvps.partitions.partition
"""

EXAMPLES = r"""
- name: Back up web1 while it runs (paused for the copy)
  linuxvps.partitions.backup:
    partition: web1
    path: /srv/backups/web1.tar.zst

- name: Restore it as web1-copy, stopped
  linuxvps.partitions.backup:
    state: restored
    path: /srv/backups/web1.tar.zst
    name: web1-copy
    start: false

- name: What changed since, with web1 stopped for the copy
  linuxvps.partitions.backup:
    partition: web1
    path: /srv/backups/web1-delta.tar.zst
    incremental_from: /srv/backups/web1.tar.zst
    mode: stop
"""

RETURN = r"""
archive:
  description: The archive written, kept or restored from.
  returned: always
  type: dict
  contains:
    path:
      description: The archive's path.
      type: str
    size:
      description: Its size in bytes (none in check mode when it is not written yet).
      type: int
    sha256:
      description: Its sha256 (none in check mode when it is not written yet).
      type: str
    partition:
      description: The partition it holds (its archived name).
      type: str
    template:
      description: The template's identity, C(name) and C(source) (the digest of its build options).
      type: dict
    compression:
      description: V(zstd), V(gzip) or V(none).
      type: str
    created:
      description: When it was made (UTC).
      type: str
    running:
      description: Whether the partition ran when it was made.
      type: bool
    format:
      description: The archive format (1).
      type: int
    collection:
      description: The collection version that made it.
      type: str
    incremental_from:
      description: The base archive's path of an incremental archive, else none.
      type: str
    incremental_from_sha256:
      description: The base archive's sha256 of an incremental archive, else none.
      type: str
partition:
  description: The partition backed up, or restored (created).
  returned: always
  type: str
running:
  description: With O(state=restored), whether the restored partition runs (would run, in check mode).
  returned: when state is restored
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.backups import Backups, check_options
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import recover_pending
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import STATE_DIR_ARGSPEC


def main():
    module = AnsibleModule(
        argument_spec=dict(
            partition=dict(type="str"),
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "restored"]),
            mode=dict(type="str", default="freeze", choices=["freeze", "stop", "live"]),
            compression=dict(type="str", default="zstd", choices=["zstd", "gzip", "none"]),
            name=dict(type="str"),
            incremental_from=dict(type="path"),
            start=dict(type="bool"),
            **STATE_DIR_ARGSPEC
        ),
        required_if=[("state", "present", ["partition"])],
        supports_check_mode=True,
    )
    params = module.params

    def work():
        check_options(params)
        warnings = recover_pending(params["state_dir"], module.check_mode)
        backups = Backups(PartitionEngine.open(params["state_dir"], check_mode=module.check_mode))
        if params["state"] == "present":
            outcome = backups.backup(params["partition"], params["path"], params["mode"], params["compression"],
                                     params["incremental_from"])
            label = params["partition"]
        else:
            outcome = backups.restore(params["path"], params["name"], params["start"], params["partition"])
            label = outcome.partition
        return outcome, label, warnings + outcome.warnings

    outcome, label, warnings = run_engine(module, work)
    emit_warnings(module, warnings)
    result = outcome.result(label)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
