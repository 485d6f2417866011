# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenants as a whole: the tenant module's options, their validation, and who belongs to a tenant.

A tenant is named by its partitions' ``tenant`` option (a partition that names none is its own tenant). A tenant
declared with the tenant module has a document (state.py, ``tenants/<name>.json``) with limits that bound all its
partitions together (their cgroups live below the tenant's, see cgroups.tenant_path) and an optional
``max_partitions``. A tenant without ``resources.memory`` is unbounded in memory: unlike a partition, it gets no
default limit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six import string_types

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import (
    RESOURCES_ARGSPEC,
    TENANT_RESOURCES,
    HostFacts,
    normalise_resources,
    validate_name,
)
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import STATE_DIR_ARGSPEC
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import parse_int_range

MAX_PARTITIONS = 1000000
TENANT_RESOURCES_ARGSPEC = dict((key, RESOURCES_ARGSPEC[key]) for key in TENANT_RESOURCES)
TENANT_ARGSPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    resources=dict(type="dict", options=TENANT_RESOURCES_ARGSPEC),
    max_partitions=dict(type="int"),
    reset_counters=dict(type="bool"),  # an act of the run, never recorded
    **STATE_DIR_ARGSPEC
)


class _NoDefaults(HostFacts):
    """The host as a tenant's limits see it: no default memory limit (a tenant without one is unbounded)."""

    default_memory = None


def normalise_tenant_resources(raw, host):
    """{key: value} of the limits given, in the partition's units (normalise_resources checks each, naming
    resources.<key>); keys left out or null are not in it: they bound nothing."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise InvalidOption("resources", raw, "expected a dict of limits")
    unknown = sorted(str(key) for key in raw if key not in TENANT_RESOURCES)
    if unknown:
        raise InvalidOption("resources", ", ".join(unknown), "unknown key; a tenant's resources are %s" % ", ".join(TENANT_RESOURCES))
    given = dict((key, value) for key, value in raw.items() if value is not None)
    normalised = normalise_resources(given, _NoDefaults(host.cpu_count, host.online_cpus, host.nofile_hard, host.memory_bytes))
    return dict((key, normalised[key]) for key in TENANT_RESOURCES if key in given)


def normalise_tenant(params, host):
    """The tenant module's options -> {"name", "resources", "max_partitions"}; InvalidOption names the option."""
    name = params.get("name")
    if not isinstance(name, string_types):
        raise InvalidOption("name", name, "expected a tenant name")
    return {
        "name": validate_name(name, "name"),
        "resources": normalise_tenant_resources(params.get("resources"), host),
        "max_partitions": parse_int_range("max_partitions", params.get("max_partitions"), 1, MAX_PARTITIONS),
    }


def members(documents, tenant):
    """Sorted names of the partitions whose documents name tenant ([(name, document, corrupt)] of the store)."""
    return sorted(name for name, document, _corrupt in documents
                  if document is not None and document["spec"].get("tenant", name) == tenant)


def refuse_over_limit(tenant_document, tenant, name, current):
    """Refuse partition name joining tenant when the tenant has max_partitions of them already.

    current: the tenant's partitions as they will be when name is planned (recorded ones, with those planned
    earlier in the same call). A partition already among them is never refused (a lowered limit keeps them).
    """
    limit = (tenant_document or {}).get("max_partitions")
    if limit is None or name in current or len(current) < limit:
        return
    raise InvalidOption("tenant", tenant, "tenant %s allows at most %d partitions (max_partitions) and has %s; "
                                          "partition %s would be one more" % (tenant, limit, ", ".join(sorted(current)), name))
