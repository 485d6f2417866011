# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The distro_rootfs role's catalog, fed to the real builders: the commands each distro would run.

CI reaches only Debian's mirror, so Ubuntu, Rocky, Fedora and Alpine are proven here, without network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.linuxvps.partitions.plugins.module_utils import builders

ROLE_VARS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                         "roles", "distro_rootfs", "vars", "main.yml")


def catalog():
    with open(ROLE_VARS) as handle:
        data = yaml.safe_load(handle)
    return data


def params_for(name):
    data = catalog()
    entry = data["_distro_rootfs_catalog"][name]
    packages = sorted(set(data["_distro_rootfs_%s_packages" % entry["family"]] + entry.get("extra", [])))
    return dict(entry, packages=packages)


def test_catalog_names():
    assert sorted(catalog()["_distro_rootfs_catalog"]) == [
        "alpine-3.20", "debian-12", "debian-13", "fedora-41", "rocky-9", "ubuntu-22.04", "ubuntu-24.04"]


@pytest.mark.parametrize("name, release, mirror, keyring", [
    ("debian-12", "bookworm", "http://deb.debian.org/debian", "debian-archive-keyring"),
    ("debian-13", "trixie", "http://deb.debian.org/debian", "debian-archive-keyring"),
    ("ubuntu-22.04", "jammy", "http://archive.ubuntu.com/ubuntu", "ubuntu-keyring"),
    ("ubuntu-24.04", "noble", "http://archive.ubuntu.com/ubuntu", "ubuntu-keyring"),
])
def test_debootstrap_distros(name, release, mirror, keyring):
    builder = builders.make_builder(params_for(name))
    cmd = builder.command("/t")
    assert cmd[:2] == ["debootstrap", "--keyring=" + builder.keyring] and cmd[-3:] == [release, "/t", mirror]
    # the role installs the package that ships the keyring debootstrap is given
    assert builder.keyring_package == keyring and keyring in catalog()["_distro_rootfs_catalog"][name]["host_packages"]
    include = [arg for arg in cmd if arg.startswith("--include=")][0].split("=", 1)[1].split(",")
    for package in ("systemd-sysv", "openssh-server", "iproute2", "ca-certificates", "locales"):
        assert package in include


@pytest.mark.parametrize("name, release, release_package", [("rocky-9", "9", "rocky-release"), ("fedora-41", "41", "fedora-release")])
def test_rpm_distros(name, release, release_package):
    cmd = builders.make_builder(params_for(name)).command("/t")
    assert cmd[:3] == ["dnf", "--installroot=/t", "--releasever=" + release]
    assert "--disablerepo=*" in cmd and "--setopt=gpgcheck=1" in cmd and "--setopt=linuxvps-0.gpgcheck=1" in cmd
    assert all(arg.startswith("--repofrompath=linuxvps-") for arg in cmd if arg.startswith("--repofrompath"))
    installed = cmd[cmd.index("install") + 1:]
    for package in (release_package, "systemd", "openssh-server", "iproute", "ca-certificates"):
        assert package in installed


def test_alpine():
    cmd = builders.make_builder(params_for("alpine-3.20")).command("/t")
    assert cmd[:6] == ["apk", "--root", "/t", "--initdb", "--keys-dir", "/apk-keys"] and "--allow-untrusted" not in cmd
    assert "https://dl-cdn.alpinelinux.org/alpine/v3.20/main" in cmd
    installed = cmd[cmd.index("add") + 1:]
    for package in ("alpine-base", "openrc", "openssh", "iproute2", "ca-certificates"):
        assert package in installed
