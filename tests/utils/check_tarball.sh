#!/usr/bin/env bash
# Usage: check_tarball.sh [OUTDIR]
# Builds the release tarball from this checkout with ansible-galaxy (as a release is built) into OUTDIR
# (default /var/tmp/linuxvps-partitions-tarball) and checks that it holds the collection and not the test
# rig: galaxy.yml's build_ignore must keep out the VM scenario, helper scripts, benchmarks, the Makefile,
# CI files, build output, local virtual environments and earlier tarballs.
set -euo pipefail

cd "$(dirname "$0")/../.."
out=${1:-/var/tmp/linuxvps-partitions-tarball}
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/linuxvps-partitions-*.tar.gz)
tar -tzf "$tarball" | sed 's#^\./##; s#/$##' | sort >"$out/files.txt"

fail=0
# What a user of the collection needs.
for path in MANIFEST.json FILES.json LICENSE LICENSES/GPL-3.0-or-later.txt README.md meta/runtime.yml \
            changelogs/changelog.yaml plugins/modules/partition.py plugins/modules/partition_info.py \
            plugins/modules/network.py plugins/modules/rootfs.py plugins/doc_fragments/attributes.py \
            roles/host/tasks/main.yml roles/tenant/tasks/main.yml roles/distro_rootfs/tasks/main.yml \
            playbooks/site.yml tests/config.yml; do
    if ! grep -qxF "$path" "$out/files.txt"; then
        echo "check_tarball: $tarball lacks $path" >&2
        fail=1
    fi
done
# The test rig and local leftovers: none of it may ship.
forbidden='^(Makefile|\.ci|\.git|\.gitignore|\.venv|venv|build|benchmarks|tests/vm|tests/utils|tests/stock|tests/awx|tests/output)(/|$)'
forbidden+='|^changelogs/\.plugin-cache\.yaml$|\.tar\.gz$|\.zip$|\.pyc$|(^|/)__pycache__(/|$)|(^|/)\.pytest_cache(/|$)'
if grep -E "$forbidden" "$out/files.txt" >"$out/forbidden.txt"; then
    echo "check_tarball: $tarball holds files of the test rig or build output:" >&2
    sed 's/^/  /' "$out/forbidden.txt" >&2
    fail=1
fi
# Every file must be one git knows (tracked, or new and not ignored): nothing a run left in the checkout.
git ls-files --cached --others --exclude-standard | sort >"$out/git-files.txt"
tar -tzvf "$tarball" | awk '$1 !~ /^d/ {print $NF}' | sed 's#^\./##' | grep -vxE 'MANIFEST\.json|FILES\.json' \
    | sort >"$out/tar-files.txt"
if comm -23 "$out/tar-files.txt" "$out/git-files.txt" | grep . >"$out/untracked.txt"; then
    echo "check_tarball: $tarball holds files git does not know (run leftovers?):" >&2
    sed 's/^/  /' "$out/untracked.txt" >&2
    fail=1
fi
[ "$fail" = 0 ] || exit 1
echo "check_tarball: $tarball: $(wc -l <"$out/tar-files.txt") files, no test rig"
