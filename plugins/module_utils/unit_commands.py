# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands a partition's systemd unit runs (see supervisor.py), behind the host role's
``linuxvps-partition`` script: ``start``, ``stop`` and ``cleanup`` <state_dir> <name>.

They take no lock: the module that starts or stops a unit holds it while systemd runs them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

from ansible_collections.linuxvps.partitions.plugins.module_utils.engine import PartitionEngine
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError

VERBS = {"start": "unit_start", "stop": "unit_stop", "cleanup": "unit_cleanup"}
USAGE = "usage: linuxvps-partition {start|stop|cleanup} STATE_DIR NAME"


def main(argv):
    if len(argv) != 3 or argv[0] not in VERBS:
        sys.stderr.write(USAGE + "\n")
        return 2
    verb, state_dir, name = argv
    try:
        getattr(PartitionEngine.open(state_dir), VERBS[verb])(name)
    except PartitionError as exc:
        sys.stderr.write("linuxvps-partition %s %s: %s\n" % (verb, name, exc.msg))
        return 1
    return 0
