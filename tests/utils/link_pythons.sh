#!/usr/bin/env bash
# Usage: link_pythons.sh DIR
# Links one working interpreter per Python version into DIR as pythonX.Y, for ansible-test to find on PATH
# (it runs sanity and unit tests on every pythonX.Y it finds). pyenv's shims answer to every installed
# version but fail with exit 127 for those not selected, which would fail the run instead of testing them.
set -euo pipefail

dir=$1
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
rm -rf "$dir"
mkdir -p "$dir"

for version in 3.8 3.9 3.10 3.11 3.12 3.13 3.14; do
    candidates=()
    if command -v "python$version" >/dev/null 2>&1; then
        candidates+=("$(command -v "python$version")")
    fi
    for path in "$pyenv_root"/versions/"$version".*/bin/"python$version"; do
        if [ -x "$path" ]; then
            candidates+=("$path")
        fi
    done
    for candidate in ${candidates[@]+"${candidates[@]}"}; do
        # ansible-test's --venv needs venv and ensurepip; sys.executable sees through a shim.
        if real=$("$candidate" -c 'import ensurepip, sys, venv; print(sys.executable)' 2>/dev/null); then
            ln -s "$real" "$dir/python$version"
            echo "python$version: $real"
            break
        fi
    done
done
