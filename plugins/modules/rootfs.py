#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rootfs
short_description: Build and remove rootfs templates that Linux VPS partitions are cloned from
version_added: 0.1.0
description:
  - Builds a root filesystem template with debootstrap, dnf or apk, or from a tarball, and records a manifest
    (distro, release, arch, packages, init, creation time).
  - Every source is verified. debootstrap checks the archive's Release file with the distro's keyring
    (C(/usr/share/keyrings/debian-archive-keyring.gpg), or C(ubuntu-archive-keyring.gpg) for Ubuntu releases and archives),
    dnf and apk check package signatures with O(gpg_keys), and a tarball from a URL must match O(checksum).
  - Partitions (M(linuxvps.partitions.partition)) use the template as the read-only lower layer of their overlay,
    so a template is never changed under them. A template in use cannot be removed or rebuilt.
  - The tree is built in a staging directory and renamed into place, so a failed or killed build leaves no
    half template. Transient download failures of debootstrap are retried.
  - Anything unique per machine is removed from the tree (machine-id emptied, SSH host keys deleted and made by
    each partition at its first start).
author:
  - linuxvps.partitions contributors (@linuxvps)
extends_documentation_fragment:
  - linuxvps.partitions.attributes
  - linuxvps.partitions.state
attributes:
  check_mode:
    support: full
    details: Reports whether a build or removal would happen, and does neither.
  diff_mode:
    support: full
    details: Shows the manifest before and after, headed with the template's name.
options:
  name:
    description: Name of the template (V(a-z), V(0-9), V(.), V(-); at most 63 characters), e.g. V(debian12).
    type: str
    required: true
  state:
    description: Whether the template exists.
    type: str
    choices: [present, absent]
    default: present
  method:
    description:
      - How the tree is made. V(debootstrap) for Debian and Ubuntu, V(dnf) (C(dnf --installroot)) for the RPM family,
        V(apk) (C(apk --root --initdb)) for Alpine, V(tarball) for any tree packed elsewhere.
    type: str
    choices: [debootstrap, tarball, dnf, apk]
    default: debootstrap
  release:
    description:
      - Distribution codename for debootstrap, e.g. V(bookworm) or V(noble); the release version for dnf
        (C(--releasever)), e.g. V(9) or V(41). Required with those methods.
    type: str
  repos:
    description: Repository URLs for O(method=dnf) and O(method=apk); only these are used.
    type: list
    elements: str
  gpg_keys:
    description:
      - The keys that sign the O(repos). Required with O(method=dnf) and O(method=apk); signature checks cannot be turned off.
      - For O(method=dnf), URLs (V(https://), V(file://)) of the distro's GPG keys, e.g. V(https://dl.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-9).
      - For O(method=apk), absolute paths on the target of the distro's C(*.rsa.pub) keys, or of a directory of them such as V(/etc/apk/keys)
        (Alpine's C(alpine-keys) package ships them).
    type: list
    elements: str
  mirror:
    description: Archive URL for O(method=debootstrap).
    type: str
    default: http://deb.debian.org/debian
  variant:
    description: Debootstrap variant.
    type: str
    default: minbase
  packages:
    description:
      - Extra packages, e.g. V(systemd-sysv) and V(openssh-server) (debootstrap's C(--include)); for dnf the packages
        to install; for apk packages besides C(alpine-base).
    type: list
    elements: str
    default: []
  src:
    description:
      - A rootfs tarball (C(.tar), C(.tar.gz), C(.tar.xz), C(.tar.zst)) for O(method=tarball), which requires it.
      - Either an absolute path on the target, or an V(http://) or V(https://) URL, which requires O(checksum).
    type: str
  checksum:
    description:
      - Checksum of the O(src) tarball, spelled as M(ansible.builtin.get_url) spells it, C(<algorithm>:<hex digest>),
        e.g. V(sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08).
        The algorithm is one of V(sha1), V(sha224), V(sha256), V(sha384) or V(sha512).
      - Required when O(src) is a URL. The download is streamed into the state directory's staging area (at most 8 GiB),
        verified, and only then extracted; a mismatch fails, naming the expected and actual digests, and leaves nothing.
      - A local O(src) is verified too when O(checksum) is given.
      - Recorded in the template's manifest.
    type: str
  force:
    description:
      - Rebuild the template even though it exists. Refused while partitions use it.
      - Without it, a template built with other options is kept and a warning says so.
    type: bool
    default: false
requirements:
  - debootstrap on the target for O(method=debootstrap)
  - tar on the target for O(method=tarball)
  - dnf on the target for O(method=dnf), apk for O(method=apk)
  - the distro's archive keyring on the target for O(method=debootstrap) (package C(debian-archive-keyring), C(ubuntu-keyring) for Ubuntu)
seealso:
  - module: linuxvps.partitions.partition
"""

EXAMPLES = r"""
- name: Debian 12 with systemd and SSH
  linuxvps.partitions.rootfs:
    name: debian12
    release: bookworm
    packages: [systemd-sysv, dbus, openssh-server, iproute2]

- name: Ubuntu 24.04 from its own archive
  linuxvps.partitions.rootfs:
    name: ubuntu2404
    release: noble
    mirror: http://archive.ubuntu.com/ubuntu

- name: A template from a tarball already on the host
  linuxvps.partitions.rootfs:
    name: alpine
    method: tarball
    src: /srv/images/alpine-minirootfs.tar.gz

- name: A template from a tarball downloaded and checked against its published digest
  linuxvps.partitions.rootfs:
    name: alpine320
    method: tarball
    src: https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz
    checksum: "sha256:{{ alpine_minirootfs_sha256 }}"

- name: Alpine from its repositories, trusting the keys of the host's /etc/apk/keys
  linuxvps.partitions.rootfs:
    name: alpine320-apk
    method: apk
    repos: [https://dl-cdn.alpinelinux.org/alpine/v3.20/main]
    gpg_keys: [/etc/apk/keys]

- name: Remove a template no partition uses
  linuxvps.partitions.rootfs:
    name: ubuntu2404
    state: absent
"""

RETURN = r"""
rootfs:
  description: The template's manifest (in check mode, the options it would be built with). Null when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Template name.
      type: str
    method:
      description: V(debootstrap), V(tarball), V(dnf) or V(apk).
      type: str
    distro:
      description: C(ID) from the tree's os-release.
      type: str
      sample: debian
    release:
      description: C(VERSION_ID) (or the codename) from the tree's os-release.
      type: str
      sample: "12"
    codename:
      description: C(VERSION_CODENAME) from the tree's os-release.
      type: str
      sample: bookworm
    arch:
      description: Architecture of the tree as its package manager records it (dpkg, apk), else the host's.
      type: str
      sample: amd64
    packages:
      description: Extra packages requested.
      type: list
      elements: str
    init:
      description: The program C(/sbin/init) leads to inside the tree, null when there is none.
      type: str
      sample: /usr/lib/systemd/systemd
    created:
      description: UTC time the tree was built.
      type: str
    size_bytes:
      description: Disk space the tree takes.
      type: int
    mirror:
      description: Archive URL, for O(method=debootstrap).
      type: str
      sample: http://deb.debian.org/debian
    variant:
      description: Debootstrap variant, for O(method=debootstrap).
      type: str
      sample: minbase
    src:
      description: The tarball's path or URL, for O(method=tarball).
      type: str
    checksum:
      description: The tarball's checksum (C(<algorithm>:<hex digest>)) it was verified against, when O(checksum) was given.
      type: str
      sample: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    pretty_name:
      description: C(PRETTY_NAME) from the tree's os-release.
      type: str
      sample: Debian GNU/Linux 12 (bookworm)
    source:
      description: Digest of the build options; a differing one means the template was built otherwise.
      type: str
    options:
      description: The build options.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.linuxvps.partitions.plugins.module_utils.builders import DEFAULT_MIRROR
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import recover_pending
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import emit_warnings, run_engine
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import STATE_DIR_ARGSPEC, StateStore
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import TemplateStore


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            method=dict(type="str", default="debootstrap", choices=["debootstrap", "tarball", "dnf", "apk"]),
            release=dict(type="str"),
            mirror=dict(type="str", default=DEFAULT_MIRROR),
            variant=dict(type="str", default="minbase"),
            packages=dict(type="list", elements="str", default=[]),
            repos=dict(type="list", elements="str"),
            gpg_keys=dict(type="list", elements="str", no_log=False),
            src=dict(type="str"),
            checksum=dict(type="str", no_log=False),
            force=dict(type="bool", default=False),
            **STATE_DIR_ARGSPEC
        ),
        required_if=[("method", "tarball", ["src"]), ("method", "dnf", ["release", "repos", "gpg_keys"]), ("method", "apk", ["repos", "gpg_keys"])],
        supports_check_mode=True,
    )

    def work():
        recovered = recover_pending(module.params["state_dir"], module.check_mode)
        store = TemplateStore(StateStore(module.params["state_dir"]), run_command=module.run_command)
        changed, manifest, warnings, diff = store.converge(module.params, module.check_mode)
        return changed, manifest, recovered + warnings, diff

    changed, manifest, warnings, diff = run_engine(module, work)
    emit_warnings(module, warnings)
    result = dict(changed=changed, rootfs=manifest)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
