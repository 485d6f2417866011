# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Specs for tests: a 2-CPU host and a partition spec made by the real normaliser."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import HostFacts, normalise_partition

HOST = HostFacts(cpu_count=2, online_cpus=[0, 1], nofile_hard=20000, memory_bytes=4 * 1024 ** 3)


def make_spec(**overrides):
    params = {"name": "web1", "rootfs": "debian12"}
    params.update(overrides)
    return normalise_partition(params, HOST, lambda name: True)
