#!/usr/bin/env bash
# site.yml against the systemd + cgroup v2 VM, over SSH: host role, a template, two tenants' partitions
# supervised by systemd units with limits in their delegated cgroups, a live limit change, the restart
# policy, partitions outliving the SSH session, a reboot and then a hard power-off (qemu killed) bringing the
# autostart partitions back in their order with their limits and addresses, the report, the metrics timer's file
# (checked by promtool), and destroy.yml
# leaving nothing. Between the report and destroy.yml, a play from this machine (the controller) reaches the
# partitions through the connection plugin with linuxvps_host set to the VM, on an inventory the inventory
# plugin builds from the VM (inside.yml).
# Needs INVENTORY (written by tests/vm/vm.sh start) and the collection on ANSIBLE_COLLECTIONS_PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vm=(python3 "$here/../testvm.py")
: "${INVENTORY:?INVENTORY must name the VM inventory}"
log=$(mktemp)
# One shared SSH connection per playbook and pipelining: under TCG every SSH handshake costs seconds.
# The shared connection is closed before checking that partitions outlive their sessions.
control_dir=$(mktemp -d)
export ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=300s -o ControlPath=$control_dir/%C"
export ANSIBLE_PIPELINING=True
export ANSIBLE_HOST_KEY_CHECKING=False
play=(ansible-playbook -i "$INVENTORY" -e "@$here/vars.yml")
parts=(acme-db acme-web globex-app)
# runtime: auto picks crun on the VM (installed, pure cgroup v2, its probe passes); the checks drive it directly
vm_runtime=crun
vm_rt=("$vm_runtime" --root "/var/lib/linuxvps/$vm_runtime")
# partitions per runtime in the crun / runc comparison (printed, never asserted on time)
RUNTIME_COUNT=${RUNTIME_COUNT:-3}

close_sessions() {
  for socket in "$control_dir"/*; do
    [ -S "$socket" ] && ssh -o ControlPath="$socket" -O exit lvvm 2>/dev/null
  done
  return 0
}
inside_dir=$(mktemp -d)
cleanup() { close_sessions; rm -rf "$log" "$control_dir" "$inside_dir"; }
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
# Checks share one SSH connection too, opened detached (a master started inside $(...) would hold its
# stderr open); without it they connect on their own.
run_dir=$(dirname "$INVENTORY")
vm_ssh=(ssh -i "$(cat "$run_dir/key")" -p "$(cat "$run_dir/port")" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ControlPath="$control_dir/vm")
on_vm() {
  [ -S "$control_dir/vm" ] || "${vm_ssh[@]}" -o ControlMaster=yes -o ControlPersist=300 -fN root@127.0.0.1 \
    </dev/null >/dev/null 2>&1 || true
  "${vm_ssh[@]}" -o ControlMaster=no root@127.0.0.1 "$@"
}
run() {
  local started=$SECONDS
  "${play[@]}" "$@" > "$log" 2>&1 || { cat "$log"; fail "ansible-playbook $*"; }
  grep -E '^lvvm +:' "$log" || true
  echo "   ($((SECONDS - started)) s)"
}
no_change() { if grep -E 'lvvm +:.*changed=[1-9]' "$log"; then cat "$log"; fail "$1 changed something"; fi; }
unit_of() { echo "linuxvps-$1.service"; }
# each partition's unit runs in its tenant's slice (acme-web: tenant acme)
slice_of() { echo "linuxvps-${1%%-*}.slice"; }
cgroup_file() { on_vm cat "/sys/fs/cgroup/linuxvps.slice/$(slice_of "$1")/$(unit_of "$1")/partition/$2"; }
slice_file() { on_vm cat "/sys/fs/cgroup/linuxvps.slice/linuxvps-$1.slice/$2"; }
main_pid() { on_vm systemctl show -p MainPID --value "$(unit_of "$1")"; }
# init inside reports running (or degraded: a minimal template may have a failed unit), within 120 s
wait_booted() {
  local state
  for _ in $(seq 120); do
    state=$(on_vm "${vm_rt[@]}" exec "$1" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  fail "$1: init reports '${state:-nothing}' after 120 s"
}
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }
# every autostart partition's unit active within 120 s of a boot (its journal shown when not)
all_active() {
  local part
  for part in "${parts[@]}"; do
    for _ in $(seq 120); do
      [ "$(on_vm systemctl is-active "$(unit_of "$part")" || true)" = active ] && break
      sleep 1
    done
    if [ "$(on_vm systemctl is-active "$(unit_of "$part")" || true)" != active ]; then
      on_vm journalctl -b --no-pager -n 40 -u linuxvps-autostart.service -u "$(unit_of "$part")" || true
      fail "$part is not active after $1"
    fi
  done
}

echo "== the VM: systemd as PID 1, unified cgroup v2"
expect "init" "$(on_vm cat /proc/1/comm)" systemd
expect "cgroup fs" "$(on_vm stat -fc %T /sys/fs/cgroup)" cgroup2fs

echo "== site.yml converges the VM"
run linuxvps.partitions.site
grep -q 'TENANT' "$log" || { cat "$log"; fail "no report table"; }

for part in "${parts[@]}"; do
  expect "$part unit" "$(on_vm systemctl is-active "$(unit_of "$part")")" active
  wait_booted "$part"
done

echo "== runtime: auto chose $vm_runtime (pure cgroup v2, installed, its probe passed) and records it"
# partition_info's view of one partition, one field (a Python expression on it)
info_field() {
  ansible -i "$INVENTORY" lvvm -m linuxvps.partitions.partition_info -a "name=$1" -o 2>/dev/null | sed 's/^[^{]*//' \
    | python3 -c "import json, sys; p = json.load(sys.stdin)['partitions'][0]; print($2)"
}
for part in "${parts[@]}"; do
  expect "$part's runtime" "$(info_field "$part" "p['runtime']")" "$vm_runtime"
  on_vm test -d "/var/lib/linuxvps/$vm_runtime/$part" || fail "$part is not in $vm_runtime's root"
  on_vm test ! -e "/var/lib/linuxvps/runc/$part" || fail "$part is also in runc's root"
done
# The tenants' partitions use the template through an idmapped mount (kernel >= 5.19, XFS allows it): no shifted copy.
for part in "${parts[@]}"; do
  expect "$part's template_access" "$(info_field "$part" "p.get('template_access')")" idmapped
done
on_vm '! ls -d /var/lib/linuxvps/rootfs/*/shifted-* 2>/dev/null' || fail "a shifted template copy was made on the VM"

echo "== site.yml again: nothing changes"
run linuxvps.partitions.site
no_change "second site.yml"

echo "== limits live in the units' delegated cgroups"
expect "acme-web memory.max" "$(cgroup_file acme-web memory.max)" 201326592
expect "acme-db pids.max" "$(cgroup_file acme-db pids.max)" 300
expect "globex-app cpu.max" "$(cgroup_file globex-app cpu.max)" "100000 100000"
expect "globex-app cpu.weight" "$(cgroup_file globex-app cpu.weight)" 300
expect "unit delegated" "$(on_vm systemctl show -p Delegate --value "$(unit_of acme-web)")" yes
expect "an OOM kill inside does not stop the unit" "$(on_vm systemctl show -p OOMPolicy --value "$(unit_of acme-web)")" continue
echo "== tenant acme's limits bound its two partitions together, in its slice"
expect "acme slice memory.max" "$(slice_file acme memory.max)" 419430400
expect "acme slice pids.max" "$(slice_file acme pids.max)" 600
expect "acme slice unit file" "$(on_vm grep -c '^MemoryMax=419430400$' /etc/systemd/system/linuxvps-acme.slice)" 1
expect "globex slice memory.max (no limits)" "$(slice_file globex memory.max)" max
expect "units in acme's slice" "$(on_vm systemctl list-units --no-legend --plain 'linuxvps-acme-*.service' | wc -l)" 2
echo "== I/O limits: io.max on the disks of the partition's files, and in the tenant's slice (acme's)"
# a line per disk holding the partition's files (the state directory's is /dev/vdb), with the limits set
io_partition=$(cgroup_file globex-app io.max)
grep -q 'wbps=8388608 riops=500 ' <<<"$io_partition" || fail "globex-app's io.max lacks its limits: $io_partition"
io_slice=$(slice_file acme io.max)
grep -q ' rbps=33554432 ' <<<"$io_slice" || fail "acme's slice io.max lacks its limit: $io_slice"
on_vm grep -q '^IOReadBandwidthMax=/dev/block/[0-9]*:[0-9]* 33554432$' /etc/systemd/system/linuxvps-acme.slice \
  || fail "acme's slice unit file has no IOReadBandwidthMax="
# the partition's init runs in the payload, below the limits
init_cgroup=$(on_vm cat "/proc/$(main_pid acme-web)/cgroup")
case "$init_cgroup" in
  "0::/linuxvps.slice/$(slice_of acme-web)/$(unit_of acme-web)/partition/payload"|"0::/linuxvps.slice/$(slice_of acme-web)/$(unit_of acme-web)/partition/payload/"*) ;;
  *) fail "acme-web's init runs in $init_cgroup, not below its payload" ;;
esac

echo "== lxcfs: the host role runs it with its flags, and free inside shows the partition's memory.max"
expect "lxcfs unit" "$(on_vm systemctl is-active lxcfs.service)" active
case "$(on_vm systemctl show -p ExecStart --value lxcfs.service)" in
  *"/usr/bin/lxcfs -l --enable-cfs /var/lib/lxcfs"*) ;;
  *) fail "lxcfs runs without the role's flags: $(on_vm systemctl show -p ExecStart --value lxcfs.service)" ;;
esac
free_inside() { on_vm "${vm_rt[@]}" exec "$1" free -b | awk '/^Mem:/ {print $2}'; }
expect "free -b inside acme-web" "$(free_inside acme-web)" "$(cgroup_file acme-web memory.max)"

echo "== the unit's journal holds the partition's lifecycle (systemd as init keeps its own log inside)"
on_vm journalctl -u "$(unit_of acme-web)" --no-pager -o cat | grep -q "Started $(unit_of acme-web)" || fail "no start in the journal"

echo "== addresses answer from the VM host and between partitions"
on_vm ping -c 1 -W 5 10.213.50.11 >/dev/null || fail "acme-web does not answer"
on_vm ping -c 1 -W 5 fd42:213:0:50::11 >/dev/null || fail "acme-web does not answer on IPv6"
on_vm "${vm_rt[@]}" exec acme-db ping -c 1 -W 5 10.213.50.21 >/dev/null || fail "acme-db cannot reach globex-app"

echo "== acme moves to the large profile: limits change live, init keeps its PID"
before=$(main_pid acme-web)
run linuxvps.partitions.tenants -e "@$here/moved.yml"
expect "acme-web memory.max after the move" "$(cgroup_file acme-web memory.max)" 335544320
expect "acme-web cpu.max after the move" "$(cgroup_file acme-web cpu.max)" "100000 100000"
expect "acme-web init PID" "$(main_pid acme-web)" "$before"

echo "== disk quota: an XFS project quota on the state directory, grown live to the large profile's 2G"
out=$(on_vm "${vm_rt[@]}" exec acme-web fallocate -l 3G /var/tmp/big 2>&1) && fail "3G fit in a 2G quota"
case "$out" in *"quota exceeded"*|*"No space left"*) ;; *) fail "writing past the quota said: $out" ;; esac
on_vm "${vm_rt[@]}" exec acme-web fallocate -l 1G /var/tmp/big || fail "1G did not fit in 2G"
on_vm "${vm_rt[@]}" exec acme-web rm -f /var/tmp/big
on_vm xfs_quota -x -c "report -p -n" /var/lib/linuxvps | grep -qw 2097152 || fail "no 2G project quota on the state directory"

echo "== partitions outlive the SSH sessions that started them"
close_sessions
sleep 2
for part in "${parts[@]}"; do
  expect "$part after the sessions ended" "$(on_vm systemctl is-active "$(unit_of "$part")")" active
  expect "$part's cgroup" "$(on_vm systemctl show -p ControlGroup --value "$(unit_of "$part")")" \
    "/linuxvps.slice/$(slice_of "$part")/$(unit_of "$part")"
done

echo "== restart policy: a killed init comes back once the host lock is free, poweroff inside stays down"
# Another run holds the host lock for 25 s: the clean-up after init's death and systemd's restart must wait
# for it like any run (unlocked, both are done and the partition runs again within ~10 s, even under TCG).
on_vm systemd-run --quiet --collect --unit=lvtest-hold-lock flock /var/lib/linuxvps/lock sleep 25
on_vm kill -9 "$(main_pid acme-web)"
sleep 18
expect "acme-web's unit while the lock is held" "$(on_vm systemctl is-active "$(unit_of acme-web)" || true)" deactivating
[ "$(on_vm "${vm_rt[@]}" list --quiet | grep -cx acme-web)" = 0 ] \
  || [ "$(on_vm "${vm_rt[@]}" state acme-web | grep -cE '"status" ?: ?"running"')" = 0 ] \
  || fail "acme-web runs again while another run holds the host lock"
for _ in $(seq 60); do
  pid=$(main_pid acme-web)
  [ "$pid" != 0 ] && [ "$pid" != "$before" ] && [ "$(on_vm systemctl is-active "$(unit_of acme-web)")" = active ] && break
  sleep 1
done
if [ "$pid" = 0 ] || [ "$pid" = "$before" ]; then fail "acme-web did not restart after its init was killed"; fi
wait_booted acme-web
expect "acme-web memory.max after the restart" "$(cgroup_file acme-web memory.max)" 335544320
on_vm ping -c 1 -W 5 10.213.50.11 >/dev/null || fail "acme-web does not answer after its restart"
restarts=$(on_vm systemctl show -p NRestarts --value "$(unit_of globex-app)")
on_vm "${vm_rt[@]}" exec globex-app systemctl poweroff || true
stopped_at=$SECONDS
# Wait for a settled state: the stop commands run after init exits (deactivating), seconds under TCG.
# A restart would pass through activating back to active and never settle here.
for _ in $(seq 90); do
  case "$(on_vm systemctl is-active "$(unit_of globex-app)" || true)" in inactive|failed) break ;; esac
  sleep 1
done
echo "   (stopped in $((SECONDS - stopped_at)) s)"
sleep 5  # longer than RestartSec: a restart would have happened by now
expect "globex-app after poweroff" "$(on_vm systemctl is-active "$(unit_of globex-app)" || true)" inactive
expect "globex-app restarts after poweroff" "$(on_vm systemctl show -p NRestarts --value "$(unit_of globex-app)")" "$restarts"
run linuxvps.partitions.tenants -e "@$here/moved.yml"
grep -qE 'lvvm +:.*changed=[1-9]' "$log" || fail "tenants.yml did not start globex-app again"
expect "globex-app started again" "$(on_vm systemctl is-active "$(unit_of globex-app)")" active

echo "== counters: an OOM kill in acme-web is counted (partition_info's read is also its sample)"
# partition_info's counters of one partition, one field (a Python expression on them)
counter() {
  ansible -i "$INVENTORY" lvvm -m linuxvps.partitions.partition_info -a "name=$1" -o 2>/dev/null | sed 's/^[^{]*//' \
    | python3 -c "import json, sys; c = json.load(sys.stdin)['partitions'][0]['counters']; print($2)"
}
# one string: ssh hands the VM's shell the words joined, so the Perl program is quoted for that shell
# shellcheck disable=SC2016
hog="${vm_rt[*]}"' exec acme-web perl -e '\''$x = "a" x (400 * 1024 * 1024); sleep 1'\'
on_vm "$hog" && fail "a 400M hog lived in acme-web's 320M"
oom_before=$(counter acme-web "c['oom_kills']")
[ "$oom_before" -ge 1 ] || fail "acme-web's OOM kill was not counted ($oom_before)"
# pids.maxheld is the kernel's peak where the cgroup has pids.peak, else a lower bound from samples: said so
peak="/sys/fs/cgroup/linuxvps.slice/$(slice_of acme-web)/$(unit_of acme-web)/partition/pids.peak"
sampled=$(on_vm test -e "$peak" && echo False || echo True)
expect "acme-web pids.maxheld said to be sampled exactly without pids.peak" \
  "$(counter acme-web "'pids.maxheld' in c['approximate']")" "$sampled"

echo "== reboot: autostart partitions come back in their order"
close_sessions  # the reboot ends them
"${vm[@]}" reboot
expect "a host sysctl after the reboot" "$(on_vm sysctl -n fs.inotify.max_user_instances)" 1048576
all_active "the reboot"
oom_rebooted=$(counter acme-web "c['oom_kills']")  # the units' stop at shutdown kept them; this read is the new sample
[ "$oom_rebooted" -ge "$oom_before" ] || fail "acme-web's OOM kills went from $oom_before to $oom_rebooted over the reboot"

echo "== hard power-off just after the autostart wrote the runtime's state: all come back, with limits and addresses"
# acme-web's runtime state as a power loss can leave it (written, never flushed: empty); the others as the kill does
# (crun keeps it in status, runc in state.json)
state_file=$([ "$vm_runtime" = crun ] && echo status || echo state.json)
on_vm sh -c ": > /var/lib/linuxvps/$vm_runtime/acme-web/$state_file && sync"
close_sessions
"${vm[@]}" powercut
all_active "the power cut"
order=$(on_vm journalctl -b -u linuxvps-autostart.service --no-pager -o cat | sed -n 's/^\([a-z0-9-]*\): started$/\1/p' | paste -sd' ')
expect "autostart order" "$order" "acme-db acme-web globex-app"
expect "acme-web memory.max after the power cut" "$(cgroup_file acme-web memory.max)" 335544320
expect "acme-db pids.max after the power cut" "$(cgroup_file acme-db pids.max)" 300
expect "acme slice memory.max after the power cut" "$(slice_file acme memory.max)" 419430400
expect "acme slice pids.max after the power cut" "$(slice_file acme pids.max)" 600
oom_after=$(counter acme-web "c['oom_kills']")  # no stop ran: the autostart folded the life from its last sample
[ "$oom_after" -ge "$oom_rebooted" ] || fail "acme-web's OOM kills went from $oom_rebooted to $oom_after over the power cut"
# lxcfs starts before the boot service (After=lxcfs.service): the partitions it starts have the view
expect "free -b inside acme-web after the power cut" "$(free_inside acme-web)" 335544320
on_vm ping -c 1 -W 5 10.213.50.12 >/dev/null || fail "acme-db does not answer after the power cut"
on_vm ping -c 1 -W 5 fd42:213:0:50::11 >/dev/null || fail "acme-web does not answer on IPv6 after the power cut"
for part in "${parts[@]}"; do wait_booted "$part"; done

echo "== tenants.yml in check mode after the reboot: nothing to change"
run linuxvps.partitions.tenants -e "@$here/moved.yml" --check --diff
no_change "tenants.yml --check after the reboot"

echo "== the report"
run linuxvps.partitions.report
grep -q 'acme-web' "$log" || { cat "$log"; fail "report lacks acme-web"; }

echo "== metrics: the timer (enabled, so back after the reboots) rewrites linuxvps.prom within 30 s; promtool passes"
prom=/var/lib/prometheus/node-exporter/linuxvps.prom
expect "metrics timer" "$(on_vm systemctl is-active linuxvps-metrics.timer)" active
written=$(on_vm stat -c %Y "$prom" 2>/dev/null || echo 0)
for _ in $(seq 30); do
  [ "$(on_vm stat -c %Y "$prom" 2>/dev/null || echo 0)" != "$written" ] && break
  sleep 1
done
[ "$(on_vm stat -c %Y "$prom" 2>/dev/null || echo 0)" != "$written" ] || fail "$prom not rewritten within 30 s"
on_vm cat "$prom" > "$inside_dir/linuxvps.prom"
"$("$here/../../integration/targets/metrics/files/promtool.sh")" check metrics < "$inside_dir/linuxvps.prom" \
  || fail "promtool refuses the VM's metrics"
grep -q '^linuxvps_partition_up{partition="acme-web",tenant="acme"} 1$' "$inside_dir/linuxvps.prom" \
  || fail "acme-web is not up in the metrics"
expect "acme-web's memory limit in the metrics" \
  "$(sed -n 's/^linuxvps_partition_memory_limit_bytes{partition="acme-web",tenant="acme"} //p' "$inside_dir/linuxvps.prom")" \
  "$(cgroup_file acme-web memory.max)"

echo "== from the controller into the partitions: inventory plugin, connection plugin through linuxvps_host"
head -c 50M /dev/urandom > "$inside_dir/source.bin"
inside_sha256=$(sha256sum "$inside_dir/source.bin" | cut -d' ' -f1)
mkdir "$inside_dir/fetched"
# The VM by address, port and key; its host key changes with every image, so the ssh client's host key check
# is off for it.
cat > "$inside_dir/vm.linuxvps.yml" <<EOF
plugin: linuxvps.partitions.partitions
hosts:
  - name: lvvm
    address: 127.0.0.1
    user: root
    port: $(cat "$run_dir/port")
    private_key_file: $(cat "$run_dir/key")
    ssh_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
EOF
host_files() { on_vm sh -c 'ls -a /tmp /var/tmp /root; ls /home'; }
host_files_before=$(host_files)
started=$SECONDS
ansible-playbook -i "$inside_dir/vm.linuxvps.yml" "$here/inside.yml" -e "inside_source=$inside_dir/source.bin" \
  -e "inside_sha256=$inside_sha256" -e "inside_fetched=$inside_dir/fetched" > "$log" 2>&1 \
  || { cat "$log"; fail "inside.yml through the connection plugin"; }
grep -E '^(acme|globex)-[a-z]+ +:' "$log"
echo "   ($((SECONDS - started)) s)"
for part in "${parts[@]}"; do
  expect "$part: the user made through the plugin, seen by the runtime's exec" \
    "$(on_vm "${vm_rt[@]}" exec "$part" getent passwd lvci | cut -d: -f1)" lvci
done
expect "the rendered file in globex-app" "$(on_vm "${vm_rt[@]}" exec globex-app cat /etc/inside.conf)" \
  "partition globex-app of tenant globex"
# the control: none of it happened on the VM host itself
on_vm getent passwd lvci >/dev/null && fail "the user was made on the VM host"
expect "files on the VM host after the play" "$(host_files)" "$host_files_before"

"$here/operations.sh"  # move.yml between the CI box and the VM, a backup restored here, a snapshot round trip

echo "== crun next to runc: $RUNTIME_COUNT partitions started, then stopped and removed, with each (seconds, not asserted)"
for rt in crun runc crun runc; do  # twice each, alternating: the first round also warms the caches
  started=$SECONDS
  "${play[@]}" "$here/runtimes.yml" -e "runtime_choice=$rt runtime_count=$RUNTIME_COUNT" > "$log" 2>&1 \
    || { cat "$log"; fail "runtimes.yml with $rt"; }
  grep -o 'RUNTIME [^"]*' "$log" | sed 's/^/   /'
done

echo "== destroy.yml leaves nothing"
run linuxvps.partitions.destroy -e linuxvps_destroy_confirm=destroy-all-partitions
left=$(on_vm systemctl list-units --all --no-legend --plain 'linuxvps-*' | grep -vE 'autostart|metrics' || true)
expect "units left (${left//$'\n'/; })" "$(grep -c . <<<"$left" || true)" 0
expect "tenant slice unit files left" "$(on_vm sh -c 'ls /etc/systemd/system/linuxvps-*.slice 2>/dev/null | wc -l')" 0
expect "cgroups left" "$(on_vm find /sys/fs/cgroup/linuxvps.slice -mindepth 1 -type d 2>/dev/null | wc -l)" 0
for rt in crun runc; do
  expect "$rt containers left" "$(on_vm "$rt" --root "/var/lib/linuxvps/$rt" list -q 2>/dev/null | wc -l)" 0
done
expect "overlay mounts left" "$(on_vm grep -c ' overlay ' /proc/mounts || true)" 0
echo "VM scenario passed"
