# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The attributes every module of the collection documents; each module adds its own support values."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict the changed status without changing the target.
  diff_mode:
    description: Returns what changed (or would change in check mode) when run in diff mode.
  platform:
    description: Target operating systems the module runs against.
    support: full
    platforms: linux
    details: Linux kernels with namespaces, cgroups (v1 or v2) and overlayfs; the C(host) role's preflight checks them.
  action_group:
    description: Takes defaults from C(group/linuxvps.partitions.partitions) in C(module_defaults).
    support: full
    membership:
      - linuxvps.partitions.partitions
"""
