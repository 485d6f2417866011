# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of rootfs template trees: debootstrap, dnf, apk and tarballs, behind one interface.

A builder validates its options up front (``InvalidOption``), says which program it needs,
and fills an empty directory. It never decides where the tree ends up: templates.py builds into
a staging directory and renames it into place. Whatever a builder fetches or stages beside the
tree (a downloaded tarball, apk's keys) goes into that staging directory, the tree's parent.

Every source is verified: debootstrap checks the Release file with the distro's keyring, dnf and
apk check signatures with the keys the user names, a tarball from a URL must match its checksum.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import http.client
import os
import re
import shutil
import time
from urllib.parse import urlparse

from ansible_collections.linuxvps.partitions.plugins.module_utils.commands import find_program, run
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import unmount_tree
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import (
    BuildError,
    CommandFailed,
    InvalidOption,
    MissingDependency,
)

DEFAULT_MIRROR = "http://deb.debian.org/debian"
_RELEASE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
_VARIANT = re.compile(r"^[a-z]+$")
_MIRROR = re.compile(r"^(https?|file)://\S+$")
TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.bz2")

# debootstrap's own defaults for these archives; given explicitly because debootstrap skips the
# signature check (a warning only) when its default keyring file is missing.
KEYRINGS = {
    "debian": ("/usr/share/keyrings/debian-archive-keyring.gpg", "debian-archive-keyring"),
    "ubuntu": ("/usr/share/keyrings/ubuntu-archive-keyring.gpg", "ubuntu-keyring"),
}
UBUNTU_RELEASES = frozenset(["trusty", "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic",
                             "noble", "oracular", "plucky", "questing"])

# get_url's spelling, <algorithm>:<hex digest>; md5 is not accepted as a proof of content
CHECKSUM_ALGORITHMS = ("sha1", "sha224", "sha256", "sha384", "sha512")
MAX_DOWNLOAD_BYTES = 8 << 30
DOWNLOAD_TIMEOUT = 60
_CHUNK = 1 << 20


class Builder:
    """Interface: options() for the manifest, program for the dependency check, build(target)."""

    method = None
    program = None
    install_hint = ""
    attempts = 1  # network builders retry: mirrors drop connections, a fresh try usually passes
    backoff = 0

    def options(self):
        raise NotImplementedError

    def command(self, target):
        raise NotImplementedError

    def check_installed(self):
        if find_program(self.program) is None:
            raise MissingDependency(self.program, self.install_hint)

    def build(self, target, run_command=run, attempts=None, backoff=None):
        """Fill the empty directory target; retry failures with a growing pause (backoff, 2 * backoff, ...).

        run_command(cmd) returns (rc, stdout, stderr): AnsibleModule.run_command in a module, commands.run
        (which raises CommandFailed itself) elsewhere. Between attempts the target is emptied again.
        """
        attempts = attempts or self.attempts
        backoff = self.backoff if backoff is None else backoff
        for attempt in range(1, attempts + 1):
            cmd = self.command(target)
            try:
                rc, out, err = run_command(cmd)
                if rc != 0:
                    raise CommandFailed(cmd, rc, out, err)
                return
            except CommandFailed as exc:
                if attempt == attempts:
                    raise BuildError("%s build failed after %d attempt(s): %s" % (self.method, attempts, exc.msg),
                                     rc=exc.rc, stderr=exc.stderr[-4000:])
                _empty(target)
                time.sleep(backoff * attempt)


class DebootstrapBuilder(Builder):
    method = "debootstrap"
    program = "debootstrap"
    install_hint = "Install it with 'apt-get install debootstrap'."
    attempts = 3
    backoff = 5

    def __init__(self, release, mirror=None, variant="minbase", packages=None):
        if not release or not _RELEASE.match(str(release)):
            raise InvalidOption("release", release, "a distribution codename such as bookworm or noble is required")
        mirror = mirror or DEFAULT_MIRROR
        if not _MIRROR.match(mirror):
            raise InvalidOption("mirror", mirror, "must be an http(s):// or file:// URL")
        if variant and not _VARIANT.match(variant):
            raise InvalidOption("variant", variant, "must be a debootstrap variant such as minbase or buildd")
        packages = sorted(set(packages or []))
        for package in packages:
            if not _PACKAGE.match(package):
                raise InvalidOption("packages", package, "is not a Debian package name")
        self.release, self.mirror, self.variant, self.packages = release, mirror, variant or "", packages
        self.keyring, self.keyring_package = KEYRINGS[archive_family(release, mirror)]

    def options(self):
        return {"method": self.method, "release": self.release, "mirror": self.mirror,
                "variant": self.variant, "packages": self.packages}

    def check_installed(self):
        Builder.check_installed(self)
        if not os.path.isfile(self.keyring):
            raise BuildError("debootstrap verifies %s's Release file with %s, which does not exist on the target. "
                             "Install the package %s (the host role does)." % (self.release, self.keyring, self.keyring_package),
                             keyring=self.keyring, package=self.keyring_package)

    def command(self, target):
        cmd = ["debootstrap", "--keyring=" + self.keyring]
        if self.variant:
            cmd.append("--variant=" + self.variant)
        if self.packages:
            cmd.append("--include=" + ",".join(self.packages))
        return cmd + [self.release, target, self.mirror]


class TarballBuilder(Builder):
    """A tarball on the target, or from an http(s) URL with its checksum (get_url's <algorithm>:<hex digest>)."""

    method = "tarball"
    program = "tar"
    install_hint = "Install it with 'apt-get install tar' or 'dnf install tar'."

    def __init__(self, src, checksum=None, opener=None, max_bytes=MAX_DOWNLOAD_BYTES):
        self.url = isinstance(src, str) and urlparse(src).scheme in ("http", "https")  # else a path on the target
        if self.url:
            if not _MIRROR.match(src):
                raise InvalidOption("src", src, "must be an http(s):// URL without spaces")
            if not urlparse(src).path.endswith(TARBALL_SUFFIXES):
                raise InvalidOption("src", src, "expected a tarball (%s)" % ", ".join(TARBALL_SUFFIXES))
            if not checksum:
                raise InvalidOption("checksum", checksum, "a tarball from a URL needs its checksum, e.g. sha256:<hex digest>")
        else:
            if not src or not os.path.isabs(src):
                raise InvalidOption("src", src, "an absolute path to a rootfs tarball on the target, or an http(s) URL, is required")
            if not src.endswith(TARBALL_SUFFIXES):
                raise InvalidOption("src", src, "expected a tarball (%s)" % ", ".join(TARBALL_SUFFIXES))
            if not os.path.isfile(src):
                raise InvalidOption("src", src, "no such file on the target")
        self.checksum = "%s:%s" % parse_checksum(checksum) if checksum else None
        self.src, self.opener, self.max_bytes = src, opener or _open_url, max_bytes

    def options(self):
        if self.url:
            options = {"method": self.method, "src": self.src}
        else:
            stat = os.stat(self.src)
            # size and mtime stand for the content: a changed tarball is a changed template source
            options = {"method": self.method, "src": self.src, "src_size": stat.st_size, "src_mtime": int(stat.st_mtime)}
        if self.checksum:
            options["checksum"] = self.checksum
        return options

    def archive(self, target):
        """The tarball tar reads: src itself, or the download beside target (in the staging directory)."""
        if not self.url:
            return self.src
        suffix = [ending for ending in TARBALL_SUFFIXES if urlparse(self.src).path.endswith(ending)][-1]
        return os.path.join(os.path.dirname(target), "download" + suffix)

    def command(self, target):
        return ["tar", "--extract", "--numeric-owner", "--preserve-permissions", "--xattrs",
                "--file", self.archive(target), "--directory", target]

    def build(self, target, run_command=run, attempts=None, backoff=None):
        """Verify the tarball (downloading it first for a URL), then extract it; no download outlives the build."""
        archive = self.archive(target)
        try:
            if self.url:
                self._verify(self._download(archive))
            elif self.checksum:
                self._verify(_file_digest(self.src, self.checksum.split(":")[0]))
            Builder.build(self, target, run_command, attempts, backoff)
        finally:
            if self.url and os.path.lexists(archive):
                os.unlink(archive)

    def _download(self, path):
        """Stream src into path (a new file) up to max_bytes; return the digest (a hashlib object)."""
        digest = hashlib.new(self.checksum.split(":")[0])
        size = 0
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                response = self.opener(self.src, timeout=DOWNLOAD_TIMEOUT)
                try:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise BuildError("downloading %s: larger than %d bytes, the limit for a rootfs tarball" % (self.src, self.max_bytes))
                        digest.update(chunk)
                        out.write(chunk)
                finally:
                    response.close()
        except (OSError, ValueError, http.client.HTTPException) as exc:  # urllib's URLError and HTTPError are OSErrors
            raise BuildError("downloading %s failed: %s" % (self.src, exc))
        return digest

    def _verify(self, digest):
        actual = "%s:%s" % (digest.name, digest.hexdigest())
        if actual != self.checksum:
            raise BuildError("checksum mismatch for %s: expected %s, got %s" % (self.src, self.checksum, actual),
                             expected=self.checksum, actual=actual)


class DnfBuilder(Builder):
    """RPM family (Rocky, Alma, Fedora) with dnf --installroot from the given repositories only."""

    method = "dnf"
    program = "dnf"
    install_hint = "Install it with 'apt-get install dnf' (Debian/Ubuntu) or 'dnf install dnf'."
    attempts = 3
    backoff = 5

    def __init__(self, release, repos, packages=None, gpg_keys=None):
        if not release or not _RELEASE.match(str(release)):
            raise InvalidOption("release", release, "the distribution version (dnf --releasever) such as 9 or 41 is required")
        if not repos:
            raise InvalidOption("repos", repos, "dnf needs at least one repository URL")
        # without keys dnf could only install unsigned: gpgcheck stays on, so the keys are required
        if not gpg_keys:
            raise InvalidOption("gpg_keys", gpg_keys, "dnf checks package signatures: the URLs of the distro's GPG keys are required")
        for option, urls in (("repos", repos), ("gpg_keys", gpg_keys)):
            for url in urls:
                if not _MIRROR.match(url):
                    raise InvalidOption(option, url, "must be an http(s):// or file:// URL")
        packages = sorted(set(packages or []))
        for package in packages:
            if not _PACKAGE.match(package.lower()):
                raise InvalidOption("packages", package, "is not an RPM package name")
        self.release, self.repos, self.packages, self.gpg_keys = str(release), list(repos), packages, list(gpg_keys)

    def options(self):
        return {"method": self.method, "release": self.release, "repos": self.repos,
                "packages": self.packages, "gpg_keys": self.gpg_keys}

    def command(self, target):
        cmd = ["dnf", "--installroot=" + target, "--releasever=" + self.release, "--assumeyes",
               "--setopt=install_weak_deps=False", "--setopt=tsflags=nodocs", "--setopt=reposdir=/nonexistent",
               "--disablerepo=*"]
        for index, url in enumerate(self.repos):
            name = "linuxvps-%d" % index
            # per repository too: a repository's own gpgcheck would win over the main one
            cmd += ["--repofrompath=%s,%s" % (name, url), "--enablerepo=" + name, "--setopt=%s.gpgcheck=1" % name,
                    "--setopt=%s.gpgkey=%s" % (name, " ".join(self.gpg_keys))]
        cmd.append("--setopt=gpgcheck=1")
        return cmd + ["install"] + (self.packages or ["basesystem"])


class ApkBuilder(Builder):
    """Alpine with apk --root --initdb (apk-tools' static binary works on any host), trusting only the given keys."""

    method = "apk"
    program = "apk"
    install_hint = "Install apk-tools (a static apk from Alpine's apk-tools-static package works on any host)."
    attempts = 3
    backoff = 5

    def __init__(self, repos, packages=None, gpg_keys=None):
        if not repos:
            raise InvalidOption("repos", repos, "apk needs repository URLs such as https://dl-cdn.alpinelinux.org/alpine/v3.20/main")
        for url in repos:
            if not _MIRROR.match(url):
                raise InvalidOption("repos", url, "must be an http(s):// or file:// URL")
        if not gpg_keys:
            raise InvalidOption("gpg_keys", gpg_keys, "apk checks the repositories' signatures: the paths on the target of the distro's "
                                                      "keys (*.rsa.pub files, or a directory of them such as /etc/apk/keys) are required")
        for key in gpg_keys:
            if not os.path.isabs(key):
                raise InvalidOption("gpg_keys", key, "must be an absolute path on the target (a key file or a directory of keys)")
        packages = sorted(set(packages or []) | set(["alpine-base"]))
        for package in packages:
            if not _PACKAGE.match(package):
                raise InvalidOption("packages", package, "is not an Alpine package name")
        self.repos, self.packages, self.gpg_keys = list(repos), packages, list(gpg_keys)

    def options(self):
        return {"method": self.method, "repos": self.repos, "packages": self.packages, "gpg_keys": self.gpg_keys}

    def key_files(self):
        """The key files gpg_keys names; a directory stands for the *.pub files in it."""
        files = []
        for path in self.gpg_keys:
            if os.path.isdir(path):
                found = sorted(os.path.join(path, name) for name in os.listdir(path)
                               if name.endswith(".pub") and os.path.isfile(os.path.join(path, name)))
                if not found:
                    raise BuildError("apk keys: no *.pub key in %s. Alpine's alpine-keys package ships them." % path, missing=path)
                files += found
            elif os.path.isfile(path):
                files.append(path)
            else:
                raise BuildError("apk key %s does not exist on the target. Alpine's alpine-keys package ships the keys." % path, missing=path)
        return files

    def check_installed(self):
        Builder.check_installed(self)
        self.key_files()

    def keys_dir(self, target):
        # beside the tree, not in it: a failed attempt empties the tree, and alpine-keys fills its /etc/apk/keys
        return os.path.join(os.path.dirname(target), "apk-keys")

    def command(self, target):
        cmd = ["apk", "--root", target, "--initdb", "--keys-dir", self.keys_dir(target), "--update-cache", "--no-progress"]
        for url in self.repos:
            cmd += ["--repository", url]
        return cmd + ["add"] + self.packages

    def build(self, target, run_command=run, attempts=None, backoff=None):
        keys = self.keys_dir(target)
        os.mkdir(keys, 0o755)
        try:
            # apk finds a signature's key by the key's file name
            for path in self.key_files():
                shutil.copyfile(path, os.path.join(keys, os.path.basename(path)))
            Builder.build(self, target, run_command, attempts, backoff)
        finally:
            shutil.rmtree(keys)


def _open_url(url, timeout):
    """Ansible's open_url (its proxy and certificate handling), imported only here: the host's commands never download."""
    from ansible.module_utils.urls import ConnectionError as UrlError, open_url
    try:
        return open_url(url, timeout=timeout)
    except UrlError as exc:  # its certificate and proxy errors are not OSErrors
        raise OSError("cannot fetch %s: %s" % (url, exc))


def make_builder(params):
    """The builder for module parameters (method and its options)."""
    method = params.get("method") or "debootstrap"
    if method == "debootstrap":
        return DebootstrapBuilder(params.get("release"), params.get("mirror"),
                                  params.get("variant") if params.get("variant") is not None else "minbase",
                                  params.get("packages"))
    if method == "tarball":
        return TarballBuilder(params.get("src"), params.get("checksum"))
    if method == "dnf":
        return DnfBuilder(params.get("release"), params.get("repos"), params.get("packages"), params.get("gpg_keys"))
    if method == "apk":
        return ApkBuilder(params.get("repos"), params.get("packages"), params.get("gpg_keys"))
    raise InvalidOption("method", method, "must be one of debootstrap, tarball, dnf, apk")


def archive_family(release, mirror):
    """Whose keyring signs the release: Ubuntu's for its codenames or an Ubuntu archive, else Debian's."""
    if release in UBUNTU_RELEASES or any(part.startswith("ubuntu") for part in urlparse(mirror).path.split("/")):
        return "ubuntu"
    return "debian"


def parse_checksum(value, option="checksum"):
    """(algorithm, hex digest) of get_url's <algorithm>:<hex digest>, e.g. sha256:9f86d0...; InvalidOption otherwise."""
    algorithm, sep, digest = str(value).partition(":")
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if not sep or algorithm not in CHECKSUM_ALGORITHMS:
        raise InvalidOption(option, value, "expected <algorithm>:<hex digest> with an algorithm of %s" % ", ".join(CHECKSUM_ALGORITHMS))
    length = hashlib.new(algorithm).digest_size * 2
    if len(digest) != length or not re.match(r"^[0-9a-f]+\Z", digest):
        raise InvalidOption(option, value, "a %s digest is %d hexadecimal digits" % (algorithm, length))
    return algorithm, digest


def _file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest


def _empty(path):
    unmount_tree(path)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
