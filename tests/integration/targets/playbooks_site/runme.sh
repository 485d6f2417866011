#!/usr/bin/env bash
# site.yml end to end: host role twice (no change), a template, tenants converged, check mode without
# change, a misspelt tenant key refused before any change, a tenant moved to another profile live, a partition added and pruned, the report, the boot
# service's command, and destroy.yml's refusal and teardown.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inv=(-i "$here/files/inventory.yml")
state=/var/tmp/linuxvps-test
runc="runc --root $state/runc"
log=$(mktemp)
# The host role starts lxcfs (host-wide): stopped at the end only when this test started it.
lxcfs_was_running=no
timeout 5 grep -qs ^MemTotal: /var/lib/lxcfs/proc/meminfo && lxcfs_was_running=yes

cleanup() {
  ansible-playbook "${inv[@]}" linuxvps.partitions.destroy -e linuxvps_destroy_confirm=destroy-all-partitions >/dev/null 2>&1 || true
  ansible -m linuxvps.partitions.network -a "name=lvtestbr1 state=absent force=true state_dir=$state" "${inv[@]}" localhost >/dev/null 2>&1 || true
  [ "$lxcfs_was_running" = yes ] || start-stop-daemon --stop --quiet --pidfile /run/lxcfs.pid --exec /usr/bin/lxcfs --retry 10 || true
  [ "$lxcfs_was_running" = yes ] || ! findmnt -rn --mountpoint /var/lib/lxcfs -t fuse.lxcfs > /dev/null || umount --lazy /var/lib/lxcfs
  rm -f "$log"
}
trap cleanup EXIT

# Every play recap of the last run must say changed=0.
no_change() {
  if grep -E 'changed=[1-9]' "$log"; then echo "FAIL: $1 changed something"; exit 1; fi
}
recap() { grep -E '^localhost +:' "$log" || true; }
run() { ansible-playbook "${inv[@]}" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }; recap; }
cg() { cat "/sys/fs/cgroup/$1$(ansible -m linuxvps.partitions.partition_info -a "name=$2 state_dir=$state" "${inv[@]}" localhost \
        | sed -n 's/.*"cgroup": "\(.*\)".*/\1/p' | head -1)/$3"; }
pid_of() { $runc state "$1" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }
# The addresses recorded in a partition's configuration, one line each.
recorded_addresses() {
  ansible -m linuxvps.partitions.partition_info -a "name=$1 state_dir=$state" "${inv[@]}" localhost | sed '1s/^[^{]*//' \
    | python3 -c 'import json, sys; print("\n".join(a for i in json.load(sys.stdin)["partitions"][0]["config"]["interfaces"] for a in i["addresses"]))'
}

echo "== site.yml converges"
run linuxvps.partitions.site
grep -q 'TENANT' "$log" || { echo "FAIL: no report table"; exit 1; }

echo "== site.yml again: nothing changes"
run linuxvps.partitions.site
no_change "second site.yml"

echo "== site.yml in check mode against the converged host: nothing would change"
run linuxvps.partitions.site --check
no_change "site.yml --check"

[ "$(cg memory pt-t1a memory.limit_in_bytes)" = 268435456 ] || { echo "FAIL: small profile memory"; exit 1; }
[ "$(cg pids pt-t2a pids.max)" = 300 ] || { echo "FAIL: per-partition override"; exit 1; }
# the host role runs lxcfs, so free inside shows the profile's memory
[ "$($runc exec pt-t1a free -b | awk '/^Mem:/ {print $2}')" = 268435456 ] || { echo "FAIL: free inside pt-t1a"; exit 1; }
ping -c 1 -W 5 10.213.1.11 >/dev/null || { echo "FAIL: pt-t1a does not answer"; exit 1; }
before=$(pid_of pt-t1a)

echo "== a misspelt key in a tenant's partition fails naming it, and the live partition keeps its network"
# Control: what the role would hand the module without the check (no addresses: interfaces []) would take pt-t1a's network.
ansible -m linuxvps.partitions.partition -a "{\"name\": \"pt-t1a\", \"interfaces\": [], \"state_dir\": \"$state\"}" \
  --check "${inv[@]}" localhost > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -q '"changed": true' "$log" || { cat "$log"; echo "FAIL: control: interfaces [] would not change pt-t1a"; exit 1; }
if ansible-playbook "${inv[@]}" linuxvps.partitions.tenants -e "@$here/files/typo.yml" > "$log" 2>&1; then
  echo "FAIL: a misspelt key was accepted"; exit 1
fi
# ansible-core 2.19 says tenant_list.partitions.adresses; older ones: adresses found in tenant_list -> partitions
grep -Eq 'tenant_list\.partitions\.adresses|adresses found in' "$log" || { cat "$log"; echo "FAIL: the misspelt key is not named"; exit 1; }
recorded_addresses pt-t1a | grep -qx '10.213.1.11\(/24\)\?' || { echo "FAIL: pt-t1a lost its recorded address"; exit 1; }
[ "$(pid_of pt-t1a)" = "$before" ] || { echo "FAIL: pt-t1a was restarted"; exit 1; }
ping -c 1 -W 5 10.213.1.11 >/dev/null || { echo "FAIL: pt-t1a does not answer after the refused run"; exit 1; }

echo "== tenant t1 moves to the large profile (live) and gets a partition"
run linuxvps.partitions.tenants -e "@$here/files/moved.yml"
[ "$(cg memory pt-t1a memory.limit_in_bytes)" = 536870912 ] || { echo "FAIL: large profile memory not applied"; exit 1; }
[ "$(cg cpu pt-t1a cpu.cfs_quota_us)" = 150000 ] || { echo "FAIL: large profile cpus not applied"; exit 1; }
[ "$(pid_of pt-t1a)" = "$before" ] || { echo "FAIL: pt-t1a was restarted"; exit 1; }
$runc state pt-t1b | grep -q '"running"' || { echo "FAIL: pt-t1b not running"; exit 1; }

echo "== not listed and no prune: kept; with prune: removed"
run linuxvps.partitions.tenants -e "@$here/files/moved.yml"
no_change "moved tenants again"
run linuxvps.partitions.tenants -e "@$here/files/pruned.yml"
if $runc state pt-t1b >/dev/null 2>&1; then echo "FAIL: pt-t1b not pruned"; exit 1; fi
[ -e "$state/partitions/pt-t1b" ] && { echo "FAIL: pt-t1b files left"; exit 1; }

echo "== the boot command starts autostart partitions"
ansible -m linuxvps.partitions.partition -a "name=pt-t2a state=stopped state_dir=$state" "${inv[@]}" localhost >/dev/null
/usr/local/lib/linuxvps/linuxvps-autostart "$state" | tee "$log"
grep -q '^pt-t2a: started' "$log" || { echo "FAIL: pt-t2a not started at boot"; exit 1; }
[ "$(cg pids pt-t2a pids.max)" = 300 ] || { echo "FAIL: limits lost at boot"; exit 1; }

echo "== report.yml: the state directory from linuxvps_state_dir, or from the deprecated tenant_state_dir; a stopped partition"
ansible -m linuxvps.partitions.partition -a "name=pt-t2a state=stopped state_dir=$state" "${inv[@]}" localhost >/dev/null
run linuxvps.partitions.report
if ! grep -q 'pt-t1a' "$log" || ! grep -q '10.213.1.11' "$log"; then echo "FAIL: report lacks pt-t1a"; exit 1; fi
grep -qE 'pt-t2a +stopped' "$log" || { echo "FAIL: report lacks the stopped pt-t2a"; exit 1; }
run linuxvps.partitions.report -e linuxvps_state_dir=$state/none -e tenant_state_dir=$state
grep -q 'pt-t1a' "$log" || { echo "FAIL: report ignored the deprecated tenant_state_dir"; exit 1; }

echo "== destroy.yml refuses without confirmation, then removes everything"
if ansible-playbook "${inv[@]}" linuxvps.partitions.destroy > "$log" 2>&1; then echo "FAIL: destroy ran unconfirmed"; exit 1; fi
grep -q 'Refusing' "$log" || { echo "FAIL: no refusal message"; exit 1; }
$runc state pt-t1a | grep -q running || { echo "FAIL: refusal changed something"; exit 1; }
run linuxvps.partitions.destroy -e linuxvps_destroy_confirm=destroy-all-partitions
for p in pt-t1a pt-t1b pt-t2a; do
  if $runc state $p >/dev/null 2>&1 || [ -e "$state/partitions/$p" ]; then echo "FAIL: $p left"; exit 1; fi
done
echo "== all passed"
