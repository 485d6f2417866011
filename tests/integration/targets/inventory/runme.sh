#!/usr/bin/env bash
# The inventory plugin on real partitions made by the partition module: hosts, default, composed and keyed groups,
# host variables, the states filter, a name in two state directories (refused, then prefixed), a VPS host reached
# with the ssh client (a stand-in that runs the command here: this host has no sshd), and the listing changing
# nothing. Everything made is removed on exit, failed or not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
files=$here/files
state=/var/tmp/linuxvps-test
second=/var/tmp/linuxvps-test-inventory
work=$(mktemp -d /var/tmp/lvp-inventory-test.XXXXXX)
export ANSIBLE_ROLES_PATH=$here/..
# A source the plugin refuses fails the command instead of leaving an empty inventory with a warning.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true
play=(ansible-playbook -i "$files/localhost.yml" -e "inventory_second_state_dir=$second" -e "inventory_tarball=$work/template.tar")

cleanup() {
  rc=$?
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

# ansible-inventory --list of config into $work/<name>.json; its stderr in $work/<name>.err
list() {
  ansible-inventory -i "$files/$1.linuxvps.yml" --list > "$work/$1.json" 2> "$work/$1.err" || {
    cat "$work/$1.err"; echo "FAIL: ansible-inventory -i $1.linuxvps.yml"; exit 1; }
}
check() { python3 "$files/check.py" "$@"; }

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

echo "== a VPS host over ssh: one command lists every partition"
mkdir -p "$work/bin"
cat > "$work/bin/ssh" <<'EOF'
#!/bin/sh
# ssh stand-in: logs its arguments, then runs the remote command line on this host with a bare environment
# (the system's python3, no Ansible, no collection on its path), as a VPS host would.
printf '%s\n' "$*" >> "$LVP_SSH_LOG"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
[ $# -ge 2 ] || exit 1
shift 2
[ $# -eq 0 ] && exit 0  # the shared master (-N -f): nothing to run
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root sh -c "$1"
EOF
chmod +x "$work/bin/ssh"
export LVP_SSH_LOG=$work/ssh.log
PATH=$work/bin:$PATH list remote
check remote "$work/remote.json" "$work/all_states.json"
commands=$(grep -c -- ' -T -- vps-standin.invalid ' "$LVP_SSH_LOG" || true)
[ "$commands" = 1 ] || { cat "$LVP_SSH_LOG"; echo "FAIL: $commands commands ran on the VPS host, expected 1"; exit 1; }
grep -q -- "-T -- vps-standin.invalid python3 - $state running stopped frozen" "$LVP_SSH_LOG" || {
  cat "$LVP_SSH_LOG"; echo "FAIL: the remote command line"; exit 1; }
for option in "-p 2222" "-l root" "-o StrictHostKeyChecking=no"; do
  grep -qF -- "$option" "$LVP_SSH_LOG" || { cat "$LVP_SSH_LOG"; echo "FAIL: ssh was not given $option"; exit 1; }
done

echo "ok"
