# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idmapped template mounts: the choice of a partition's lower layer, its fallback and its report (no mount is made:
the kernel's part is proven by the integration target idmapped)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import threading
import warnings

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import idmapped
from ansible_collections.linuxvps.partitions.plugins.module_utils.converge import Converger
from ansible_collections.linuxvps.partitions.plugins.module_utils.report import Reporter
from ansible_collections.linuxvps.partitions.tests.unit.plugins.module_utils.fakes import FakeDisk, FakeEngine


@pytest.fixture
def engine(tmp_path):
    engine = FakeEngine(str(tmp_path / "state"))
    engine.templates.refusal = None  # this fake host allows idmapped mounts
    return engine


def converge(engine, name, **params):
    plan, report = Converger(engine).converge(dict({"name": name, "rootfs": "debian12", "command": ["sleep", "1"]}, **params))
    return plan, report


@pytest.mark.parametrize("release, version", [("6.18.44-fc-v857", (6, 18)), ("5.19.0-1-amd64", (5, 19)),
                                              ("5.4.0", (5, 4)), ("6.1", (6, 1)), ("4.19.0-rc3+", (4, 19))])
def test_kernel_version_reads_the_release(release, version):
    assert idmapped.kernel_version(release) == version


def test_a_kernel_before_5_19_is_refused_without_trying():
    why = idmapped.refusal("/nonexistent", release="5.15.0-91-generic")
    assert "5.15" in why and "5.19" in why


@pytest.mark.parametrize("err, words", [(errno.ENOSYS, "mount_setattr"), (errno.EINVAL, "does not support idmapped"),
                                        (errno.EPERM, "not permitted"), (errno.ENOENT, "No such file")])
def test_each_refusal_says_why(err, words):
    assert words in idmapped.explain(OSError(err, os.strerror(err)), "/t")


def test_the_map_covers_the_whole_range():
    assert idmapped.id_map_line(1048576, 65536) == "0 1048576 65536\n"


def test_a_tenants_partitions_take_the_idmapped_mount_and_no_copy(engine):
    _plan, report = converge(engine, "web1", tenant="acme")
    converge(engine, "web2", tenant="acme")
    base = report["id_base"]
    lower = engine.templates.idmapped_path("debian12", base)
    assert FakeDisk.disks[engine.store.partition_dir("web1")] == lower
    assert FakeDisk.disks[engine.store.partition_dir("web2")] == lower
    assert ("idmapped_root", "debian12", base) in engine.log
    assert report["template_access"] == "idmapped"


def test_refused_it_takes_the_shifted_copy_and_one_warning_says_why(engine):
    engine.templates.refusal = "the filesystem holding /t does not support idmapped mounts (EINVAL)"
    outcomes = Converger(engine).converge_many([{"name": name, "rootfs": "debian12", "command": ["sleep", "1"], "tenant": name}
                                                for name in ("web1", "web2")])
    warnings = [warning for outcome in outcomes for warning in outcome.plan.warnings if "not an idmapped mount" in warning]
    assert len(set(warnings)) == 1 and "EINVAL" in warnings[0]
    assert FakeDisk.disks[engine.store.partition_dir("web1")].startswith(engine.templates.root + "/debian12@")
    assert [outcome.report["template_access"] for outcome in outcomes] == ["shifted_copy", "shifted_copy"]


def test_idmapped_template_false_keeps_the_shifted_copy_without_a_warning(engine):
    plan, report = converge(engine, "web1", idmapped_template=False)
    assert report["template_access"] == "shifted_copy" and report["config"]["idmapped_template"] is False
    assert not [warning for warning in plan.warnings if "idmapped" in warning]
    assert FakeDisk.disks[engine.store.partition_dir("web1")].startswith(engine.templates.root + "/debian12@")
    plan, report = converge(engine, "web1", idmapped_template=True)  # a restart setting: recorded, taken at the next start
    assert "idmapped_template" not in report["config"] and plan.changed


def test_a_mount_that_fails_falls_back_for_the_rest_of_the_run(engine, monkeypatch):
    def refuse(name, base):
        raise OSError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(engine.templates, "idmapped_root", refuse)
    _plan, report = converge(engine, "web1")
    assert FakeDisk.disks[engine.store.partition_dir("web1")].startswith(engine.templates.root + "/debian12@")
    assert report["template_access"] == "shifted_copy"
    assert "not permitted" in engine.templates.idmapped_refusal("debian12")


def test_privileged_and_copy_partitions(engine):
    _plan, privileged = converge(engine, "root1", privileged=True)
    _plan, copied = converge(engine, "copy1", storage="copy")
    assert privileged["template_access"] == "direct" and copied["template_access"] is None
    assert FakeDisk.disks[engine.store.partition_dir("root1")] == os.path.join(engine.templates.root, "debian12")


def test_the_mount_goes_with_the_last_partition_of_its_range(engine):
    _plan, report = converge(engine, "web1", tenant="acme")
    converge(engine, "web2", tenant="acme")
    converge(engine, "other", tenant="globex")
    base = report["id_base"]
    del engine.log[:]
    converge(engine, "web1", state="absent")
    assert [entry for entry in engine.log if entry[0] == "drop_idmapped"] == []
    converge(engine, "web2", state="absent")
    assert ("drop_idmapped", "debian12", base) in engine.log


def test_a_stopped_partition_reports_what_a_start_would_take(engine):
    converge(engine, "web1", state="stopped")
    (report,) = Reporter(engine).info()
    assert report["template_access"] == "idmapped"
    engine.templates.refusal = "kernel 5.15 is older than 5.19"
    (report,) = Reporter(engine).info()
    assert report["template_access"] == "shifted_copy"


@pytest.mark.skipif(os.geteuid() != 0, reason="mapping IDs of a user namespace takes root")
def test_user_namespaces_are_made_from_worker_threads_and_leave_no_process():
    """The list form's worker threads make them side by side: each a namespace of its own mapped to its range, and
    no holder process left behind."""
    made = {}

    def make(base):
        fd = idmapped.user_namespace(base, 65536)
        try:
            made[base] = os.readlink("/proc/self/fd/%d" % fd)
        finally:
            os.close(fd)

    workers = [threading.Thread(target=make, args=(base,)) for base in (2 ** 20, 2 * 2 ** 20, 3 * 2 ** 20, 4 * 2 ** 20)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Python 3.12 on warns of a fork with threads running (it may deadlock)
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
    assert [str(warning.message) for warning in caught if "fork" in str(warning.message)] == []
    own = os.readlink("/proc/self/ns/user")
    assert len(set(made.values())) == 4 and all(link.startswith("user:[") and link != own for link in made.values())
    children = [pid for pid in os.listdir("/proc") if pid.isdigit() and _parent(pid) == os.getpid()]
    assert children == []


def _parent(pid):
    try:
        with open("/proc/%s/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (IOError, OSError, ValueError, IndexError):
        return None
