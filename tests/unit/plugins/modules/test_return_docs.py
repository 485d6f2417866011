# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RETURN of each module documents what it returns: the reports of partition and partition_info (built by
report.py on fake collaborators, with every optional field present) hold exactly the documented keys, and every
module is in the action group and documents the collection's attributes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.plugins.module_utils.snapshots import SnapshotManager
from ansible_collections.linuxvps.partitions.plugins.modules import (backup, network, partition, partition_exec, partition_info, rootfs,
                                                                     snapshot, tenant)
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine, FakeHostNet

MODULES = {"backup": backup, "network": network, "partition": partition, "partition_exec": partition_exec, "partition_info": partition_info,
           "rootfs": rootfs, "snapshot": snapshot, "tenant": tenant}
WAIT_ONLY = {"ready"}  # in partition's report only with wait=running (readiness.await_ready adds it)
COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def returned(module):
    return yaml.safe_load(module.RETURN)


def documentation(module):
    return yaml.safe_load(module.DOCUMENTATION)


@pytest.fixture
def reports(tmp_path, monkeypatch):
    """partition's report and partition_info's item for a running partition with every optional setting."""
    engine = FakeEngine(str(tmp_path / "state"))
    engine.store.save_network("lvbr0", {"name": "lvbr0", "ipv4": "10.213.0.1/24", "ipv6": None, "nat": False, "uplink": None})
    FakeHostNet(engine.log).install(monkeypatch)
    mount = tmp_path / "data"
    mount.mkdir()
    _plan, report = Converger(engine).converge({
        "name": "web1", "rootfs": "debian12", "resources": {"memory": "256M"}, "labels": {"tenant": "acme"},
        "env": {"A": "1"}, "secret_env": {"TOKEN": "s3cret"}, "command": ["/sbin/init"], "lxcfs": False, "idmapped_template": False,
        "mounts": [{"source": str(mount), "target": "/data"}],
        "interfaces": [{"network": "lvbr0", "addresses": ["10.213.0.2"], "rate": "10mbit", "dns": {"nameservers": ["10.213.0.1"]}}],
    })
    (info,) = Reporter(engine).info()
    return report, info


def test_partitions_report_is_what_partition_documents(reports):
    report, _info = reports
    documented = returned(partition)["partition"]["contains"]
    assert sorted(report) == sorted(set(documented) - WAIT_ONLY)
    assert sorted(report["interfaces"][0]) == sorted(documented["interfaces"]["contains"])


def test_partition_and_partition_info_document_the_same_report():
    """The two RETURN docs are copies: the same keys, the same words, but for what only waiting adds."""
    mine = returned(partition)["partition"]["contains"]
    info = returned(partition_info)["partitions"]["contains"]
    assert sorted(set(mine) - WAIT_ONLY) == sorted(set(info) - {"usage", "counters"})
    assert mine["ready"]["returned"].startswith("when O(wait=running)")


def test_partition_info_items_are_what_partition_info_documents(reports):
    _report, info = reports
    documented = returned(partition_info)["partitions"]["contains"]
    assert sorted(info) == sorted(documented)
    assert sorted(info["interfaces"][0]) == sorted(documented["interfaces"]["contains"])
    # named in the issue: undocumented once
    assert {"labels", "tenant", "created", "started", "runtime", "id_base", "template_access"} <= set(documented)
    assert "host_interface" in documented["interfaces"]["contains"]


def test_partition_info_tenants_are_what_partition_info_documents(tmp_path, reports):
    _report, info = reports
    documented = returned(partition_info)["tenants"]["contains"]
    (tenant,) = Reporter(FakeEngine(str(tmp_path / "other"))).tenants([info])
    assert sorted(tenant) == sorted(documented)
    assert sorted(info["counters"]) == sorted(returned(partition_info)["partitions"]["contains"]["counters"]["sample"])


def test_an_absent_partition_reports_only_documented_keys(tmp_path):
    report = Reporter(FakeEngine(str(tmp_path / "state"))).report("nothing")
    assert set(report) <= set(returned(partition)["partition"]["contains"])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_documents_the_attributes_and_is_in_the_action_group(name):
    doc = documentation(MODULES[name])
    assert "linuxvps.partitions.attributes" in doc["extends_documentation_fragment"]
    assert set(doc["attributes"]) == {"check_mode", "diff_mode"}  # platform and action_group come from the fragment
    with open(os.path.join(COLLECTION, "meta", "runtime.yml")) as handle:
        group = yaml.safe_load(handle)["action_groups"]["partitions"]
    assert name in group


def test_the_action_group_holds_every_module_and_nothing_else():
    with open(os.path.join(COLLECTION, "meta", "runtime.yml")) as handle:
        group = yaml.safe_load(handle)["action_groups"]["partitions"]
    present = sorted(entry[:-3] for entry in os.listdir(os.path.join(COLLECTION, "plugins", "modules"))
                     if entry.endswith(".py") and not entry.startswith("_"))
    assert sorted(group) == present == sorted(MODULES)


def test_snapshots_result_is_what_snapshot_documents(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"))
    Converger(engine).converge({"name": "web1", "rootfs": "debian12"})
    _changed, result, _warnings, _diff = SnapshotManager(engine).converge({"partition": "web1", "name": "s1", "state": "present"})
    documented = returned(snapshot)
    assert sorted(result) == sorted(documented)
    assert sorted(result["snapshots"][0]) == sorted(documented["snapshots"]["contains"])
    assert sorted(result["snapshot"]) == sorted(documented["snapshot"]["contains"])
