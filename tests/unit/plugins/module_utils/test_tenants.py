# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenants as a whole: validation, the tenant's cgroup and slice names, where a partition's cgroup is found (legacy
records too), a tenant's four runs and refusals, max_partitions in the partition converge, and what a launch does
for the tenant (its limits before the partition's, the running record, the sweep of an undeclared tenant's cgroup)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import cgroups, hostcmd, slices, supervisor
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CgroupError, Conflict, CorruptDocument, InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.launch import Launcher
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import TENANT_RESOURCES
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import StateStore, load_tenant, tenant_names
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenant_converge import TenantConverger
from ansible_collections.linuxvps.partitions.plugins.module_utils.tenants import TENANT_ARGSPEC, normalise_tenant
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeEngine
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import HOST

MIB = 1024 * 1024


@pytest.fixture
def engine(tmp_path):
    return FakeEngine(str(tmp_path / "state"))


def tenant(engine, **params):
    """Converge a tenant; (plan, report)."""
    return TenantConverger(engine).converge(dict({"state": "present"}, **params))


def partition(engine, name, **params):
    return Converger(engine).converge(dict({"name": name, "rootfs": "debian12", "resources": {"memory": "128M"}}, **params))


# ---- options ---------------------------------------------------------------------------------------
def test_a_tenant_has_no_default_limits_and_keeps_only_what_is_given():
    spec = normalise_tenant({"name": "acme", "resources": {"memory": "300M", "cpus": 1, "pids": None}}, HOST)
    assert spec == {"name": "acme", "resources": {"memory": 300 * MIB, "cpus": 1.0}, "max_partitions": None}
    assert normalise_tenant({"name": "acme"}, HOST)["resources"] == {}  # no quarter of the host, no 4096 pids


@pytest.mark.parametrize("params, option", [
    ({"resources": {"memory": "lots"}}, "resources.memory"),
    ({"resources": {"memory": "1M"}}, "resources.memory"),
    ({"resources": {"memory": "64G"}}, "resources.memory"),  # more than the host has
    ({"resources": {"swap": "100M"}}, "resources.swap"),  # swap is bounded with memory
    ({"resources": {"cpus": 3}}, "resources.cpus"),
    ({"resources": {"pids": 0}}, "resources.pids"),
    ({"resources": {"cpu_weight": 0}}, "resources.cpu_weight"),
    ({"resources": {"cpuset": "0"}}, "resources"),  # a partition's, not a tenant's
    ({"resources": {"memroy": "1G"}}, "resources"),
    ({"max_partitions": 0}, "max_partitions"),
    ({"max_partitions": "many"}, "max_partitions"),
    ({"name": "Bad_Name"}, "name"),
    ({"name": "acme\n"}, "name"),
])
def test_bad_input_names_the_option(params, option):
    with pytest.raises(InvalidOption) as error:
        normalise_tenant(dict({"name": "acme"}, **params), HOST)
    assert error.value.option == option


def test_the_argspec_offers_every_tenant_resource_and_io_limits_follow_the_partitions_spec():
    assert list(TENANT_ARGSPEC["resources"]["options"]) == list(TENANT_RESOURCES)
    assert normalise_tenant({"name": "acme", "resources": {"io_read_bps": "4M"}}, HOST)["resources"] == {"io_read_bps": 4 * MIB}
    with pytest.raises(InvalidOption) as error:
        normalise_tenant({"name": "acme", "resources": {"io_write_iops": 0}}, HOST)
    assert error.value.option == "resources.io_write_iops"


# ---- names and paths -------------------------------------------------------------------------------
def test_slices_are_systemd_escaped_and_never_collide_across_state_directories():
    assert slices.escape("acme") == "acme"
    assert slices.escape("acme-corp") == "acme\\x2dcorp"  # else it would nest under linuxvps-acme.slice
    assert slices.escape(".x y") == "\\x2ex\\x20y"
    assert slices.tenant_slice("linuxvps", "acme-corp") == "linuxvps-acme\\x2dcorp.slice"
    assert slices.tenant_slice("linuxvps-0badf00d", "acme") == "linuxvps-0badf00d_acme.slice"


def test_tenant_and_partition_paths():
    assert cgroups.tenant_path("linuxvps", "acme") == "/linuxvps/acme.tenant"
    assert cgroups.tenant_path("linuxvps", "acme", systemd=True) == "/linuxvps.slice/linuxvps-acme.slice"
    assert cgroups.partition_path("linuxvps", "web1", tenant="acme") == "/linuxvps/acme.tenant/web1"
    assert cgroups.partition_path("linuxvps", "web1", "linuxvps-web1.service", "acme-corp") == \
        "/linuxvps.slice/linuxvps-acme\\x2dcorp.slice/linuxvps-web1.service/partition"
    # an earlier version's, without a tenant level
    assert cgroups.partition_path("linuxvps", "web1") == "/linuxvps/web1"
    assert cgroups.partition_path("linuxvps", "web1", "linuxvps-web1.service") == "/linuxvps.slice/linuxvps-web1.service/partition"
    with pytest.raises(CgroupError):
        cgroups.tenant_path("linuxvps", "a/b")


def test_a_partitions_cgroup_is_found_from_its_record(engine):
    parent = engine.parent
    assert engine.cgroup("web1").path == "/%s/web1.tenant/web1" % parent  # none recorded: its own tenant
    assert engine.cgroup("web1", {"spec": {"name": "web1", "tenant": "acme"}}).path == "/%s/acme.tenant/web1" % parent
    running = {"spec": {"name": "web1", "tenant": "acme"}, "running": {"cgroup": "/%s/old.tenant/web1" % parent}}
    assert engine.cgroup("web1", running).path == "/%s/old.tenant/web1" % parent
    legacy = {"spec": {"name": "web1", "tenant": "acme"}, "running": {"started": "x"}}  # started by an earlier version
    assert engine.cgroup("web1", legacy).path == "/%s/web1" % parent
    _plan, report = partition(engine, "web1", tenant="acme")
    document = engine.store.load_partition("web1")
    assert report["cgroup"] == document["running"]["cgroup"] == engine.cgroup("web1").path == "/%s/acme.tenant/web1" % parent


def test_tenant_documents_in_the_store(tmp_path):
    store = StateStore(str(tmp_path / "state"))
    assert tenant_names(store) == [] and load_tenant(store.root, "acme") is None
    store.save_tenant("acme", {"name": "acme", "resources": {}, "max_partitions": None})
    assert tenant_names(store.root) == ["acme"] and load_tenant(store, "acme")["resources"] == {}
    with open(store.tenant_document("bad"), "w") as handle:
        handle.write("[]")
    with pytest.raises(CorruptDocument):
        store.load_tenant("bad")
    store.remove_tenant("acme")
    assert load_tenant(store, "acme") is None


# ---- the tenant module's converge -------------------------------------------------------------------
def test_four_runs_a_live_change_and_absent(engine):
    checking = engine.checking()
    plan, report = tenant(checking, name="acme", resources={"memory": "300M"}, max_partitions=2)
    assert plan.actions == ["record", "create", "limits"] and report["cgroup"] == "/%s/acme.tenant" % engine.parent
    assert engine.store.load_tenant("acme") is None and engine.log == []
    plan, report = tenant(engine, name="acme", resources={"memory": "300M"}, max_partitions=2)
    assert plan.changed and plan.diff()["before"] == {"state": "absent"} and plan.diff()["after_header"] == "tenant acme"
    cgroup = engine.tenant_cgroup("acme")
    assert cgroup.exists() and cgroup.limits["memory"] == 300 * MIB
    assert engine.store.load_tenant("acme")["resources"] == {"memory": 300 * MIB}
    assert not tenant(engine.checking(), name="acme", resources={"memory": "300M"}, max_partitions=2)[0].changed
    assert not tenant(engine, name="acme", resources={"memory": "300M"}, max_partitions=2)[0].changed

    plan, _report = tenant(engine, name="acme", resources={"memory": "200M"}, max_partitions=2)
    assert plan.actions == ["record", "limits"] and cgroup.limits["memory"] == 200 * MIB
    cgroup.limits["memory"] = 1  # drift behind the module's back
    assert tenant(engine, name="acme", resources={"memory": "200M"}, max_partitions=2)[0].actions == ["limits"]

    assert tenant(engine.checking(), name="acme", state="absent")[0].actions == ["remove_cgroup", "forget"]
    plan, report = tenant(engine, name="acme", state="absent")
    assert plan.changed and report["state"] == "absent" and not cgroup.exists() and engine.store.tenant_names() == []
    assert engine.cgroups.removed_parents == [engine.parent]  # no partition left: the state directory's parent goes too
    assert not tenant(engine, name="acme", state="absent")[0].changed


def test_absent_and_a_lower_max_partitions_are_refused_naming_the_partitions(engine):
    tenant(engine, name="acme", max_partitions=3)
    partition(engine, "web1", tenant="acme", state="present")
    partition(engine, "web2", tenant="acme", state="present")
    with pytest.raises(Conflict) as error:
        tenant(engine, name="acme", state="absent")
    assert "web1, web2" in error.value.msg and error.value.details["partitions"] == ["web1", "web2"]
    with pytest.raises(InvalidOption) as low:
        tenant(engine, name="acme", max_partitions=1)
    assert low.value.option == "max_partitions" and "web1, web2" in low.value.msg
    assert engine.store.load_tenant("acme")["max_partitions"] == 3
    assert tenant(engine, name="acme", max_partitions=2)[1]["partitions"] == ["web1", "web2"]


def test_partitions_started_outside_the_tenants_cgroup_are_named(engine):
    partition(engine, "web1", tenant="acme")
    document = engine.store.load_partition("web1")
    running = dict(document["running"])
    del running["cgroup"]  # as an earlier version recorded it
    engine.store.save_partition("web1", dict(document, running=running))
    plan, _report = tenant(engine, name="acme", resources={"memory": "1G"})
    assert [w for w in plan.warnings if "web1" in w and "outside the tenant's cgroup" in w]


# ---- max_partitions in the partition converge ---------------------------------------------------------
def test_max_partitions_refuses_one_more_naming_the_limit_and_the_partitions(engine):
    tenant(engine, name="acme", max_partitions=2)
    partition(engine, "web1", tenant="acme", state="present")
    partition(engine, "web2", tenant="acme", state="present")
    with pytest.raises(InvalidOption) as error:
        partition(engine, "web3", tenant="acme", state="present")
    assert error.value.option == "tenant" and "at most 2" in error.value.msg and "web1, web2" in error.value.msg
    assert engine.store.partition_names() == ["web1", "web2"]
    assert not partition(engine, "web1", tenant="acme", state="present")[0].changed  # a member is never refused
    partition(engine, "other", state="present")  # another tenant is not counted


def test_max_partitions_counts_items_planned_earlier_in_the_call(engine):
    tenant(engine, name="acme", max_partitions=2)
    items = [{"name": name, "rootfs": "debian12", "tenant": "acme", "state": "present"} for name in ("web1", "web2", "web3")]
    with pytest.raises(InvalidOption) as error:
        Converger(engine).converge_many(items)
    assert error.value.msg.startswith("partitions[2] (web3): option tenant") and "web1, web2" in error.value.msg
    assert engine.store.partition_names() == []  # refused while planning: nothing was made
    Converger(engine).converge_many(items[:2])
    outcomes = Converger(engine).converge_many([{"name": "web1", "state": "absent"}, items[2]])  # leaving makes room
    assert [outcome.failed for outcome in outcomes] == [False, False]
    assert engine.store.partition_names() == ["web2", "web3"]


# ---- launch ----------------------------------------------------------------------------------------------
def test_a_start_applies_the_tenants_recorded_limits_before_the_partitions(engine):
    tenant(engine, name="acme", resources={"memory": "300M"})
    engine.tenant_cgroup("acme").remove()  # as a reboot leaves it
    engine.tenant_cgroup("acme").limits["memory"] = None
    del engine.log[:]
    partition(engine, "web1", tenant="acme")
    limits = [entry for entry in engine.log if entry[0] in ("limits", "create")]
    assert limits == [("limits", "/%s/acme.tenant" % engine.parent), ("limits", "/%s/acme.tenant/web1" % engine.parent),
                      ("create", "web1")]
    assert engine.tenant_cgroup("acme").exists() and engine.tenant_cgroup("acme").limits["memory"] == 300 * MIB


def test_the_cgroup_of_an_undeclared_tenant_goes_with_its_last_partition_a_declared_ones_stays(engine):
    partition(engine, "web1", tenant="shop")
    partition(engine, "web2", tenant="acme")
    tenant(engine, name="acme", resources={"memory": "1G"})
    partition(engine, "web1", state="stopped")
    partition(engine, "web2", state="stopped")
    assert engine.cgroups.swept_tenants == ["/%s/shop.tenant" % engine.parent]


def test_a_unit_start_uses_the_units_own_cgroup(engine):
    partition(engine, "web1", tenant="acme", state="present")
    document = engine.store.load_partition("web1")
    unit = "/linuxvps.slice/linuxvps-web1.service"  # the slice an earlier version started it in
    engine.supervisor = FakeSupervisor()
    del engine.log[:]
    document = Launcher(engine).launch(document, None, unit_cgroup=unit)
    assert document["running"]["cgroup"] == unit + "/partition" == engine.cgroup("web1").path
    assert [entry for entry in engine.log if entry[0] == "limits"] == [("limits", unit + "/partition")]  # the slice holds the tenant's


# ---- systemd: the slice ------------------------------------------------------------------------------------
class FakeSystemctl:
    """systemctl through slices.run: commands logged, slices active once started."""

    def __init__(self):
        self.calls = []
        self.active = set()

    def run(self, cmd, check=True, **_kwargs):
        self.calls.append(cmd[1:])
        if cmd[1] == "show":
            return 0, "ActiveState=%s\n" % ("active" if cmd[-1] in self.active else "inactive"), ""
        if cmd[1] == "start":
            self.active.add(cmd[-1])
        if cmd[1] == "stop":
            self.active.discard(cmd[-1])
        return 0, "", ""


class FakeSupervisor:
    systemctl = "/usr/bin/systemctl"

    def __init__(self):
        self.started = []

    def start(self, unit, state_dir, name, pid_file, stop_timeout, slice_name=cgroups.SLICE):
        self.started.append((unit, slice_name))

    def stop(self, unit, wait=True):
        self.started = [entry for entry in self.started if entry[0] != unit]


def test_the_slice_unit_text_holds_only_what_is_set():
    text = slices.slice_unit_text("acme", "/var/lib/linuxvps", {"memory": 300 * MIB, "cpus": 1.5, "pids": 600, "cpu_weight": 200})
    assert "[Slice]\nMemoryMax=314572800\nCPUQuota=150%\nCPUWeight=200\nTasksMax=600\n" in text
    props = dict(slices.slice_properties({"memory": 300 * MIB}))
    assert props["MemorySwapMax"] == "infinity" and props["CPUQuota"] == "" and props["TasksMax"] == "infinity"
    devices = slices.slice_properties({"io_read_bps": 4 * MIB}, ["8:0"])
    assert ("IOReadBandwidthMax", "/dev/block/8:0 4194304") in devices
    # a device without limits is reset on the running slice, and left out of the file
    assert ("IOReadBandwidthMax", "/dev/block/8:0 infinity") in slices.slice_properties({}, ["8:0"])
    assert "IOReadBandwidthMax" not in slices.slice_unit_text("acme", "/var/lib/linuxvps", {}, ["8:0"])


def test_under_systemd_the_tenant_is_a_slice_unit_file_applied_live(engine, tmp_path, monkeypatch):
    systemctl = FakeSystemctl()
    monkeypatch.setattr(slices, "run", systemctl.run)
    engine.supervisor = FakeSupervisor()
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    monkeypatch.setattr(slices, "UNIT_DIR", str(unit_dir))
    name = engine.tenant_slice("acme")
    assert engine.tenant_cgroup("acme") is None  # no slice yet

    plan, report = tenant(engine, name="acme", resources={"memory": "300M", "pids": 600})
    assert plan.actions == ["record", "slice"] and report["slice"] == name
    assert "MemoryMax=314572800" in (unit_dir / name).read_text()
    assert [call[0] for call in systemctl.calls if call[0] != "show"] == ["daemon-reload", "start", "set-property"]
    assert "MemoryMax=314572800" in systemctl.calls[-1] and "MemorySwapMax=infinity" in systemctl.calls[-1]
    del systemctl.calls[:]
    assert not tenant(engine, name="acme", resources={"memory": "300M", "pids": 600})[0].changed
    assert [call[0] for call in systemctl.calls] == ["show"]  # reads only

    partition(engine, "web1", tenant="acme")
    assert engine.supervisor.started == [(engine.unit("web1"), name)]

    plan, _report = tenant(engine, name="other", state="absent")
    assert not plan.changed
    engine.store.save_tenant("gone", {"name": "gone", "resources": {}, "max_partitions": None})
    (unit_dir / engine.tenant_slice("gone")).write_text(u"[Slice]\n")
    plan, _report = tenant(engine, name="gone", state="absent")
    assert plan.actions == ["remove_slice", "forget"] and not (unit_dir / engine.tenant_slice("gone")).exists()


def test_an_undeclared_tenants_slice_stops_with_its_last_partition(engine, tmp_path, monkeypatch):
    systemctl = FakeSystemctl()
    monkeypatch.setattr(slices, "run", systemctl.run)
    monkeypatch.setattr(slices, "UNIT_DIR", str(tmp_path))
    for name, owner in (("web1", "shop"), ("web2", "shop"), ("db1", "acme")):
        partition(engine, name, tenant=owner, state="present")
    tenant(engine, name="acme", resources={"memory": "1G"})
    engine.supervisor = FakeSupervisor()
    partition(engine, "web1", state="absent")
    assert ["stop", engine.tenant_slice("shop")] not in systemctl.calls  # web2 is still in it
    partition(engine, "web2", state="absent")
    assert ["stop", engine.tenant_slice("shop")] in systemctl.calls  # systemd keeps an empty slice active
    partition(engine, "db1", state="absent")
    assert ["stop", engine.tenant_slice("acme")] not in systemctl.calls  # a declared tenant's goes with its record


def test_a_partition_unit_runs_in_its_tenants_slice_and_survives_an_oom_kill(monkeypatch):
    calls = []
    monkeypatch.setattr(supervisor, "run", lambda cmd, **kwargs: calls.append(cmd) or (0, "LoadState=not-found\n", ""))
    unit_supervisor = supervisor.SystemdSupervisor("/usr/bin/systemctl", "/usr/bin/systemd-run", "/usr/local/lib/linuxvps/linuxvps-partition")
    unit_supervisor.start("linuxvps-web1.service", "/var/lib/linuxvps", "web1", "/x/init.pid", 30, "linuxvps-acme.slice")
    cmd = calls[-1]
    assert cmd[cmd.index("--slice") + 1] == "linuxvps-acme.slice"
    assert "OOMPolicy=continue" in cmd


def test_a_units_start_command_launches_in_its_units_cgroup_from_the_supervisor_leaf(engine, monkeypatch):
    partition(engine, "web1", tenant="acme", state="present")
    engine.supervisor = FakeSupervisor()
    unit = "/linuxvps.slice/linuxvps-acme.slice/linuxvps-web1.service"
    monkeypatch.setattr(supervisor, "leave_unit_root", lambda: unit + "/supervisor")  # as a restarted start finds itself
    hostcmd.unit_start(engine, "web1")
    assert engine.store.load_partition("web1")["running"]["cgroup"] == unit + "/partition"


def test_a_supervised_start_records_the_runtime_the_call_chose_for_the_units_start_command(engine):
    """The unit's start command opens the engine with runtime auto: it takes the runtime the document records, so the
    call records the one it chose (runtime: runc named on a host whose auto would pick crun) before the unit starts."""
    engine.supervisor = FakeSupervisor()
    partition(engine, "web1")
    assert engine.supervisor.started and engine.store.load_partition("web1")["runtime"] == engine.runtime.name
