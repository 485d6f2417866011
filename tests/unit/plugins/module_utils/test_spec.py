# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import spec as spec_module
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import MAX_PIDS, NOFILE_MAX, HostFacts, normalise_partition

HOST = HostFacts(cpu_count=2, online_cpus=[0, 1], nofile_hard=20000, memory_bytes=4 * 1024 ** 3)


def params(**overrides):
    base = {"name": "web1", "rootfs": "debian12", "state": "started"}
    base.update(overrides)
    return base


def normalise(recorded=None, **overrides):
    return normalise_partition(params(**overrides), HOST, lambda name: name == "debian12", recorded)


def test_defaults_are_filled():
    spec = normalise()
    assert spec == {
        "name": "web1", "rootfs": "debian12", "storage": "overlay", "tenant": "web1", "privileged": False,
        "hostname": "web1", "autostart": False,
        "autostart_order": 100, "labels": {}, "authorized_keys": [],
        "stop_timeout": 30, "command": None, "env": {}, "mounts": [], "interfaces": [],
        "resources": {"memory": 1024 * 2 ** 20, "swap": None, "cpus": None, "cpu_weight": 100, "cpuset": None,
                      "pids": 4096, "io_weight": 100, "nofile": None, "disk": None, "inodes": None},
    }


def test_resources_are_normalised():
    spec = normalise(resources={"memory": "512M", "swap": "1G", "cpus": "1.5", "cpuset": "1,0", "pids": 100, "nofile": 4096})
    assert spec["resources"]["memory"] == 512 * 2 ** 20
    assert spec["resources"]["swap"] == 2 ** 30
    assert spec["resources"]["cpus"] == 1.5
    assert spec["resources"]["cpuset"] == "0-1"


@pytest.mark.parametrize("name", ["../x", "A B", "", "-a", "a-", "x" * 64, "Web1", "a_b", "web1\n", None])
def test_bad_names(name):
    with pytest.raises(InvalidOption) as info:
        normalise(name=name)
    assert info.value.option == "name" and repr(name) in info.value.msg


@pytest.mark.parametrize("resources, option", [
    ({"memory": "12XB"}, "resources.memory"),
    ({"memory": "-1M"}, "resources.memory"),
    ({"cpus": 0}, "resources.cpus"),
    ({"cpus": 64}, "resources.cpus"),
    ({"cpuset": "0-63"}, "resources.cpuset"),
    ({"pids": 0}, "resources.pids"),
    ({"nofile": 10 ** 7}, "resources.nofile"),
    ({"cpu_weight": 0}, "resources.cpu_weight"),
    ({"memory": float("inf")}, "resources.memory"),
    ({"memory": float("nan")}, "resources.memory"),
    ({"memory": "1" * 23}, "resources.memory"),
    ({"memory": 10 ** 23}, "resources.memory"),
    ({"memory": -1}, "resources.memory"),
    ({"memory": "1G", "swap": "1e400"}, "resources.swap"),
    ({"disk": "5E"}, "resources.disk"),
    ({"pids": MAX_PIDS + 1}, "resources.pids"),
    ({"pids": float("inf")}, "resources.pids"),
    ({"disk": "1G", "inodes": 2 ** 32}, "resources.inodes"),
    ({"nofile": 20001}, "resources.nofile"),
    ({"io_read_bps": "fast"}, "resources.io_read_bps"),
    ({"io_write_bps": "63K"}, "resources.io_write_bps"),
    ({"io_write_bps": True}, "resources.io_write_bps"),
    ({"io_write_iops": 0}, "resources.io_write_iops"),
    ({"io_read_iops": 9}, "resources.io_read_iops"),
    ({"io_read_iops": 2 ** 32}, "resources.io_read_iops"),
    ({"io_read_iops": "many"}, "resources.io_read_iops"),
])
def test_bad_resources_name_the_option(resources, option):
    with pytest.raises(InvalidOption) as info:
        normalise(resources=resources)
    assert info.value.option == option


def test_io_limits_are_sizes_and_counts_per_second_kept_only_when_set():
    res = normalise(resources={"io_read_bps": "4M", "io_write_bps": "512K/s", "io_read_iops": 10, "io_write_iops": "2000"})["resources"]
    assert (res["io_read_bps"], res["io_write_bps"], res["io_read_iops"], res["io_write_iops"]) == (4 * 2 ** 20, 512 * 1024, 10, 2000)
    # unset: absent, so that documents recorded before these options compare equal
    assert not set(spec_module.IO_LIMITS) & set(normalise(resources={"memory": "1G"})["resources"])
    assert spec_module.normalise_io_limits({"io_write_bps": 65536}, prefix="limits.") == {"io_write_bps": 65536}
    with pytest.raises(InvalidOption) as info:
        spec_module.normalise_io_limits({"io_write_iops": 0}, prefix="limits.")
    assert info.value.option == "limits.io_write_iops"


def test_unknown_rootfs():
    with pytest.raises(InvalidOption) as info:
        normalise(rootfs="nope")
    assert info.value.option == "rootfs" and "'nope'" in info.value.msg


def test_rootfs_required_for_new_partition():
    with pytest.raises(InvalidOption) as info:
        normalise(rootfs=None)
    assert info.value.option == "rootfs"


def test_omitted_options_keep_recorded_values():
    recorded = normalise(hostname="shop", resources={"memory": "1G"}, autostart=True, command="sleep 100")
    spec = normalise(recorded=recorded, rootfs=None)
    assert spec == recorded
    changed = normalise(recorded=recorded, rootfs=None, resources={"pids": 10})
    assert changed["resources"]["memory"] == 1024 * 2 ** 20 and changed["resources"]["pids"] == 10
    assert changed["hostname"] == "shop" and changed["command"] == ["sleep", "100"]


def test_command_env_and_mounts(tmp_path):
    spec = normalise(command=["sleep", "infinity"], env={"A": 1},
                     mounts=[{"source": str(tmp_path), "target": "/data/", "read_only": True}])
    assert spec["command"] == ["sleep", "infinity"]
    assert spec["env"] == {"A": "1"}
    assert spec["mounts"] == [{"source": str(tmp_path), "target": "/data", "read_only": True}]
    with pytest.raises(InvalidOption) as info:
        normalise(mounts=[{"source": str(tmp_path / "missing"), "target": "/x"}])
    assert info.value.option == "mounts[0].source"
    with pytest.raises(InvalidOption) as info:
        normalise(mounts=[{"source": str(tmp_path), "target": "/"}])
    assert info.value.option == "mounts[0].target"
    with pytest.raises(InvalidOption):
        normalise(env={"BAD NAME": "x"})
    with pytest.raises(InvalidOption):
        normalise(command="")


def test_labels_and_keys():
    spec = normalise(labels={"tenant": "acme", "profile": "small"},
                     authorized_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample acme@laptop "])
    assert spec["labels"] == {"profile": "small", "tenant": "acme"}
    assert spec["authorized_keys"] == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample acme@laptop"]
    for bad in (["not a key"], ["ssh-ed25519 AAAA\nssh-rsa BBBB"]):
        with pytest.raises(InvalidOption) as info:
            normalise(authorized_keys=bad)
        assert info.value.option == "authorized_keys"
    with pytest.raises(InvalidOption):
        normalise(labels={"bad key!": "x"})


@pytest.mark.parametrize("key", ["memory", "swap"])
def test_memory_and_swap_above_the_hosts_memory_are_refused_naming_its_size(key):
    with pytest.raises(InvalidOption) as info:
        normalise(resources={"memory": "1G", key: "5G"})
    assert info.value.option == "resources." + key and "'5G'" in info.value.msg
    assert "this host's memory (%d bytes)" % (4 * 1024 ** 3) in info.value.msg


def test_resource_edges_are_accepted():
    res = normalise(resources={"memory": "4G", "swap": "4G", "pids": MAX_PIDS, "disk": "1G", "inodes": 2 ** 32 - 1, "nofile": 20000})["resources"]
    assert (res["memory"], res["swap"], res["pids"], res["inodes"], res["nofile"]) == (4 * 2 ** 30, 4 * 2 ** 30, MAX_PIDS, 2 ** 32 - 1, 20000)
    unknown = HostFacts(cpu_count=2, online_cpus=[0, 1], nofile_hard=None, memory_bytes=None)
    res = normalise_partition(params(resources={"memory": "1T", "nofile": NOFILE_MAX}), unknown, lambda name: True)["resources"]
    assert (res["memory"], res["nofile"]) == (2 ** 40, NOFILE_MAX)
    with pytest.raises(InvalidOption) as info:
        normalise_partition(params(resources={"nofile": NOFILE_MAX + 1}), unknown, lambda name: True)
    assert info.value.option == "resources.nofile"


@pytest.mark.parametrize("overrides, option", [
    ({"hostname": "web1\n"}, "hostname"),
    ({"tenant": "acme\n"}, "tenant"),
    ({"env": {"A\n": "x"}}, "env"),
    ({"labels": {"tenant\n": "x"}}, "labels"),
    ({"rootfs": "debian12\n"}, "rootfs"),
    ({"rootfs": "../partitions/x/upper"}, "rootfs"),
    ({"rootfs": "/"}, "rootfs"),
    ({"rootfs": "a..b"}, "rootfs"),
    ({"authorized_keys": ["ssh-ed25519 AAAA\nssh-rsa BBBB"]}, "authorized_keys"),
])
def test_names_with_a_final_newline_or_a_path_are_refused(overrides, option):
    with pytest.raises(InvalidOption) as info:
        normalise(**overrides)
    assert info.value.option == option


def test_rootfs_is_checked_as_a_template_name_before_the_store_is_asked():
    asked = []
    with pytest.raises(InvalidOption):
        normalise_partition(params(rootfs="../partitions/x/upper"), HOST, asked.append)
    assert asked == []


def test_mount_targets_are_normalised(tmp_path):
    mounts = normalise(mounts=[{"source": str(tmp_path), "target": "//data//x/"}, {"source": str(tmp_path), "target": "/devices"},
                               {"source": str(tmp_path), "target": "/srv/proc"}])["mounts"]
    assert [item["target"] for item in mounts] == ["/data/x", "/devices", "/srv/proc"]


@pytest.mark.parametrize("target", ["/", "//", "/proc", "/proc/sys", "//sys/", "/sys/fs/cgroup", "/dev", "/dev/shm", "/dev/",
                                    "data", "", "/x/../proc", "/x\n", "/x\x00"])
def test_mount_targets_over_the_kernels_views_are_refused(tmp_path, target):
    with pytest.raises(InvalidOption) as info:
        normalise(mounts=[{"source": str(tmp_path), "target": target}])
    assert info.value.option == "mounts[0].target" and repr(target) in info.value.msg


def test_mount_sources_are_their_real_path(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    [mount] = normalise(mounts=[{"source": str(tmp_path / "link") + "/", "target": "/data"}])["mounts"]
    assert mount["source"] == str(tmp_path / "real")


def _state(tmp_path):
    state = tmp_path / "state"
    (state / "partitions" / "x" / "upper").mkdir(parents=True)
    os.symlink(str(state), str(tmp_path / "to-state"))
    return str(state)


@pytest.mark.parametrize("source", ["/", "{state}", "{state}/partitions/x/upper", "{tmp}", "{tmp}/to-state", "{tmp}/to-state/partitions"])
def test_mount_sources_that_expose_the_state_directory_or_root_are_refused(tmp_path, source):
    state = _state(tmp_path)
    source = source.format(state=state, tmp=str(tmp_path))
    with pytest.raises(InvalidOption) as info:
        normalise_partition(params(mounts=[{"source": source, "target": "/data"}]), HOST, lambda name: True, state_dir=state)
    assert info.value.option == "mounts[0].source" and repr(source) in info.value.msg
    spec = normalise_partition(params(mounts=[{"source": source, "target": "/data"}], privileged=True), HOST, lambda name: True,
                               state_dir=state)
    assert spec["mounts"][0]["source"] == os.path.realpath(source)


def test_the_default_state_directory_and_the_id_ranges_are_protected_and_a_sibling_is_not(tmp_path, monkeypatch):
    state = _state(tmp_path)
    (tmp_path / "state-sibling").mkdir()
    for source in ("/var", "/var/lib"):
        with pytest.raises(InvalidOption) as info:
            normalise(mounts=[{"source": source, "target": "/data"}])
        assert "inside or above /var/lib/linuxvps;" in info.value.msg
    (tmp_path / "idmap").mkdir()
    monkeypatch.setattr(spec_module, "REGISTRY", str(tmp_path / "idmap" / "ranges.json"))
    with pytest.raises(InvalidOption) as info:
        normalise(mounts=[{"source": str(tmp_path / "idmap"), "target": "/data"}])
    assert info.value.option == "mounts[0].source"
    spec = normalise_partition(params(mounts=[{"source": str(tmp_path / "state-sibling"), "target": "/data"}]), HOST,
                               lambda name: True, state_dir=state)
    assert spec["mounts"][0]["source"] == str(tmp_path / "state-sibling")


def test_recorded_mounts_are_checked_again_when_privileged_is_dropped(tmp_path):
    state = _state(tmp_path)
    recorded = normalise_partition(params(mounts=[{"source": state, "target": "/data"}], privileged=True), HOST, lambda name: True,
                                   state_dir=state)
    with pytest.raises(InvalidOption) as info:
        normalise_partition(params(rootfs=None, privileged=False), HOST, lambda name: True, recorded, state_dir=state)
    assert info.value.option == "mounts[0].source"


def test_a_secrets_fingerprint_keeps_its_salt_and_hides_the_value():
    first = spec_module.secret_fingerprint("hunter2")
    algorithm, salt, digest = first.split(":")
    assert algorithm == "pbkdf2-sha256" and len(salt) == 32 and "hunter2" not in first
    assert spec_module.secret_fingerprint("hunter2", salt) == first
    assert spec_module.secret_fingerprint("hunter3", salt) != first
    assert spec_module.secret_fingerprint("hunter2") != first  # a new salt each time there is none recorded
    with pytest.raises(InvalidOption) as caught:
        spec_module.normalise_secret_env({"BAD-NAME": "x"}, {}, {})
    assert caught.value.option == "secret_env"
