#!/bin/sh
# Attack battery, run inside a partition as its root. Every attempt must fail: prints "attempt|outcome".
# $1: host sentinel PID, $2: host sentinel file, $3: neighbour's host upper dir
sentinel_pid=$1; sentinel_file=$2; neighbour=$3
try() {  # name, command: "blocked" when the command fails, "ESCAPED" when it succeeds
  if sh -c "$2" >/dev/null 2>&1; then echo "$1|ESCAPED"; else echo "$1|blocked"; fi
}
# perl-base is in every Debian template: raw syscalls by x86_64 number, success = return value >= 0
sys() { perl -e "\$r = syscall($1); exit(\$r >= 0 ? 0 : 1)"; }
try "mknod a block device and read it" "mknod /tmp/blk b 8 0 && head -c 1 /tmp/blk | grep -q ."
try "mount a host block device" "mkdir -p /tmp/m && mount -t ext4 /dev/vda /tmp/m"
try "load a kernel module (init_module)" "sys '175, 0, 0, 0'"
try "load a kernel module (finit_module)" "sys '313, 0, 0, 0'"
try "open_by_handle_at" "sys '304, 3, 0, 0'"
try "set the host clock" "date -s \"\$(date)\""
try "write a host sysctl" "cat /proc/sys/kernel/dmesg_restrict > /tmp/v && cat /tmp/v > /proc/sys/kernel/dmesg_restrict"
try "write /proc/sysrq-trigger" "echo h > /proc/sysrq-trigger"
try "read /proc/kcore" "head -c 16 /proc/kcore | grep -q ."
try "see a host process" "test -e /proc/$sentinel_pid"
try "signal a host process" "kill -0 $sentinel_pid"
try "ptrace a host process" "sys '101, 16, $sentinel_pid, 0, 0'"
try "read a host file outside the rootfs" "cat $sentinel_file"
try "read the neighbour's files" "cat $neighbour/root/neighbour-secret"
try "raise its own pids limit" "echo max > /sys/fs/cgroup/pids/pids.max && grep -qx max /sys/fs/cgroup/pids/pids.max"
try "raise its own memory limit" "echo 8589934592 > /sys/fs/cgroup/memory/memory.limit_in_bytes"
try "move itself out of its cgroup" "echo \$\$ > /sys/fs/cgroup/pids/../cgroup.procs"
try "load a BPF program" "sys '321, 5, 0, 0'"
try "use the kernel keyring" "sys '250, 0, 0, 0'"
