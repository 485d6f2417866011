#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: snapshot
short_description: Snapshots of a Linux VPS partition's own files, and rolling a partition back to one
version_added: 0.2.0
description:
  - Takes, restores and deletes snapshots of a partition's own files, what it changed on top of its template (the
    overlay's upper layer, or the full copy of O(linuxvps.partitions.partition#module:storage=copy)), its quota layer's
    too (project quota or disk image).
  - V(present) takes a consistent snapshot of a running partition without stopping it; the partition is frozen (its
    processes paused, as O(linuxvps.partitions.partition#module:state=frozen) does) only while its files are copied,
    then thawed. Where the filesystem shares blocks (XFS, btrfs) the copy is a reflink and takes next to no time or
    space; elsewhere it is a plain copy. A frozen partition stays frozen; a stopped one is copied as it is.
  - V(restored) rolls the partition back to the snapshot and keeps the snapshot. A running partition is stopped, its
    files are replaced and it is started again; a frozen one is started again and frozen, as it was asked to be; a
    stopped one stays stopped. Files written after the snapshot are gone. A restore always reports a change.
  - V(absent) deletes the snapshot.
  - Snapshots are kept in C(<state_dir>/partitions/<partition>/snapshots/<name>/), outside the partition's quota
    layer; they are not counted against its disk quota (O(linuxvps.partitions.partition#module:resources.disk)).
    They go with the partition; its O(linuxvps.partitions.partition#module:state=absent) names them in a warning
    and its diff.
  - While a snapshot is taken or restored, removing the partition or replacing its disk
    (O(linuxvps.partitions.partition#module:recreate)) is refused; so is a second snapshot or restore of it.
  - A restore killed halfway leaves a mark; the partition does not start until a run of this module for it finishes
    the restore.
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
  - linuxvps.partitions.runtime
attributes:
  check_mode:
    support: full
    details: Reports what would change, changes nothing; the refusals (unknown partition or snapshot) are the same.
  diff_mode:
    support: full
    details: Shows the partition's snapshot names before and after, and for V(restored) the snapshot rolled back to.
options:
  partition:
    description: The partition whose files are snapshotted; it must exist.
    type: str
    required: true
  name:
    description:
      - The snapshot's name, unique per partition. 1 to 64 characters of letters, digits, V(_), V(-) and V(.),
        not starting with V(.) or V(-), without V(/) or V(..).
    type: str
    required: true
  state:
    description:
      - V(present) takes the snapshot unless one of that name exists (which is kept as it is).
      - V(restored) rolls the partition back to it; fails naming O(name) when the partition has no such snapshot.
      - V(absent) deletes it.
    type: str
    choices: [present, absent, restored]
    default: present
seealso:
  - module: linuxvps.partitions.partition
notes:
  - The copy keeps owners, modes, hard links, extended attributes (the overlay's own ones too), ACLs, FIFOs and
    device nodes as they are; it follows no link and reads no FIFO or device of the partition.
  - A snapshot keeps the owners of the partition's ID range; restored after the partition moved to another range (a
    new tenant), its files are shifted to the new one.
"""

EXAMPLES = r"""
- name: Snapshot web1 before an upgrade, while it runs
  linuxvps.partitions.snapshot:
    partition: web1
    name: before-upgrade

- name: Roll web1 back (it is restarted)
  linuxvps.partitions.snapshot:
    partition: web1
    name: before-upgrade
    state: restored

- name: Delete the snapshot
  linuxvps.partitions.snapshot:
    partition: web1
    name: before-upgrade
    state: absent
"""

RETURN = r"""
snapshots:
  description: The partition's snapshots as the run leaves them (in check mode, as it would), oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Snapshot name.
      type: str
      sample: before-upgrade
    created:
      description: When it was taken (UTC, ISO 8601); null for one check mode would take.
      type: str
      sample: "2026-12-01T10:15:00Z"
    size:
      description:
        - Disk space of its files in bytes (allocated blocks; reflinked blocks are shared with the partition's own
          files and are counted here too); null for one check mode would take.
      type: int
      sample: 1048576
snapshot:
  description: The snapshot acted on, with the same keys as an item of RV(snapshots) and C(state).
  returned: always
  type: dict
  contains:
    name:
      description: Snapshot name.
      type: str
    created:
      description: When it was taken; null when it does not exist (or check mode would take it).
      type: str
    size:
      description: Disk space of its files in bytes; null when it does not exist.
      type: int
    state:
      description: V(present) or V(absent) after the run.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import recover_pending
from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.snapshots import SNAPSHOT_STATES, SnapshotManager, validate
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import ENGINE_ARGSPEC

SNAPSHOT_ARGSPEC = dict(
    partition=dict(type="str", required=True),
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(SNAPSHOT_STATES)),
    **ENGINE_ARGSPEC
)


def main():
    module = AnsibleModule(argument_spec=SNAPSHOT_ARGSPEC, supports_check_mode=True)

    def work():
        validate(module.params)  # bad input fails before anything, even the recovery below, changes
        # what killed partition runs left is finished first: never copy or replace the files of a half-removed partition
        recovered = recover_pending(module.params["state_dir"], module.check_mode)
        engine = PartitionEngine.open(module.params["state_dir"], module.params["runtime"], module.check_mode)
        changed, result, warnings, diff = SnapshotManager(engine).converge(module.params)
        return changed, result, recovered + warnings, diff

    changed, result, warnings, diff = run_engine(module, work)
    emit_warnings(module, warnings)
    if module._diff:
        result["diff"] = diff
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
