# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a new tenant costs: COUNT tenants, each given a first partition and then a next one from the same template,
each partition created and started by one run of the partition module (a command partition: the module's own work,
what the template's access adds shows), timed one by one; and the template's disk use per tenant (the growth of
the state directory's rootfs/, its idmapped mounts' directories counted but not what shows through them, / COUNT). Both ways a tenant can take the template:

  idmapped      idmapped_template=true (the default) on a host that allows idmapped mounts: one idmapped mount per tenant
  shifted_copy  idmapped_template=false: a copy of the template shifted to each tenant's range

Targets (issue 18): a first partition <= 1.3x a next one's time, <= 1 MiB of template per tenant.

    run_tenants(collection_path, count=20, log=print) -> dict     (bench.py calls it: --tenants N)
    python3 tenants.py [COUNT] [--collection PATH]                 (standalone; run as root, after `make collection`)

The module runs as `python3 -m` of the collection's partition module with its arguments in a file (no Ansible
controller, whose own second per task would drown the figures). Everything it made is removed at the end.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import tempfile
import time

STATE = "/var/tmp/linuxvps-bench"  # bench.py's state directory, whose debian12 template it builds
TEMPLATE = "debian12"
MODES = ("idmapped", "shifted_copy")
PREFIX = "bt"


def _module(collection_path, args, workdir):
    """(seconds, result) of one run of the partition module with args."""
    path = os.path.join(workdir, "args.json")
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=collection_path)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.linuxvps.partitions.plugins.modules.partition", path],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, cwd=workdir)
    elapsed = time.monotonic() - started
    try:
        result = json.loads(proc.stdout.decode("utf-8", "replace"))
    except ValueError:
        result = {"failed": True, "msg": (proc.stdout + proc.stderr).decode("utf-8", "replace")[-2000:]}
    if result.get("failed"):
        raise RuntimeError("partition %s: %s" % (args.get("name"), result.get("msg")))
    return elapsed, result


def _du(rootfs):
    """Bytes of the templates' directory: du -sxb, but not through the idmapped mounts in rootfs/.idmapped (the same
    filesystem as the template, so -x enters them and counts the template again per mount), whose mount point
    directories are counted instead."""
    out = subprocess.run(["du", "-sxb", "--exclude=.idmapped", rootfs], stdout=subprocess.PIPE, check=True).stdout.decode()
    holder = os.path.join(rootfs, ".idmapped")
    points = [os.path.join(holder, entry) for entry in os.listdir(holder)] if os.path.isdir(holder) else []
    return int(out.split()[0]) + sum(os.lstat(path).st_size for path in [holder] * bool(points) + points)


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _names(mode, index):
    tenant = "%s-%s-%02d" % (PREFIX, "i" if mode == "idmapped" else "s", index)
    return tenant, tenant + "-1", tenant + "-2"


def run_mode(collection_path, mode, count, state, template, workdir, log):
    """Figures of one way of taking the template: per tenant, the first and the next partition's seconds."""
    rootfs = os.path.join(state, "rootfs")
    before = _du(rootfs)
    first, following, accesses = [], [], set()
    made = []
    try:
        for index in range(count):
            tenant, one, two = _names(mode, index)
            for name, times in ((one, first), (two, following)):
                args = {"name": name, "tenant": tenant, "rootfs": template, "state_dir": state, "state": "started",
                        "command": ["sleep", "infinity"], "stop_timeout": 1,
                        "idmapped_template": mode == "idmapped"}
                made.append(name)
                seconds, result = _module(collection_path, args, workdir)
                times.append(seconds)
                accesses.add(result["partition"].get("template_access"))
        grown = _du(rootfs) - before
        log("tenants: %s: %d tenants, first partition %.2f s, next %.2f s (medians), template disk %.0f bytes per tenant"
            % (mode, count, _median(first), _median(following), grown / float(count)))
    finally:
        for name in made:
            _module(collection_path, {"name": name, "state": "absent", "state_dir": state}, workdir)
    return {"tenants": count, "template_access": sorted(str(access) for access in accesses),
            "first_s": first, "next_s": following,
            "first_median_s": _median(first), "next_median_s": _median(following),
            "first_mean_s": sum(first) / count, "next_mean_s": sum(following) / count,
            "ratio": _median(first) / _median(following),
            "disk_bytes_per_tenant": grown / float(count)}


def run_tenants(collection_path, count=20, log=print, state=STATE, template=TEMPLATE, modes=MODES):
    """{mode: figures} for count new tenants each way (modes), plus the targets' verdicts for the idmapped way.

    collection_path: the directory holding ansible_collections/ (make collection's BUILD). The template must exist in
    state (bench.py builds it); count 0 measures nothing."""
    result = {"count": count}
    if count <= 0:
        return result
    if not os.path.isdir(os.path.join(state, "rootfs", template)):
        raise RuntimeError("no template %s in %s (bench.py builds it)" % (template, state))
    workdir = tempfile.mkdtemp(prefix="lvp-tenants-")
    try:
        for mode in modes:
            result[mode] = run_mode(collection_path, mode, count, state, template, workdir, log)
    finally:
        for entry in os.listdir(workdir):
            os.unlink(os.path.join(workdir, entry))
        os.rmdir(workdir)
    figures = result.get("idmapped")
    if figures:
        result["targets"] = {"first_le_1.3x_next": figures["ratio"] <= 1.3,
                             "disk_le_1MiB_per_tenant": figures["disk_bytes_per_tenant"] <= 1024 * 1024}
    return result


def table(result):
    """Markdown rows of the figures."""
    lines = ["| template access | tenants | first partition (median s) | next partition (median s) | ratio | "
             "template disk per tenant |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for mode in MODES:
        figures = result.get(mode)
        if figures:
            lines.append("| %s | %d | %.2f | %.2f | %.2f | %.1f MiB |" % (
                mode, figures["tenants"], figures["first_median_s"], figures["next_median_s"], figures["ratio"],
                figures["disk_bytes_per_tenant"] / 1024.0 / 1024.0))
    return "\n".join(lines)


def main(argv):
    count = int(argv[0]) if argv and argv[0].isdigit() else 20
    collection = argv[argv.index("--collection") + 1] if "--collection" in argv else os.environ.get("PYTHONPATH", "")
    result = run_tenants(collection, count)
    print(json.dumps(result, indent=1, sort_keys=True))
    print(table(result))


if __name__ == "__main__":
    main(sys.argv[1:])
