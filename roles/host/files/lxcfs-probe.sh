#!/bin/sh
# What the host role needs to know about lxcfs, as JSON: whether it is mounted at $1 and serves, its command
# line, and how many mounts of its files other mount namespaces (containers) hold.
set -u
root=${1:-/var/lib/lxcfs}
mounted=false
serving=false
command=""
if mountpoint -q "$root"; then
    mounted=true
    # a dead daemon's mount stays, and reading it fails (ENOTCONN); a hung one must not hang the role
    if timeout 5 head -c 9 "$root/proc/meminfo" 2>/dev/null | grep -q '^MemTotal:'; then
        serving=true
    fi
fi
# lxcfs writes /run/lxcfs.pid itself, whoever started it
if [ -r /run/lxcfs.pid ]; then
    pid=$(cat /run/lxcfs.pid)
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
        command=$(tr '\0' ' ' < "/proc/$pid/cmdline" | sed 's/ $//')
    fi
fi
# lxcfs's files seen anywhere but at its own mount point: a container has them bound over its /proc
users=$(cat /proc/[0-9]*/mountinfo 2>/dev/null | awk -v root="$root" '/ - fuse\.lxcfs / && $5 != root { n++ } END { print n + 0 }')
printf '{"mounted": %s, "serving": %s, "command": "%s", "users": %s}\n' "$mounted" "$serving" "$command" "$users"
