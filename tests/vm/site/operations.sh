#!/usr/bin/env bash
# Hosting operations between the CI box (cgroup v1, no systemd as PID 1) and the systemd + cgroup v2 VM, called by
# scenario.sh: move.yml takes a running partition (limits, a bridged and a routed address, a file) from the CI box
# to the VM and back; a backup made on the CI box is restored on the VM under a new name and boots with its limits
# and files; a snapshot of it on the VM is taken, the partition changed, and the snapshot restored.
# Needs INVENTORY (the VM's) and the collection on ANSIBLE_COLLECTIONS_PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${INVENTORY:?INVENTORY must name the VM inventory}"
ci_state=/var/tmp/linuxvps-ops-ci
tarball=/srv/linuxvps/debian12-systemd.tar.gz
ops_dir=$(mktemp -d)
log="$ops_dir/log"
ci_runc=(runc --root "$ci_state/runc")
vm_runc="crun --root /var/lib/linuxvps/crun"  # runtime: auto's choice on the VM (scenario.sh checks it)
content="moved $(date +%s%N)"
made_srv=no
[ -e /srv/linuxvps ] || made_srv=yes
cat > "$ops_dir/ci.yml" <<INV
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
      move_state_dir: $ci_state
INV
inv=(-i "$INVENTORY" -i "$ops_dir/ci.yml")
run_dir=$(dirname "$INVENTORY")
vm_ssh=(ssh -i "$(cat "$run_dir/key")" -p "$(cat "$run_dir/port")" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ControlPath="$ops_dir/vm")
on_vm() {
  [ -S "$ops_dir/vm" ] || "${vm_ssh[@]}" -o ControlMaster=yes -o ControlPersist=600 -fN root@127.0.0.1 \
    </dev/null >/dev/null 2>&1 || true
  "${vm_ssh[@]}" -o ControlMaster=no root@127.0.0.1 "$@"
}

cleanup() {
  set +e
  for part in ops-web ops-copy; do
    ansible "${inv[@]}" lvvm -m linuxvps.partitions.partition -a "name=$part state=absent" >/dev/null 2>&1
    ansible "${inv[@]}" localhost -m linuxvps.partitions.partition -a "name=$part state=absent state_dir=$ci_state" >/dev/null 2>&1
  done
  ansible "${inv[@]}" lvvm -m linuxvps.partitions.network -a "name=lvops0 state=absent force=true" >/dev/null 2>&1
  ansible "${inv[@]}" localhost -m linuxvps.partitions.network -a "name=lvops0 state=absent force=true state_dir=$ci_state" >/dev/null 2>&1
  on_vm rm -rf /var/tmp/ops-web.tar.zst /var/tmp/linuxvps-move
  rm -rf "$ci_state" /var/tmp/linuxvps-move
  [ "$made_srv" = no ] || rm -rf /srv/linuxvps
  [ -S "$ops_dir/vm" ] && ssh -o ControlPath="$ops_dir/vm" -O exit lvvm 2>/dev/null
  rm -rf "$ops_dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
run() {  # ansible-playbook with both hosts' inventory; its recap lines and time
  local started=$SECONDS
  ansible-playbook "${inv[@]}" "$@" > "$log" 2>&1 || { cat "$log"; fail "ansible-playbook $*"; }
  grep -E '^(localhost|lvvm) +:' "$log" || true
  echo "   ($((SECONDS - started)) s)"
}
module() {  # host module args: one module call, its JSON result on stdout
  # said on stderr: a caller's pipe or $(...) would swallow stdout
  ansible "${inv[@]}" "$1" -m "linuxvps.partitions.$2" -a "$3" -o > "$log" 2>&1 || { cat "$log" >&2; fail "$2 $3 on $1" >&2; }
  grep ' => {' "$log" | tail -n 1 | sed 's/^[^{]*//'  # not the warnings around it
}
vm_cgroup() { on_vm cat "/sys/fs/cgroup/linuxvps.slice/linuxvps-ops.slice/linuxvps-$1.service/partition/$2"; }
ci_cgroup() {
  local cgroup
  cgroup=$(module localhost partition_info "name=$1 state_dir=$ci_state" | python3 -c 'import json, sys; print(json.load(sys.stdin)["partitions"][0]["cgroup"])')
  cat "/sys/fs/cgroup/$2$cgroup/$3"
}
vm_booted() {
  local state
  for _ in $(seq 120); do
    state=$(on_vm "$vm_runc exec $1 systemctl is-system-running" 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  fail "$1 on the VM: init reports '${state:-nothing}' after 120 s"
}
on_vm_only() {  # $1 runs on the VM, nowhere on the CI box
  [ "$(on_vm systemctl is-active "linuxvps-$1.service" || true)" = active ] || fail "$1's unit is not active on the VM"
  if "${ci_runc[@]}" state "$1" >/dev/null 2>&1 || [ -e "$ci_state/partitions/$1" ]; then fail "$1 is left on the CI box"; fi
}
on_ci_only() {
  "${ci_runc[@]}" state "$1" 2>/dev/null | grep -q '"status": "running"' || fail "$1 does not run on the CI box"
  [ "$(on_vm "test -e /var/lib/linuxvps/partitions/$1 && echo left || echo gone")" = gone ] || fail "$1 is left on the VM"
}

echo "== operations: the VM's template tarball at the same path on the CI box, same size and time (same source digest)"
if [ "$(stat -c %s:%Y $tarball 2>/dev/null || true)" != "$(on_vm stat -c %s:%Y $tarball)" ]; then
  mkdir -p /srv/linuxvps
  on_vm cat $tarball > $tarball.partial
  mv $tarball.partial $tarball
  touch -d "@$(on_vm stat -c %Y $tarball)" $tarball
fi
run "$here/operations_setup.yml" -e move_state_dir=$ci_state
"${ci_runc[@]}" exec ops-web sh -c "echo '$content' > /root/moved.txt"
ping -c 1 -W 5 10.213.173.10 >/dev/null || fail "control: ops-web does not answer on the CI box's bridge"
ping -c 1 -W 5 10.213.174.10 >/dev/null || fail "control: ops-web does not answer on its routed address on the CI box"

echo "== move.yml: ops-web from the CI box (cgroup v1) to the VM (systemd, cgroup v2)"
run linuxvps.partitions.move -e move_partition=ops-web -e move_from=localhost -e move_to=lvvm
grep -o 'ops-web moved from [^"]*' "$log" | head -1
grep -q 'ops-web moved from localhost to lvvm; downtime [0-9.]* s' "$log" || fail "no downtime reported"
on_vm_only ops-web
vm_booted ops-web
expect "ops-web's file on the VM" "$(on_vm "$vm_runc exec ops-web cat /root/moved.txt")" "$content"
expect "ops-web memory.max on the VM" "$(vm_cgroup ops-web memory.max)" 167772160
expect "ops-web pids.max on the VM" "$(vm_cgroup ops-web pids.max)" 150
expect "ops-web cpu.max on the VM" "$(vm_cgroup ops-web cpu.max)" "50000 100000"
on_vm ping -c 1 -W 5 10.213.173.10 >/dev/null || fail "ops-web does not answer on the VM's lvops0"
on_vm ping -c 1 -W 5 10.213.174.10 >/dev/null || fail "ops-web's routed address does not answer on the VM"

echo "== move.yml: ops-web back to the CI box"
run linuxvps.partitions.move -e move_partition=ops-web -e move_from=lvvm -e move_to=localhost
grep -o 'ops-web moved from [^"]*' "$log" | head -1
on_ci_only ops-web
expect "ops-web's file on the CI box" "$("${ci_runc[@]}" exec ops-web cat /root/moved.txt)" "$content"
expect "ops-web memory limit on the CI box" "$(ci_cgroup ops-web memory memory.limit_in_bytes)" 167772160
expect "ops-web pids.max on the CI box" "$(ci_cgroup ops-web pids pids.max)" 150
expect "ops-web CPU quota on the CI box" "$(ci_cgroup ops-web cpu cpu.cfs_quota_us)" 50000
ping -c 1 -W 5 10.213.173.10 >/dev/null || fail "ops-web does not answer on the CI box's bridge after the moves"
ping -c 1 -W 5 10.213.174.10 >/dev/null || fail "ops-web's routed address does not answer on the CI box after the moves"

echo "== a backup made on the CI box, restored on the VM as ops-copy, boots with its limits and files"
module localhost backup "partition=ops-web path=$ops_dir/ops-web.tar.zst state_dir=$ci_state" >/dev/null
ansible "${inv[@]}" lvvm -m ansible.builtin.copy -a "src=$ops_dir/ops-web.tar.zst dest=/var/tmp/ops-web.tar.zst mode=0600" \
  > "$log" 2>&1 || { cat "$log"; fail "copy of the archive to the VM"; }
# ops-web keeps running on the CI box: the copy's addresses are on the VM's own lvops0
module lvvm backup "state=restored path=/var/tmp/ops-web.tar.zst name=ops-copy" >/dev/null
[ "$(on_vm systemctl is-active linuxvps-ops-copy.service || true)" = active ] || fail "ops-copy's unit is not active"
vm_booted ops-copy
expect "ops-copy's file" "$(on_vm "$vm_runc exec ops-copy cat /root/moved.txt")" "$content"
expect "ops-copy's file owner inside" "$(on_vm "$vm_runc exec ops-copy stat -c %u:%g /root/moved.txt")" 0:0
expect "ops-copy's host name" "$(on_vm "$vm_runc exec ops-copy cat /proc/sys/kernel/hostname")" ops-copy
expect "ops-copy memory.max" "$(vm_cgroup ops-copy memory.max)" 167772160
expect "ops-copy pids.max" "$(vm_cgroup ops-copy pids.max)" 150
on_vm ping -c 1 -W 5 10.213.173.10 >/dev/null || fail "ops-copy does not answer on the VM"

echo "== a snapshot on the VM: what was written before it is back after restored, what came after is gone"
on_vm "$vm_runc exec ops-copy sh -c 'echo before > /root/snap.txt'"
module lvvm snapshot "partition=ops-copy name=s1 state=present" | grep -q '"changed": true' || fail "snapshot s1 not taken"
module lvvm snapshot "partition=ops-copy name=s1 state=present" | grep -q '"changed": false' || fail "snapshot s1 taken twice"
on_vm "$vm_runc exec ops-copy sh -c 'echo after > /root/snap.txt; echo new > /root/after.txt'"
module lvvm snapshot "partition=ops-copy name=s1 state=restored" | grep -q '"changed": true' || fail "snapshot s1 not restored"
[ "$(on_vm systemctl is-active linuxvps-ops-copy.service || true)" = active ] || fail "ops-copy does not run after the restore"
vm_booted ops-copy
expect "snap.txt after the restore" "$(on_vm "$vm_runc exec ops-copy cat /root/snap.txt")" before
expect "after.txt after the restore" "$(on_vm "$vm_runc exec ops-copy sh -c 'test -e /root/after.txt && echo there || echo gone'")" gone
expect "ops-copy's file after the restore" "$(on_vm "$vm_runc exec ops-copy cat /root/moved.txt")" "$content"
expect "ops-copy memory.max after the restore" "$(vm_cgroup ops-copy memory.max)" 167772160
module lvvm snapshot "partition=ops-copy name=s1 state=absent" | grep -q '"changed": true' || fail "snapshot s1 not deleted"
echo "operations passed"
