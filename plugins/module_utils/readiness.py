# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness: whether a running partition's init says it is up, for many partitions at once under one deadline.

* systemd as init: ``systemctl is-system-running`` inside says running or degraded. initializing and starting
  (and offline: systemd's bus is not up yet early in boot) mean keep waiting; maintenance and stopping mean it
  will not come up by itself, so waiting ends there, not ready.
* any other init: it is alive, and every interface of the partition is up inside its network namespace with all
  of its addresses (none tentative).

Each round probes every partition still pending side by side (the systemd probes are run together by
inside.drive), so a list of partitions waits as long as the slowest, not the sum. A probe runs inside the
partition with a short deadline and bounded output: a tenant's hanging or chatty systemctl cannot hold the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import time

from ansible_collections.linuxvps.partitions.plugins.module_utils import net, oci
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption, PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.inside import InsideRun, drive
from ansible_collections.linuxvps.partitions.plugins.module_utils.plan import runtime_status
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import DEFAULT_WAIT_TIMEOUT, WAIT_CHOICES

MAX_WAIT_TIMEOUT = 3600
PROBE_TIMEOUT = 5  # one systemctl inside; a loaded host answers in well under a second
PROBE_OUTPUT = 4096
INTERVAL = 0.5

READY, WAITING, DOWN = "ready", "waiting", "down"  # DOWN: it will not come up by itself; waiting ends
SYSTEMD_READY = ("running", "degraded")
SYSTEMD_DOWN = ("maintenance", "stopping")
IFF_UP = 0x1
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IS_SYSTEM_RUNNING = ["systemctl", "is-system-running"]


def validate_wait(wait, wait_timeout):
    """(wait, wait_timeout) checked; InvalidOption naming the option before anything changes."""
    if wait not in WAIT_CHOICES:
        raise InvalidOption("wait", wait, "must be one of %s" % ", ".join(WAIT_CHOICES))
    if wait_timeout is None:
        return wait, DEFAULT_WAIT_TIMEOUT
    if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, int) or not 1 <= wait_timeout <= MAX_WAIT_TIMEOUT:
        raise InvalidOption("wait_timeout", wait_timeout, "must be a number of seconds from 1 to %d" % MAX_WAIT_TIMEOUT)
    return wait, wait_timeout


def classify_systemd(stdout):
    """(verdict, what systemd said) from is-system-running's output."""
    lines = (stdout or "").strip().splitlines()
    word = lines[0].strip() if lines else ""
    said = "systemd says %s" % (word or "nothing")
    if word in SYSTEMD_READY:
        return READY, said
    if word in SYSTEMD_DOWN:
        return DOWN, said
    return WAITING, said


def classify_interfaces(expected, links):
    """(verdict, why) of a non-systemd partition's network: expected is its running spec's interfaces; links is
    {name: {"up": bool, "addresses": {cidr: flags}}} as read in its namespace."""
    for iface in expected or []:
        link = links.get(iface["name"])
        if link is None:
            return WAITING, "interface %s is missing" % iface["name"]
        if not link["up"]:
            return WAITING, "interface %s is down" % iface["name"]
        present = dict((_normal(cidr), flags) for cidr, flags in link["addresses"].items())
        for cidr in iface.get("addresses") or []:
            flags = present.get(_normal(cidr))
            if flags is None:
                return WAITING, "interface %s lacks %s" % (iface["name"], cidr)
            if flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                return WAITING, "address %s of interface %s is %s" % (
                    cidr, iface["name"], "a duplicate" if flags & IFA_F_DADFAILED else "tentative")
    return READY, "init is alive and its interfaces are configured"


def _normal(cidr):
    return str(ipaddress.ip_interface(cidr))


def read_links(pid, partition):
    """{interface: {"up", "addresses": {cidr: flags}}} inside the network namespace of pid, the partition's init."""
    with net.netns_netlink(pid, partition) as ipr:
        target = "partition %s" % partition
        names, links = {}, {}
        for link in net.netlink_call(ipr, "get_links", target=target):
            name = link.get_attr("IFLA_IFNAME")
            names[link["index"]] = name
            links[name] = {"up": bool(link["flags"] & IFF_UP) and link.get_attr("IFLA_OPERSTATE") != "DOWN", "addresses": {}}
        for msg in net.netlink_call(ipr, "get_addr", target=target):
            name = names.get(msg["index"])
            if name is not None:
                flags = msg.get_attr("IFA_FLAGS")
                cidr = "%s/%d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"])
                links[name]["addresses"][cidr] = msg["flags"] if flags is None else flags
    return links


class Target:
    """One partition waited for: how its readiness is told, and the last thing seen."""

    def __init__(self, name, systemd, interfaces):
        self.name = name
        self.systemd = systemd
        self.interfaces = interfaces
        self.verdict = WAITING
        self.why = "not probed yet"
        self.pid = None


class Readiness:
    """Waits for partitions of one engine to be up."""

    def __init__(self, engine, clock=time.monotonic, sleep=time.sleep):
        self.engine = engine
        self.clock = clock
        self.sleep = sleep

    def target(self, name):
        """How to tell the partition is up, from the settings its init was started with."""
        document = self.engine.store.load_partition(name) or {}
        spec = (document.get("running") or {}).get("spec") or document.get("spec") or {"name": name}
        manifest = self.engine.templates.manifest(spec["rootfs"]) if spec.get("rootfs") else None
        return Target(name, oci.is_systemd(spec, (manifest or {}).get("init")), spec.get("interfaces") or [])

    def wait(self, names, timeout):
        """{name: (ready, why)} once every partition is up, will not come up, or timeout seconds have passed."""
        deadline = self.clock() + timeout
        pending = [self.target(name) for name in names]
        done = []
        while pending:
            self._probe_round(pending, deadline)
            done += [target for target in pending if target.verdict != WAITING]
            pending = [target for target in pending if target.verdict == WAITING]
            remaining = deadline - self.clock()
            if not pending or remaining <= 0:
                break
            self.sleep(min(INTERVAL, remaining))
        results = dict((target.name, (target.verdict == READY, target.why)) for target in done)
        for target in pending:
            results[target.name] = (False, "not up after %d seconds (%s)" % (timeout, target.why))
        return results

    def _probe_round(self, pending, deadline):
        listing = self.engine.runtime.list()
        alive = []
        for target in pending:
            state = listing.get(target.name)
            status = runtime_status(state)
            if status != "running":
                target.verdict, target.why = DOWN, "its init is not running (%s)" % status
                continue
            target.pid = state.get("pid")
            alive.append(target)
        probes = [target for target in alive if target.systemd]
        runs = [InsideRun(self.engine.runtime.exec_argv(target.name, IS_SYSTEM_RUNNING), limit=PROBE_OUTPUT, label=target.name)
                for target in probes]
        started = []
        for target, run in zip(probes, runs):
            try:
                started.append((target, run.start()))
            except OSError as exc:
                target.why = "systemctl could not be run: %s" % exc.strerror
        for target in alive:
            if not target.systemd:
                self._check_network(target)
        if not started:
            return
        probe_deadline = self.clock() + PROBE_TIMEOUT
        drive([run for _target, run in started], min(deadline, probe_deadline), self.clock)
        for target, run in started:
            if run.timed_out:
                if probe_deadline <= deadline:  # cut by the wait's end instead: what was seen before still holds
                    target.why = "systemctl did not answer within %d seconds" % PROBE_TIMEOUT
            else:
                target.verdict, target.why = classify_systemd(run.text("stdout"))

    def _check_network(self, target):
        if not target.interfaces:
            target.verdict, target.why = READY, "init is alive"
            return
        try:
            links = read_links(target.pid, target.name)
        except PartitionError as exc:
            target.why = exc.msg  # gone meanwhile: the next round's listing says so
            return
        target.verdict, target.why = classify_interfaces(target.interfaces, links)


def await_ready(engine, reports, timeout):
    """Wait for every partition in reports (the module's partition dicts) that runs; each gets ``ready``.
    (warnings, failure message or None), see readiness_report."""
    names = [report["name"] for report in reports if report.get("state") == "running"]
    if not names:
        return [], None
    results = Readiness(engine).wait(names, timeout)
    for report in reports:
        if report["name"] in results:
            report["ready"] = results[report["name"]][0]
    return readiness_report(results)


def readiness_report(results):
    """(warnings, failure message or None) of a wait: each partition not up is named with why."""
    missing = sorted((name, why) for name, (ready, why) in results.items() if not ready)
    warnings = ["partition %s is not ready: %s" % item for item in missing]
    if not missing:
        return warnings, None
    return warnings, "%d of %d partitions did not become ready: %s" % (
        len(missing), len(results), "; ".join("%s (%s)" % item for item in missing))
