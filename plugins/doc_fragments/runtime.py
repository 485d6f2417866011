# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The OCI runtime option shared by the modules that run partitions."""

    DOCUMENTATION = r"""
options:
  runtime:
    description:
      - The OCI runtime that runs partitions started from now on; each runtime keeps its containers' state in a
        directory of its own in O(state_dir) (C(runc/), C(crun/)).
      - V(auto) uses C(crun) where it is installed, the host is pure cgroup v2 (the unified hierarchy mounted at
        C(/sys/fs/cgroup)) and a probe container of it runs (asked once per boot); else C(runc), and C(crun) only
        where C(runc) is missing. C(crun) refuses cgroup v1 and hybrid hosts.
      - A partition keeps the runtime that made it. While a container of it exists (running, frozen or left by a crash)
        it is always driven by that runtime, whatever this option says. With V(auto) a stopped partition starts again
        with the runtime its document recorded (while installed); a runtime named here applies from its next start.
    type: str
    choices: [auto, runc, crun]
    default: auto
requirements:
  - runc (or crun) on the target
"""
