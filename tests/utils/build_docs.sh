#!/usr/bin/env bash
# Usage: build_docs.sh COLLECTIONS_PATH DEST
# Builds the collection's docs site (modules, roles, playbooks' plugins) with antsibull-docs and Sphinx into
# DEST/html, from the collection found in COLLECTIONS_PATH (ansible_collections/linuxvps/partitions), and checks
# it: antsibull-docs' lint of every plugin's and role's docs (markup, references to options, return values and
# other plugins), and a Sphinx build whose only warnings may be links into Ansible's own docs, which an offline
# build cannot resolve (no intersphinx inventories are fetched). antsibull-docs, sphinx, sphinx-ansible-theme
# and ansible-core must be on PATH.
set -euo pipefail

collections=$(cd "$1" && pwd)
dest=$2
collection=$collections/ansible_collections/linuxvps/partitions
export ANSIBLE_COLLECTIONS_PATH=$collections

echo "== antsibull-docs lint-collection-docs"
(cd "$collection" && antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
    --disallow-unknown-collection-refs .)

echo "== site"
rm -rf "$dest"
mkdir -p "$dest"
chmod 0755 "$dest"
src=$dest/src
mkdir -m 0755 "$src"  # antsibull-docs writes only into a directory no one else may write to
antsibull-docs sphinx-init --use-current --fail-on-error --no-add-antsibull-docs-version \
    --title "linuxvps.partitions" --dest-dir "$src" linuxvps.partitions >/dev/null
# Offline: no intersphinx inventories to download.
python3 - "$src/conf.py" <<'PY'
import re, sys
path = sys.argv[1]
with open(path) as handle:
    text = handle.read()
text, count = re.subn(r"^intersphinx_mapping = \{.*?^\}\n", "intersphinx_mapping = {}\n", text, flags=re.S | re.M)
assert count == 1, "conf.py has no intersphinx_mapping to empty"
with open(path, "w") as handle:
    handle.write(text)
PY
mkdir -p "$src/rst"
chmod 0755 "$src/rst"
antsibull-docs --config-file "$src/antsibull-docs.cfg" collection --cleanup everything --fail-on-error \
    --use-current --dest-dir "$src/rst" linuxvps.partitions >/dev/null
sphinx-build -q -b html -c "$src" "$src/rst" "$dest/html" 2>"$dest/warnings.txt" || { cat "$dest/warnings.txt" >&2; exit 1; }

# Links into Ansible's docs (common return values, configuration and its environment variables, such as the
# ANSIBLE_PIPELINING and ANSIBLE_CACHE_PLUGIN of the plugins' options, ansible.builtin plugins) need intersphinx;
# anything else, such as a broken reference between this collection's pages, fails the check.
external="undefined label: '(common_return_values|ansible_configuration_settings|ansible_collections\.ansible\.builtin\.[a-z0-9_]+)'"
external="$external|'envvar' reference target not found: ANSIBLE_[A-Z0-9_]+ \[ref\.envvar\]"
if grep -vE "$external" "$dest/warnings.txt" | grep . >&2; then
    echo "build_docs: Sphinx warnings above" >&2
    exit 1
fi
for page in index.html collections/linuxvps/partitions/index.html collections/linuxvps/partitions/partition_module.html \
            collections/linuxvps/partitions/partition_info_module.html collections/linuxvps/partitions/network_module.html \
            collections/linuxvps/partitions/rootfs_module.html collections/linuxvps/partitions/tenant_role.html \
            collections/linuxvps/partitions/partition_exec_module.html \
            collections/linuxvps/partitions/partition_connection.html \
            collections/linuxvps/partitions/partitions_inventory.html; do
    [ -s "$dest/html/$page" ] || { echo "build_docs: $dest/html/$page missing" >&2; exit 1; }
done
echo "build_docs: $dest/html/index.html"
