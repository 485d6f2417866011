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


def test_module_style_run_command_is_checked_by_exit_code(tmp_path):
    """AnsibleModule.run_command returns a failing rc instead of raising: that is a failed attempt too."""
    calls = []

    def module_run_command(cmd):
        calls.append(cmd)
        return (100, "", "E: Failed getting release file") if len(calls) == 1 else (0, "ok", "")

    builder = builders.DebootstrapBuilder("bookworm", packages=["systemd-sysv"])
    builder.build(str(tmp_path), module_run_command, backoff=0)
    assert calls == [builder.command(str(tmp_path))] * 2

    with pytest.raises(BuildError) as info:
        builder.build(str(tmp_path), lambda cmd: (1, "", "E: no route"), attempts=3, backoff=0)
    assert "after 3 attempt(s)" in info.value.msg and info.value.details["rc"] == 1


def test_retries_wait_longer_each_time(tmp_path, monkeypatch):
    pauses = []
    monkeypatch.setattr(builders.time, "sleep", pauses.append)
    with pytest.raises(BuildError):
        builders.DebootstrapBuilder("bookworm").build(str(tmp_path), lambda cmd: (1, "", "x"))
    assert builders.DebootstrapBuilder.attempts == 3 and pauses == [5, 10]


def test_a_failed_attempt_is_emptied_before_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(builders, "unmount_tree", lambda path: None)
    seen = []

    def run_command(cmd):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        (tmp_path / "debootstrap").mkdir()
        (tmp_path / "debootstrap" / "debootstrap.log").write_text("half")
        return (1, "", "x") if len(seen) == 1 else (0, "", "")

    builders.DebootstrapBuilder("bookworm").build(str(tmp_path), run_command, backoff=0)
    assert seen == [[], []]


def test_missing_program_says_what_to_install(monkeypatch):
    from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import MissingDependency
    monkeypatch.setattr(builders, "find_program", lambda name: None)
    with pytest.raises(MissingDependency) as info:
        builders.DebootstrapBuilder("bookworm").check_installed()
    assert "debootstrap" in info.value.msg and "apt-get install debootstrap" in info.value.msg
    with pytest.raises(MissingDependency) as info:
        builders.TarballBuilder.check_installed(builders.TarballBuilder.__new__(builders.TarballBuilder))
    assert "tar is required" in info.value.msg
