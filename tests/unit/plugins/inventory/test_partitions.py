# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin on canned listings: hosts and their variables, default and constructed groups, duplicates
across VPS hosts, the cache, and the one command a remote VPS host runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.linuxvps.partitions.plugins.inventory import partitions as plugin_module
from ansible_collections.linuxvps.partitions.plugins.plugin_utils import engine_payload


def partition(name, state="running", tenant=None, labels=None, addresses=()):
    """One entry as listing.partition_entry makes it."""
    return {"name": name, "state": state, "tenant": tenant or name, "labels": labels or {}, "rootfs": "debian12",
            "hostname": name, "privileged": False, "pid": 100 if state != "stopped" else None, "addresses": list(addresses),
            "interfaces": [], "resources": {"memory": 268435456}}


class Hosts:
    """Canned listings by host entry name; records who was listed, with which states."""

    def __init__(self, listings):
        self.listings = listings
        self.calls = []

    def __call__(self, entry, states):
        self.calls.append((entry["name"], tuple(states)))
        return {"partitions": [item for item in self.listings[entry["name"]] if item["state"] in states], "warnings": []}


def parse(tmp_path, monkeypatch, config, listings, cache=False, hosts=None):
    """(inventory, plugin, Hosts) after parsing config (a dict) as a *.linuxvps.yml file."""
    path = tmp_path / "test.linuxvps.yml"
    path.write_text(json.dumps(dict({"plugin": "linuxvps.partitions.partitions"}, **config)))
    plugin = inventory_loader.get("linuxvps.partitions.partitions")
    hosts = hosts or Hosts(listings)
    monkeypatch.setattr(plugin, "_list_local", hosts)
    monkeypatch.setattr(plugin, "_list_remote", hosts)
    inventory = InventoryData()
    assert plugin.verify_file(str(path))
    plugin.parse(inventory, DataLoader(), str(path), cache=cache)
    return inventory, plugin, hosts


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def test_verify_file_takes_only_linuxvps_yml_and_yaml(tmp_path):
    plugin = inventory_loader.get("linuxvps.partitions.partitions")
    for name, wanted in (("a.linuxvps.yml", True), ("linuxvps.yaml", True), ("ci.linuxvps.yaml", True),
                         ("a.yml", False), ("linuxvps.yml.bak", False), ("a.linuxvps.json", False)):
        (tmp_path / name).write_text("plugin: linuxvps.partitions.partitions\n")
        assert plugin.verify_file(str(tmp_path / name)) is wanted, name


def test_each_partition_is_a_host_reached_through_the_partition_connection(tmp_path, monkeypatch):
    inventory, _plugin, hosts = parse(tmp_path, monkeypatch, {}, {"localhost": [
        partition("web1", tenant="acme", labels={"role": "web"}, addresses=["10.213.0.11"]), partition("db1", state="stopped")]})
    assert hosts.calls == [("localhost", ("running",))]  # default hosts [localhost], default states [running]
    assert sorted(inventory.hosts) == ["web1"]
    variables = host_vars(inventory, "web1")
    assert variables["ansible_connection"] == "linuxvps.partitions.partition"
    assert variables["linuxvps_host"] == "localhost"
    assert variables["linuxvps_partition"]["tenant"] == "acme" and variables["linuxvps_partition"]["addresses"] == ["10.213.0.11"]
    # nothing the host entry does not set, and ansible_host is the inventory name (the partition's)
    for unset in ("ansible_host", "linuxvps_host_user", "linuxvps_host_port", "linuxvps_host_private_key_file", "linuxvps_state_dir"):
        assert unset not in variables


def test_a_remote_host_entry_gives_its_partitions_the_connection_variables(tmp_path, monkeypatch):
    vps2 = {"name": "vps2", "address": "10.213.9.2", "user": "admin", "port": 2222, "private_key_file": "/keys/vps2",
            "ssh_args": "-o Foo=bar", "state_dir": "/srv/lv"}
    config = {"hosts": ["vps1.example.com", vps2]}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, {"vps1.example.com": [partition("a1")], "vps2": [partition("b1")]})
    assert host_vars(inventory, "a1")["linuxvps_host"] == "vps1.example.com"
    b1 = host_vars(inventory, "b1")
    assert (b1["linuxvps_host"], b1["linuxvps_host_user"], b1["linuxvps_host_port"]) == ("10.213.9.2", "admin", 2222)
    assert (b1["linuxvps_host_private_key_file"], b1["linuxvps_host_ssh_args"], b1["linuxvps_state_dir"]) == ("/keys/vps2", "-o Foo=bar", "/srv/lv")


def test_default_groups_per_host_and_tenant_sanitised(tmp_path, monkeypatch):
    config = {"hosts": ["vps1.example.com", "localhost"]}
    listings = {"vps1.example.com": [partition("web-1", tenant="acme-corp"), partition("web-2", tenant="acme-corp")],
                "localhost": [partition("solo")]}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, listings)
    assert members(inventory, "linuxvps_host_vps1_example_com") == ["web-1", "web-2"]
    assert members(inventory, "linuxvps_tenant_acme_corp") == ["web-1", "web-2"]
    assert members(inventory, "linuxvps_host_localhost") == ["solo"] and members(inventory, "linuxvps_tenant_solo") == ["solo"]


def test_the_states_option_is_what_each_host_is_asked_for(tmp_path, monkeypatch):
    listings = {"localhost": [partition("up"), partition("down", state="stopped"), partition("cold", state="frozen")]}
    inventory, _plugin, hosts = parse(tmp_path, monkeypatch, {"states": ["stopped", "frozen"]}, listings)
    assert sorted(inventory.hosts) == ["cold", "down"] and hosts.calls == [("localhost", ("stopped", "frozen"))]
    refused = Hosts(listings)
    with pytest.raises(AnsibleError) as caught:  # an unknown state is refused by the option's choices, before any listing
        parse(tmp_path, monkeypatch, {"states": ["paused"]}, listings, hosts=refused)
    assert "states" in str(caught.value) and "paused" in str(caught.value) and refused.calls == []


def test_compose_groups_and_keyed_groups_see_the_partition(tmp_path, monkeypatch):
    config = {"compose": {"ansible_host": "linuxvps_partition.addresses[0]", "role": "linuxvps_partition.labels.role"},
              "groups": {"acme": "linuxvps_partition.tenant == 'acme'"},
              "keyed_groups": [{"key": "linuxvps_partition.labels.role", "prefix": "role"}]}
    listings = {"localhost": [partition("web1", tenant="acme", labels={"role": "web"}, addresses=["10.213.0.11"]),
                              partition("db1", labels={"role": "db"}, addresses=["10.213.0.12"])]}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, listings)
    assert host_vars(inventory, "web1")["ansible_host"] == "10.213.0.11" and host_vars(inventory, "db1")["role"] == "db"
    assert members(inventory, "acme") == ["web1"]
    assert members(inventory, "role_web") == ["web1"] and members(inventory, "role_db") == ["db1"]


def test_groups_see_composed_variables_and_compose_sees_the_host_name_and_its_groups(tmp_path, monkeypatch):
    config = {"compose": {"tier": "linuxvps_partition.labels.tier | default('none')",
                          "label": "inventory_hostname ~ '@' ~ (group_names | sort | join(','))"},
              "keyed_groups": [{"key": "tier", "prefix": "tier"}],
              "groups": {"frontend": "tier == 'front'"}}
    listings = {"localhost": [partition("web1", tenant="acme", labels={"tier": "front"}), partition("db1")]}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, listings)
    assert members(inventory, "tier_front") == ["web1"] and members(inventory, "tier_none") == ["db1"]
    assert members(inventory, "frontend") == ["web1"]
    assert host_vars(inventory, "web1")["label"] == "web1@linuxvps_host_localhost,linuxvps_tenant_acme"


def test_strict_makes_a_bad_compose_expression_fail(tmp_path, monkeypatch):
    listings = {"localhost": [partition("web1")]}
    config = {"compose": {"x": "linuxvps_partition.nosuchkey.deeper"}}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, listings)
    assert "x" not in host_vars(inventory, "web1")
    with pytest.raises(AnsibleError) as caught:
        parse(tmp_path, monkeypatch, dict(config, strict=True), listings)
    assert "Could not set x for host web1" in str(caught.value)


def test_a_name_on_two_hosts_fails_naming_both(tmp_path, monkeypatch):
    config = {"hosts": [{"name": "alpha", "address": "localhost", "state_dir": "/srv/a"},
                        {"name": "beta", "address": "localhost", "state_dir": "/srv/b"}]}
    listings = {"alpha": [partition("web1"), partition("only-a")], "beta": [partition("web1")]}
    with pytest.raises(AnsibleParserError) as caught:
        parse(tmp_path, monkeypatch, config, listings)
    message = str(caught.value)
    assert "web1" in message and "alpha (state_dir /srv/a)" in message and "beta (state_dir /srv/b)" in message
    assert "prefix_host_names" in message


def test_prefixed_host_names_keep_both_and_point_ansible_host_at_the_partition(tmp_path, monkeypatch):
    config = {"prefix_host_names": True, "hosts": [{"name": "alpha", "address": "localhost", "state_dir": "/srv/a"},
                                                   {"name": "beta", "address": "localhost", "state_dir": "/srv/b"}]}
    listings = {"alpha": [partition("web1")], "beta": [partition("web1")]}
    inventory, _plugin, _hosts = parse(tmp_path, monkeypatch, config, listings)
    assert sorted(inventory.hosts) == ["alpha_web1", "beta_web1"]
    assert host_vars(inventory, "beta_web1")["ansible_host"] == "web1"
    assert host_vars(inventory, "beta_web1")["linuxvps_state_dir"] == "/srv/b"
    assert members(inventory, "linuxvps_host_alpha") == ["alpha_web1"]


def test_prefixing_needs_distinct_host_entry_names(tmp_path, monkeypatch):
    config = {"prefix_host_names": True, "hosts": [{"name": "localhost", "state_dir": "/srv/a"}, {"name": "localhost", "state_dir": "/srv/b"}]}
    with pytest.raises(AnsibleParserError) as caught:
        parse(tmp_path, monkeypatch, config, {"localhost": []})
    assert "two entries are named localhost" in str(caught.value)


def test_only_localhost_or_an_empty_address_is_this_machine():
    entries = plugin_module.host_entries(["localhost", {"name": "here", "address": ""}, {"name": "lo", "address": "127.0.0.1"},
                                          "vps1", {"name": "localhost", "state_dir": "/srv/b"}])
    assert [entry["local"] for entry in entries] == [True, True, False, False, True]
    assert [entry["address"] for entry in entries] == ["localhost", "", "127.0.0.1", "vps1", "localhost"]


@pytest.mark.parametrize("entry, complaint", [
    ({"address": "x"}, "name is required"),
    ({"name": "a", "adress": "x"}, "unknown key(s) adress"),
    ({"name": "a", "port": "ssh"}, "port must be a number"),
    ({"name": "a", "state_dir": "relative"}, "state_dir must be an absolute path"),
    (["a"], "a name or a mapping"),
])
def test_a_bad_host_entry_fails_naming_it(entry, complaint):
    with pytest.raises(AnsibleParserError) as caught:
        plugin_module.host_entries(["ok", entry])
    assert complaint in str(caught.value) and "hosts[1]" in str(caught.value)


def test_the_cache_answers_without_listing_until_refreshed(tmp_path, monkeypatch):
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    listings = {"localhost": [partition("web1")]}
    path = str(tmp_path / "test.linuxvps.yml")
    _inventory, plugin, hosts = parse(tmp_path, monkeypatch, config, listings, cache=True)
    plugin.update_cache_if_changed()  # as the inventory manager does after each source
    assert len(hosts.calls) == 1
    listings["localhost"].append(partition("web2"))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=True)
    assert len(hosts.calls) == 1 and sorted(inventory.hosts) == ["web1"]  # from the cache
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=False)  # --flush-cache, meta: refresh_inventory
    plugin.update_cache_if_changed()
    assert len(hosts.calls) == 2 and sorted(inventory.hosts) == ["web1", "web2"]
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=True)
    assert len(hosts.calls) == 2 and sorted(inventory.hosts) == ["web1", "web2"]  # the refreshed cache


# ---- the remote VPS host: one command ---------------------------------------------------------------------
class FakeTransport:
    made = []

    def __init__(self, rc=0, out="", err=""):
        self.result = (rc, out, err)
        self.runs = []

    def run(self, argv, data=None, timeout=None):
        self.runs.append((argv, data, timeout))
        return self.result


def remote_entry(**overrides):
    return plugin_module.host_entries([dict({"name": "vps1", "address": "10.213.9.1", "user": "root", "port": 22,
                                             "private_key_file": "/k", "state_dir": "/srv/lv"}, **overrides)])[0]


def test_a_remote_host_is_listed_by_one_python_reading_the_packed_engine_on_stdin(monkeypatch):
    listing = {"partitions": [partition("web1")], "warnings": []}
    transport = FakeTransport(0, "noise from a login banner\n" + json.dumps(listing) + "\n")
    plugin = inventory_loader.get("linuxvps.partitions.partitions")
    made = []
    monkeypatch.setattr(plugin, "_transport", lambda entry: made.append(entry["address"]) or transport)
    assert plugin._list_remote(remote_entry(), ["running", "stopped"]) == listing
    assert made == ["10.213.9.1"] and len(transport.runs) == 1
    argv, data, timeout = transport.runs[0]
    assert argv == ["python3", "-", "/srv/lv", "running", "stopped"]
    assert data == engine_payload.program("listing", "main") and timeout == plugin_module.LISTING_TIMEOUT
    # the default state directory when the entry names none
    assert plugin_module.listing_command(remote_entry(state_dir=None), ["running"])[0] == ["python3", "-", "/var/lib/linuxvps", "running"]


@pytest.mark.parametrize("rc, out, err, expected", [
    (255, "", "ssh: connect to host 10.213.9.1 port 22: Connection refused", "Connection refused"),
    (1, json.dumps({"failed": True, "msg": "runc was not found"}), "", "runc was not found"),
    (127, "", "bash: python3: command not found", "python3: command not found"),
    (0, "not json", "", "not json"),
])
def test_a_remote_listing_that_fails_names_the_host(monkeypatch, rc, out, err, expected):
    plugin = inventory_loader.get("linuxvps.partitions.partitions")
    monkeypatch.setattr(plugin, "_transport", lambda entry: FakeTransport(rc, out, err))
    with pytest.raises(AnsibleParserError) as caught:
        plugin._list_remote(remote_entry(), ["running"])
    assert "vps1 (state_dir /srv/lv)" in str(caught.value) and expected in str(caught.value)


def test_remote_hosts_are_listed_and_local_ones_in_process(tmp_path, monkeypatch):
    local, remote = Hosts({"localhost": [partition("l1")]}), Hosts({"vps1": [partition("r1")], "vps2": [partition("r2")]})
    path = tmp_path / "x.linuxvps.yml"
    path.write_text(json.dumps({"plugin": "linuxvps.partitions.partitions", "hosts": ["vps1", "localhost", "vps2"]}))
    plugin = inventory_loader.get("linuxvps.partitions.partitions")
    monkeypatch.setattr(plugin, "_list_local", local)
    monkeypatch.setattr(plugin, "_list_remote", remote)
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    assert sorted(inventory.hosts) == ["l1", "r1", "r2"]
    assert local.calls == [("localhost", ("running",))] and sorted(remote.calls) == [("vps1", ("running",)), ("vps2", ("running",))]
