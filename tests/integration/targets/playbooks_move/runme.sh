#!/usr/bin/env bash
# move.yml between two state directories of this host (two inventory hosts, both local): a running partition with
# limits and a routed address moves a -> b and back, keeping its files (those written while its files were copied
# too), its limits and its address, with the downtime reported; refusals before any change (no template on the
# target, a network the target lacks, bad variables, --check); a failure after the stop (the check inside fails)
# undone: the source runs again and the target has nothing.
# One host has one set of bridges, and a bridge belongs to one state directory: the bridged case here is the
# refusal; the VM scenario (tests/vm/site/operations.sh) moves a bridged partition between two machines.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inv=(-i "$here/files/inventory.yml")
a=/var/tmp/linuxvps-move-a b=/var/tmp/linuxvps-move-b c=/var/tmp/linuxvps-move-c
work=/var/tmp/linuxvps-move-work
log=$(mktemp)
record=$(mktemp)
address=10.213.172.10

cleanup() {
  for dir in $a $b $c; do
    for part in mv-web mv-br; do
      ansible "${inv[@]}" localhost -m linuxvps.partitions.partition -a "name=$part state=absent state_dir=$dir" >/dev/null 2>&1 || true
    done
  done
  ansible "${inv[@]}" localhost -m linuxvps.partitions.network -a "name=lvmovebr0 state=absent force=true state_dir=$a" >/dev/null 2>&1 || true
  rm -rf "$c" "$work" "$log" "$record"  # a's and b's templates stay: built once per machine
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
rc() { runc --root "$1/runc" "${@:2}"; }
running_in() { rc "$1" state "$2" 2>/dev/null | grep -q '"status": "running"'; }
absent_from() { if [ -e "$1/partitions/$2" ] || rc "$1" state "$2" >/dev/null 2>&1; then return 1; fi; }
pid_in() { rc "$1" state "$2" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }
# partition_info of one partition in a state directory, one field (a Python expression on it, p)
info() {
  ansible "${inv[@]}" localhost -m linuxvps.partitions.partition_info -a "name=$2 state_dir=$1" -o 2>/dev/null | sed 's/^[^{]*//' \
    | python3 -c "import json, sys; p = json.load(sys.stdin)['partitions'][0]; print($3)"
}
cgroup_file() { cat "/sys/fs/cgroup/$3$(info "$1" "$2" "p['cgroup']")/$4"; }
wait_booted() {
  local state
  for _ in $(seq 120); do
    state=$(rc "$1" exec "$2" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  fail "$2: init reports '${state:-nothing}' after 120 s"
}
move() {  # from to [ansible-playbook arguments]: the move must pass; its move_result in $record
  ansible-playbook "${inv[@]}" "$here/files/move_recorded.yml" -e move_partition=mv-web -e "move_from=$1" -e "move_to=$2" \
    -e "move_record=$record" "${@:3}" > "$log" 2>&1 || { cat "$log"; fail "move $1 -> $2"; }
  grep -E '^localhost +:' "$log"
  grep -o 'mv-web moved from [^"]*' "$log" | head -1
}
refused() {  # what-the-message-says ansible-playbook-arguments...: the move must fail saying it
  if ansible-playbook "${inv[@]}" linuxvps.partitions.move "${@:2}" > "$log" 2>&1; then cat "$log"; fail "accepted: ${*:2}"; fi
  grep -q -- "$1" "$log" || { cat "$log"; fail "the refusal does not say '$1'"; }
}
result() { python3 -c "import json, sys; r = json.load(open('$record')); print($1)"; }
# What must hold of mv-web wherever it is ($1: its state directory; $2: the other one, which must not have it)
check_moved() {
  running_in "$1" mv-web || fail "mv-web does not run in $1"
  absent_from "$2" mv-web || fail "mv-web is left in $2"
  wait_booted "$1" mv-web
  [ "$(rc "$1" exec mv-web cat /root/moved.txt)" = "$content" ] || fail "mv-web's file in $1"
  [ "$(rc "$1" exec mv-web stat -c %u:%g /root/moved.txt)" = 0:0 ] || fail "mv-web's file is not root's inside in $1"
  [ "$(cgroup_file "$1" mv-web memory memory.limit_in_bytes)" = 209715200 ] || fail "mv-web's memory limit in $1"
  [ "$(cgroup_file "$1" mv-web pids pids.max)" = 200 ] || fail "mv-web's pids limit in $1"
  [ "$(cgroup_file "$1" mv-web cpu cpu.cfs_quota_us)" = 50000 ] || fail "mv-web's CPU limit in $1"
  ping -c 1 -W 5 $address >/dev/null || fail "mv-web does not answer on $address from $1"
  # the last tick of the live writer is from after the live copy was made, and from the stop: the changes came
  last=$(rc "$1" exec mv-web tail -n 1 /root/ticks)
  python3 -c "import sys; l, c, s, t = map(float, sys.argv[1:]); sys.exit(not (c + 0.5 < l and s - 1 < l < t))" \
    "$last" "$(result "r['copied_at']")" "$(result "r['stopped_at']")" "$(result "r['started_at']")" \
    || fail "the last tick in $1 ($last) is not between the live copy and the stop: $(cat "$record")"
  downtime=$(result "r['downtime_seconds']")
  python3 -c "import sys; sys.exit(not 0 < float(sys.argv[1]) < 120)" "$downtime" || fail "downtime $downtime"
  grep -q "mv-web moved from .* downtime $downtime s" "$log" || fail "no message with the downtime"
}
# A writer inside: a line with the time every 0.1 s, so the files change while they are copied
start_ticker() {
  rc "$1" exec mv-web systemd-run --unit=ticker sh -c 'while :; do date +%s.%N >> /root/ticks; sleep 0.1; done' >/dev/null
}

echo "== setup: the template in a and b, a bridge and two partitions in a"
ansible-playbook "${inv[@]}" "$here/files/setup.yml" > "$log" 2>&1 || { cat "$log"; fail "setup"; }
wait_booted $a mv-web
content="moved $(date +%s%N)"
rc $a exec mv-web sh -c "echo '$content' > /root/moved.txt"
start_ticker $a
ping -c 1 -W 5 $address >/dev/null || fail "control: mv-web does not answer before the move"
pid=$(pid_in $a mv-web)

echo "== --check: only the checks run"
ansible-playbook "${inv[@]}" linuxvps.partitions.move -e move_partition=mv-web -e move_from=move-a -e move_to=move-b \
  --check > "$log" 2>&1 || { cat "$log"; fail "move --check"; }
grep -q 'can move from move-a to move-b' "$log" || { cat "$log"; fail "no check mode message"; }
[ "$(pid_in $a mv-web)" = "$pid" ] || fail "--check touched mv-web in a"
[ ! -e $b/partitions/mv-web ] || fail "--check made mv-web in b"

echo "== refused before any change: no template on the target, a missing network, bad variables"
refused "move-c lacks the template debian12" -e move_partition=mv-web -e move_from=move-a -e move_to=move-c
refused "move-b lacks the network(s) lvmovebr0" -e move_partition=mv-br -e move_from=move-a -e move_to=move-b
refused "mv-nothing: it does not exist on move-a" -e move_partition=mv-nothing -e move_from=move-a -e move_to=move-b
refused "two different hosts of the inventory" -e move_partition=mv-web -e move_from=move-a -e move_to=move-a
refused "two different hosts of the inventory" -e move_partition=mv-web -e move_from=move-a -e move_to=nosuchhost
refused "move-a and move-a-again are the same state directory" -e move_partition=mv-web -e move_from=move-a -e move_to=move-a-again
[ "$(pid_in $a mv-web)" = "$pid" ] || fail "a refused move touched mv-web"
for dir in $b $c; do
  absent_from "$dir" mv-web || fail "a refused move left mv-web in $dir"
  absent_from "$dir" mv-br || fail "a refused move left mv-br in $dir"
done

echo "== a failure after the stop is undone: the check inside fails on b"
if ansible-playbook "${inv[@]}" linuxvps.partitions.move -e move_partition=mv-web -e move_from=move-a -e move_to=move-b \
     -e 'move_verify_command="exit 3"' > "$log" 2>&1; then cat "$log"; fail "the failed check was ignored"; fi
grep -q "failed at 'Run the check inside the partition on the target'" "$log" || { cat "$log"; fail "no failed step named"; }
grep -q 'Undone: mv-web on move-b removed; on move-a running again' "$log" || { cat "$log"; fail "not undone"; }
running_in $a mv-web || fail "mv-web does not run in a after the failed move"
[ "$(pid_in $a mv-web)" != "$pid" ] || fail "control: mv-web in a was never stopped (the failure came before the stop)"
absent_from $b mv-web || fail "the failed move left mv-web in b"
wait_booted $a mv-web
[ "$(rc $a exec mv-web cat /root/moved.txt)" = "$content" ] || fail "mv-web's file after the failed move"
ping -c 1 -W 5 $address >/dev/null || fail "mv-web does not answer after the failed move"
start_ticker $a

echo "== a -> b"
move move-a move-b
check_moved $b $a
left=$(find $work -type f)
[ -z "$left" ] || fail "archives left in $work: $left"

echo "== --check again: it is no longer on a"
refused "mv-web: it does not exist on move-a" -e move_partition=mv-web -e move_from=move-a -e move_to=move-b --check

echo "== b -> a"
start_ticker $b
move move-b move-a
check_moved $a $b
echo "== all passed"
