# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diff-mode results as Ansible shows them: before and after, headed with what they are about.

Without headers every hunk of ``--diff`` output reads ``--- before`` / ``+++ after``, so a list-form call or a play
over many objects cannot tell which partition, network or template a hunk is about.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def named_diff(kind, name, before, after):
    """{"before", "after", "before_header", "after_header"}; Ansible prints the headers as ``before: partition web1``."""
    header = "%s %s" % (kind, name)
    return {"before": before, "after": after, "before_header": header, "after_header": header}
