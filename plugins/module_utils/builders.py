# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of rootfs template trees: debootstrap and local tarballs, behind one interface.

A builder validates its options up front (``InvalidOption``), says which program it needs,
and fills an empty directory. It never decides where the tree ends up: templates.py builds into
a staging directory and renames it into place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import time

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

    def options(self):
        return {"method": self.method, "release": self.release, "mirror": self.mirror,
                "variant": self.variant, "packages": self.packages}

    def command(self, target):
        cmd = ["debootstrap"]
        if self.variant:
            cmd.append("--variant=" + self.variant)
        if self.packages:
            cmd.append("--include=" + ",".join(self.packages))
        return cmd + [self.release, target, self.mirror]


class TarballBuilder(Builder):
    method = "tarball"
    program = "tar"
    install_hint = "Install it with 'apt-get install tar' or 'dnf install tar'."

    def __init__(self, src):
        if not src or not os.path.isabs(src):
            raise InvalidOption("src", src, "an absolute path to a rootfs tarball on the target is required")
        if not src.endswith(TARBALL_SUFFIXES):
            raise InvalidOption("src", src, "expected a tarball (%s)" % ", ".join(TARBALL_SUFFIXES))
        if not os.path.isfile(src):
            raise InvalidOption("src", src, "no such file on the target")
        self.src = src

    def options(self):
        stat = os.stat(self.src)
        # size and mtime stand for the content: a changed tarball is a changed template source
        return {"method": self.method, "src": self.src, "src_size": stat.st_size, "src_mtime": int(stat.st_mtime)}

    def command(self, target):
        return ["tar", "--extract", "--numeric-owner", "--preserve-permissions", "--xattrs",
                "--file", self.src, "--directory", target]


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
        for url in list(repos) + list(gpg_keys or []):
            if not _MIRROR.match(url):
                raise InvalidOption("repos", url, "must be an http(s):// or file:// URL")
        packages = sorted(set(packages or []))
        for package in packages:
            if not _PACKAGE.match(package.lower()):
                raise InvalidOption("packages", package, "is not an RPM package name")
        self.release, self.repos, self.packages, self.gpg_keys = str(release), list(repos), packages, list(gpg_keys or [])

    def options(self):
        return {"method": self.method, "release": self.release, "repos": self.repos,
                "packages": self.packages, "gpg_keys": self.gpg_keys}

    def command(self, target):
        cmd = ["dnf", "--installroot=" + target, "--releasever=" + self.release, "--assumeyes",
               "--setopt=install_weak_deps=False", "--setopt=tsflags=nodocs", "--setopt=reposdir=/nonexistent",
               "--disablerepo=*"]
        for index, url in enumerate(self.repos):
            name = "linuxvps-%d" % index
            cmd += ["--repofrompath=%s,%s" % (name, url), "--enablerepo=" + name]
            if self.gpg_keys:
                cmd.append("--setopt=%s.gpgkey=%s" % (name, " ".join(self.gpg_keys)))
        cmd.append("--setopt=gpgcheck=%d" % (1 if self.gpg_keys else 0))
        return cmd + ["install"] + (self.packages or ["basesystem"])


class ApkBuilder(Builder):
    """Alpine with apk --root --initdb (apk-tools' static binary works on any host)."""

    method = "apk"
    program = "apk"
    install_hint = "Install apk-tools (a static apk from Alpine's apk-tools-static package works on any host)."
    attempts = 3
    backoff = 5

    def __init__(self, repos, packages=None):
        if not repos:
            raise InvalidOption("repos", repos, "apk needs repository URLs such as https://dl-cdn.alpinelinux.org/alpine/v3.20/main")
        for url in repos:
            if not _MIRROR.match(url):
                raise InvalidOption("repos", url, "must be an http(s):// or file:// URL")
        packages = sorted(set(packages or []) | set(["alpine-base"]))
        for package in packages:
            if not _PACKAGE.match(package):
                raise InvalidOption("packages", package, "is not an Alpine package name")
        self.repos, self.packages = list(repos), packages

    def options(self):
        return {"method": self.method, "repos": self.repos, "packages": self.packages}

    def command(self, target):
        cmd = ["apk", "--root", target, "--initdb", "--update-cache", "--allow-untrusted", "--no-progress"]
        for url in self.repos:
            cmd += ["--repository", url]
        return cmd + ["add"] + self.packages


def make_builder(params):
    """The builder for module parameters (method and its options)."""
    method = params.get("method") or "debootstrap"
    if method == "debootstrap":
        return DebootstrapBuilder(params.get("release"), params.get("mirror"),
                                  params.get("variant") if params.get("variant") is not None else "minbase",
                                  params.get("packages"))
    if method == "tarball":
        return TarballBuilder(params.get("src"))
    if method == "dnf":
        return DnfBuilder(params.get("release"), params.get("repos"), params.get("packages"), params.get("gpg_keys"))
    if method == "apk":
        return ApkBuilder(params.get("repos"), params.get("packages"))
    raise InvalidOption("method", method, "must be one of debootstrap, tarball, dnf, apk")


def _empty(path):
    unmount_tree(path)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
