#!/usr/bin/env bash
# linuxvps-metrics as the host role installs it, against two partitions in two tenants: the role's tasks change
# nothing the second time, the file passes promtool (Debian's, unpacked, no server) and says what partition_info
# says (partitions frozen, so nothing moves between the reads), controls prove both checks bite, the command reads
# without the host lock, writes by rename (no leftovers, mode 0644), its --every loop rewrites the file each round,
# and a stopped partition is reported down.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inv=(-i "$here/files/inventory.yml")
export ANSIBLE_ROLES_PATH="$here/.."
state=/var/tmp/linuxvps-test
dir=/var/tmp/linuxvps-metrics-test
file=$dir/linuxvps.prom
cmd=/usr/local/lib/linuxvps/linuxvps-metrics
work=$(mktemp -d)
log=$work/log
loop_pid=
lock_pid=

cleanup() {
  for pid in $loop_pid $lock_pid; do kill "$pid" 2>/dev/null || true; done
  ansible-playbook "${inv[@]}" "$here/files/cleanup.yml" >/dev/null 2>&1 || true
  rm -rf "$dir" "$work"
}
trap cleanup EXIT

run() { ansible-playbook "${inv[@]}" "$here/files/setup.yml" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }; grep -E '^localhost +:' "$log"; }
no_change() { if grep -E 'changed=[1-9]' "$log"; then cat "$log"; echo "FAIL: $1 changed something"; exit 1; fi; }
info() { ansible -m linuxvps.partitions.partition_info -a "state_dir=$state" "${inv[@]}" localhost | sed '1s/^[^{]*//' > "$1"; }
fails() { if "$@" > "$work/out" 2>&1; then cat "$work/out"; return 1; fi; }
series() { sed -n "s/^$1{partition=\"$2\",tenant=\"$3\"} //p" "$file"; }

promtool=$("$here/files/promtool.sh")
"$promtool" --version | head -1

echo "== two partitions, the command installed; again and in check mode: nothing changes"
run
run
no_change "the second run"
run --check
no_change "check mode"
if ! [ -x "$cmd" ] || ! [ -d "$dir" ]; then echo "FAIL: the role did not install $cmd or make $dir"; exit 1; fi

echo "== bad arguments: usage and exit 2, nothing written"
for args in "--every 0 $state $file" "--every x $state $file" "$state" ""; do
  rc=0
  # shellcheck disable=SC2086 # the arguments are split on purpose
  "$cmd" $args 2> "$work/err" || rc=$?
  if [ "$rc" != 2 ] || ! grep -q '^usage: linuxvps-metrics ' "$work/err"; then echo "FAIL: '$args': rc $rc"; cat "$work/err"; exit 1; fi
done
[ ! -e "$file" ] || { echo "FAIL: a refused call wrote $file"; exit 1; }

echo "== frozen, so nothing moves between the reads: the file says what partition_info says"
run -e partitions_state=frozen
info "$work/info.json"
"$cmd" "$state" "$file"
info "$work/info-after.json"
cmp -s <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [p.pop("interfaces", None) for p in d["partitions"]]; print(json.dumps(d, sort_keys=True))' "$work/info.json") \
       <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [p.pop("interfaces", None) for p in d["partitions"]]; print(json.dumps(d, sort_keys=True))' "$work/info-after.json") \
  || echo "note: partition_info changed between the reads (another partition in the state directory moved)"
"$promtool" check metrics < "$file"
python3 "$here/files/check_metrics.py" "$file" "$work/info.json" pt-met-a pt-met-b
[ "$(stat -c %a "$file")" = 644 ] || { echo "FAIL: mode $(stat -c %a "$file")"; exit 1; }
[ "$(ls -A "$dir")" = linuxvps.prom ] || { ls -la "$dir"; echo "FAIL: something besides linuxvps.prom left in $dir"; exit 1; }
[ "$(series linuxvps_partition_memory_limit_bytes pt-met-a mt-a)" = 268435456 ] || { echo "FAIL: pt-met-a's memory limit"; exit 1; }
[ "$(series linuxvps_partition_pids_limit pt-met-b mt-b)" = 100 ] || { echo "FAIL: pt-met-b's pids limit"; exit 1; }
[ "$(series linuxvps_partition_up pt-met-b mt-b)" = 1 ] || { echo "FAIL: pt-met-b not up"; exit 1; }
# the partition's shell holds 3 MB: the value is read from its cgroup, not made up
[ "$(series linuxvps_partition_memory_bytes pt-met-a mt-a)" -gt 3000000 ] || { echo "FAIL: pt-met-a holds $(series linuxvps_partition_memory_bytes pt-met-a mt-a) bytes"; exit 1; }
for tenant in mt-a mt-b; do
  grep -q "^linuxvps_tenant_partitions{tenant=\"$tenant\"} 1\$" "$file" || { echo "FAIL: tenant $tenant's partition count"; exit 1; }
done
if grep -E 'Inf|NaN' "$file"; then echo "FAIL: an infinite or NaN sample"; exit 1; fi

echo "== controls: each check fails on a doctored copy"
# a counter without _total
sed 's/linuxvps_partition_oom_kills_total/linuxvps_partition_oom_kills/' "$file" > "$work/no-total.prom"
fails "$promtool" check metrics < "$work/no-total.prom" || { echo "FAIL: promtool passed a counter without _total"; exit 1; }
fails python3 "$here/files/check_metrics.py" "$work/no-total.prom" "$work/info.json" pt-met-a || { echo "FAIL: checker passed a counter without _total"; exit 1; }
# a family given twice (its series duplicated)
{ cat "$file"; grep -E '^(# (HELP|TYPE) )?linuxvps_partition_memory_bytes[ {]' "$file"; } > "$work/twice.prom"
fails "$promtool" check metrics < "$work/twice.prom" || { echo "FAIL: promtool passed a duplicated family"; exit 1; }
fails python3 "$here/files/check_metrics.py" "$work/twice.prom" "$work/info.json" pt-met-a || { echo "FAIL: checker passed a duplicated family"; exit 1; }
# one sample line twice inside its family: promtool 2.42 lets it pass, the checker must not
awk '{ print } /^linuxvps_partition_pids\{partition="pt-met-a"/ { print }' "$file" > "$work/line-twice.prom"
fails python3 "$here/files/check_metrics.py" "$work/line-twice.prom" "$work/info.json" pt-met-a || { echo "FAIL: checker passed a repeated series"; exit 1; }
"$promtool" check metrics < "$work/line-twice.prom" >/dev/null 2>&1 && echo "note: promtool $("$promtool" --version 2>&1 | sed -n '1s/.*version \([^ ]*\).*/\1/p') does not catch a repeated series"
# one value off by one
sed 's/^\(linuxvps_partition_memory_limit_bytes{partition="pt-met-a",tenant="mt-a"}\) 268435456$/\1 268435457/' "$file" > "$work/value.prom"
! cmp -s "$file" "$work/value.prom" || { echo "FAIL: the control did not change the value"; exit 1; }
fails python3 "$here/files/check_metrics.py" "$work/value.prom" "$work/info.json" pt-met-a || { echo "FAIL: checker passed a wrong value"; exit 1; }

echo "== it reads without the host lock"
python3 -c 'import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)' "$state/lock" > "$work/lock" &
lock_pid=$!
for _ in $(seq 50); do grep -q held "$work/lock" && break; sleep 0.1; done
# control: the lock is really held
fails flock -n "$state/lock" true || { echo "FAIL: control: the host lock is not held"; exit 1; }
rm -f "$file"
timeout 20 "$cmd" "$state" "$file" || { echo "FAIL: the command did not finish while the host lock was held"; exit 1; }
"$promtool" check metrics < "$file"
kill "$lock_pid"; wait "$lock_pid" 2>/dev/null || true; lock_pid=

echo "== --every 1: a new file each round until killed"
"$cmd" --every 1 "$state" "$file" &
loop_pid=$!
inodes=$(for _ in $(seq 14); do stat -c %i "$file" 2>/dev/null; sleep 0.25; done | sort -u | wc -l)
kill "$loop_pid"; wait "$loop_pid" 2>/dev/null || true; loop_pid=
[ "$inodes" -ge 3 ] || { echo "FAIL: $inodes versions of the file in 3.5 s with --every 1"; exit 1; }
"$promtool" check metrics < "$file"

echo "== stopped: reported down, still a valid file"
run -e partitions_state=stopped
"$cmd" "$state" "$file"
info "$work/info.json"
"$promtool" check metrics < "$file"
python3 "$here/files/check_metrics.py" "$file" "$work/info.json" pt-met-a pt-met-b
[ "$(series linuxvps_partition_up pt-met-a mt-a)" = 0 ] || { echo "FAIL: stopped pt-met-a is not down"; exit 1; }
echo "== all passed"
