#!/usr/bin/env bash
# Prints the path of a promtool, unpacked from Debian's prometheus package into /var/tmp once per machine.
# Never installed: the package's postinst would start a Prometheus server.
set -eu
dest=${PROMTOOL_DIR:-/var/tmp/linuxvps-promtool}
if ! [ -x "$dest/usr/bin/promtool" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 0755 "$work"  # apt-get download fetches as the _apt user when it can
  (cd "$work" && { apt-get download -q prometheus >&2 || { apt-get update -q >&2 && apt-get download -q prometheus >&2; }; })
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  dpkg-deb -x "$work"/prometheus_*.deb "$dest.partial"
  rm -rf "$dest" && mv "$dest.partial" "$dest"
fi
echo "$dest/usr/bin/promtool"
