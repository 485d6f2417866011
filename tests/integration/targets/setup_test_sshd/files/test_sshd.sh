# shellcheck shell=bash
# Sourced by script targets: an sshd of the test's own on 127.0.0.1, standing for a remote VPS host.
#   start_test_sshd DIR ROOTFS PORT [sshd_config line...]
# This host has no openssh-server, so the one of the template at ROOTFS runs (sshd_in_namespace.sh). Afterwards
# sshd_pid is its process (kill it in the caller's cleanup), DIR/id the client's key and DIR/log sshd's log, with
# one "Accepted publickey" line per SSH login.
test_sshd_files=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

start_test_sshd() {
  local dir=$1 rootfs=$2 port=$3
  shift 3
  mkdir -p "$dir/lib"
  cp -L "$rootfs/usr/lib/x86_64-linux-gnu/libwrap.so.0" "$dir/lib/"  # the template's sshd needs it, this host lacks it
  ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
  { cat /etc/passwd; echo 'sshd:x:65533:65534:privsep:/run/sshd:/usr/sbin/nologin'; } > "$dir/passwd"
  {
    cat <<CONFIG
ListenAddress 127.0.0.1:$port
HostKey $dir/hostkey
AuthorizedKeysFile $dir/id.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
CONFIG
    printf '%s\n' "$@"
  } > "$dir/sshd_config"
  unshare -m "$test_sshd_files/sshd_in_namespace.sh" "$dir" "$rootfs" 2> "$dir/log" &
  # shellcheck disable=SC2034 # read by the caller's cleanup
  sshd_pid=$!
  for _ in $(seq 50); do grep -q 'Server listening' "$dir/log" && break; sleep 0.1; done
  grep -q 'Server listening' "$dir/log" || { cat "$dir/log"; echo "FAIL: the test's sshd did not start"; exit 1; }
}
