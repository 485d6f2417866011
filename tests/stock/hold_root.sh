#!/bin/sh
# Run by stock_debian.sh under `unshare --mount --propagation private`: makes ROOT the root of this mount
# namespace (proc, the host's sys and dev, a fresh /run), then holds the namespace until killed.
set -e
root=$1
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir -p "$root/.host"
cd "$root"
pivot_root . .host
umount -l /.host
rmdir /.host
touch /run/.ready
exec sleep infinity
