# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import builders
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, CommandFailed, InvalidOption


def test_debootstrap_command():
    builder = builders.make_builder({"method": "debootstrap", "release": "bookworm", "packages": ["systemd-sysv", "dbus", "dbus"]})
    assert builder.command("/t") == ["debootstrap", "--variant=minbase", "--include=dbus,systemd-sysv",
                                     "bookworm", "/t", "http://deb.debian.org/debian"]
    assert builder.options() == {"method": "debootstrap", "release": "bookworm", "mirror": "http://deb.debian.org/debian",
                                 "variant": "minbase", "packages": ["dbus", "systemd-sysv"]}
    plain = builders.DebootstrapBuilder("noble", "http://archive.ubuntu.com/ubuntu", "", [])
    assert plain.command("/t") == ["debootstrap", "noble", "/t", "http://archive.ubuntu.com/ubuntu"]


@pytest.mark.parametrize("params, option", [
    ({"method": "debootstrap"}, "release"),
    ({"release": "Book Worm"}, "release"),
    ({"release": "bookworm", "mirror": "ftp//x"}, "mirror"),
    ({"release": "bookworm", "variant": "min base"}, "variant"),
    ({"release": "bookworm", "packages": ["ok", "no;rm"]}, "packages"),
    ({"method": "tarball", "src": "relative.tar"}, "src"),
    ({"method": "tarball", "src": "/etc/passwd"}, "src"),
    ({"method": "tarball", "src": "/no/such.tar.gz"}, "src"),
    ({"method": "qcow2"}, "method"),
])
def test_bad_options(params, option):
    with pytest.raises(InvalidOption) as info:
        builders.make_builder(params)
    assert info.value.option == option


def test_transient_failures_are_retried_then_reported(tmp_path):
    calls = []

    def flaky(cmd):
        calls.append(cmd)
        (tmp_path / "partial").write_text("x")
        if len(calls) < 3:
            raise CommandFailed(cmd, 1, "", "Failed getting release file")
        return 0, "", ""

    builders.DebootstrapBuilder("bookworm").build(str(tmp_path), flaky, backoff=0)
    assert len(calls) == 3

    def broken(cmd):
        raise CommandFailed(cmd, 1, "", "E: no route")

    with pytest.raises(BuildError) as info:
        builders.DebootstrapBuilder("bookworm").build(str(tmp_path), broken, attempts=2, backoff=0)
    assert "after 2 attempt(s)" in info.value.msg and "no route" in info.value.msg


def test_tarball_builder(tmp_path):
    src = tmp_path / "rootfs.tar.gz"
    src.write_bytes(b"")
    builder = builders.make_builder({"method": "tarball", "src": str(src)})
    assert builder.command("/t")[-4:] == ["--file", str(src), "--directory", "/t"]
    assert builder.options()["src_size"] == 0


def test_dnf_command_uses_only_the_given_repositories():
    builder = builders.make_builder({"method": "dnf", "release": "9", "packages": ["rocky-release", "systemd", "dnf"],
                                     "repos": ["https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"],
                                     "gpg_keys": ["https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9"]})
    assert builder.command("/t") == [
        "dnf", "--installroot=/t", "--releasever=9", "--assumeyes", "--setopt=install_weak_deps=False",
        "--setopt=tsflags=nodocs", "--setopt=reposdir=/nonexistent", "--disablerepo=*",
        "--repofrompath=linuxvps-0,https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/", "--enablerepo=linuxvps-0",
        "--setopt=linuxvps-0.gpgkey=https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9", "--setopt=gpgcheck=1",
        "install", "dnf", "rocky-release", "systemd"]
    with pytest.raises(InvalidOption) as info:
        builders.make_builder({"method": "dnf", "release": "9"})
    assert info.value.option == "repos"


def test_apk_command():
    builder = builders.make_builder({"method": "apk", "packages": ["openrc", "openssh"],
                                     "repos": ["https://dl-cdn.alpinelinux.org/alpine/v3.20/main"]})
    assert builder.command("/t") == [
        "apk", "--root", "/t", "--initdb", "--update-cache", "--allow-untrusted", "--no-progress",
        "--repository", "https://dl-cdn.alpinelinux.org/alpine/v3.20/main", "add", "alpine-base", "openrc", "openssh"]
