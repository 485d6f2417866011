#!/usr/bin/env bash
# The partition connection end to end on this host: partitions made by the module, then reached with
# linuxvps.partitions.partition (raw without Python, ping, command, a 50 MB copy and fetch, template, user, become
# with sudo and su, the partition's cgroup and pids limit, stopped/frozen/absent partitions unreachable), with
# pipelining off and on, and once more with this host as a remote VPS host (linuxvps_host=127.0.0.1 over ssh, to an
# sshd of the test's own: one SSH login serves every partition and task). Nothing of the transfers is left on the host.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../setup_test_sshd/files/test_sshd.sh
. "$here/../setup_test_sshd/files/test_sshd.sh"
export ANSIBLE_ROLES_PATH="$here/.."
inv=(-i "$here/files/inventory.yml")
state=/var/tmp/linuxvps-test
work=$(mktemp -d /var/tmp/lvp-cx-work.XXXXXX)
log="$work/log"

sshd_pid=
cleanup() {
  ansible-playbook "${inv[@]}" "$here/files/cleanup.yml" >/dev/null 2>&1 || true
  # the plugin's SSH master ends with its connection to this sshd
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

run() { ansible-playbook "${inv[@]}" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }; grep -E '^(localhost|cx-[a-z]+) +:' "$log" || true; }

echo "== partitions"
run "$here/files/setup.yml"
head -c 52428800 /dev/urandom > "$work/big.bin"
marker="$work/marker"
touch "$marker"

for pipelining in False True; do
  echo "== reach them, pipelining $pipelining"
  ANSIBLE_PIPELINING=$pipelining run -vvv "$here/files/reach.yml" -e "cx_work=$work"
  grep -qE 'cx-[a-z]+ +: ok=[0-9]+ .*failed=0' "$log" || { cat "$log"; echo "FAIL: no partition ran the play"; exit 1; }
  if grep -E '(cx-a|cx-b|cx-nopy) +:.*(unreachable|failed)=[1-9]' "$log"; then cat "$log"; echo "FAIL: a running partition failed"; exit 1; fi
  for host in cx-stopped cx-frozen cx-absent cx-alias; do
    grep -qE "^$host +:.*unreachable=0 +failed=0 .*ignored=1" "$log" || { cat "$log"; echo "FAIL: $host was not unreachable (ignored) and checked"; exit 1; }
  done
  # A module that is not pipelined is put into the partition first; a pipelined one never is. (command is left
  # out: its su task is never pipelined, Ansible's su become plugin cannot.)
  modules_put=$(grep -cE '> PUT .*AnsiballZ_(ping|stat|copy|user|file)\.py' "$log" || true)
  if [ "$pipelining" = True ] && [ "$modules_put" != 0 ]; then echo "FAIL: pipelining on, yet $modules_put modules were put"; exit 1; fi
  if [ "$pipelining" = False ] && [ "$modules_put" = 0 ]; then echo "FAIL: pipelining off, yet no module was put (the check cannot see)"; exit 1; fi
  echo "modules put: $modules_put"
done

echo "== this host as a remote VPS host, over ssh"
sshd_dir="$work/sshd"
port=22913
start_test_sshd "$sshd_dir" "$state/rootfs/debian12-python/rootfs" "$port" "MaxSessions 100" "MaxStartups 100:30:200"
remote=(-e linuxvps_host=127.0.0.1 -e "linuxvps_host_port=$port" -e "linuxvps_host_private_key_file=$sshd_dir/id"
        -e "linuxvps_host_ssh_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'")
ANSIBLE_PIPELINING=True run "$here/files/reach.yml" -e "cx_work=$work" "${remote[@]}"
if grep -E '(cx-a|cx-b|cx-nopy) +:.*(unreachable|failed)=[1-9]' "$log"; then cat "$log"; echo "FAIL: a running partition failed over ssh"; exit 1; fi
for host in cx-stopped cx-frozen cx-absent cx-alias; do
  grep -qE "^$host +:.*unreachable=0 +failed=0 .*ignored=1" "$log" || { cat "$log"; echo "FAIL: $host was not unreachable (ignored) and checked over ssh"; exit 1; }
done
logins=$(grep -c 'Accepted publickey' "$sshd_dir/log" || true)
echo "ssh logins: $logins for the whole play (3 running partitions, 4 unreachable)"
[ "$logins" = 1 ] || { cat "$sshd_dir/log"; echo "FAIL: $logins SSH logins, not one shared master"; exit 1; }

echo "== nothing of the transfers is left on the host"
# Any copy of the random file outside the partitions' own trees and this test's directory would be a leftover
# (a staging file of put or fetch). Control: the check finds the test's own copy.
leaks() {
  find /tmp /var/tmp /root /run /dev/shm -xdev -type f -size 52428800c -newer "$marker" \
       -not -path "$state/partitions/cx-*" -print0 2>/dev/null \
    | xargs -0 -r sha256sum | grep -F "$(sha256sum < "$work/big.bin" | cut -d' ' -f1)" || true
}
leaks | grep -qF "$work/fetched/cx-a.bin" || { echo "FAIL: control: the leak check does not see the fetched copy"; exit 1; }
left=$(leaks | grep -vF "$work/" || true)
[ -z "$left" ] || { echo "FAIL: left on the host: $left"; exit 1; }
echo "== all passed"
