#!/bin/sh
# An sshd for the remote-host round, on 127.0.0.1 only. This host has no openssh-server, so the one of the Python
# test template runs, in a mount namespace of its own (unshare -m): there, a copy of /etc/passwd with the
# privilege-separation user sshd and a tmpfs /run with /run/sshd; the host's files stay as they are. The
# partition commands of its sessions reach the partitions' runtime state, which is outside /run.
# Usage: unshare -m sshd_in_namespace.sh <work dir> <template rootfs>; the work dir has sshd_config, passwd and lib/.
set -eu
work=$1
rootfs=$2
mount --make-rprivate /
mount --bind "$work/passwd" /etc/passwd
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
LD_LIBRARY_PATH="$work/lib" exec "$rootfs/usr/sbin/sshd" -D -e -f "$work/sshd_config"
