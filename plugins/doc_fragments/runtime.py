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
      - The OCI runtime that runs partitions.
      - V(auto) uses C(runc) when it is installed, else C(crun).
        C(crun) 1.8 refuses cgroup v1 hybrid hosts, so V(auto) prefers C(runc).
    type: str
    choices: [auto, runc, crun]
    default: auto
requirements:
  - runc (or crun) on the target
"""
