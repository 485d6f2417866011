# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory's listing on fake collaborators: what each partition becomes, the states filter, one runtime listing
for all, and the host command's JSON."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import listing
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine, FakeHostNet


@pytest.fixture
def engine(tmp_path, monkeypatch):
    engine = FakeEngine(str(tmp_path / "state"))
    engine.store.save_network("lvbr0", {"name": "lvbr0", "ipv4": "10.213.0.1/24", "ipv6": "fd42:213::1/64", "nat": False, "uplink": None})
    FakeHostNet(engine.log).install(monkeypatch)
    return engine


def make(engine, name, **params):
    Converger(engine).converge(dict({"name": name, "rootfs": "debian12"}, **params))


@pytest.fixture
def three(engine):
    """web1 running (tenant acme, a label, an address), web2 stopped, web3 frozen."""
    make(engine, "web1", tenant="acme", labels={"role": "web"}, resources={"memory": "256M"},
         interfaces=[{"network": "lvbr0", "addresses": ["10.213.0.11/24", "fd42:213::11/64"]}])
    make(engine, "web2", state="stopped")
    make(engine, "web3", state="frozen")
    return engine


def names(result):
    return [item["name"] for item in result["partitions"]]


def test_only_running_partitions_by_default_and_each_state_when_asked(three):
    assert names(listing.list_partitions(three)) == ["web1"]
    assert names(listing.list_partitions(three, ["stopped"])) == ["web2"]
    assert names(listing.list_partitions(three, ["frozen", "stopped"])) == ["web2", "web3"]
    assert names(listing.list_partitions(three, listing.STATES)) == ["web1", "web2", "web3"]


def test_an_entry_has_what_the_inventory_gives_a_host(three):
    web1, web2 = listing.list_partitions(three, ["running", "stopped"])["partitions"]
    assert web1["state"] == "running" and web1["tenant"] == "acme" and web1["labels"] == {"role": "web"}
    assert web1["rootfs"] == "debian12" and web1["hostname"] == "web1" and web1["privileged"] is False
    assert web1["addresses"] == ["10.213.0.11", "fd42:213::11"]
    assert web1["interfaces"][0]["addresses"] == ["10.213.0.11/24", "fd42:213::11/64"]
    assert web1["resources"]["memory"] == 256 * 1024 * 1024
    assert web1["pid"] == three.runtime.containers["web1"]["pid"]
    # a partition without a tenant is its own; a stopped one has no pid
    assert web2["tenant"] == "web2" and web2["state"] == "stopped" and web2["pid"] is None and web2["addresses"] == []
    json.dumps(web1)  # plain data: it crosses SSH as JSON and lands in an inventory cache


def test_the_limits_in_force_are_reported_for_a_running_partition(three):
    three.cgroup("web1").limits["memory"] = 512 * 1024 * 1024  # changed on the host since it was recorded
    assert listing.list_partitions(three)["partitions"][0]["resources"]["memory"] == 512 * 1024 * 1024


def test_one_runtime_listing_serves_every_partition(three, monkeypatch):
    calls = []
    monkeypatch.setattr(three.runtime, "state", lambda name: pytest.fail("runtime state asked for %s alone" % name))
    real_list = three.runtime.list
    monkeypatch.setattr(three.runtime, "list", lambda: calls.append("list") or real_list())
    assert len(listing.list_partitions(three, listing.STATES)["partitions"]) == 3
    assert calls == ["list"]


def test_a_corrupt_document_is_left_out_with_a_warning(three):
    with open(three.store.partition_document("web2"), "w") as handle:
        handle.write('{"spec": {"na')
    result = listing.list_partitions(three, listing.STATES)
    assert names(result) == ["web1", "web3"]
    assert [warning for warning in result["warnings"] if "web2" in warning and "left out" in warning]


def test_an_unknown_state_fails_naming_the_option_and_the_value(three):
    with pytest.raises(InvalidOption) as caught:
        listing.list_partitions(three, ["running", "paused"])
    assert "states" in caught.value.msg and "paused" in caught.value.msg


def test_the_host_command_prints_the_listing_or_the_error_as_json(three, monkeypatch):
    monkeypatch.setattr(listing, "list_state_dir", lambda state_dir, states: listing.list_partitions(three, states))
    out = io.StringIO()
    assert listing.main([three.store.root, "running", "stopped"], out) == 0
    assert names(json.loads(out.getvalue())) == ["web1", "web2"]
    out = io.StringIO()
    assert listing.main([three.store.root, "bogus"], out) == 1
    failed = json.loads(out.getvalue())
    assert failed["failed"] is True and "bogus" in failed["msg"]
    out = io.StringIO()

    def denied(state_dir, states):
        raise PermissionError(13, "Permission denied", three.store.partition_document("web1"))
    monkeypatch.setattr(listing, "list_state_dir", denied)
    assert listing.main([three.store.root], out) == 1
    assert json.loads(out.getvalue())["msg"] == "%s: Permission denied (listing partitions reads the state directory as root)" \
        % three.store.partition_document("web1")
    out = io.StringIO()
    assert listing.main([], out) == 2 and "usage" in json.loads(out.getvalue())["msg"]
