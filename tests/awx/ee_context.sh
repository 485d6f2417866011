#!/usr/bin/env bash
# An execution environment for AWX with this collection: `ansible-builder create` on a definition that installs
# the collection from its built tarball, then the two build steps that decide the EE's contents, run here
# without a container: the galaxy stage's collection install and the builder stage's introspection. The EE
# must get the controller's SSH client and none of the target's needs (pyroute2).
# Usage: tests/awx/ee_context.sh <collection source tree>   (ansible-builder and ansible-galaxy on PATH)
set -eu
src=${1:?collection source tree}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

echo "== ansible-galaxy collection build"
ansible-galaxy collection build --output-path "$work" "$src" >/dev/null
tarball=$(cd "$work" && ls linuxvps-partitions-*.tar.gz)
tar -tzf "$work/$tarball" | grep -qx 'meta/execution-environment.yml' || fail "tarball lacks meta/execution-environment.yml"
if tar -tzf "$work/$tarball" | grep -q '^\.venv/'; then fail "tarball holds the checkout's .venv"; fi

echo "== meta/execution-environment.yml is a valid ansible-builder v3 definition"
python3 - "$src/meta/execution-environment.yml" <<'PY'
import sys
import yaml
from ansible_builder.ee_schema import validate_schema
definition = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
assert definition["version"] == 3, definition["version"]
validate_schema(definition)
PY

echo "== ansible-builder create"
mkdir "$work/ee"
cat > "$work/ee/execution-environment.yml" <<DEF
---
version: 3
images:
  base_image:
    name: quay.io/centos/centos:stream9
dependencies:
  python_interpreter:
    package_system: python3.11
    python_path: /usr/bin/python3.11
  ansible_core:
    package_pip: ansible-core>=2.16,<2.21
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: collections/$tarball
        type: file
additional_build_files:
  - src: $work/$tarball
    dest: collections
DEF
ctx=$work/context
ansible-builder create -f "$work/ee/execution-environment.yml" -c "$ctx" --output-filename Containerfile >/dev/null
cf=$ctx/Containerfile
[ -f "$cf" ] || fail "no Containerfile"
cmp -s "$work/$tarball" "$ctx/_build/collections/$tarball" || fail "the tarball is not in the context"
grep -qx "  type: file" "$ctx/_build/requirements.yml" || fail "requirements.yml lacks the tarball"
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$cf" || fail "no collection install step"
grep -q 'introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt' "$cf" \
  || fail "no introspection step"
grep -q '^ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.16,<2.21 ansible-runner"' "$cf" || fail "ansible-core/runner refs"

# The galaxy stage: COPY _build /build; WORKDIR /build; ansible-galaxy collection install -r requirements.yml.
echo "== the galaxy stage's install and the builder stage's introspection"
(cd "$ctx/_build" && ANSIBLE_COLLECTIONS_PATH="$work/share" \
  ansible-galaxy collection install -r requirements.yml -p "$work/share" >/dev/null)
installed=$work/share/ansible_collections/linuxvps/partitions
[ -f "$installed/MANIFEST.json" ] || fail "collection not installed from the context"

# introspect <collections dir> -> the pip and bindep lists the EE would install.
introspect() {
  rm -f "$work/pip.txt" "$work/bindep.txt"
  python3 "$ctx/_build/scripts/introspect.py" introspect "$1" \
    --write-pip="$work/pip.txt" --write-bindep="$work/bindep.txt" >/dev/null
  touch "$work/pip.txt" "$work/bindep.txt"
}
has_pyroute2() { grep -qi '^pyroute2' "$work/pip.txt"; }

introspect "$work/share"
echo "-- bindep.txt:"; cat "$work/bindep.txt"
echo "-- requirements.txt:"; cat "$work/pip.txt"
grep -qx 'openssh-client \[platform:dpkg\]  # from collection linuxvps.partitions' "$work/bindep.txt" \
  || fail "bindep lacks openssh-client for dpkg"
grep -qx 'openssh-clients \[platform:rpm\]  # from collection linuxvps.partitions' "$work/bindep.txt" \
  || fail "bindep lacks openssh-clients for rpm"
if has_pyroute2; then fail "pyroute2 in the EE's Python requirements"; fi
if grep -q 'linuxvps.partitions' "$work/pip.txt"; then fail "Python requirements from the collection: $(cat "$work/pip.txt")"; fi

# Controls on copies of the installed collection: the check sees pyroute2 where introspection would add it
# (no meta/execution-environment.yml, pyroute2 in the root requirements.txt: how it was), and the meta file
# keeps the root requirements.txt out even when that one lists pyroute2.
echo "== controls"
control=$work/control/ansible_collections/linuxvps
mkdir -p "$control"
cp -a "$installed" "$control/partitions"
echo 'pyroute2>=0.7,<0.10' >> "$control/partitions/requirements.txt"
introspect "$work/control"
if has_pyroute2; then fail "meta/execution-environment.yml did not keep requirements.txt out"; fi
rm "$control/partitions/meta/execution-environment.yml"
introspect "$work/control"
has_pyroute2 || fail "control: introspection without the meta file did not report pyroute2; the check is blind"
echo "== all passed"
