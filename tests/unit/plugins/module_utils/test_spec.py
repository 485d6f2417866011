# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.spec import HostFacts, normalise_partition

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


@pytest.mark.parametrize("name", ["../x", "A B", "", "-a", "a-", "x" * 64, "Web1", "a_b"])
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
])
def test_bad_resources_name_the_option(resources, option):
    with pytest.raises(InvalidOption) as info:
        normalise(resources=resources)
    assert info.value.option == option


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
