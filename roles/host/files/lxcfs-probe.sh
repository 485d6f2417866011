#!/bin/sh
# What the host role needs to know about lxcfs (binary $2), as JSON: whether it is mounted at $1 and serves, its
# command line, and how many mounts of its files other mount namespaces (containers) hold.
set -u
root=${1:-/var/lib/lxcfs}
binary=${2:-/usr/bin/lxcfs}
mounted=false
serving=false
command=""
# from the mount table, not mountpoint(1): a dead daemon's mount stays, and a stat of it fails (ENOTCONN)
if findmnt -rn --mountpoint "$root" -t fuse.lxcfs > /dev/null 2>&1; then
    mounted=true
    # a hung daemon must not hang the role
    if timeout 5 head -c 9 "$root/proc/meminfo" 2>/dev/null | grep -q '^MemTotal:'; then
        serving=true
    fi
fi
# lxcfs writes /run/lxcfs.pid itself, whoever started it; a killed one leaves it, and its pid may be reused
if [ -r /run/lxcfs.pid ]; then
    pid=$(cat /run/lxcfs.pid)
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$binary" ]; then
        command=$(tr '\0' ' ' < "/proc/$pid/cmdline" | sed 's/ $//')
    fi
fi
# lxcfs's files seen anywhere but at its own mount point: a container has them bound over its /proc
users=$(cat /proc/[0-9]*/mountinfo 2>/dev/null | awk -v root="$root" '/ - fuse\.lxcfs / && $5 != root { n++ } END { print n + 0 }')
printf '{"mounted": %s, "serving": %s, "command": "%s", "users": %s}\n' "$mounted" "$serving" "$command" "$users"
