# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OCI runtime config (config.json) for a partition, built from its spec. Pure: no I/O."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import seccomp

OCI_VERSION = "1.0.2"
SIGRTMIN_PLUS_3 = 37  # glibc SIGRTMIN is 34; systemd halts cleanly on SIGRTMIN+3
SIGTERM = 15
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_INIT = ["/sbin/init"]

# What a VPS root may do inside its own namespaces. Left out on purpose: sys_module, sys_rawio,
# sys_time, sys_boot, sys_resource, sys_pacct, mac_admin, mac_override, syslog, wake_alarm,
# block_suspend, audit_read, perfmon, bpf, checkpoint_restore: they reach the host kernel.
VPS_CAPABILITIES = [
    "CAP_AUDIT_CONTROL", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER", "CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE",
    "CAP_LINUX_IMMUTABLE", "CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_ADMIN",
    "CAP_SYS_CHROOT", "CAP_SYS_NICE", "CAP_SYS_PTRACE", "CAP_SYS_TTY_CONFIG",
]

MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def is_systemd(spec, template_init):
    """True when the partition's PID 1 will be systemd (the template's init, no command given)."""
    return spec.get("command") is None and bool(template_init) and template_init.rstrip("/").endswith("/systemd")


def stop_signal(spec, template_init):
    return SIGRTMIN_PLUS_3 if is_systemd(spec, template_init) else SIGTERM


def _mount(destination, mount_type, source, options):
    return {"destination": destination, "type": mount_type, "source": source, "options": options}


def base_mounts(systemd):
    mounts = [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        # systemd manages its own sub-cgroups: it needs the (namespaced) hierarchy writable.
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "rw" if systemd else "ro"]),
    ]
    if systemd:
        for target, size in (("/run", "mode=755,size=65536k"), ("/run/lock", "mode=1777,size=5120k"), ("/tmp", "mode=1777")):
            mounts.append(_mount(target, "tmpfs", "tmpfs", ["nosuid", "nodev"] + size.split(",")))
    return mounts


def user_mounts(spec):
    # rro (runc >= 1.1, kernel >= 5.12) makes the submounts of a read-only source read-only too; ro alone does only its top
    return [_mount(item["target"], "bind", item["source"],
                   ["rbind", "rprivate"] + (["ro", "rro"] if item["read_only"] else ["rw"]))
            for item in spec.get("mounts") or []]


def oci_resources():
    """linux.resources for the runtime's payload cgroup: only the device allow-list.

    Limits are set by the cgroups package on the partition's own cgroup one level up, out of the partition's
    reach; the payload inherits them.
    """
    return {"devices": [{"allow": False, "access": "rwm"}]}


def build_config(spec, rootfs_path, cgroups_path, template_init, annotations=None, machine="x86_64",
                 id_base=None, id_size=65536, secret_env=None, lxcfs_mounts=()):
    """The whole config.json document for one partition; id_base maps its root to that host ID; secret_env: the
    values of the spec's secret variables (the spec holds only their fingerprints); lxcfs_mounts: lxcfs's files
    over /proc and /sys (lxcfs.bind_mounts), after the kernel's views they cover."""
    systemd = is_systemd(spec, template_init)
    env = ["PATH=" + PATH, "container=linuxvps", "HOSTNAME=" + spec["hostname"]]
    env += ["%s=%s" % item for item in sorted(dict(spec.get("env") or {}, **(secret_env or {})).items())]
    rlimits = []
    if spec["resources"].get("nofile") is not None:
        rlimits.append({"type": "RLIMIT_NOFILE", "hard": spec["resources"]["nofile"], "soft": spec["resources"]["nofile"]})
    caps = list(VPS_CAPABILITIES)
    namespaces = [{"type": kind} for kind in ("pid", "ipc", "uts", "mount", "cgroup", "network")]  # a new netns: net.py wires it
    config = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(spec.get("command") or DEFAULT_INIT),
            "env": env,
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": []},
            "rlimits": rlimits,
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs_path, "readonly": False},
        "hostname": spec["hostname"],
        "mounts": base_mounts(systemd) + [dict(mount) for mount in lxcfs_mounts] + user_mounts(spec),
        "annotations": dict(annotations or {}),
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": oci_resources(),
            "namespaces": namespaces,
            "seccomp": seccomp.profile(machine),
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if id_base is not None:
        namespaces.append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": id_base, "size": id_size}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": id_base, "size": id_size}]
    return config
