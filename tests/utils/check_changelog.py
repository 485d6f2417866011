# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks the collection's changelog: antsibull-changelog lint (every fragment, whoever added it), the first
release as a first release should read (a summary, no fixes of code no one had), every module, role and
playbook announced exactly once, and CHANGELOG.rst as antsibull-changelog generates it.

Usage: python3 tests/utils/check_changelog.py ANTSIBULL_CHANGELOG (the antsibull-changelog command to run)."""

import ast
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Sections that only make sense against an earlier release.
NOT_IN_FIRST = ("bugfixes", "security_fixes", "breaking_changes", "removed_features")


def version_key(version):
    return tuple(int(part) if part.isdigit() else -1 for part in version.replace("-", ".").split("."))


def announced(releases, key, kind=None):
    names = []
    for release in releases.values():
        items = release.get(key) or {}
        if kind is not None:
            items = items.get(kind) or []
        names.extend(item["name"] for item in items)
    return names


def pending(kind):
    """Names a fragment not yet released announces ('add object.role' and the like): work for the next release."""
    names = []
    for path in glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*.y*ml")):
        with open(path) as handle:
            fragment = yaml.safe_load(handle) or {}
        names.extend(item.get("name") for item in fragment.get("add object.%s" % kind) or [] if isinstance(item, dict))
    return names


def module_version_added(name):
    with open(os.path.join(ROOT, "plugins", "modules", name + ".py")) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "DOCUMENTATION" for target in node.targets):
            return str(yaml.safe_load(node.value.value).get("version_added", ""))
    return ""


def listed(directory, suffix=None):
    path = os.path.join(ROOT, directory)
    entries = sorted(os.listdir(path))
    if suffix is None:
        return [entry for entry in entries if os.path.isdir(os.path.join(path, entry))]
    return [entry[:-len(suffix)] for entry in entries if entry.endswith(suffix) and not entry.startswith("_")]


def main(argv):
    tool = argv[1]
    errors = []
    lint = subprocess.run([tool, "lint"], cwd=ROOT, capture_output=True, text=True, check=False)
    if lint.returncode != 0 or lint.stdout.strip():
        errors.append("antsibull-changelog lint:\n" + lint.stdout + lint.stderr)

    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        releases = yaml.safe_load(handle).get("releases") or {}
    if not releases:
        errors.append("changelogs/changelog.yaml has no release")
    else:
        first = min(releases, key=version_key)
        changes = releases[first].get("changes") or {}
        if not changes.get("release_summary"):
            errors.append("release %s has no release_summary" % first)
        for section in NOT_IN_FIRST:
            if changes.get(section):
                errors.append("release %s is the first release but has %s (fold them into what it introduces)" % (first, section))

    latest = max(releases, key=version_key) if releases else "0"
    # A module whose version_added is newer than the last release is announced by the next one.
    next_modules = [name for name in listed("plugins/modules", ".py") if version_key(module_version_added(name)) > version_key(latest)]
    for what, names, present, coming in (
        ("module", announced(releases, "modules"), listed("plugins/modules", ".py"), next_modules),
        ("role", announced(releases, "objects", "role"), listed("roles"), pending("role")),
        ("playbook", announced(releases, "objects", "playbook"), listed("playbooks", ".yml"), pending("playbook")),
    ):
        for name in sorted(set(names + coming)):
            if (names + coming).count(name) > 1:
                errors.append("%s %s is announced %d times" % (what, name, (names + coming).count(name)))
        for name in present:
            if name not in names + coming:
                errors.append("%s %s is in no release (version_added of a module, 'add object.%s' in a fragment)" % (what, name, what))

    scratch = tempfile.mkdtemp(prefix="linuxvps-changelog-")
    try:
        shutil.copytree(os.path.join(ROOT, "changelogs"), os.path.join(scratch, "changelogs"))
        shutil.copy(os.path.join(ROOT, "galaxy.yml"), scratch)
        subprocess.run([tool, "generate"], cwd=scratch, check=True, capture_output=True)
        with open(os.path.join(scratch, "CHANGELOG.rst")) as generated, open(os.path.join(ROOT, "CHANGELOG.rst")) as kept:
            if generated.read() != kept.read():
                errors.append("CHANGELOG.rst differs from what 'antsibull-changelog generate' writes; run it")
    finally:
        shutil.rmtree(scratch)

    for error in errors:
        print("check_changelog: " + error, file=sys.stderr)
    if not errors:
        print("check_changelog: %d release(s), fragments lint clean" % len(releases))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
