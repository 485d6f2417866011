#!/usr/bin/env bash
# AWX's way of running the collection: ansible-runner (process isolation off, as inside an execution
# environment) with a private data dir laid out as AWX writes it for a job: inventory/hosts, env/extravars
# (the job template's extra vars and survey answers), env/envvars (the project's collections path), project/
# with the playbooks a job template names. Job templates site, report and destroy (refused with a wrong survey
# answer, then confirmed) run on this host; each job's artifacts (rc, status) and job events must say what
# a plain ansible-playbook run of the same playbook on the same state says (site: the job re-run on the
# converged host and the plain run after it).
# One tenant, one partition (pt-awx1, 10.213.210.11) on a bridge of its own (lvawx0, 10.213.210.0/24), in a
# state directory of its own (/var/tmp/linuxvps-awx-test). Its template is copied once, read-only, from the
# integration tests' (/var/tmp/linuxvps-test, rootfs debian12; about 2 s), or built like theirs when that is
# absent, and removed at the end with the partition and the bridge. Takes the integration lock itself
# (LVP_LOCK_HELD=1: the caller holds it).
# Usage: tests/awx/runner.sh <collection source tree>   (ansible-runner, ansible-galaxy on PATH; as root)
set -eu
if [ -z "${LVP_LOCK_HELD:-}" ]; then
  exec env LVP_LOCK_HELD=1 flock /var/tmp/lvp-integration.lock "$0" "$@"
fi
src=${1:?collection source tree}
here=$(cd "$(dirname "$0")" && pwd)
state=/var/tmp/linuxvps-awx-test
template=awx-debian12
shared=/var/tmp/linuxvps-test/rootfs/debian12/rootfs
runc="runc --root $state/runc"
work=$(mktemp -d)
pdd=$work/job       # the private data dir
log=$work/log
fail() { echo "FAIL: $*"; exit 1; }
# site.yml's host role starts lxcfs (host-wide): stopped at the end only when this test started it.
lxcfs_was_running=no
timeout 5 grep -qs ^MemTotal: /var/lib/lxcfs/proc/meminfo && lxcfs_was_running=yes

cleanup() {
  if [ -d "$work/collections" ]; then
    plain destroy.yml -e linuxvps_destroy_confirm=destroy-all-partitions >/dev/null 2>&1 || true
    ANSIBLE_COLLECTIONS_PATH=$work/collections ansible -i "$pdd/inventory/hosts" localhost \
      -m linuxvps.partitions.network -a "name=lvawx0 state=absent force=true state_dir=$state" >/dev/null 2>&1 || true
    # Refused while a partition still uses it.
    ANSIBLE_COLLECTIONS_PATH=$work/collections ansible -i "$pdd/inventory/hosts" localhost \
      -m linuxvps.partitions.rootfs -a "name=$template state=absent state_dir=$state" >/dev/null 2>&1 || true
  fi
  if [ "$lxcfs_was_running" = no ]; then
    start-stop-daemon --stop --quiet --pidfile /run/lxcfs.pid --exec /usr/bin/lxcfs --retry 10 || true
    ! findmnt -rn --mountpoint /var/lib/lxcfs -t fuse.lxcfs > /dev/null || umount --lazy /var/lib/lxcfs
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The project: collections/requirements.yml (installed as AWX's project update installs it) and playbooks.
mkdir -p "$pdd/project/collections" "$pdd/inventory" "$pdd/env"
ansible-galaxy collection build --output-path "$work" "$src" >/dev/null
tarball=$(cd "$work" && ls linuxvps-partitions-*.tar.gz)
printf -- '---\ncollections:\n  - name: %s\n    type: file\n' "$work/$tarball" > "$pdd/project/collections/requirements.yml"
ANSIBLE_COLLECTIONS_PATH=$work/collections \
  ansible-galaxy collection install -r "$pdd/project/collections/requirements.yml" -p "$work/collections" >/dev/null
for playbook in site report destroy; do
  printf -- '---\n- name: Job template %s\n  ansible.builtin.import_playbook: linuxvps.partitions.%s\n' \
    "$playbook" "$playbook" > "$pdd/project/$playbook.yml"
done
printf -- '---\nANSIBLE_COLLECTIONS_PATH: %s\nANSIBLE_NOCOLOR: "1"\n' "$work/collections" > "$pdd/env/envvars"
printf -- '---\nprocess_isolation: false\n' > "$pdd/env/settings"
cp "$here/files/hosts.yml" "$pdd/inventory/hosts"

# ansible-runner run <ident> <playbook> <extra vars as JSON>: the job; its recap into $log.
job() {
  printf '%s\n' "$3" > "$pdd/env/extravars"
  ansible-runner run "$pdd" --ident "$1" -p "$2" > "$work/$1.out" 2>&1 || true
  python3 "$here/job_events.py" "$pdd/artifacts/$1" > "$log" || { cat "$work/$1.out"; exit 1; }
  cat "$log"
}
# The same playbook and extra vars with ansible-playbook; "<rc> plain" and its recap into $log.
plain() {
  local rc=0
  ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_NOCOLOR=1 \
    ansible-playbook -i "$pdd/inventory/hosts" "$pdd/project/$1" "${@:2}" > "$work/plain.out" 2>&1 || rc=$?
  { echo "$rc plain"; sed -n 's/^\([^ ]*\) *: \(ok=.*[^ ]\) *$/\1 \2/p' "$work/plain.out" | tr -s ' '; } > "$log"
  cat "$log"
}
expect() { head -1 "$log" | grep -qx "$1" || fail "$2: rc and status $(head -1 "$log"), expected $1"; }
recap() { sed 1d "$log"; }
# Seconds each part took (the whole test's added time matters: make test runs it).
took() { echo "   ($1: $SECONDS s)"; SECONDS=0; }

echo "== the template ($template in $state)"
if [ -d "$shared" ]; then
  tar -C "$shared" -cf "$work/template.tar" .
  args="method=tarball src=$work/template.tar"
else
  args="method=debootstrap release=bookworm variant=minbase packages=systemd-sysv,dbus,iproute2,iputils-ping,openssh-server"
fi
ANSIBLE_COLLECTIONS_PATH=$work/collections ansible -i "$pdd/inventory/hosts" localhost \
  -m linuxvps.partitions.rootfs -a "name=$template $args force=true state_dir=$state" > "$log" 2>&1 || { cat "$log"; exit 1; }
rm -f "$work/template.tar"
took "setup"

echo "== job template site"
job site site.yml '{"linuxvps_hosts": "linuxvps"}'
expect "0 successful" site
grep -qE '^localhost ok=[0-9]+ changed=[1-9][0-9]* unreachable=0 failed=0 ' "$log" || fail "site changed nothing or failed"
table=$(python3 "$here/job_events.py" "$pdd/artifacts/site" --task "Show the table")
grep -q 'awx1 .*pt-awx1 .*running .*10\.213\.210\.11' <<<"$table" || fail "site's report table lacks pt-awx1: $table"
$runc state pt-awx1 | grep -q '"running"' || fail "pt-awx1 not running"
ping -c 1 -W 5 10.213.210.11 >/dev/null || fail "pt-awx1 does not answer"

echo "== job template site again: nothing changes; plain ansible-playbook site says the same"
job site-again site.yml '{"linuxvps_hosts": "linuxvps"}'
expect "0 successful" "site again"
grep -qE '^localhost ok=[0-9]+ changed=0 unreachable=0 failed=0 ' "$log" || fail "site again changed something"
site_recap=$(recap)
plain site.yml -e '{"linuxvps_hosts": "linuxvps"}'
expect "0 plain" "plain site"
[ "$(recap)" = "$site_recap" ] || fail "site: job $site_recap, plain $(recap)"
took "site (three runs)"

echo "== job template report, and plain report"
job report report.yml '{"linuxvps_hosts": "linuxvps"}'
expect "0 successful" report
report_recap=$(recap)
plain report.yml -e '{"linuxvps_hosts": "linuxvps"}'
expect "0 plain" "plain report"
[ "$(recap)" = "$report_recap" ] || fail "report: job $report_recap, plain $(recap)"
python3 "$here/job_events.py" "$pdd/artifacts/report" --task "Show the table" | grep -q 'pt-awx1 .*10\.213\.210\.11' \
  || fail "the report job's table lacks pt-awx1"
grep -q 'pt-awx1 .*10\.213\.210\.11' "$work/plain.out" || fail "the plain report lacks pt-awx1"
took "report (two runs)"

echo "== job template destroy, survey answered wrong: refused; plain the same"
job destroy-refused destroy.yml '{"linuxvps_hosts": "linuxvps", "linuxvps_destroy_confirm": "yes"}'
expect "2 failed" "refused destroy"
refused_recap=$(recap)
grep -q '^localhost .* failed=1 ' "$log" || fail "refused destroy: no failed task"
python3 "$here/job_events.py" "$pdd/artifacts/destroy-refused" --task "Refuse without the confirmation" \
  | grep -q 'Refusing to destroy partitions' || fail "no refusal in the job events"
$runc state pt-awx1 | grep -q '"running"' || fail "the refused destroy changed pt-awx1"
plain destroy.yml -e '{"linuxvps_hosts": "linuxvps", "linuxvps_destroy_confirm": "yes"}'
expect "2 plain" "plain refused destroy"
[ "$(recap)" = "$refused_recap" ] || fail "refused destroy: job $refused_recap, plain $(recap)"

echo "== job template destroy, survey answered destroy-all-partitions"
job destroy destroy.yml '{"linuxvps_hosts": "linuxvps", "linuxvps_destroy_confirm": "destroy-all-partitions"}'
expect "0 successful" destroy
grep -qE '^localhost ok=[0-9]+ changed=1 unreachable=0 failed=0 ' "$log" || fail "destroy did not remove one partition"
if $runc state pt-awx1 >/dev/null 2>&1 || [ -e "$state/partitions/pt-awx1" ]; then fail "pt-awx1 left"; fi
took "destroy (three runs)"
echo "== all passed"
