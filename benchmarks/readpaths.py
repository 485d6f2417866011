# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read paths at scale: one module process, as Ansible runs it on the host, timed without the controller.

  info    partition_info of every partition (usage, counters, tenants): the module's own process, from its
          start (Python, imports) to its JSON on stdout
  rerun   the partition module's list form with nothing to change, the same way (must say changed=false)

The controller's share of a task (ansible-playbook starting, templating, AnsiballZ) is the difference to the
playbook figures bench.py reports beside these. With a profile directory, each runs once more under cProfile
and the top functions by cumulative time go to DIR/<row>-<N>.txt (the whole .prof beside it).

    readpaths.py info STATE_DIR [PROFILE_DIR]      (what bench.py calls; prints seconds)
"""

from __future__ import absolute_import, division, print_function

import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time

COLLECTION = ("ansible_collections", "linuxvps", "partitions")


def module_path(name):
    """The module's file in the collection Ansible uses (ANSIBLE_COLLECTIONS_PATH, as `make bench` sets it)."""
    for base in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        path = os.path.join(base, *(COLLECTION + ("plugins", "modules", name + ".py")))
        if os.path.isfile(path):
            return path
    raise RuntimeError("module %s not found under ANSIBLE_COLLECTIONS_PATH" % name)


def run_module(name, args, workdir, profile=None):
    """(seconds, result) of one run of module name with args, as a process of its own; profile: where cProfile
    writes its statistics (the run is then slower, and its seconds are not the figure)."""
    path = os.path.join(workdir, "%s-args.json" % name)
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False)}, handle)
    cmd = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else []) + [module_path(name), path]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        part for part in (os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0],
                          os.environ.get("PYTHONPATH")) if part))
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.monotonic() - started
    try:
        result = json.loads(proc.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"failed": True, "msg": proc.stderr.decode("utf-8", "replace")[-2000:]}
    if result.get("failed"):
        raise RuntimeError("%s failed: %s" % (name, result.get("msg")))
    return elapsed, result


def top_functions(prof, limit=30):
    """The top functions of a cProfile statistics file by cumulative time, as text."""
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def measure(name, args, workdir, label, profile_dir=None, expect=None):
    """Seconds of one run of module name (the figure), after a warm-up run (page cache, .pyc) that must pass
    expect(result); with profile_dir, a third run under cProfile, its top functions written there."""
    _warm, result = run_module(name, args, workdir)
    if expect is not None:
        expect(result)
    elapsed, result = run_module(name, args, workdir)
    if expect is not None:
        expect(result)
    if profile_dir:
        if not os.path.isdir(profile_dir):
            os.makedirs(profile_dir)
        prof = os.path.join(profile_dir, label + ".prof")
        run_module(name, args, workdir, profile=prof)
        with open(os.path.join(profile_dir, label + ".txt"), "w") as handle:
            handle.write(top_functions(prof))
    return elapsed, result


def info(state_dir, workdir, count, profile_dir=None):
    """Seconds of partition_info of every partition; it must report count partitions (and the anchor)."""
    def expect(result):
        if len(result["partitions"]) < count:
            raise RuntimeError("partition_info reported %d partitions, not %d" % (len(result["partitions"]), count))
    return measure("partition_info", {"state_dir": state_dir}, workdir, "info-%d" % count, profile_dir, expect)[0]


def rerun(args, workdir, count, profile_dir=None):
    """Seconds of the partition module's list form with nothing to change; it must report changed=false."""
    def expect(result):
        if result.get("changed"):
            changed = [item["name"] for item in result["partitions"] if item.get("changed")]
            raise RuntimeError("the idempotent re-run changed %s" % ", ".join(changed[:10]))
    return measure("partition", args, workdir, "rerun-%d" % count, profile_dir, expect)[0]


def main(argv):
    if len(argv) < 2 or argv[0] != "info":
        sys.stderr.write(__doc__)
        return 2
    workdir = tempfile.mkdtemp(prefix="linuxvps-readpaths-")
    seconds = info(argv[1], workdir, 0, argv[2] if len(argv) > 2 else None)
    sys.stdout.write("partition_info: %.2f s\n" % seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
