# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import builders
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import BuildError, CommandFailed, InvalidOption


def test_debootstrap_command():
    builder = builders.make_builder({"method": "debootstrap", "release": "bookworm", "packages": ["systemd-sysv", "dbus", "dbus"]})
    assert builder.command("/t") == ["debootstrap", "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg", "--variant=minbase",
                                     "--include=dbus,systemd-sysv", "bookworm", "/t", "http://deb.debian.org/debian"]
    assert builder.options() == {"method": "debootstrap", "release": "bookworm", "mirror": "http://deb.debian.org/debian",
                                 "variant": "minbase", "packages": ["dbus", "systemd-sysv"]}
    plain = builders.DebootstrapBuilder("noble", "http://archive.ubuntu.com/ubuntu", "", [])
    assert plain.command("/t") == ["debootstrap", "--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg",
                                   "noble", "/t", "http://archive.ubuntu.com/ubuntu"]


@pytest.mark.parametrize("release, mirror, keyring", [
    ("trixie", None, "debian-archive-keyring.gpg"),
    ("jammy", "http://mirror.example/ubuntu", "ubuntu-archive-keyring.gpg"),
    ("jammy", "http://mirror.example/mirrors/archive", "ubuntu-archive-keyring.gpg"),  # an Ubuntu codename on any mirror
    ("zesty2", "http://ports.ubuntu.com/ubuntu-ports", "ubuntu-archive-keyring.gpg"),  # an unknown release from an Ubuntu archive
    ("bookworm", "http://ubuntu.example/debian", "debian-archive-keyring.gpg"),  # a host name says nothing
])
def test_debootstrap_always_checks_with_the_distro_keyring(release, mirror, keyring):
    cmd = builders.DebootstrapBuilder(release, mirror).command("/t")
    assert cmd[1] == "--keyring=/usr/share/keyrings/" + keyring
    assert not [arg for arg in cmd if "no-check" in arg or "insecure" in arg or "allow-unauth" in arg]


def test_a_missing_keyring_names_the_file_and_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(builders, "find_program", lambda name: "/usr/sbin/" + name)
    missing = str(tmp_path / "ubuntu-archive-keyring.gpg")
    monkeypatch.setitem(builders.KEYRINGS, "ubuntu", (missing, "ubuntu-keyring"))
    with pytest.raises(BuildError) as info:
        builders.DebootstrapBuilder("noble", "http://archive.ubuntu.com/ubuntu").check_installed()
    assert missing in info.value.msg and "ubuntu-keyring" in info.value.msg
    assert info.value.details == {"keyring": missing, "package": "ubuntu-keyring"}
    (tmp_path / "ubuntu-archive-keyring.gpg").write_bytes(b"keys")
    builders.DebootstrapBuilder("noble", "http://archive.ubuntu.com/ubuntu").check_installed()


def test_this_hosts_debian_keyring_is_there():
    """The integration targets debootstrap Debian on this host: the keyring the flag names must exist."""
    assert os.path.isfile(builders.KEYRINGS["debian"][0])


@pytest.mark.parametrize("params, option", [
    ({"method": "debootstrap"}, "release"),
    ({"release": "Book Worm"}, "release"),
    ({"release": "bookworm", "mirror": "ftp//x"}, "mirror"),
    ({"release": "bookworm", "variant": "min base"}, "variant"),
    ({"release": "bookworm", "packages": ["ok", "no;rm"]}, "packages"),
    ({"method": "tarball", "src": "relative.tar"}, "src"),
    ({"method": "tarball", "src": "/etc/passwd"}, "src"),
    ({"method": "tarball", "src": "/no/such.tar.gz"}, "src"),
    ({"method": "tarball", "src": "https://example.org/rootfs.tar.gz"}, "checksum"),
    ({"method": "tarball", "src": "https://example.org/rootfs.iso", "checksum": "sha256:" + "0" * 64}, "src"),
    ({"method": "tarball", "src": "ftp://example.org/rootfs.tar.gz"}, "src"),
    ({"method": "dnf", "release": "9", "repos": ["https://r.example/os/"]}, "gpg_keys"),
    ({"method": "dnf", "release": "9", "repos": ["https://r.example/os/"], "gpg_keys": ["RPM-GPG-KEY"]}, "gpg_keys"),
    ({"method": "apk", "repos": ["https://a.example/main"]}, "gpg_keys"),
    ({"method": "apk", "repos": ["https://a.example/main"], "gpg_keys": ["etc/apk/keys"]}, "gpg_keys"),
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
    assert builder.command("/t") == ["tar", "--extract", "--numeric-owner", "--preserve-permissions", "--xattrs",
                                     "--file", str(src), "--directory", "/t"]
    assert builder.options() == {"method": "tarball", "src": str(src), "src_size": 0, "src_mtime": int(src.stat().st_mtime)}
    summed = builders.make_builder({"method": "tarball", "src": str(src), "checksum": "SHA256:" + EMPTY_SHA256.upper()})
    assert summed.options()["checksum"] == "sha256:" + EMPTY_SHA256


def test_a_tarball_from_a_url_is_extracted_from_the_staging_directory():
    builder = builders.make_builder({"method": "tarball", "src": "https://images.example/x/rootfs.tar.xz?token=1",
                                     "checksum": "sha512:" + "ab" * 64})
    assert builder.command("/state/rootfs/.build-x-1/rootfs")[-4:] == [
        "--file", "/state/rootfs/.build-x-1/download.tar.xz", "--directory", "/state/rootfs/.build-x-1/rootfs"]
    assert builder.options() == {"method": "tarball", "src": "https://images.example/x/rootfs.tar.xz?token=1",
                                 "checksum": "sha512:" + "ab" * 64}


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("value, algorithm, digest", [
    ("sha256:" + EMPTY_SHA256, "sha256", EMPTY_SHA256),
    (" SHA256 : " + EMPTY_SHA256.upper() + " ", "sha256", EMPTY_SHA256),
    ("sha1:" + "A" * 40, "sha1", "a" * 40),
    ("sha512:" + "0" * 128, "sha512", "0" * 128),
])
def test_checksums_as_get_url_spells_them(value, algorithm, digest):
    assert builders.parse_checksum(value) == (algorithm, digest)


@pytest.mark.parametrize("value, reason", [
    ("md5:" + "0" * 32, "algorithm of sha1"),  # too weak to prove content
    ("sha257:" + "0" * 64, "algorithm of sha1"),
    (EMPTY_SHA256, "<algorithm>:<hex digest>"),
    ("sha256:" + "g" * 64, "64 hexadecimal digits"),
    ("sha256:" + "0" * 63, "64 hexadecimal digits"),
    ("sha256:" + "0" * 64 + "\n00", "64 hexadecimal digits"),
    ("sha256:https://example.org/SHA256SUMS", "64 hexadecimal digits"),
])
def test_bad_checksums_are_refused_naming_the_option(value, reason):
    with pytest.raises(InvalidOption) as info:
        builders.make_builder({"method": "tarball", "src": "https://example.org/rootfs.tar.gz", "checksum": value})
    assert info.value.option == "checksum" and reason in info.value.msg


class FakeResponse(io.BytesIO):
    """What urlopen returns, as far as the builder reads it."""


def fake_opener(body, seen):
    def opener(url, timeout):
        seen.append((url, timeout))
        return FakeResponse(body)
    return opener


def extract_with_python(cmd):
    """run_command standing in for tar: records the archive and what it held."""
    archive, target = cmd[cmd.index("--file") + 1], cmd[cmd.index("--directory") + 1]
    with open(archive, "rb") as handle, open(os.path.join(target, "extracted"), "wb") as out:
        out.write(handle.read())
    return 0, "", ""


def test_a_downloaded_tarball_is_verified_extracted_and_removed(tmp_path):
    body = b"tarball bytes" * 1000
    staging = tmp_path / ".build-x"
    (staging / "rootfs").mkdir(parents=True)
    seen = []
    builder = builders.TarballBuilder("https://images.example/rootfs.tar.gz", "sha256:" + hashlib.sha256(body).hexdigest(),
                                      opener=fake_opener(body, seen), max_bytes=len(body))
    builder.build(str(staging / "rootfs"), extract_with_python)
    assert seen == [("https://images.example/rootfs.tar.gz", builders.DOWNLOAD_TIMEOUT)]
    assert (staging / "rootfs" / "extracted").read_bytes() == body
    assert sorted(os.listdir(str(staging))) == ["rootfs"]  # the download is gone


@pytest.mark.parametrize("checksum, limit, message", [
    ("sha256:" + EMPTY_SHA256, 1 << 20, "checksum mismatch"),
    ("sha256:" + hashlib.sha256(b"x" * 100).hexdigest(), 99, "larger than 99 bytes"),
])
def test_a_bad_download_is_never_extracted_and_leaves_nothing(tmp_path, checksum, limit, message):
    staging = tmp_path / ".build-x"
    (staging / "rootfs").mkdir(parents=True)
    extracted = []
    builder = builders.TarballBuilder("http://images.example/rootfs.tar", checksum, opener=fake_opener(b"x" * 100, []), max_bytes=limit)
    with pytest.raises(BuildError) as info:
        builder.build(str(staging / "rootfs"), extracted.append)
    assert message in info.value.msg and extracted == []
    assert sorted(os.listdir(str(staging))) == ["rootfs"] and os.listdir(str(staging / "rootfs")) == []
    if message == "checksum mismatch":
        actual = "sha256:" + hashlib.sha256(b"x" * 100).hexdigest()
        assert checksum in info.value.msg and actual in info.value.msg
        assert info.value.details == {"expected": checksum, "actual": actual}


def test_a_failed_download_names_the_url(tmp_path):
    def unreachable(url, timeout):
        raise OSError("Connection refused")

    builder = builders.TarballBuilder("https://images.example/rootfs.tar", "sha256:" + EMPTY_SHA256, opener=unreachable)
    with pytest.raises(BuildError) as info:
        builder.build(str(tmp_path / "rootfs"), lambda cmd: (0, "", ""))
    assert "downloading https://images.example/rootfs.tar failed: Connection refused" in info.value.msg
    assert os.listdir(str(tmp_path)) == []


def test_a_local_tarball_with_a_checksum_is_verified_before_extraction(tmp_path):
    src = tmp_path / "rootfs.tar"
    src.write_bytes(b"local")
    (tmp_path / "rootfs").mkdir()
    good = builders.TarballBuilder(str(src), "sha1:" + hashlib.sha1(b"local").hexdigest())
    good.build(str(tmp_path / "rootfs"), extract_with_python)
    assert (tmp_path / "rootfs" / "extracted").read_bytes() == b"local"
    extracted = []
    with pytest.raises(BuildError) as info:
        builders.TarballBuilder(str(src), "sha1:" + "0" * 40).build(str(tmp_path / "rootfs"), extracted.append)
    assert "expected sha1:" + "0" * 40 in info.value.msg and extracted == [] and src.exists()


def test_dnf_command_uses_only_the_given_repositories():
    builder = builders.make_builder({"method": "dnf", "release": "9", "packages": ["rocky-release", "systemd", "dnf"],
                                     "repos": ["https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"],
                                     "gpg_keys": ["https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9"]})
    assert builder.command("/t") == [
        "dnf", "--installroot=/t", "--releasever=9", "--assumeyes", "--setopt=install_weak_deps=False",
        "--setopt=tsflags=nodocs", "--setopt=reposdir=/nonexistent", "--disablerepo=*",
        "--repofrompath=linuxvps-0,https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/", "--enablerepo=linuxvps-0",
        "--setopt=linuxvps-0.gpgcheck=1", "--setopt=linuxvps-0.gpgkey=https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9",
        "--setopt=gpgcheck=1", "install", "dnf", "rocky-release", "systemd"]
    assert not [arg for arg in builder.command("/t") if "gpgcheck=0" in arg or "nogpgcheck" in arg]
    with pytest.raises(InvalidOption) as info:
        builders.make_builder({"method": "dnf", "release": "9"})
    assert info.value.option == "repos"
    with pytest.raises(InvalidOption) as info:
        builders.make_builder({"method": "dnf", "release": "9", "repos": ["https://r.example/os/"], "gpg_keys": []})
    assert info.value.option == "gpg_keys" and "signatures" in info.value.msg


def apk_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub").write_text("-----BEGIN PUBLIC KEY-----\n")
    (keys / "README").write_text("not a key")
    return keys


def test_apk_command_trusts_only_the_given_keys(tmp_path):
    keys = apk_keys(tmp_path)
    builder = builders.make_builder({"method": "apk", "packages": ["openrc", "openssh"], "gpg_keys": [str(keys)],
                                     "repos": ["https://dl-cdn.alpinelinux.org/alpine/v3.20/main"]})
    assert builder.command("/s/rootfs") == [
        "apk", "--root", "/s/rootfs", "--initdb", "--keys-dir", "/s/apk-keys", "--update-cache", "--no-progress",
        "--repository", "https://dl-cdn.alpinelinux.org/alpine/v3.20/main", "add", "alpine-base", "openrc", "openssh"]
    assert builder.options()["gpg_keys"] == [str(keys)]
    staging = tmp_path / ".build-alpine"
    (staging / "rootfs").mkdir(parents=True)
    seen = []

    def run_command(cmd):
        keys_dir = cmd[cmd.index("--keys-dir") + 1]
        seen.append(sorted(os.listdir(keys_dir)))
        return 0, "", ""

    builder.build(str(staging / "rootfs"), run_command)
    assert seen == [["alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"]]
    assert os.listdir(str(staging)) == ["rootfs"]  # the keys stayed beside the tree only for the build


def test_apk_without_its_keys_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(builders, "find_program", lambda name: "/sbin/" + name)
    (tmp_path / "empty").mkdir()
    for keys, missing in ((tmp_path / "nokeys", "does not exist"), (tmp_path / "empty", "no *.pub key")):
        builder = builders.ApkBuilder(["https://a.example/main"], gpg_keys=[str(keys)])
        with pytest.raises(BuildError) as info:
            builder.check_installed()
        assert str(keys) in info.value.msg and missing in info.value.msg and "alpine-keys" in info.value.msg
    builders.ApkBuilder(["https://a.example/main"], gpg_keys=[str(apk_keys(tmp_path))]).check_installed()


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
