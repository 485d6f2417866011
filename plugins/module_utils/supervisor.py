# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supervision by systemd, on hosts where systemd is PID 1 with the unified cgroup v2 hierarchy.

There each running partition is a transient service (``systemd-run``) in its tenant's slice below
``linuxvps.slice`` (slices.py; the slice's limits bound the tenant's partitions together):

* Type=forking: the unit's start command (the host role's ``linuxvps-partition start``) makes the
  partition and exits; the partition's init, named by the bundle's PID file, is the unit's main process.
  Its console (init's stdout and stderr) goes to the journal.
* Delegate=yes: systemd hands the unit's cgroup subtree to us. The start command first moves itself into
  ``<unit>/supervisor`` (a cgroup with controllers enabled for its children must hold no process), then
  makes ``<unit>/partition`` (the limits, ours) and ``<unit>/partition/payload`` (the runtime's). systemd
  never writes below the unit; we never write the unit's own files. Control processes (ExecStop,
  ExecStopPost) go to systemd's ``<unit>/.control``.
* Restart=on-failure with SIGINT counted as success: ``poweroff`` inside (init killed by SIGINT, see
  pid_namespaces(7)) leaves the partition stopped; ``reboot`` inside (SIGHUP) and crashes start it again.
* The unit lives in the system manager, not the SSH session that started it, so it survives the session.

Without systemd as init, or on cgroup v1, partitions run as before: started by the engine, supervised by
nothing (the host role's boot service starts autostart partitions).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxvps.partitions.plugins.module_utils.cgroups import SLICE
from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, PartitionError

HELPER = "/usr/local/lib/linuxvps/linuxvps-partition"
SYSTEMD_RUN_DIR = "/run/systemd/system"  # exists only when systemd is PID 1 (sd_booted)
LEAF = "supervisor"
NOT_LOADED = 5  # systemctl's exit code for a unit that is not loaded


def detect(cgroup_version, helper=HELPER, run_dir=SYSTEMD_RUN_DIR):
    """(SystemdSupervisor or None, notice or None) for this host."""
    if not os.path.isdir(run_dir):
        return None, None
    if cgroup_version != 2:
        return None, None  # hybrid hosts keep the engine's own cgroup layout
    systemctl, systemd_run = find_program("systemctl"), find_program("systemd-run")
    if not (systemctl and systemd_run):
        return None, "systemd is PID 1 but systemctl or systemd-run is missing: partitions run unsupervised"
    if not os.access(helper, os.X_OK):
        return None, ("systemd is PID 1 but %s is missing (the collection's host role installs it): partitions run "
                      "unsupervised until it is installed" % helper)
    return SystemdSupervisor(systemctl, systemd_run, helper), None


def unit_name(parent, name):
    """linuxvps-<name>.service for the default state directory, <parent>_<name>.service for others.

    Partition names have no underscore, so the two forms never collide.
    """
    if parent == "linuxvps":
        return "linuxvps-%s.service" % name
    return "%s_%s.service" % (parent, name)


def quote_argument(value):
    """One argument of a unit's command line: double-quoted, with systemd's specifier '%' escaped."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def own_cgroup(proc_file="/proc/self/cgroup"):
    """This process's cgroup v2 path ('0::/path')."""
    with open(proc_file) as handle:
        for line in handle:
            if line.startswith("0::"):
                return line[3:].strip()
    raise PartitionError("no cgroup v2 entry in %s" % proc_file)


def leave_unit_root(unified="/sys/fs/cgroup", proc_file="/proc/self/cgroup"):
    """Move this process from its unit's cgroup into <unit>/supervisor, so the unit's cgroup can give
    its controllers to the partition's cgroups (cgroup v2 has no processes in inner cgroups)."""
    current = own_cgroup(proc_file)
    if current.rstrip("/").endswith("/" + LEAF):
        return current
    leaf = os.path.join(unified, current.strip("/"), LEAF)
    try:
        os.mkdir(leaf)
    except OSError as exc:
        if not os.path.isdir(leaf):
            raise PartitionError("cannot make %s: %s" % (leaf, exc.strerror))
    with open(os.path.join(leaf, "cgroup.procs"), "w") as handle:
        handle.write(str(os.getpid()))
    return current


class SystemdSupervisor:
    """Starts and stops partitions as transient systemd services."""

    def __init__(self, systemctl, systemd_run, helper):
        self.systemctl = systemctl
        self.systemd_run = systemd_run
        self.helper = helper

    def _helper_command(self, verb, state_dir, name):
        return " ".join(quote_argument(part) for part in (self.helper, verb, state_dir, name))

    def start(self, unit, state_dir, name, pid_file, stop_timeout, slice_name=SLICE):
        """Start the unit in slice_name (its tenant's, slices.tenant_slice) and wait until its start command made the
        partition (or failed). An OOM kill inside is the partition's business: OOMPolicy=continue keeps the unit
        (systemd 252 stops a unit whose process was OOM-killed by default)."""
        self.discard(unit)
        cmd = [self.systemd_run, "--unit", unit, "--slice", slice_name, "--collect", "--quiet", "-p", "OOMPolicy=continue",
               "--description", "Linux VPS partition %s (%s)" % (name, state_dir),
               "-p", "Type=forking", "-p", "PIDFile=%s" % pid_file, "-p", "Delegate=yes",
               "-p", "Restart=on-failure", "-p", "RestartSec=2", "-p", "SuccessExitStatus=SIGINT",
               "-p", "TimeoutStartSec=300", "-p", "TimeoutStopSec=%d" % (stop_timeout + 30),
               "-p", "ExecStop=%s" % self._helper_command("stop", state_dir, name),
               "-p", "ExecStopPost=%s" % self._helper_command("cleanup", state_dir, name),
               self.helper, "start", state_dir, name]
        run(cmd, timeout=360)

    def stop(self, unit, wait=True):
        """Stop the unit (its ExecStop shuts the partition down, ExecStopPost cleans up); waits unless told not to."""
        cmd = [self.systemctl, "stop"] + ([] if wait else ["--no-block"]) + [unit]
        rc, out, err = run(cmd, check=False, timeout=600)
        if rc not in (0, NOT_LOADED):
            raise CommandFailed(cmd, rc, out, err)

    def state(self, unit):
        """(LoadState, ActiveState, SubState) of the unit."""
        out = run([self.systemctl, "show", "--property", "LoadState,ActiveState,SubState", unit])[1]
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return values.get("LoadState"), values.get("ActiveState"), values.get("SubState")

    def discard(self, unit):
        """Get rid of a unit left loaded (failed, or waiting to restart) so that a new one can take its name."""
        load, active, _sub = self.state(unit)
        if load == "loaded" and active not in ("inactive", None):
            self.stop(unit)
        if load == "loaded":
            run([self.systemctl, "reset-failed", unit], check=False)
