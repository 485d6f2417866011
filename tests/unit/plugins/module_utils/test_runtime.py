# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import runtime
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed, InvalidOption, MissingDependency, PartitionError


# The cgroup mounts of this CI box (v1 hybrid: a tmpfs at /sys/fs/cgroup, cgroup2 at unified/), of a pure v2 host
# (Debian 12 and 13 with systemd) and of a pure v1 host.
HYBRID = """\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
"""
UNIFIED = """\
25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""
V1 = """\
25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs rw,mode=755
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
"""


@pytest.fixture
def hosts(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return dict((name, write(name, text)) for name, text in (("hybrid", HYBRID), ("unified", UNIFIED), ("v1", V1)))


def installed(monkeypatch, *names):
    monkeypatch.setattr(runtime, "find_program", lambda name: "/usr/bin/" + name if name in names else None)


def test_the_unified_hierarchy_is_cgroup2_mounted_at_the_root(hosts, tmp_path):
    assert runtime.pure_unified(hosts["unified"])
    assert not runtime.pure_unified(hosts["hybrid"])
    assert not runtime.pure_unified(hosts["v1"])
    assert not runtime.pure_unified(str(tmp_path / "no-such-mountinfo"))


def test_auto_chooses_crun_on_a_pure_v2_host_where_it_works(monkeypatch, hosts):
    installed(monkeypatch, "runc", "crun")
    probed = []
    chosen = runtime.select_runtime("auto", "/state", hosts["unified"], probe=lambda binary: probed.append(binary) or True)
    assert (chosen.name, chosen.root, probed) == ("crun", "/state/crun", ["/usr/bin/crun"])
    installed(monkeypatch, "crun")
    assert runtime.select_runtime("auto", "/state", hosts["unified"], probe=lambda binary: True).name == "crun"


def test_auto_keeps_runc_where_crun_fails_its_probe_or_the_host_is_not_pure_v2(monkeypatch, hosts):
    installed(monkeypatch, "runc", "crun")
    assert runtime.select_runtime("auto", "/state", hosts["unified"], probe=lambda binary: False).root == "/state/runc"
    for host in ("hybrid", "v1"):  # crun refuses them: not even probed
        chosen = runtime.select_runtime("auto", "/state", hosts[host], probe=lambda binary: pytest.fail("probed"))
        assert (chosen.name, chosen.root) == ("runc", "/state/runc")
    installed(monkeypatch, "runc")
    assert runtime.select_runtime("auto", "/state", hosts["unified"], probe=lambda binary: pytest.fail("probed")).name == "runc"


def test_auto_falls_back_to_crun_where_runc_is_missing(monkeypatch, hosts):
    installed(monkeypatch, "crun")
    assert runtime.select_runtime("auto", None, hosts["hybrid"]).name == "crun"


def test_a_named_runtime_is_used_as_named(monkeypatch, hosts):
    installed(monkeypatch, "runc", "crun")
    chosen = runtime.select_runtime("crun", "/state", hosts["hybrid"])
    assert (chosen.name, chosen.root, chosen.explicit) == ("crun", "/state/crun", True)
    assert runtime.select_runtime("runc", "/state", hosts["unified"], probe=lambda binary: True).name == "runc"


def test_missing_runtime_says_what_to_install(monkeypatch, hosts):
    installed(monkeypatch)
    with pytest.raises(MissingDependency) as info:
        runtime.select_runtime("auto", None, hosts["unified"])
    assert "apt-get install runc" in info.value.msg
    with pytest.raises(MissingDependency):
        runtime.select_runtime("crun", None)
    with pytest.raises(InvalidOption):
        runtime.select_runtime("docker", None)


def test_the_probe_is_asked_once_per_boot_and_binary(monkeypatch, tmp_path):
    runs = []
    monkeypatch.setattr(runtime, "_run_probe", lambda binary: runs.append(binary) or True)
    boot = tmp_path / "boot_id"
    boot.write_text(u"one\n")
    binary = tmp_path / "crun"
    binary.write_text(u"")
    cache = str(tmp_path / "cache")
    assert runtime.probe_works(str(binary), cache, str(boot)) and runtime.probe_works(str(binary), cache, str(boot))
    assert len(runs) == 1
    boot.write_text(u"two\n")
    assert runtime.probe_works(str(binary), cache, str(boot)) and len(runs) == 2
    monkeypatch.setattr(runtime, "_run_probe", lambda binary: False)
    binary.write_text(u"another build")
    assert not runtime.probe_works(str(binary), cache, str(boot))
    assert not runtime.probe_works(str(tmp_path / "missing"), cache, str(boot))


def test_a_container_stays_with_the_runtime_whose_root_holds_it(monkeypatch, tmp_path):
    installed(monkeypatch, "runc", "crun")
    state = tmp_path / "state"
    (state / "runc" / "old").mkdir(parents=True)
    monkeypatch.setattr(runtime, "pure_unified", lambda mountinfo: True)
    runtimes = runtime.select_runtime("auto", str(state), probe=lambda binary: True)
    assert runtimes.name == "crun"
    assert runtimes.owner("old").name == "runc" and runtimes.for_start("old", "crun").name == "runc"
    assert runtimes.exec_argv("old", ["id"])[:3] == ["/usr/bin/runc", "--root", str(state / "runc")]
    assert runtimes.owner("new") is None and runtimes.state("new") is None
    assert runtimes.for_start("new").name == "crun"
    assert runtimes.for_start("new", "runc").name == "runc", "auto keeps the runtime the document recorded"
    explicit = runtime.select_runtime("crun", str(state))
    assert explicit.for_start("new", "runc").name == "crun", "a named runtime applies at the next start"
    assert explicit.for_start("old", "crun").name == "runc", "never under an existing container"
    installed(monkeypatch, "crun")
    with pytest.raises(MissingDependency) as info:
        runtime.select_runtime("crun", str(state)).owner("old")
    assert "made by runc" in info.value.msg


def test_commands_use_the_state_root():
    rt = runtime.OciRuntime("/usr/sbin/runc", "/state/runc")
    assert rt._cmd("state", "web1") == ["/usr/sbin/runc", "--root", "/state/runc", "state", "web1"]


FAKE_RUNC = """#!/bin/sh
# a runc that cannot load any container's state: what a state.json torn by a power loss gives
root=$2
shift 2
case "$1" in
  state) [ -d "$root/$2" ] || { echo "container does not exist" >&2; exit 1; }
         echo "load container $2: EOF" >&2; exit 1 ;;
  delete) exit 0 ;;
esac
exit 1
"""


def torn_container(tmp_path, written_at, booted_at):
    binary = tmp_path / "runc"
    binary.write_text(FAKE_RUNC)
    binary.chmod(0o755)
    container = tmp_path / "root" / "web1"
    container.mkdir(parents=True)
    (container / "state.json").write_text(u"")
    os.utime(str(container / "state.json"), (written_at, written_at))
    stat = tmp_path / "stat"
    stat.write_text(u"cpu  1 2 3\nbtime %d\n" % booted_at)
    return runtime.OciRuntime(str(binary), str(tmp_path / "root"), stat_file=str(stat)), container


def test_a_torn_state_from_an_earlier_boot_is_absent_and_removed_by_the_next_change(tmp_path):
    rt, container = torn_container(tmp_path, written_at=1000, booted_at=2000)
    assert rt.state("web1") is None
    assert container.exists(), "a read removes nothing"
    rt.delete("web1")
    assert not container.exists()
    assert rt.state("web1") is None


def test_a_torn_state_of_this_boot_is_an_error(tmp_path):
    rt, container = torn_container(tmp_path, written_at=3000, booted_at=2000)
    with pytest.raises(CommandFailed) as caught:
        rt.state("web1")
    assert "EOF" in caught.value.msg and container.exists()


def test_boot_time_reads_btime(tmp_path):
    assert runtime.boot_time() > 0
    empty = tmp_path / "stat"
    empty.write_text(u"cpu 1\n")
    with pytest.raises(PartitionError):
        runtime.boot_time(str(empty))


FAKE_LISTER = """#!/bin/sh
# list: the containers whose directories are in --root, as the runtime's JSON
root=$2
shift 2
[ "$1" = list ] || exit 1
printf '['
sep=
for dir in "$root"/*/; do
  [ -d "$dir" ] || continue
  printf '%s{"id": "%s", "status": "running", "pid": 1}' "$sep" "$(basename "$dir")"
  sep=,
done
printf ']'
"""


def test_one_listing_holds_every_runtime_s_containers_each_named_by_its_runtime(monkeypatch, tmp_path):
    for name in ("runc", "crun"):
        program = tmp_path / "bin" / name
        program.parent.mkdir(exist_ok=True)
        program.write_text(FAKE_LISTER)
        program.chmod(0o755)
    monkeypatch.setattr(runtime, "find_program", lambda name: str(tmp_path / "bin" / name))
    state = tmp_path / "state"
    runtimes = runtime.select_runtime("runc", str(state))
    assert runtimes.list() == {}, "no root yet: no runtime is asked"
    (state / "runc" / "old").mkdir(parents=True)
    (state / "crun" / "new").mkdir(parents=True)
    listed = runtimes.list()
    assert sorted(listed) == ["new", "old"]
    assert (listed["old"]["runtime"], listed["new"]["runtime"]) == ("runc", "crun")


FAKE_CRUN = """#!/bin/sh
# a crun whose listing fails on one torn status file, as crun 1.21 does; state of the others answers
root=$2
shift 2
case "$1" in
  list) echo "cannot parse status file: parse error: premature EOF" >&2; exit 1 ;;
  state) [ -s "$root/$2/status" ] || { echo "cannot parse status file" >&2; exit 1; }
         printf '{"id": "%s", "status": "running", "pid": 7}' "$2" ;;
  delete) exit 0 ;;
esac
"""


def test_a_listing_that_one_torn_state_fails_asks_each_container(tmp_path):
    binary = tmp_path / "crun"
    binary.write_text(FAKE_CRUN)
    binary.chmod(0o755)
    root = tmp_path / "root"
    for name, content in (("torn", u""), ("web1", u"{}")):
        (root / name).mkdir(parents=True)
        (root / name / "status").write_text(content)
    os.utime(str(root / "torn" / "status"), (1000, 1000))
    stat = tmp_path / "stat"
    stat.write_text(u"btime 2000\n")
    crun = runtime.OciRuntime(str(binary), str(root), stat_file=str(stat))
    assert crun.list() == {"web1": {"id": "web1", "status": "running", "pid": 7}}
    assert crun.stale == set(["torn"])
    os.utime(str(root / "torn" / "status"), (3000, 3000))  # torn during this boot: an error, not absent
    with pytest.raises(CommandFailed):
        crun.list()


FREEZE_RUNC = u"""#!/bin/sh
# fails to freeze as long as the count file has lines left (one is taken per attempt)
count=%s
if [ -s "$count" ]; then
  sed -i 1d "$count"
  echo 'level=error msg="unable to freeze"' >&2
  exit 1
fi
echo "$@" >> %s
"""


def _freezing_runtime(tmp_path, failures, message=None):
    count, calls = tmp_path / "count", tmp_path / "calls"
    count.write_text(u"x\n" * failures)
    script = FREEZE_RUNC % (count, calls)
    if message:
        script = script.replace("unable to freeze", message)
    binary = tmp_path / "runc"
    binary.write_text(script)
    binary.chmod(0o755)
    return runtime.OciRuntime(str(binary), None), count, calls


def test_a_freeze_the_kernel_did_not_finish_is_tried_again(tmp_path):
    rt, count, calls = _freezing_runtime(tmp_path, 2)
    rt.pause("web1", delay=0)
    assert calls.read_text() == u"pause web1\n" and count.read_text() == u""


def test_a_freeze_that_keeps_failing_or_fails_otherwise_is_raised(tmp_path):
    rt, count, calls = _freezing_runtime(tmp_path, 9)
    with pytest.raises(CommandFailed, match="unable to freeze"):
        rt.pause("web1", delay=0)
    assert count.read_text() == u"x\n" * 4  # five attempts, then given up
    (tmp_path / "other").mkdir()
    other, count, calls = _freezing_runtime(tmp_path / "other", 1, message="container does not exist")
    with pytest.raises(CommandFailed, match="does not exist"):
        other.pause("web1", delay=0)
    assert count.read_text() == u""  # one attempt: only a freeze not finished is tried again


STOPPING_RUNC = u"""#!/bin/sh
# a runtime whose container's init is a real process of the test (its pid in DIR/pid); each call is logged
dir=%s
[ "$1" = --root ] && shift 2
echo "$*" >> "$dir/calls"
case "$1" in
  state) [ -s "$dir/pid" ] || { echo "container does not exist" >&2; exit 1; }
         pid=$(cat "$dir/pid")
         if [ -e "$dir/paused" ]; then status=paused
         elif [ -s "$dir/says-running" ]; then sed -i 1d "$dir/says-running"; status=running
         else
           # as runc tells: a zombie or no process is stopped
           case "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" in ""|Z|X) status=stopped ;; *) status=running ;; esac
         fi
         printf '{"id": "%%s", "status": "%%s", "pid": %%s}' "$2" "$status" "$pid" ;;
  kill) kill -"$3" "$(cat "$dir/pid")" ;;
  resume) rm -f "$dir/paused" ;;
  delete) : > "$dir/pid" ;;
  *) exit 1 ;;
esac
"""


# an init that shuts down in 0.3 s on SIGTERM and ignores SIGUSR1; an init that touches ready is waited for
SLOW_INIT = ["sh", "-c", "trap '' USR1; trap 'kill $!; sleep 0.3; exit 0' TERM; touch ready; sleep 30 & wait"]


@pytest.fixture
def stopping(tmp_path):
    """(runtime binary, its directory, start(argv) -> Popen): the processes started are killed and reaped after."""
    directory = tmp_path / "fake"
    directory.mkdir()
    binary = directory / "runc"
    binary.write_text(STOPPING_RUNC % directory)
    binary.chmod(0o755)
    children = []

    def start(argv):
        if (directory / "ready").exists():
            (directory / "ready").unlink()
        child = subprocess.Popen(argv, cwd=str(directory))
        children.append(child)
        (directory / "pid").write_text(u"%d" % child.pid)
        if "touch ready" in argv[-1]:
            while not (directory / "ready").exists():
                time.sleep(0.01)
        return child

    yield str(binary), directory, start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


def calls(directory):
    path = directory / "calls"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("status", ["running", "paused"])
def test_a_stop_after_a_kill_of_the_same_signal_sends_no_second_kill(monkeypatch, tmp_path, stopping, status):
    binary, directory, start = stopping
    monkeypatch.setattr(runtime, "find_program", lambda name: binary if name == "runc" else None)
    state = tmp_path / "state"
    (state / "runc" / "web1").mkdir(parents=True)
    runtimes = runtime.select_runtime("runc", str(state))  # the bulk call's pre-signal and the stop go through it
    start(SLOW_INIT)
    runtimes.kill("web1", 15)
    if status == "paused":
        (directory / "paused").write_text(u"")
    started = time.monotonic()
    runtimes.stop("web1", 15, 5)
    assert time.monotonic() - started < 3
    root = str(state / "runc")
    assert [line.replace("--root %s " % root, "") for line in calls(directory)] == (
        ["kill web1 15", "state web1"] + (["resume web1"] if status == "paused" else []) +
        ["state web1", "delete --force web1"])


def test_a_stop_signals_what_was_not_signalled_with_its_signal(stopping):
    binary, directory, start = stopping
    rt = runtime.OciRuntime(binary, None)
    start(SLOW_INIT)
    rt.kill("web1", 10)  # another signal: the stop's own is still sent
    rt.stop("web1", 15, 5)
    assert calls(directory) == ["kill web1 10", "state web1", "kill web1 15", "state web1", "delete --force web1"]
    (directory / "calls").unlink()
    start(SLOW_INIT)
    rt.stop("web1", 15, 5)  # a kill counts for one stop: the next container is signalled again
    assert calls(directory) == ["state web1", "kill web1 15", "state web1", "delete --force web1"]


def test_a_stop_kills_an_init_that_ignores_its_signal_after_the_timeout(stopping):
    binary, directory, start = stopping
    start(["sh", "-c", "trap '' TERM; touch ready; exec sleep 30"])
    rt = runtime.OciRuntime(binary, None)
    rt.stop("web1", 15, 0.3)
    assert calls(directory) == ["state web1", "kill web1 15", "state web1", "kill web1 9", "state web1", "delete --force web1"]


def test_waiting_on_init_s_pid_asks_the_runtime_once(stopping):
    binary, directory, start = stopping
    child = start(["sleep", "0.3"])
    rt = runtime.OciRuntime(binary, None)
    started = time.monotonic()
    assert rt.wait_stopped("web1", 5, pid=child.pid)
    assert 0.2 < time.monotonic() - started < 2
    assert calls(directory) == ["state web1"], "only the runtime's confirmation, no polling"


def test_waiting_on_a_live_init_s_pid_times_out(stopping):
    binary, directory, start = stopping
    child = start(["sleep", "5"])
    rt = runtime.OciRuntime(binary, None)
    started = time.monotonic()
    assert not rt.wait_stopped("web1", 0.2, pid=child.pid)
    assert time.monotonic() - started < 1.5
    assert len(calls(directory)) <= 1 and child.poll() is None


def test_without_pidfds_init_s_pid_is_looked_at_in_proc(monkeypatch, stopping):
    binary, directory, start = stopping
    monkeypatch.delattr(runtime.os, "pidfd_open", raising=False)
    rt = runtime.OciRuntime(binary, None)
    child = start(["sleep", "0.3"])  # not reaped when it ends: a zombie has ended
    assert rt.wait_stopped("web1", 5, interval=0.02, pid=child.pid)
    assert calls(directory) == ["state web1"]
    (directory / "calls").unlink()
    child = start(["sleep", "5"])
    assert not rt.wait_stopped("web1", 0.2, interval=0.02, pid=child.pid)
    assert len(calls(directory)) == 1


def test_init_s_pid_reused_meanwhile_falls_back_to_asking_the_runtime(stopping):
    binary, directory, start = stopping
    child = start(["true"])
    child.wait()  # its pid is gone: as if init's had ended, yet the runtime still says running twice
    (directory / "says-running").write_text(u"x\nx\n")
    rt = runtime.OciRuntime(binary, None)
    assert rt.wait_stopped("web1", 5, interval=0.05, pid=child.pid)
    assert calls(directory) == ["state web1"] * 3
    (directory / "calls").unlink()
    (directory / "says-running").write_text(u"x\n" * 100)
    started = time.monotonic()
    assert not rt.wait_stopped("web1", 0.3, interval=0.05, pid=child.pid)
    assert time.monotonic() - started < 2 and len(calls(directory)) > 2
