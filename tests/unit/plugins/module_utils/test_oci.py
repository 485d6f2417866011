# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxvps.partitions.plugins.module_utils import oci, seccomp
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.specs import make_spec


def mounts_by_target(config):
    return dict((m["destination"], m) for m in config["mounts"])


def test_systemd_partition_config():
    config = oci.build_config(make_spec(resources={"memory": "512M", "swap": "256M", "cpus": 0.5, "pids": 100, "cpuset": "1"}),
                              "/state/partitions/web1/bundle/rootfs", "/linuxvps/web1", "/lib/systemd/systemd")
    assert config["process"]["args"] == ["/sbin/init"]
    assert config["process"]["terminal"] is False
    assert "container=linuxvps" in config["process"]["env"]
    assert config["hostname"] == "web1"
    assert config["root"] == {"path": "/state/partitions/web1/bundle/rootfs", "readonly": False}
    linux = config["linux"]
    assert linux["cgroupsPath"] == "/linuxvps/web1"
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "ipc", "uts", "mount", "cgroup", "network"]
    # limits live one level up, out of the partition's reach; the payload gets only the device list
    assert linux["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    mounts = mounts_by_target(config)
    for target in ("/run", "/run/lock", "/tmp"):
        assert mounts[target]["type"] == "tmpfs"
    assert "rw" in mounts["/sys/fs/cgroup"]["options"]
    assert "/proc/kcore" in linux["maskedPaths"]


def test_dangerous_capabilities_are_absent():
    caps = oci.build_config(make_spec(), "r", "/p/n", None)["process"]["capabilities"]
    for cap in ("CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_SYS_RESOURCE", "CAP_MAC_ADMIN", "CAP_BPF"):
        assert cap not in caps["bounding"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]


def test_command_partition_has_no_systemd_mounts_and_terminates_with_sigterm():
    s = make_spec(command="sleep infinity", env={"A": "b"}, resources={"nofile": 4096})
    config = oci.build_config(s, "r", "/p/n", "/lib/systemd/systemd")
    assert config["process"]["args"] == ["sleep", "infinity"]
    assert "A=b" in config["process"]["env"]
    assert "/run" not in mounts_by_target(config)
    assert "ro" in mounts_by_target(config)["/sys/fs/cgroup"]["options"]
    assert config["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]
    assert oci.stop_signal(s, "/lib/systemd/systemd") == oci.SIGTERM
    assert oci.stop_signal(make_spec(), "/lib/systemd/systemd") == oci.SIGRTMIN_PLUS_3
    assert oci.stop_signal(make_spec(), "/sbin/openrc-init") == oci.SIGTERM


def test_unlimited_resources_and_bind_mounts(tmp_path):
    s = make_spec(mounts=[{"source": str(tmp_path), "target": "/data", "read_only": True}, {"source": str(tmp_path), "target": "/rw"}])
    config = oci.build_config(s, "r", "/p/n", None)
    data = mounts_by_target(config)["/data"]
    # rro: the source's submounts are read-only too, not only its top
    assert data["type"] == "bind" and data["source"] == str(tmp_path) and data["options"] == ["rbind", "rprivate", "ro", "rro"]
    assert mounts_by_target(config)["/rw"]["options"] == ["rbind", "rprivate", "rw"]
    assert {"type": "network"} in config["linux"]["namespaces"]  # its own, new network namespace


def test_seccomp_is_an_allowlist_that_denies_kernel_reaching_syscalls_on_every_abi():
    config = oci.build_config(make_spec(), "r", "/p/n", None, machine="x86_64")
    profile = config["linux"]["seccomp"]
    # anything unlisted (a future kernel's call) reads as "not implemented" so programs fall back
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == seccomp.ENOSYS
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed, denied = profile["syscalls"]
    assert allowed["action"] == "SCMP_ACT_ALLOW"
    assert denied["action"] == "SCMP_ACT_ERRNO" and denied["errnoRet"] == seccomp.EPERM
    for name in ("init_module", "finit_module", "kexec_load", "open_by_handle_at", "bpf", "perf_event_open",
                 "add_key", "keyctl", "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
                 "io_uring_register", "fsopen", "open_tree", "mount_setattr"):
        assert name in denied["names"] and name not in allowed["names"]
    # what systemd needs as root of its own user namespace
    for name in ("mount", "umount2", "pivot_root", "unshare", "setns", "clone", "clone3", "sethostname",
                 "reboot", "name_to_handle_at", "openat2", "statx", "epoll_pwait2"):
        assert name in allowed["names"]
    assert not set(allowed["names"]) & set(denied["names"])
    assert len(set(allowed["names"])) == len(allowed["names"])


def test_seccomp_names_no_architecture_it_does_not_know():
    assert "architectures" not in oci.build_config(make_spec(), "r", "/p/n", None, machine="riscv64")["linux"]["seccomp"]
