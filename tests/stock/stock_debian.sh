#!/usr/bin/env bash
# The README's first command as a newcomer runs it on a stock Debian: a fresh minbase root made by debootstrap
# with only what the README says to install first (git, make) plus python3 and ca-certificates, this checkout
# cloned into it, `make demo` twice (the second run changes nothing), then the demo torn down.
#
# Usage: tests/stock/stock_debian.sh SUITE [CHECKOUT]   (SUITE: bookworm | trixie; as root)
#
# The root is not a VM: it is the root of a mount namespace of its own (pivot_root, not chroot: the kernel
# refuses user namespaces, which partitions need, to a chrooted process), sharing the host's kernel, cgroups
# and network namespace, so the demo's partitions, bridge (lvdemo0, 10.213.100.0/24) and nft table are real
# and are removed at the end, on failure too. One process holds that namespace for the whole test; each step
# enters it with a clean environment (env -i): none of this machine's pip configuration or Python.
set -euo pipefail

suite=${1:?usage: stock_debian.sh SUITE [CHECKOUT]}
checkout=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
mirror=${STOCK_MIRROR:-http://deb.debian.org/debian}
root=/var/tmp/linuxvps-stock/$suite
log_dir=/var/tmp/linuxvps-stock/logs
mkdir -p "$log_dir"

holder=
in_root() {
  nsenter --target "$holder" --mount --root --wd /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

mounted_under() { findmnt -rn -o TARGET | grep -E "^$root(/|$)" || true; }

teardown() {
  local rc=$?
  if [ -n "$holder" ] && [ -d "$root/root/partitions/.venv" ]; then
    in_root sh -c 'cd /root/partitions && make demo-destroy' > "$log_dir/$suite-destroy.log" 2>&1 \
      || { echo "demo-destroy failed:"; tail -30 "$log_dir/$suite-destroy.log"; rc=1; }
  fi
  # The host role's lxcfs runs in the root's namespace (the root has no init to stop it): it would hold the
  # namespace, and its FUSE mount, after the holder is gone.
  if [ -n "$holder" ]; then
    in_root start-stop-daemon --stop --quiet --pidfile /run/lxcfs.pid --retry 10 > /dev/null 2>&1 || true
  fi
  # The namespace's mounts (proc, sys, dev, run and whatever the demo left) go with its last process.
  if [ -n "$holder" ]; then kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
  if [ -n "$(mounted_under)" ]; then
    echo "still mounted under $root, not removing it:"; mounted_under; exit 1
  fi
  rm -rf --one-file-system "$root"
  exit "$rc"
}

fail() { echo "FAIL ($suite): $*"; exit 1; }

if [ -n "$(mounted_under)" ]; then
  fail "$root still has mounts from an earlier run"
fi
rm -rf --one-file-system "$root"
mkdir -p "$root"
trap teardown EXIT

started=$SECONDS
debootstrap --variant=minbase --include=git,make,python3,ca-certificates "$suite" "$root" "$mirror" \
  > "$log_dir/$suite-debootstrap.log" 2>&1 || { tail -20 "$log_dir/$suite-debootstrap.log"; fail "debootstrap"; }
echo "== $suite: minbase root in $((SECONDS - started)) s"

cp /etc/resolv.conf "$root/etc/resolv.conf"
# The root has no init: packages must not try to start their services (the usual policy-rc.d of chroots).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

git clone -q --no-hardlinks "$checkout" "$root/root/partitions"

# The namespace's holder (hold_root.sh): the root becomes its mount namespace's root.
unshare --mount --propagation private "$(dirname "$0")/hold_root.sh" "$root" &
holder=$!
for _ in $(seq 50); do
  in_root test -e /run/.ready 2>/dev/null && break
  sleep 0.2
done
in_root test -e /run/.ready || fail "the root's mount namespace did not come up"
# The site's own certificate authorities (a TLS-inspecting egress proxy, as on the CI machine) are this
# machine's network, not something a newcomer installs: the stock root trusts what this host trusts.
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  in_root update-ca-certificates > /dev/null 2>&1 || fail "update-ca-certificates"
fi

for round in 1 2; do
  started=$SECONDS
  in_root sh -c 'cd /root/partitions && make demo' > "$log_dir/$suite-demo-$round.log" 2>&1 \
    || { tail -60 "$log_dir/$suite-demo-$round.log"; fail "make demo (run $round)"; }
  recap=$(grep -E '^localhost +:' "$log_dir/$suite-demo-$round.log")
  echo "== $suite: make demo run $round in $((SECONDS - started)) s"
  echo "$recap"
  if [ "$round" = 2 ] && echo "$recap" | grep -qE 'changed=[1-9]'; then
    fail "the second make demo changed something (log: $log_dir/$suite-demo-2.log)"
  fi
done

# The demo's partitions run and answer on the demo bridge.
for address in 10.213.100.11 10.213.100.21; do
  ping -c 1 -W 5 "$address" > /dev/null || fail "demo partition $address does not answer"
done
# The host role ran lxcfs without an init (start-stop-daemon).
in_root mountpoint -q /var/lib/lxcfs || fail "the host role did not run lxcfs"
# Nothing went into the system's site-packages: the venv has Ansible, the system Python does not.
in_root /root/partitions/.venv/bin/python -c 'import ansible' || fail "the venv has no ansible"
if in_root python3 -c 'import ansible' 2>/dev/null; then fail "ansible was installed into the system Python"; fi
# The demo installs only what the demo needs.
for package in qemu-system-x86 shellcheck; do
  if in_root dpkg -s "$package" > /dev/null 2>&1; then fail "make demo installed $package"; fi
done
if in_root /root/partitions/.venv/bin/python -c 'import ansiblelint' 2>/dev/null; then fail "make demo installed ansible-lint"; fi
echo "== $suite: stock Debian passes"
