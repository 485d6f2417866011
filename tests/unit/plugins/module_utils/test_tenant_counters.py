# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's own counters across its cgroup's lives (tenant_counters.py) on the fake engine: folded when the cgroup
of an undeclared tenant is swept, from the last sample after a reboot, reset by the tenant module (four runs), and
gone with the tenant."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import partition_counters, tenant_counters
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import read_json
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_converge import TenantConverger
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_counters import TenantCounters
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine


def booted(monkeypatch, boot):
    for module in (partition_counters, tenant_counters):
        monkeypatch.setattr(module, "boot_id", lambda: boot)


@pytest.fixture
def engine(tmp_path, monkeypatch):
    booted(monkeypatch, "boot-1")
    return FakeEngine(str(tmp_path / "state"))


def partition(engine, name, **params):
    return Converger(engine).converge(dict({"name": name, "rootfs": "debian12", "resources": {"memory": "128M"}}, **params))


def tenant(engine, **params):
    return TenantConverger(engine).converge(dict({"state": "present"}, **params))


def tenant_kernel(engine, name, failcnt, maxheld=None, oom_kills=None):
    """Make the tenant's fake cgroup count these (what the kernel counts for the cgroup's current life)."""
    engine.cgroups.kernel[engine.tenant_cgroup(name).path] = {
        "memory": {"held": 1, "maxheld": maxheld, "limit": None, "failcnt": failcnt}, "oom_kills": oom_kills}


def view(engine, name, record=False):
    reporter = Reporter(engine, record_samples=record)
    return dict((entry["name"], entry) for entry in reporter.tenants(reporter.info()))[name]["counters"]


def ledger(engine, name):
    return read_json(TenantCounters(engine).files(name).ledger_path)


def test_a_stop_leaving_partitions_in_the_tenant_reads_no_tenant_counters(engine, monkeypatch):
    """The tenant's cgroup stays while another partition is in it: nothing to fold, so its tree is not walked (a
    walk per stop made tearing down a tenant's N partitions cost N squared)."""
    partition(engine, "web1", tenant="shop")
    partition(engine, "web2", tenant="shop")
    tenant = engine.tenant_cgroup("shop")
    reads = []
    real = type(tenant).read_counters
    monkeypatch.setattr(type(tenant), "read_counters", lambda cgroup, local=False: reads.append(cgroup.path) or real(cgroup, local))
    partition(engine, "web1", state="stopped")
    assert engine.cgroups.swept_tenants == [] and tenant.path not in reads
    partition(engine, "web2", state="stopped")
    assert engine.cgroups.swept_tenants == [tenant.path] and tenant.path in reads


def test_an_undeclared_tenants_counters_are_folded_as_its_cgroup_is_swept(engine):
    partition(engine, "web1", tenant="shop")
    assert ledger(engine, "shop")["since"]  # the start began the ledger
    tenant_kernel(engine, "shop", failcnt=3, maxheld=100, oom_kills=1)
    assert view(engine, "shop")["memory"]["failcnt"] == 3
    partition(engine, "web1", state="stopped")
    assert engine.cgroups.swept_tenants == ["/%s/shop.tenant" % engine.parent]
    stopped = view(engine, "shop")  # no cgroup any more: the ledger alone
    assert stopped["memory"]["failcnt"] == 3 and stopped["memory"]["maxheld"] == 100 and stopped["oom_kills"] == 1
    assert len(ledger(engine, "shop")["folded"]) == 1
    partition(engine, "web1", state="started")  # a new cgroup: the kernel counts from 0 again
    tenant_kernel(engine, "shop", failcnt=2, maxheld=50, oom_kills=0)
    again = view(engine, "shop")
    assert again["memory"]["failcnt"] == 5 and again["memory"]["maxheld"] == 100 and again["oom_kills"] == 1
    assert again["since"] == stopped["since"]


def test_a_cgroup_that_outlives_its_removal_is_not_folded(engine):
    partition(engine, "web1", tenant="shop")
    tenant_kernel(engine, "shop", failcnt=3)
    TenantCounters(engine).remove_folding("shop", engine.tenant_cgroup("shop"), lambda: None)  # busy: still there
    assert ledger(engine, "shop")["folded"] == []
    assert view(engine, "shop")["memory"]["failcnt"] == 3  # counted once, live


def test_a_reboot_is_folded_from_the_last_sample_when_the_cgroup_is_made_again(engine, monkeypatch):
    tenant(engine, name="acme", resources={"memory": "300M"})
    partition(engine, "web1", tenant="acme")
    tenant_kernel(engine, "acme", failcnt=4, maxheld=300)
    assert view(engine, "acme", record=True)["memory"]["failcnt"] == 4  # the read leaves a sample
    # a power cut: the tenant's cgroup went with the host, the documents still say it runs
    engine.runtime.containers.clear()
    engine.cgroup("web1").remove()
    engine.tenant_cgroup("acme").remove()
    booted(monkeypatch, "boot-2")
    assert view(engine, "acme")["memory"]["failcnt"] == 4  # the report folds the sample as the next making will
    partition(engine, "web1", state="restarted")
    assert len(ledger(engine, "acme")["folded"]) == 1
    tenant_kernel(engine, "acme", failcnt=1, maxheld=10)
    after = view(engine, "acme")
    assert after["memory"]["failcnt"] == 5 and after["memory"]["maxheld"] == 300


def test_the_tenant_module_folds_a_reboot_when_it_makes_the_cgroup(engine, monkeypatch):
    tenant(engine, name="acme", resources={"memory": "300M"})
    tenant_kernel(engine, "acme", failcnt=2)
    view(engine, "acme", record=True)
    engine.tenant_cgroup("acme").remove()
    booted(monkeypatch, "boot-2")
    plan, _report = tenant(engine, name="acme", resources={"memory": "300M"})
    assert plan.actions == ["create", "limits"]
    assert ledger(engine, "acme")["closed"]["memory.failcnt"] == 2


def test_reset_counters_in_four_runs_and_only_when_something_was_counted(engine):
    tenant(engine, name="acme", resources={"memory": "300M"})
    partition(engine, "web1", tenant="acme")
    params = {"name": "acme", "resources": {"memory": "300M"}, "reset_counters": True}
    tenant_kernel(engine, "acme", failcnt=0, maxheld=100)
    assert not tenant(engine, **params)[0].changed  # a peak alone is nothing to reset
    tenant_kernel(engine, "acme", failcnt=6, maxheld=100)
    engine.check_mode = True
    checked = tenant(engine, **params)[0]
    assert checked.actions == ["reset_counters"]
    assert checked.diff()["before"]["counters"]["memory.failcnt"] == 6 and checked.diff()["after"]["counters"]["memory.failcnt"] == 0
    assert view(engine, "acme")["memory"]["failcnt"] == 6  # check mode changed nothing
    engine.check_mode = False
    assert tenant(engine, **params)[0].actions == ["reset_counters"]
    assert view(engine, "acme")["memory"]["failcnt"] == 0
    engine.check_mode = True
    assert not tenant(engine, **params)[0].changed
    engine.check_mode = False
    assert not tenant(engine, **params)[0].changed
    tenant_kernel(engine, "acme", failcnt=7, maxheld=100)  # hits after the reset count again
    assert view(engine, "acme")["memory"]["failcnt"] == 1


def test_the_counters_go_with_the_tenant(engine):
    partition(engine, "web1", tenant="shop")
    partition(engine, "web2", tenant="acme")
    tenant(engine, name="acme", resources={"memory": "1G"})
    view(engine, "shop", record=True)
    assert engine.store.tenant_names() == ["acme"]  # the counters' files are no tenant's record
    files = TenantCounters(engine).files("shop")
    partition(engine, "web1", state="absent")  # the last partition of an undeclared tenant
    assert not os.path.exists(files.ledger_path) and not os.path.exists(files.sample_path)
    partition(engine, "web2", state="absent")
    assert os.path.exists(TenantCounters(engine).files("acme").ledger_path)  # a declared tenant's stay with it
    plan, _report = tenant(engine, name="acme", state="absent")
    assert plan.actions == ["remove_cgroup", "forget"]
    assert not os.path.exists(TenantCounters(engine).files("acme").ledger_path)
    assert not tenant(engine, name="acme", state="absent")[0].changed
