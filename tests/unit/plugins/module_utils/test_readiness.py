# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""readiness.py: what counts as up, option checks, and waiting for many partitions in one loop under one deadline
(the runtime, the probes and the clock are fakes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import readiness
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.readiness import DOWN, READY, WAITING


@pytest.mark.parametrize("said, verdict", [
    ("running\n", READY), ("degraded\n", READY),
    ("initializing\n", WAITING), ("starting\n", WAITING), ("offline\n", WAITING), ("unknown\n", WAITING), ("", WAITING),
    ("maintenance\n", DOWN), ("stopping\n", DOWN),
])
def test_what_systemd_says(said, verdict):
    assert readiness.classify_systemd(said) == (verdict, "systemd says %s" % (said.strip() or "nothing"))


ETH0 = {"name": "eth0", "addresses": ["10.213.0.5/24", "fd42:213::5/64"]}


def link(up=True, **addresses):
    return {"up": up, "addresses": addresses}


@pytest.mark.parametrize("links, verdict, why", [
    ({"eth0": link(**{"10.213.0.5/24": 0, "fd42:213:0:0::5/64": 0x80})}, READY, "configured"),
    ({}, WAITING, "interface eth0 is missing"),
    ({"eth0": link(up=False, **{"10.213.0.5/24": 0, "fd42:213::5/64": 0})}, WAITING, "interface eth0 is down"),
    ({"eth0": link(**{"10.213.0.5/24": 0})}, WAITING, "interface eth0 lacks fd42:213::5/64"),
    ({"eth0": link(**{"10.213.0.5/16": 0, "fd42:213::5/64": 0})}, WAITING, "interface eth0 lacks 10.213.0.5/24"),
    ({"eth0": link(**{"10.213.0.5/24": 0, "fd42:213::5/64": 0x40})}, WAITING, "fd42:213::5/64 of interface eth0 is tentative"),
    ({"eth0": link(**{"10.213.0.5/24": 0, "fd42:213::5/64": 0x08})}, WAITING, "is a duplicate"),
])
def test_an_init_without_systemd_is_up_with_its_interfaces_configured(links, verdict, why):
    found = readiness.classify_interfaces([ETH0], links)
    assert found[0] == verdict
    assert why in found[1]


def test_no_interfaces_means_alive_is_enough():
    assert readiness.classify_interfaces([], {})[0] == READY


@pytest.mark.parametrize("wait, timeout, option", [
    ("ready", 60, "wait"), ("running", 0, "wait_timeout"), ("running", -1, "wait_timeout"),
    ("running", 3601, "wait_timeout"), ("running", True, "wait_timeout"), ("running", "60", "wait_timeout"),
])
def test_bad_wait_options_are_named(wait, timeout, option):
    with pytest.raises(InvalidOption) as info:
        readiness.validate_wait(wait, timeout)
    assert info.value.option == option


def test_good_wait_options():
    assert readiness.validate_wait("none", 120) == ("none", 120)
    assert readiness.validate_wait("running", 1) == ("running", 1)
    assert readiness.validate_wait("running", None) == ("running", readiness.DEFAULT_WAIT_TIMEOUT)


# ---- waiting, with fakes ------------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeRuntime:
    def __init__(self, states):
        self.states = states

    def list(self):
        return dict((name, {"status": status, "pid": 100 + index}) for index, (name, status) in enumerate(sorted(self.states.items())))

    def exec_argv(self, name, argv, cwd=None, env=None):
        return ["runc", "exec", "--", name] + list(argv)


class FakeStore:
    def __init__(self, specs):
        self.specs = specs

    def load_partition(self, name):
        return {"spec": self.specs[name], "running": {"spec": self.specs[name]}}


class FakeTemplates:
    def manifest(self, name):
        return {"init": "/usr/lib/systemd/systemd"} if name == "debian12" else {"init": None}


class FakeEngine:
    def __init__(self, specs, states):
        self.store = FakeStore(specs)
        self.runtime = FakeRuntime(states)
        self.templates = FakeTemplates()


def systemd_spec(name):
    return {"name": name, "rootfs": "debian12", "command": None, "interfaces": []}


@pytest.fixture
def probes(monkeypatch):
    """Scripted systemctl answers per partition, in order; records which partitions each round probed together."""
    script, rounds = {}, []

    class FakeRun:
        def __init__(self, argv, limit=None, label=None):
            self.label = label
            self.timed_out = False
            self.answer = script[label].pop(0) if len(script[label]) > 1 else script[label][0]

        def start(self):
            return self

        def text(self, which):
            return self.answer + "\n"

    def fake_drive(runs, deadline, clock=None):
        rounds.append(sorted(run.label for run in runs))
        return runs

    monkeypatch.setattr(readiness, "InsideRun", FakeRun)
    monkeypatch.setattr(readiness, "drive", fake_drive)
    return script, rounds


def test_many_partitions_are_probed_together_each_round(probes):
    script, rounds = probes
    script.update(a=["starting", "starting", "running"], b=["initializing", "degraded"], c=["running"])
    names = ["a", "b", "c"]
    engine = FakeEngine(dict((name, systemd_spec(name)) for name in names), dict.fromkeys(names, "running"))
    clock = Clock()
    results = readiness.Readiness(engine, clock, clock.sleep).wait(names, 60)
    assert results == {"a": (True, "systemd says running"), "b": (True, "systemd says degraded"), "c": (True, "systemd says running")}
    assert rounds == [["a", "b", "c"], ["a", "b"], ["a"]]  # one loop: a round probes all pending at once
    assert clock.now - 1000.0 == pytest.approx(2 * readiness.INTERVAL)


def test_one_deadline_for_all_and_a_down_partition_ends_its_wait_at_once(probes):
    script, rounds = probes
    script.update(slow=["starting"], broken=["maintenance"])
    names = ["slow", "broken", "gone"]
    engine = FakeEngine(dict((name, systemd_spec(name)) for name in names), {"slow": "running", "broken": "running", "gone": "stopped"})
    clock = Clock()
    results = readiness.Readiness(engine, clock, clock.sleep).wait(names, 3)
    assert results["slow"] == (False, "not up after 3 seconds (systemd says starting)")
    assert results["broken"] == (False, "systemd says maintenance")
    assert results["gone"] == (False, "its init is not running (stopped)")
    assert rounds[0] == ["broken", "slow"] and set(map(tuple, rounds[1:])) == {("slow",)}
    assert clock.now - 1000.0 == pytest.approx(3)  # the whole wait, not 3 seconds per partition


def test_an_init_without_systemd_is_checked_in_its_network_namespace(probes, monkeypatch):
    _script, rounds = probes
    spec = {"name": "n", "rootfs": "alpine", "command": ["sleep", "infinity"],
            "interfaces": [{"name": "eth0", "addresses": ["10.213.0.5/24"]}]}
    seen = []
    answers = [{"eth0": link(up=False)}, {"eth0": link(**{"10.213.0.5/24": 0})}]
    monkeypatch.setattr(readiness, "read_links", lambda pid, name: seen.append((pid, name)) or answers.pop(0))
    clock = Clock()
    results = readiness.Readiness(FakeEngine({"n": spec}, {"n": "running"}), clock, clock.sleep).wait(["n"], 10)
    assert results == {"n": (True, "init is alive and its interfaces are configured")}
    assert seen == [(100, "n"), (100, "n")]
    assert rounds == []  # no systemctl probe for it


def test_the_report_names_each_partition_not_ready():
    warnings, failure = readiness.readiness_report({"a": (True, "systemd says running"), "b": (False, "systemd says maintenance")})
    assert warnings == ["partition b is not ready: systemd says maintenance"]
    assert failure == "1 of 2 partitions did not become ready: b (systemd says maintenance)"
    assert readiness.readiness_report({"a": (True, "up")}) == ([], None)


def test_await_ready_marks_only_running_partitions(probes):
    script, _rounds = probes
    script.update(a=["running"])
    engine = FakeEngine({"a": systemd_spec("a"), "b": systemd_spec("b")}, {"a": "running"})
    reports = [{"name": "a", "state": "running"}, {"name": "b", "state": "stopped"}, {"name": "c"}]
    assert readiness.await_ready(engine, reports, 5) == ([], None)
    assert reports == [{"name": "a", "state": "running", "ready": True}, {"name": "b", "state": "stopped"}, {"name": "c"}]
