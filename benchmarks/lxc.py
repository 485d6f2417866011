# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXC side of the bench: the same N systemd partitions by Debian's lxc (lxc-start, one container each), from the
same template tree the bare floor uses (the bench tenant's shifted copy, as an overlay lower layer), in the same user
namespace range, with the same address on the same bridge and the same limits (memory, pids, cpu shares).

  converge   per container: its overlay mounted by root (as the bare floor does: LXC 5 mounts an overlay rootfs
             inside the user namespace, where the kernel refuses it here with "Permission denied"), its config
             written, lxc-start -d
  running    until every container's init reports running or degraded (systemctl is-system-running by lxc-attach)
  teardown   lxc-stop (init's clean shutdown, as the collection asks) of each, its overlay unmounted and its directory
             removed (lxc-destroy would empty the mounted tree file by file), then a check that nothing is left

Run by bench.py (`--lxc N`); unavailable() says why LXC cannot run here, when it cannot.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import shutil
import subprocess
import time

LXCPATH = "/var/tmp/linuxvps-bench-lxc"
IDS = 65536
CONFIG = """lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.arch = linux64
lxc.uts.name = {name}
lxc.rootfs.path = dir:{rootfs}
lxc.idmap = u 0 {base} {ids}
lxc.idmap = g 0 {base} {ids}
lxc.apparmor.profile = unconfined
lxc.net.0.type = veth
lxc.net.0.link = {bridge}
lxc.net.0.flags = up
lxc.net.0.veth.pair = {host}
lxc.net.0.ipv4.address = {address}/{prefix}
lxc.net.0.ipv4.gateway = {gateway}
{limits}
lxc.cgroup.dir = {cgroup}/{name}
lxc.init.cmd = /sbin/init
lxc.console.path = none
lxc.tty.max = 0
lxc.log.file = {log}
lxc.log.level = WARN
"""


def limits(memory, pids):
    """The limits' config lines: cgroup v1 files where the host has the v1 memory hierarchy, else v2's."""
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return "lxc.cgroup.memory.limit_in_bytes = %d\nlxc.cgroup.pids.max = %d\nlxc.cgroup.cpu.shares = 1024" % (memory, pids)
    return "lxc.cgroup2.memory.max = %d\nlxc.cgroup2.pids.max = %d\nlxc.cgroup2.cpu.weight = 100" % (memory, pids)


def unavailable(bridge):
    """Why LXC cannot run the bench's partitions on this host, or None when it can."""
    for program in ("lxc-start", "lxc-attach", "lxc-stop", "lxc-destroy"):
        if shutil.which(program) is None:
            return "%s is not installed (Debian's lxc package: `make bench` installs it)" % program
    for include in ("common.conf", "userns.conf"):
        if not os.path.exists("/usr/share/lxc/config/" + include):
            return "/usr/share/lxc/config/%s is missing (Debian's lxc package)" % include
    if not os.path.isdir("/sys/class/net/%s" % bridge):
        return "the bench bridge %s does not exist" % bridge
    return None


class Lxc:
    """N containers by lxc, named and addressed as the bench's partitions."""

    cgroup = "linuxvps-bench-lxc"

    def __init__(self, lower, base, bridge, gateway, prefix, memory, pids):
        self.lower = lower
        self.base = base
        self.bridge = bridge
        self.gateway = gateway
        self.prefix = prefix
        self.memory = memory
        self.pids = pids

    def _lxc(self, program, name, *args, **kwargs):
        return subprocess.run([program, "-n", name, "-P", LXCPATH] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=kwargs.pop("check", True), **kwargs)

    def create(self, name, address):
        directory = os.path.join(LXCPATH, name)
        upper, work, rootfs = (os.path.join(directory, part) for part in ("upper", "work", "rootfs"))
        for path in (upper, work, rootfs):
            os.makedirs(path)
        os.chown(upper, self.base, self.base)
        os.chmod(directory, 0o711)
        etc = os.path.join(upper, "etc")
        os.makedirs(etc)
        os.chown(etc, self.base, self.base)
        with open(os.path.join(etc, "hostname"), "w") as handle:
            handle.write(name + "\n")
        os.chown(os.path.join(etc, "hostname"), self.base, self.base)
        subprocess.check_call(["mount", "-t", "overlay", "overlay", "-o",
                               "lowerdir=%s,upperdir=%s,workdir=%s" % (self.lower, upper, work), rootfs])
        with open(os.path.join(directory, "config"), "w") as handle:
            handle.write(CONFIG.format(name=name, rootfs=rootfs, base=self.base, ids=IDS, bridge=self.bridge,
                                       host="lxb" + name, address=address, prefix=self.prefix, gateway=self.gateway,
                                       limits=limits(self.memory, self.pids), cgroup=self.cgroup,
                                       log=os.path.join(directory, "lxc.log")))
        proc = self._lxc("lxc-start", name, "-d", check=False)
        if proc.returncode != 0:
            raise RuntimeError("lxc-start %s failed: %s %s" % (name, proc.stderr.decode("utf-8", "replace").strip(), self.log_tail(name)))

    def state(self, name):
        """What the container's init says of the system (systemctl is-system-running), or '' while it cannot say."""
        proc = self._lxc("lxc-attach", name, "--clear-env", "--", "systemctl", "is-system-running", check=False)
        return proc.stdout.decode("utf-8", "replace").strip()

    def log_tail(self, name):
        path = os.path.join(LXCPATH, name, "lxc.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as handle:
            return handle.read()[-1500:]

    def wait_running(self, names, started, timeout):
        deadline = time.monotonic() + timeout
        for name in names:
            polls = 0
            while True:
                state = self.state(name)
                if state in ("running", "degraded"):
                    break
                polls += 1
                if polls % 25 == 0 and b"RUNNING" not in self._lxc("lxc-info", name, "-s", check=False).stdout:
                    raise RuntimeError("lxc %s stopped before its init ran: %s" % (name, self.log_tail(name)))
                if time.monotonic() > deadline:
                    raise RuntimeError("lxc %s: init reports %r after %d s: %s" % (name, state, timeout, self.log_tail(name)))
                time.sleep(0.2)
        return time.monotonic() - started

    def memory_usage(self):
        """Bytes the containers' cgroups hold (their parent's usage, v1 or v2), or None."""
        for path in ("/sys/fs/cgroup/memory/%s/memory.usage_in_bytes" % self.cgroup, "/sys/fs/cgroup/%s/memory.current" % self.cgroup):
            try:
                with open(path) as handle:
                    return int(handle.read())
            except (IOError, OSError, ValueError):
                continue
        return None

    def teardown(self, names):
        # every init asked to shut down first (as the collection's bulk stop does), then each waited for
        for name in names:
            self._lxc("lxc-stop", name, "--nowait", check=False)
        for name in names:
            self._lxc("lxc-stop", name, "-t", "30", check=False)
            rootfs = os.path.join(LXCPATH, name, "rootfs")
            if os.path.ismount(rootfs):
                subprocess.call(["umount", rootfs])
            if not os.path.ismount(rootfs):
                shutil.rmtree(os.path.join(LXCPATH, name), ignore_errors=True)
        for _attempt in range(20):  # a container's monitor leaves its cgroup a moment after lxc-stop returns
            for directory in glob.glob("/sys/fs/cgroup/*/%s" % self.cgroup):
                for top, _dirs, _files in os.walk(directory, topdown=False):
                    try:
                        os.rmdir(top)
                    except OSError:
                        pass
            if not glob.glob("/sys/fs/cgroup/*/%s" % self.cgroup):
                break
            time.sleep(0.5)

    def leftovers(self, names):
        found = ["container " + name for name in names if os.path.isdir(os.path.join(LXCPATH, name))]
        with open("/proc/self/mountinfo") as handle:
            found += ["mount " + line.split()[4] for line in handle if line.split()[4].startswith(LXCPATH)]
        found += ["link " + link for link in os.listdir("/sys/class/net") if link.startswith("lxbb")]
        found += ["cgroup " + path for path in glob.glob("/sys/fs/cgroup/*/%s" % self.cgroup)]
        return found


def run(count, side, names, addresses, settle_memory, timeout):
    """The LXC rows for count containers: converge, running, host memory each, teardown, what was left."""
    result = {}
    if not os.path.isdir(LXCPATH):
        os.makedirs(LXCPATH, 0o711)
    before = settle_memory()
    started = time.monotonic()
    try:
        for name, address in zip(names, addresses):
            side.create(name, address)
        result["converge"] = time.monotonic() - started
        result["running"] = side.wait_running(names, started, timeout)
        time.sleep(3)
        after = settle_memory()
        result["host_mib_each"] = (before - after) / count / 1024 ** 2
        usage = side.memory_usage()
        result["cgroup_mib_each"] = usage / count / 1024 ** 2 if usage is not None else None
    except BaseException:
        side.teardown(names)
        raise
    started = time.monotonic()
    side.teardown(names)
    result["teardown"] = time.monotonic() - started
    result["left"] = side.leftovers(names)
    return result
