# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: partitions
short_description: Linux VPS partitions as inventory hosts, reached through the partition connection
version_added: 0.2.0
description:
  - Lists the partitions of one or more VPS hosts and makes each an inventory host named after the partition, with
    C(ansible_connection=linuxvps.partitions.partition) and the C(linuxvps_host*) variables that connection needs, so
    a play reaches every partition without an SSH server inside.
  - One command per VPS host lists all of its partitions, whatever their number; VPS hosts are listed in parallel.
    On this machine the listing runs in this process; on another host one C(python3) process runs there over SSH,
    with the collection's engine sent on its stdin (nothing is installed or left on the VPS host).
  - Reading the state directory needs root on the VPS host (C(user) root over SSH, or running C(ansible-inventory) as
    root for this machine).
  - The configuration file's name must end with C(linuxvps.yml) or C(linuxvps.yaml).
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    required: true
    type: str
    choices: [linuxvps.partitions.partitions]
  hosts:
    description:
      - The VPS hosts whose partitions are listed.
      - Each is a host name (V(localhost) is the machine that runs Ansible, any other name is reached with the ssh client),
        or a mapping with C(name) (required), C(address) (how to reach it, default its name; V(localhost) or empty for this
        machine), C(user) (default root), C(port), C(private_key_file), C(ssh_args) and C(state_dir).
      - Each partition gets C(linuxvps_host) (V(localhost) for this machine, else the address), and
        C(linuxvps_host_user), C(linuxvps_host_port), C(linuxvps_host_private_key_file), C(linuxvps_host_ssh_args) and
        C(linuxvps_state_dir) when its host entry sets them.
      - C(private_key_file) may name the key by C(~) or an environment variable (V($LINUXVPS_HOST_KEY)). Both are
        expanded where the key is used, when listing and again when the connection reaches the partition, so a key
        file injected under a different path for each run (an AWX credential) is found both times.
    type: list
    elements: raw
    default: [localhost]
  states:
    description: List only partitions in these states.
    type: list
    elements: str
    choices: [running, stopped, frozen]
    default: [running]
  prefix_host_names:
    description:
      - Name every partition's inventory host C(<host>_<partition>), where C(<host>) is its host entry's name, and set
        C(ansible_host) to the partition's name.
      - Without it a partition name found on two hosts fails the inventory naming both; with it, hosts entries need
        distinct names.
    type: bool
    default: false
notes:
  - Every host gets C(linuxvps_partition) with the partition's C(name), C(state), C(tenant), C(labels), C(rootfs),
    C(hostname), C(privileged), C(pid), C(addresses) (bare IP addresses of all its interfaces), C(interfaces) (as
    configured, addresses with prefix lengths) and C(resources) (the limits in force).
  - Default groups are C(linuxvps_host_<host>) and C(linuxvps_tenant_<tenant>), sanitised like every inventory
    plugin's group names (characters not valid in a variable name become C(_)).
  - Modules need a Python inside the partition; M(ansible.builtin.raw) works without.
seealso:
  - module: linuxvps.partitions.partition
  - module: linuxvps.partitions.partition_info
"""

EXAMPLES = r"""
# fleet.linuxvps.yml: this machine and two VPS hosts over SSH, stopped partitions too, names prefixed by the host.
# The smallest configuration is the plugin line alone: the running partitions of this machine.
plugin: linuxvps.partitions.partitions
hosts:
  - localhost
  - vps1.example.com
  - name: vps2
    address: vps2.internal
    user: root
    port: 2222
    private_key_file: ~/.ssh/vps2
    state_dir: /srv/linuxvps
states: [running, stopped]
prefix_host_names: true
compose:
  ansible_python_interpreter: "'/usr/bin/python3'"
groups:
  stopped: linuxvps_partition.state == 'stopped'
keyed_groups:
  - key: linuxvps_partition.labels.role | default('none')
    prefix: role
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/linuxvps-inventory
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six import string_types
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.linuxvps.partitions.plugins.module_utils import listing
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR
from ansible_collections.linuxvps.partitions.plugins.plugin_utils import engine_payload
from ansible_collections.linuxvps.partitions.plugins.plugin_utils.host_transport import HostTransport, HostTransportError, is_local

CONNECTION = "linuxvps.partitions.partition"
HOST_KEYS = ("name", "address", "user", "port", "private_key_file", "ssh_args", "state_dir")
# host entry key -> the variable each of its partitions gets (the connection plugin's)
HOST_VARIABLES = (("user", "linuxvps_host_user"), ("port", "linuxvps_host_port"),
                  ("private_key_file", "linuxvps_host_private_key_file"), ("ssh_args", "linuxvps_host_ssh_args"),
                  ("state_dir", "linuxvps_state_dir"))
LISTING_TIMEOUT = 120  # seconds for one VPS host's listing, SSH connection included
MAX_PARALLEL_HOSTS = 16


def host_entries(hosts):
    """The hosts option as dicts with every key of HOST_KEYS (None when unset) and "local"; bad entries fail naming
    the option and the value."""
    entries = []
    for index, item in enumerate(hosts or []):
        if isinstance(item, string_types):
            item = {"name": item}
        if not isinstance(item, dict):
            raise AnsibleParserError("hosts[%d]: each host is a name or a mapping, got %r" % (index, item))
        unknown = sorted(set(item) - set(HOST_KEYS))
        if unknown:
            raise AnsibleParserError("hosts[%d]: unknown key(s) %s; known: %s" % (index, ", ".join(unknown), ", ".join(HOST_KEYS)))
        entry = dict((key, item.get(key)) for key in HOST_KEYS)
        if not isinstance(entry["name"], string_types) or not entry["name"]:
            raise AnsibleParserError("hosts[%d]: name is required and must be a string, got %r" % (index, entry["name"]))
        for key in ("address", "user", "private_key_file", "ssh_args", "state_dir"):
            if entry[key] is not None and not isinstance(entry[key], string_types):
                raise AnsibleParserError("hosts[%d] (%s): %s must be a string, got %r" % (index, entry["name"], key, entry[key]))
        if entry["port"] is not None:
            try:
                entry["port"] = int(entry["port"])
            except (TypeError, ValueError):
                raise AnsibleParserError("hosts[%d] (%s): port must be a number, got %r" % (index, entry["name"], entry["port"]))
        if entry["state_dir"] is not None and not os.path.isabs(entry["state_dir"]):
            raise AnsibleParserError("hosts[%d] (%s): state_dir must be an absolute path, got %r" % (index, entry["name"], entry["state_dir"]))
        # private_key_file stays as written (~ and $VARS are expanded where it is used, by the transport): the
        # partitions' variables then name the key the same way for the jobs that reach them later
        if entry["address"] is None:
            entry["address"] = entry["name"]
        entry["local"] = is_local(entry["address"])  # as the partition connection decides it
        entries.append(entry)
    return entries


def describe_host(entry):
    return "%s (state_dir %s)" % (entry["name"], entry["state_dir"] or DEFAULT_STATE_DIR)


def cache_slot(entry, states):
    """What one host's cached listing is filed under: everything that decides what it lists."""
    return json.dumps([entry["name"], entry["address"], entry["port"], entry["user"], entry["state_dir"], sorted(states)])


def listing_command(entry, states):
    """(argv, stdin) of the one command that lists a remote VPS host's partitions."""
    return (engine_payload.command([entry["state_dir"] or DEFAULT_STATE_DIR] + list(states)),
            engine_payload.program("listing", "main"))


def parse_listing(entry, rc, out, err):
    """The listing a remote host printed, or AnsibleParserError naming the host and what went wrong."""
    lines = [line for line in (out or "").splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if isinstance(result, dict) and result.get("failed"):
        raise AnsibleParserError("linuxvps host %s: %s" % (describe_host(entry), result.get("msg")))
    if rc != 0 or not isinstance(result, dict) or not isinstance(result.get("partitions"), list):
        detail = (err or "").strip() or (out or "").strip() or "no output"
        raise AnsibleParserError("linuxvps host %s: listing its partitions failed (rc %s): %s"
                                 % (describe_host(entry), rc, detail[-2000:]))
    return result


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "linuxvps.partitions.partitions"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("linuxvps.yml", "linuxvps.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        entries = host_entries(self.get_option("hosts"))
        states = self.get_option("states")
        prefix = self.get_option("prefix_host_names")
        if prefix:
            _refuse_duplicate_entry_names(entries)

        listings = self._cached_listings(self.get_cache_key(path), entries, states, cache)
        self._populate(entries, listings, prefix)

    # ---- listing ------------------------------------------------------------------------------
    def _cached_listings(self, cache_key, entries, states, cache):
        """[listing of each entry]: from the cache when it is on and not being refreshed, else (and for an entry it
        lacks) from the hosts, written back to the cache when it is on."""
        use_cache = self.get_option("cache")
        slots = [cache_slot(entry, states) for entry in entries]
        found = {}
        if use_cache and cache:
            try:
                found = dict(self._cache[cache_key])
            except KeyError:
                pass
        missing = [index for index, slot in enumerate(slots) if slot not in found]
        found.update(zip([slots[index] for index in missing], self._list_hosts([entries[index] for index in missing], states)))
        if use_cache and missing:
            self._cache[cache_key] = dict((slot, found[slot]) for slot in slots)
        return [found[slot] for slot in slots]

    def _list_hosts(self, entries, states):
        """The listing of each entry, in order: this machine's in this process, the others' in parallel."""
        results = [None] * len(entries)
        remote = [index for index, entry in enumerate(entries) if not entry["local"]]
        if remote:
            with ThreadPoolExecutor(max_workers=min(len(remote), MAX_PARALLEL_HOSTS)) as pool:
                futures = [(index, pool.submit(self._list_remote, entries[index], states)) for index in remote]
                for index, entry in enumerate(entries):
                    if entry["local"]:
                        results[index] = self._list_local(entry, states)
                for index, future in futures:
                    results[index] = future.result()
        else:
            results = [self._list_local(entry, states) for entry in entries]
        for entry, result in zip(entries, results):
            for warning in result.get("warnings") or []:
                self.display.warning("linuxvps host %s: %s" % (describe_host(entry), warning))
        return results

    def _list_local(self, entry, states):
        try:
            return listing.list_state_dir(entry["state_dir"] or DEFAULT_STATE_DIR, states)
        except PartitionError as exc:
            raise AnsibleParserError("linuxvps host %s: %s" % (describe_host(entry), exc.msg))
        except (IOError, OSError) as exc:
            raise AnsibleParserError("linuxvps host %s: %s (listing partitions reads the state directory as root)"
                                     % (describe_host(entry), to_native(exc)))

    def _transport(self, entry):
        """The SSH way to a VPS host (one multiplexed master per host, shared with the partition connection)."""
        return HostTransport(entry["address"], entry["user"], entry["port"], entry["private_key_file"], entry["ssh_args"])

    def _list_remote(self, entry, states):
        argv, program = listing_command(entry, states)
        try:
            rc, out, err = self._transport(entry).run(argv, data=program, timeout=LISTING_TIMEOUT)
        except (HostTransportError, OSError) as exc:  # ssh missing, the host unreachable, a timeout: said with the host
            raise AnsibleParserError("linuxvps host %s: %s" % (describe_host(entry), to_native(exc)))
        return parse_listing(entry, rc, to_native(out, errors="surrogate_or_replace"), to_native(err, errors="surrogate_or_replace"))

    # ---- the inventory --------------------------------------------------------------------------
    def _populate(self, entries, listings, prefix):
        if not prefix:
            _refuse_duplicate_partitions(entries, listings)
        strict = self.get_option("strict")
        for entry, result in zip(entries, listings):
            host_group = self.inventory.add_group(self._sanitize_group_name("linuxvps_host_" + entry["name"]))
            for partition in result["partitions"]:
                name = "%s_%s" % (entry["name"], partition["name"]) if prefix else partition["name"]
                self.inventory.add_host(name, group=host_group)
                tenant_group = self.inventory.add_group(self._sanitize_group_name("linuxvps_tenant_" + partition["tenant"]))
                self.inventory.add_child(tenant_group, name)
                for key, value in host_variables(entry, partition, prefix).items():
                    self.inventory.set_variable(name, key, value)
                host = self.inventory.get_host(name)
                # compose sees the host's variables with inventory_hostname and group_names; groups and keyed_groups
                # also see what compose made
                self._set_composite_vars(self.get_option("compose"), host.get_vars(), name, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), host.get_vars(), name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host.get_vars(), name, strict=strict)


def host_variables(entry, partition, prefix=False):
    """The variables one partition's inventory host gets."""
    variables = {
        "ansible_connection": CONNECTION,
        "linuxvps_host": "localhost" if entry["local"] else entry["address"],
        # what a VPS host says is data, never a template, whatever a label holds (the host may not be trusted)
        "linuxvps_partition": wrap_var(partition),
    }
    if prefix:
        variables["ansible_host"] = partition["name"]
    for key, variable in HOST_VARIABLES:
        if entry[key] is not None:
            variables[variable] = entry[key]
    return variables


def _refuse_duplicate_entry_names(entries):
    seen = {}
    for entry in entries:
        if entry["name"] in seen:
            raise AnsibleParserError("hosts: two entries are named %s (%s and %s): prefix_host_names needs a distinct name for each"
                                     % (entry["name"], describe_host(seen[entry["name"]]), describe_host(entry)))
        seen[entry["name"]] = entry


def _refuse_duplicate_partitions(entries, listings):
    """A partition name listed by two hosts fails naming both: one inventory host cannot stand for two partitions."""
    where = {}
    for entry, result in zip(entries, listings):
        for partition in result["partitions"]:
            other = where.setdefault(partition["name"], entry)
            if other is not entry:
                raise AnsibleParserError(
                    "partition %s is on two hosts: %s and %s; set prefix_host_names: true to name them <host>_<partition>"
                    % (partition["name"], describe_host(other), describe_host(entry)))
