# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Debian 13 (trixie; VM_SUITE=bookworm for Debian 12) test host with systemd as PID 1 and the unified cgroup v2 hierarchy, under qemu (TCG: the CI
machine has no usable KVM), reached over SSH on a loopback port.

  testvm.py build     debootstrap the VM's disk (kernel, systemd, sshd, what the host role would install),
                      an empty XFS disk for /var/lib/linuxvps (mounted with prjquota), and a partition
                      template tarball; cached under /var/tmp/linuxvps-vm/<suite>-<hash of what builds it>
                      (one image per suite, so Debian 12 and 13 images coexist)
  testvm.py start     boot it on copy-on-write overlays in the run directory (the cached disks never change),
                      wait for SSH, write the inventory
  testvm.py ssh CMD   run a command in the VM
  testvm.py reboot    reboot the guest and wait until SSH answers from the new boot
  testvm.py powercut  kill qemu (SIGKILL, no shutdown: what the guest had not written is lost), boot again on
                      the same overlays and wait until SSH answers from the new boot
  testvm.py stop      power it off (then kill qemu), remove the run directory and its overlays

The guest reaches Debian's mirror through qemu's user-mode network; nothing on the host's network changes.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

CACHE = os.environ.get("LINUXVPS_VM_CACHE", "/var/tmp/linuxvps-vm")
RUN = os.path.join(CACHE, "run")
MIRROR = "http://deb.debian.org/debian"
# The VM host's Debian: trixie (13) by default, bookworm (12) still selectable (VM_SUITE=bookworm).
SUITES = ("trixie", "bookworm")
SUITE = os.environ.get("VM_SUITE") or "trixie"
# The partitions' template stays Debian 12 whatever the host: operations.sh moves a partition between the CI box
# (whose template is debian-12) and the VM, and the template is the partitions' userland, not the host's.
TEMPLATE_SUITE = "bookworm"
# What the collection's host role would install, so the guest needs no package download during tests.
VM_PACKAGES = ["linux-image-amd64", "systemd-sysv", "udev", "dbus", "openssh-server", "python3", "procps",
               "runc", "crun", "debootstrap", "python3-pyroute2", "nftables", "iproute2", "util-linux", "tar",
               "xfsprogs", "e2fsprogs", "iputils-ping", "netcat-openbsd", "ca-certificates", "kmod", "lxcfs"]
# python3: the scenario runs modules inside partitions through the connection plugin (inside.yml).
TEMPLATE_PACKAGES = ["systemd-sysv", "dbus", "iproute2", "iputils-ping", "openssh-server", "netcat-openbsd", "python3"]
TEMPLATE_TARBALL = "srv/linuxvps/debian12-systemd.tar.gz"
ROOT_SIZE = 6 * 1024 ** 3
DATA_SIZE = 24 * 1024 ** 3
DISKS = ("root", "data")  # <name>.img in the cache, <name>.qcow2 overlays in the run directory
BOOT_TIMEOUT = 600
SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"]

FSTAB = """\
/dev/vda / ext4 rw,errors=remount-ro 0 1
/dev/vdb /var/lib/linuxvps xfs rw,prjquota 0 2
"""
NETWORK = """\
[Match]
Name=en* eth*

[Network]
DHCP=yes
"""


def log(message):
    sys.stdout.write("testvm: %s\n" % message)
    sys.stdout.flush()


def sh(cmd, **kwargs):
    subprocess.check_call(cmd, **kwargs)


def cache_dir():
    """The image's cache, keyed on what builds it: changes to how the VM is run reuse the image."""
    inputs = [MIRROR, SUITE, TEMPLATE_SUITE, VM_PACKAGES, TEMPLATE_PACKAGES, TEMPLATE_TARBALL, ROOT_SIZE, DATA_SIZE,
              FSTAB, NETWORK, inspect.getsource(build), inspect.getsource(configure_guest)]
    return os.path.join(CACHE, "%s-%s" % (SUITE, hashlib.sha1(repr(inputs).encode()).hexdigest()[:12]))


def stale_build(name, target):
    """Another build of this suite, or one from before images were keyed by suite (a bare hash): not the others'."""
    if os.path.join(CACHE, name) == target or name == "run":
        return False
    prefix = name.split("-", 1)[0]
    return prefix == SUITE or (prefix not in SUITES and "-" not in name.replace(".build", ""))


def write(path, content, mode=0o644):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "w") as handle:
        handle.write(content)
    os.chmod(path, mode)


# ---- build -------------------------------------------------------------------------------------
def build():
    target = cache_dir()
    if os.path.exists(os.path.join(target, "complete")):
        log("image cached in %s" % target)
        return target
    started = time.monotonic()
    staging = target + ".build"
    for stale in (staging,):
        if os.path.exists(stale):
            shutil.rmtree(stale)
    os.makedirs(staging)
    root = os.path.join(staging, "root")
    template = os.path.join(staging, "template")
    log("debootstrap of the VM (%s)" % ", ".join(VM_PACKAGES))
    sh(["debootstrap", "--include=" + ",".join(VM_PACKAGES), SUITE, root, MIRROR])
    configure_guest(root, staging)
    log("debootstrap of the partition template")
    sh(["debootstrap", "--variant=minbase", "--include=" + ",".join(TEMPLATE_PACKAGES), TEMPLATE_SUITE, template,
        MIRROR])
    tarball = os.path.join(root, TEMPLATE_TARBALL)
    os.makedirs(os.path.dirname(tarball))
    sh(["tar", "-C", template, "--numeric-owner", "-czf", tarball, "."])
    shutil.rmtree(template)
    boot = os.path.join(root, "boot")
    for prefix, name in (("vmlinuz-", "vmlinuz"), ("initrd.img-", "initrd.img")):
        found = sorted(entry for entry in os.listdir(boot) if entry.startswith(prefix))
        shutil.copy(os.path.join(boot, found[-1]), os.path.join(staging, name))
    log("disk images")
    root_image = os.path.join(staging, "root.img")
    with open(root_image, "wb") as handle:
        handle.truncate(ROOT_SIZE)
    sh(["mkfs.ext4", "-q", "-F", "-L", "lvvm-root", "-d", root, root_image])
    data_image = os.path.join(staging, "data.img")
    with open(data_image, "wb") as handle:
        handle.truncate(DATA_SIZE)
    sh(["mkfs.xfs", "-q", "-f", "-L", "lvvm-data", data_image])
    shutil.rmtree(root)
    write(os.path.join(staging, "complete"), "built in %.0f s\n" % (time.monotonic() - started))
    if os.path.exists(target):
        shutil.rmtree(target)
    os.rename(staging, target)
    for entry in os.listdir(CACHE):  # keep only this build of this suite
        path = os.path.join(CACHE, entry)
        if stale_build(entry, target) and os.path.isdir(path):
            shutil.rmtree(path)
    log("image built in %.0f s" % (time.monotonic() - started))
    return target


def configure_guest(root, staging):
    write(os.path.join(root, "etc/hostname"), "lvvm\n")
    write(os.path.join(root, "etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 lvvm\n::1 localhost ip6-localhost\n")
    write(os.path.join(root, "etc/fstab"), FSTAB)
    os.makedirs(os.path.join(root, "var/lib/linuxvps"), exist_ok=True)
    write(os.path.join(root, "etc/systemd/network/50-dhcp.network"), NETWORK)
    if not os.path.exists(os.path.join(root, "lib/systemd/system/systemd-networkd.service")):
        raise SystemExit("testvm: %s has no systemd-networkd.service" % SUITE)
    os.symlink("/lib/systemd/system/systemd-networkd.service",
               os.path.join(root, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service"))
    resolv = os.path.join(root, "etc/resolv.conf")
    if os.path.lexists(resolv):
        os.unlink(resolv)
    write(resolv, "nameserver 10.0.2.3\n")  # qemu's user-mode DNS
    write(os.path.join(root, "etc/apt/sources.list"), "deb %s %s main\n" % (MIRROR, SUITE))
    key = os.path.join(staging, "id_ed25519")
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "linuxvps-testvm", "-f", key])
    with open(key + ".pub") as handle:
        write(os.path.join(root, "root/.ssh/authorized_keys"), handle.read(), 0o600)
    os.chmod(os.path.join(root, "root/.ssh"), 0o700)
    sh(["chroot", root, "ssh-keygen", "-A"])
    sh(["chroot", root, "sh", "-c", "echo root:linuxvps | chpasswd"])  # console login when debugging


# ---- run ---------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_run(name):
    path = os.path.join(RUN, name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read().strip()


def ssh_command(args, port=None, key=None):
    port = port or read_run("port")
    key = key or read_run("key")
    if not port:
        raise SystemExit("testvm: the VM is not running (no %s/port)" % RUN)
    return ["ssh"] + SSH_OPTIONS + ["-i", key, "-p", port, "root@127.0.0.1"] + list(args)


def ssh_ok(args):
    return subprocess.call(ssh_command(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def wait_for_ssh(timeout, previous_boot=None):
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while time.monotonic() < deadline:
        if not qemu_alive():
            raise SystemExit("testvm: qemu exited; its console is in %s" % os.path.join(RUN, "console.log"))
        try:
            boot = subprocess.run(ssh_command(["cat", "/proc/sys/kernel/random/boot_id"]), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, timeout=30, check=False).stdout.decode().strip()
        except subprocess.TimeoutExpired:
            boot = ""
        if boot and boot != previous_boot:
            log("SSH answers after %.0f s" % (time.monotonic() - started))
            return boot
        time.sleep(3)
    raise SystemExit("testvm: no SSH after %d s; console in %s" % (timeout, os.path.join(RUN, "console.log")))


def qemu_alive():
    pid = read_run("qemu.pid")
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    return True


def start():
    image = build()
    stop(quiet=True)
    os.makedirs(RUN)
    port = str(free_port())
    key = os.path.join(RUN, "id_ed25519")
    shutil.copy(os.path.join(image, "id_ed25519"), key)
    os.chmod(key, 0o600)
    write(os.path.join(RUN, "port"), port)
    write(os.path.join(RUN, "key"), key)
    write(os.path.join(RUN, "image"), image)
    # The guest writes to overlays in the run directory, never to the cache: they outlive a qemu killed
    # (a power cut keeps the disks' state) and go with the run directory at stop.
    for disk in DISKS:
        sh(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", os.path.join(image, disk + ".img"),
            os.path.join(RUN, disk + ".qcow2")])
    boot()
    wait_for_ssh(BOOT_TIMEOUT)
    inventory = os.path.join(RUN, "inventory.yml")
    write(inventory, "\n".join([
        "all:",
        "  hosts:",
        "    lvvm:",
        "      ansible_host: 127.0.0.1",
        "      ansible_port: %s" % port,
        "      ansible_user: root",
        "      ansible_ssh_private_key_file: %s" % key,
        "      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "      ansible_python_interpreter: /usr/bin/python3",
        ""]))
    log("inventory: %s" % inventory)


def boot():
    """Start qemu on the run directory's overlays (made by start)."""
    image = read_run("image")
    port = read_run("port")
    cmd = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "4096",
           "-display", "none", "-serial", "file:" + os.path.join(RUN, "console.log"),
           "-daemonize", "-pidfile", os.path.join(RUN, "qemu.pid"),
           "-kernel", os.path.join(image, "vmlinuz"), "-initrd", os.path.join(image, "initrd.img"),
           "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.unified_cgroup_hierarchy=1"]
    for disk in DISKS:
        cmd += ["-drive", "file=%s,if=virtio,format=qcow2" % os.path.join(RUN, disk + ".qcow2")]
    cmd += ["-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%s-:22" % port, "-device", "virtio-net-pci,netdev=n0"]
    log("booting (SSH on 127.0.0.1:%s)" % port)
    sh(cmd)


def reboot():
    boot = wait_for_ssh(60)
    subprocess.call(ssh_command(["systemctl", "reboot"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_ssh(BOOT_TIMEOUT, previous_boot=boot)


def kill_qemu():
    """SIGKILL qemu by its PID and wait until it is gone: a power cut, nothing flushed or shut down."""
    pid = int(read_run("qemu.pid"))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while qemu_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if qemu_alive():
        raise SystemExit("testvm: qemu (PID %d) outlived SIGKILL" % pid)


def powercut():
    boot_id = wait_for_ssh(60)
    kill_qemu()
    log("qemu killed: power cut")
    boot()
    wait_for_ssh(BOOT_TIMEOUT, previous_boot=boot_id)


def stop(quiet=False):
    if not os.path.isdir(RUN):
        return
    if qemu_alive():
        subprocess.call(ssh_command(["systemctl", "poweroff"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while qemu_alive() and time.monotonic() < deadline:
            time.sleep(1)
        if qemu_alive():
            kill_qemu()
    elif not quiet:
        log("qemu was not running")
    shutil.rmtree(RUN)


def main(argv):
    if SUITE not in SUITES:
        sys.stderr.write("testvm: VM_SUITE=%s: one of %s\n" % (SUITE, ", ".join(SUITES)))
        return 2
    if not argv or argv[0] not in ("build", "start", "ssh", "reboot", "powercut", "stop"):
        sys.stderr.write(__doc__)
        return 2
    if argv[0] == "build":
        build()
    elif argv[0] == "start":
        start()
    elif argv[0] == "ssh":
        return subprocess.call(ssh_command(argv[1:]))
    elif argv[0] == "reboot":
        reboot()
    elif argv[0] == "powercut":
        powercut()
    else:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
