#!/usr/bin/env bash
# The inventory plugin on real partitions made by the partition module: hosts, default, composed and keyed groups,
# host variables, the states filter, a name in two state directories (refused, then prefixed), the listing changing
# nothing, the partition connection reaching what it lists (raw: the template has no Python), and this host as a
# VPS host reached with the ssh client (an sshd of the test's own, from the template: this host has none), listed
# by one command whose SSH master the connection then shares. Everything made is removed on exit, failed or not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../setup_test_sshd/files/test_sshd.sh
. "$here/../setup_test_sshd/files/test_sshd.sh"
files=$here/files
state=/var/tmp/linuxvps-test
second=/var/tmp/linuxvps-test-inventory
work=$(mktemp -d /var/tmp/lvp-inventory-test.XXXXXX)
export ANSIBLE_ROLES_PATH=$here/..
# A source the plugin refuses fails the command instead of leaving an empty inventory with a warning.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true
play=(ansible-playbook -i "$files/localhost.yml" -e "inventory_second_state_dir=$second" -e "inventory_tarball=$work/template.tar")

sshd_pid=
cleanup() {
  rc=$?
  # the SSH masters end with their connection to this sshd
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; fi
  if ! "${play[@]}" "$files/teardown.yml" > "$work/teardown.log" 2>&1; then
    cat "$work/teardown.log"; echo "FAIL: teardown"; rc=1
  fi
  if grep -q " $second/" /proc/self/mountinfo; then
    echo "FAIL: mounts left under $second (not removed)"; rc=1
  else
    rm -rf "$second"
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# ansible-inventory --list of files/<name>.linuxvps.yml (or of the config path given second) into $work/<name>.json
list() {
  local name=$1 config=${2:-$files/$1.linuxvps.yml}
  ansible-inventory -i "$config" --list > "$work/$name.json" 2> "$work/$name.err" || {
    cat "$work/$name.err"; echo "FAIL: ansible-inventory -i $config"; exit 1; }
}
check() { python3 "$files/check.py" "$@"; }
# raw `cat /etc/hostname` through the connection on the pattern's hosts: each must answer with its own name
reach() {
  local config=$1 pattern=$2 name
  shift 2
  ansible -i "$config" "$pattern" -m ansible.builtin.raw -a 'cat /etc/hostname' > "$work/raw.log" 2>&1 || {
    cat "$work/raw.log"; echo "FAIL: raw through the connection ($config)"; exit 1; }
  for name in "$@"; do
    grep -A1 "^$name | CHANGED | rc=0" "$work/raw.log" | grep -qx "$name" || { cat "$work/raw.log"; echo "FAIL: $name not reached"; exit 1; }
  done
}

echo "== partitions made by the module"
mkdir -p "$second"
"${play[@]}" "$files/make.yml" > "$work/make.log" 2>&1 || { cat "$work/make.log"; exit 1; }
# make.yml built or reused the template; the second state directory's copy comes from this tarball
[ -s "$work/template.tar" ] || { echo "FAIL: no template tarball"; exit 1; }

echo "== running partitions: hosts, groups, variables; the listing writes nothing"
touch "$work/marker"
sleep 1
list running
check running "$work/running.json"
written=$(find "$state" -newer "$work/marker" -print)
[ -z "$written" ] || { echo "FAIL: listing wrote to the state directory:"; echo "$written"; exit 1; }

echo "== every state when asked"
list all_states
check all_states "$work/all_states.json"

echo "== a name in two state directories: refused naming both"
if ansible-inventory -i "$files/duplicate.linuxvps.yml" --list > "$work/duplicate.json" 2> "$work/duplicate.err"; then
  cat "$work/duplicate.json"; echo "FAIL: a duplicate partition name was accepted"; exit 1
fi
tr -s ' \n' ' ' < "$work/duplicate.err" > "$work/duplicate.flat"
for part in "lvinv-web1" "alpha (state_dir $state)" "beta (state_dir $second)" "prefix_host_names"; do
  grep -qF -- "$part" "$work/duplicate.flat" || { cat "$work/duplicate.err"; echo "FAIL: the error does not name: $part"; exit 1; }
done

echo "== the same, names prefixed by the host"
list prefixed
check prefixed "$work/prefixed.json"

echo "== the partition connection reaches each running partition listed"
reach "$files/running.linuxvps.yml" 'lvinv-*' lvinv-web1 lvinv-web2

echo "== this host as a remote VPS host over ssh (an sshd of the test's own): one command lists every partition"
sshd_dir=$work/sshd
port=22914
# each command a client asks for is logged, then run as asked: the log counts the commands run on the "VPS host"
start_test_sshd "$sshd_dir" "$state/rootfs/debian12/rootfs" "$port" "ForceCommand $files/logged_command.sh $sshd_dir/commands"
cat > "$work/remote.linuxvps.yml" <<CONFIG
plugin: linuxvps.partitions.partitions
hosts:
  - name: vps-remote
    address: 127.0.0.1
    user: root
    port: $port
    private_key_file: $sshd_dir/id
    ssh_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    state_dir: $state
states: [running, stopped, frozen]
CONFIG
list remote "$work/remote.linuxvps.yml"
check remote "$work/remote.json" "$work/all_states.json" "$port" "$sshd_dir/id"
grep -qx "python3 - $state running stopped frozen" "$sshd_dir/commands" || {
  cat "$sshd_dir/commands"; echo "FAIL: the remote command line"; exit 1; }
[ "$(wc -l < "$sshd_dir/commands")" = 1 ] || { cat "$sshd_dir/commands"; echo "FAIL: more than one command listed the VPS host"; exit 1; }

echo "== the connection reaches them over the inventory's SSH master"
reach "$work/remote.linuxvps.yml" 'lvinv-web*' lvinv-web1 lvinv-web2
logins=$(grep -c 'Accepted publickey' "$sshd_dir/log" || true)
[ "$logins" = 1 ] || { cat "$sshd_dir/log"; echo "FAIL: $logins SSH logins, expected one master for the inventory and the play"; exit 1; }

echo "ok"
