# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The state directory option shared by every module of the collection."""

    DOCUMENTATION = r"""
options:
  state_dir:
    description:
      - Directory on the target that holds templates, partitions and their state documents.
      - Runs on one host that use the same directory are serialised by a lock in it.
      - Partitions of a directory other than the default get their own parent cgroup, so stores never mix.
    type: path
    default: /var/lib/linuxvps
"""
