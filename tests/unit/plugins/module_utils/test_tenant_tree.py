# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_tree.py: a tenant's links, FIFOs, devices, huge files and renames never take a host read or write out of its
tree or block it, with openat2 and with the walk kernels without it get; storage.tree_size and storage.remove_directory over hostile trees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import os
import shutil
import signal
import stat

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils import lowlevel, tenant_tree
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.storage import remove_directory, tree_size

OWNER = 100000
SECRET = "host secret\n"
AT_FDCWD = -100
RENAME_EXCHANGE = 2
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY


@pytest.fixture(params=["openat2", "walk"])
def resolution(request, monkeypatch):
    """Each test once with openat2 and once as on a kernel without it."""
    if request.param == "walk":
        def missing(*args):
            raise OSError(errno.ENOSYS, "openat2: Function not implemented")
        monkeypatch.setattr(tenant_tree, "openat2", missing)
    return request.param


@pytest.fixture
def trees(tmp_path):
    """(root, outside): a partition's tree with /etc and /root, and a host directory next to it holding a secret."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "root").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("hostname", "hosts", "authorized_keys"):
        (outside / name).write_text(SECRET)
    return root, outside


def untouched(outside):
    return sorted(os.listdir(str(outside))) == ["authorized_keys", "hostname", "hosts"] and \
        all((outside / name).read_text() == SECRET for name in os.listdir(str(outside)))


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging when the host blocks (e.g. opening a FIFO)."""
    def expired(signum, frame):
        raise AssertionError("blocked for %d seconds" % seconds)
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_identity_is_written_and_idempotent(tmp_path, resolution, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: pytest.fail("every start writes the identity again: no fsync"))
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tbuildhost\n::1\tlocalhost\n")
    tenant_tree.configure_identity(str(tmp_path), "web1")
    assert (tmp_path / "etc" / "hostname").read_text() == "web1\n"
    assert (tmp_path / "etc" / "hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n::1\tlocalhost\n"
    assert tenant_tree.write_file(str(tmp_path), "etc/hostname", "web1\n") is False
    assert sorted(os.listdir(str(tmp_path / "etc"))) == ["hostname", "hosts"]  # no temporary file left


def test_hosts_with_name():
    assert tenant_tree.hosts_with_name(None, "web1") == "127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n"
    assert tenant_tree.hosts_with_name("::1\tlocalhost\n", "web1") == "127.0.1.1\tweb1\n::1\tlocalhost\n"


def test_missing_directory_or_tree_is_skipped(tmp_path, resolution):
    assert tenant_tree.write_file(str(tmp_path), "etc/hostname", "x\n") is False
    assert tenant_tree.read_file(str(tmp_path), "etc/hostname") is None
    assert tenant_tree.write_file(str(tmp_path / "gone"), "etc/hostname", "x\n") is False
    tenant_tree.configure_identity(str(tmp_path), "web1")
    assert os.listdir(str(tmp_path)) == []


def test_symlink_at_the_target_is_replaced_never_followed(trees, resolution):
    root, outside = trees
    os.symlink(str(outside / "hostname"), str(root / "etc" / "hostname"))
    with pytest.raises(PartitionError, match="/etc/hostname in partition tree .*: not a regular file"):
        tenant_tree.read_file(str(root), "etc/hostname")
    assert tenant_tree.write_file(str(root), "etc/hostname", "web1\n") is True
    assert not os.path.islink(str(root / "etc" / "hostname")) and (root / "etc" / "hostname").read_text() == "web1\n"
    assert untouched(outside)


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_symlinked_parent_never_leads_out(trees, resolution, absolute):
    root, outside = trees
    shutil.rmtree(str(root / "etc"))
    os.symlink(str(outside) if absolute else "../outside", str(root / "etc"))
    # inside the partition the link means this directory: openat2 may use it, the walk refuses every link
    in_root = root / str(outside).lstrip("/") if absolute else root / "outside"
    in_root.mkdir(parents=True)
    if resolution == "walk":
        with pytest.raises(PartitionError, match="/etc in partition tree"):
            tenant_tree.write_file(str(root), "etc/hostname", "web1\n")
        with pytest.raises(PartitionError):
            tenant_tree.read_file(str(root), "etc/hostname")
    else:
        assert tenant_tree.read_file(str(root), "etc/hostname") is None
        assert tenant_tree.write_file(str(root), "etc/hostname", "web1\n") is True
        assert (in_root / "hostname").read_text() == "web1\n"
    assert untouched(outside)


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_symlinked_ssh_directory_never_leads_out(trees, resolution, absolute):
    root, outside = trees
    os.symlink(str(outside) if absolute else "../../outside", str(root / "root" / ".ssh"))
    try:
        tenant_tree.write_authorized_keys(str(root), ["ssh-ed25519 AAAA tenant"], owner=OWNER)
    except PartitionError:
        pass  # the walk refuses the link; openat2 finds no such directory inside the partition
    assert untouched(outside)


def test_fifo_and_device_are_refused_on_read_and_replaced_on_write(trees, resolution):
    root, _outside = trees
    fifo, device = root / "etc" / "hostname", root / "etc" / "hosts"
    os.mkfifo(str(fifo))
    os.mknod(str(device), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    with deadline(5):
        for path in (fifo, device):
            with pytest.raises(PartitionError, match="/etc/%s in partition tree .*: not a regular file" % path.name):
                tenant_tree.read_file(str(root), "etc/" + path.name)
        assert tenant_tree.write_file(str(root), "etc/hostname", "web1\n") is True
    assert stat.S_ISREG(os.lstat(str(fifo)).st_mode) and fifo.read_text() == "web1\n"


def test_file_larger_than_the_cap_is_refused_unread(trees, resolution):
    root, _outside = trees
    with open(str(root / "etc" / "hosts"), "wb") as handle:
        handle.truncate(50 * 1024 ** 3)  # sparse: 50 GB that take no space
    with deadline(5):
        with pytest.raises(PartitionError, match="/etc/hosts in partition tree .*: larger than"):
            tenant_tree.read_file(str(root), "etc/hosts")
        with pytest.raises(PartitionError, match="/etc/hosts"):
            tenant_tree.configure_identity(str(root), "web1")


def test_directory_at_the_target_is_refused(trees, resolution):
    root, _outside = trees
    (root / "etc" / "hostname").mkdir()
    with pytest.raises(PartitionError, match="not a regular file"):
        tenant_tree.read_file(str(root), "etc/hostname")
    with pytest.raises(PartitionError, match="/etc/hostname in partition tree .*: a directory stands there"):
        tenant_tree.write_file(str(root), "etc/hostname", "web1\n")
    assert os.listdir(str(root / "etc")) == ["hostname"]


def test_file_in_the_parents_place_is_refused(trees, resolution):
    root, _outside = trees
    shutil.rmtree(str(root / "etc"))
    (root / "etc").write_text("not a directory")
    with pytest.raises(PartitionError, match="/etc in partition tree"):
        tenant_tree.write_file(str(root), "etc/hostname", "web1\n")


def test_written_files_belong_to_the_partitions_root(trees, resolution):
    root, _outside = trees
    assert tenant_tree.write_file(str(root), "etc/resolv.conf", "nameserver 10.0.0.1\n", owner=OWNER) is True
    st = os.lstat(str(root / "etc" / "resolv.conf"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OWNER, OWNER, 0o644)


def test_authorized_keys_and_their_directory(trees, resolution):
    root, _outside = trees
    assert tenant_tree.write_authorized_keys(str(root), [], owner=OWNER) is False
    assert not os.path.lexists(str(root / "root" / ".ssh"))
    assert tenant_tree.write_authorized_keys(str(root), ["ssh-ed25519 AAAA a", "ssh-ed25519 BBBB b"], owner=OWNER) is True
    ssh = os.lstat(str(root / "root" / ".ssh"))
    keys = os.lstat(str(root / "root" / ".ssh" / "authorized_keys"))
    assert (ssh.st_uid, ssh.st_gid, stat.S_IMODE(ssh.st_mode), stat.S_ISDIR(ssh.st_mode)) == (OWNER, OWNER, 0o700, True)
    assert (keys.st_uid, keys.st_gid, stat.S_IMODE(keys.st_mode)) == (OWNER, OWNER, 0o600)
    assert tenant_tree.read_file(str(root), "root/.ssh/authorized_keys") == "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b\n"
    assert tenant_tree.write_authorized_keys(str(root), [], owner=OWNER) is True
    assert (root / "root" / ".ssh" / "authorized_keys").read_text() == ""
    shutil.rmtree(str(root / "root"))
    assert tenant_tree.write_authorized_keys(str(root), ["ssh-ed25519 AAAA a"], owner=OWNER) is False
    assert not os.path.lexists(str(root / "root"))


@contextlib.contextmanager
def swapping(first, second):
    """A process exchanging two names as fast as it can, atomically where the C library has renameat2.

    A process, not a thread: a thread would swap only when it holds the GIL, which hides the race."""
    first, second = str(first), str(second)
    pid = os.fork()
    if pid == 0:
        try:
            renameat2 = getattr(lowlevel.libc(), "renameat2", None)
            while True:
                if renameat2 is not None:
                    renameat2(AT_FDCWD, first.encode(), AT_FDCWD, second.encode(), RENAME_EXCHANGE)
                else:
                    os.rename(first, first + ".x")
                    os.rename(second, first)
                    os.rename(first + ".x", second)
        finally:
            os._exit(0)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_parent_swapped_with_a_link_in_a_loop_never_leads_out(trees, resolution, absolute):
    """The race of issue 12: a parent directory exchanged with a link to a host directory while the host writes."""
    root, outside = trees
    os.symlink(str(outside) if absolute else "../outside", str(root / "swap"))
    with swapping(root / "etc", root / "swap"):
        for attempt in range(2000):  # 200 rarely caught the old lstat-then-open race on two busy CPUs
            for action in (lambda: tenant_tree.write_file(str(root), "etc/hostname", "web%d\n" % attempt),
                           lambda: tenant_tree.read_file(str(root), "etc/hostname")):
                try:
                    assert action() != SECRET
                except PartitionError:
                    pass  # refused: a link where a directory belongs (walk), or openat2 raced too often
    assert untouched(outside)
    assert [name for _top, _dirs, files in os.walk(str(root)) for name in files if name != "hostname"] == []


def test_openat2_resolves_in_root(tmp_path):
    os.symlink("/../../..", str(tmp_path / "up"))
    fd = os.open(str(tmp_path), os.O_PATH)
    try:
        found = lowlevel.openat2(fd, "up", os.O_PATH | os.O_DIRECTORY, 0, tenant_tree.RESOLVE_IN_ROOT)
        assert os.path.samestat(os.fstat(found), os.stat(str(tmp_path)))
        os.close(found)
        with pytest.raises(FileNotFoundError):
            lowlevel.openat2(fd, "missing", os.O_PATH, 0, tenant_tree.RESOLVE_IN_ROOT)
    finally:
        os.close(fd)


def block_bytes(path):
    return os.lstat(str(path)).st_blocks * 512


def test_tree_size_of_a_very_deep_tree(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    fd = os.open(str(top), DIRECTORY)
    for _level in range(3000):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"x" * 8192)
    os.fsync(leaf)
    expected = os.fstat(leaf).st_blocks * 512
    os.close(leaf)
    os.close(fd)
    try:
        assert expected > 0 and tree_size(str(top)) == expected
    finally:
        remove_deep(top)


def remove_deep(top):
    """rmtree recurses: lift the chain below top/d one level at a time instead."""
    fd = os.open(str(top), DIRECTORY)
    try:
        while os.path.isdir(str(top / "d" / "d")):
            os.rename("d/d", "x", src_dir_fd=fd, dst_dir_fd=fd)
            shutil.rmtree(str(top / "d"))
            os.rename("x", "d", src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


def test_tree_size_follows_no_link(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "file").write_bytes(b"y" * 5000)
    os.symlink("..", str(tmp_path / "a" / "b" / "up"))
    os.symlink("loop", str(tmp_path / "a" / "loop"))
    os.symlink("/", str(tmp_path / "a" / "host"))
    expected = sum(block_bytes(path) for path in (tmp_path / "a" / "b" / "file", tmp_path / "a" / "b" / "up",
                                                  tmp_path / "a" / "loop", tmp_path / "a" / "host"))
    assert expected > 0 and tree_size(str(tmp_path)) == expected
    assert tree_size(str(tmp_path / "missing")) == 0


class _FullDiskFile:
    """A file being written on a full disk: its write says ENOSPC."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("failing", ["open", "fdopen"])
def test_a_full_disk_is_said_naming_the_file_in_the_tree(trees, resolution, monkeypatch, failing):
    """ENOSPC (or a read-only overlay) names the file the partition sees, never a temporary name, and leaves no temporary file."""
    real = getattr(os, failing)

    def no_space(*args, **kwargs):
        if failing == "fdopen" and "w" in args[1]:
            return _FullDiskFile(real(*args, **kwargs))
        if failing == "open" and str(args[0]).startswith(".hostname."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    root = str(trees[0])
    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(PartitionError) as caught:
        tenant_tree.configure_identity(root, "web1")
    monkeypatch.setattr(os, failing, real)
    assert caught.value.msg == "/etc/hostname in partition tree %s: cannot write it: No space left on device" % root
    assert os.listdir(os.path.join(root, "etc")) == []


def deep_tree(top, levels):
    """top/d/d/.../d (levels deep) with a file at each of the first and last levels."""
    top.mkdir()
    fd = os.open(str(top), DIRECTORY)
    for level in range(levels):
        if level in (0, levels - 1):
            os.close(os.open("file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def test_remove_directory_of_a_very_deep_tree(tmp_path):
    top = tmp_path / "top"
    deep_tree(top, 3000)  # shutil.rmtree raises RecursionError here
    remove_directory(str(top))
    assert not os.path.lexists(str(top))
    remove_directory(str(top))  # already gone: nothing to do


def test_remove_directory_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "keep").write_text(SECRET)
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "file").write_text("x")
    os.symlink(str(outside), str(tree / "a" / "dirlink"))
    os.symlink(str(outside / "sub" / "keep"), str(tree / "a" / "b" / "filelink"))
    os.symlink("..", str(tree / "a" / "b" / "up"))
    os.mkfifo(str(tree / "a" / "fifo"))
    remove_directory(str(tree))
    assert not os.path.lexists(str(tree))
    assert (outside / "sub" / "keep").read_text() == SECRET


# ---- lookups for partition_exec's creates and removes (lookup_at, is_directory_at) --------------------------------
@contextlib.contextmanager
def root_fd(root):
    fd = os.open(str(root), os.O_PATH | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def test_lookup_finds_what_stands_there_a_dangling_link_too(trees, resolution):
    root, _outside = trees
    (root / "etc" / "motd").write_text("hi\n")
    os.symlink("/nowhere/at/all", str(root / "root" / "dangling"))
    with root_fd(root) as fd:
        assert stat.S_ISREG(tenant_tree.lookup_at(fd, "partition p", "/etc/motd").st_mode)
        assert stat.S_ISLNK(tenant_tree.lookup_at(fd, "partition p", "/root/dangling").st_mode)
        assert stat.S_ISDIR(tenant_tree.lookup_at(fd, "partition p", "/").st_mode)
        assert tenant_tree.lookup_at(fd, "partition p", "/etc/nothing") is None
        assert tenant_tree.lookup_at(fd, "partition p", "/no/such/dir/file") is None
        assert tenant_tree.lookup_at(fd, "partition p", "/etc/motd/below-a-file") is None  # a file on the way: nothing
        assert tenant_tree.is_directory_at(fd, "partition p", "/etc")
        assert not tenant_tree.is_directory_at(fd, "partition p", "/etc/motd")
        assert not tenant_tree.is_directory_at(fd, "partition p", "/nothing")


def test_a_link_on_the_way_never_leads_the_lookup_out_of_the_tree(trees, resolution):
    """The host has outside/hostname; links inside name it by its host path and by climbing. Resolved inside the tree
    (openat2) they lead nowhere; the walk refuses them."""
    root, outside = trees
    os.symlink(str(outside), str(root / "root" / "by-host-path"))
    os.symlink("../../../../../../../../" + str(outside).lstrip("/"), str(root / "root" / "by-climbing"))
    assert os.path.exists(str(root / "root" / "by-host-path" / "hostname"))  # control: the host's own lookup escapes
    with root_fd(root) as fd:
        for link in ("by-host-path", "by-climbing"):
            if resolution == "openat2":
                assert tenant_tree.lookup_at(fd, "partition p", "/root/%s/hostname" % link) is None
                assert not tenant_tree.is_directory_at(fd, "partition p", "/root/" + link)
            else:
                with pytest.raises(PartitionError, match="symlinks are not followed"):
                    tenant_tree.lookup_at(fd, "partition p", "/root/%s/hostname" % link)


def test_a_link_inside_the_tree_is_followed_inside_it(trees):
    """As the partition sees it: /root/etc-link -> /etc means the tree's /etc (openat2 only)."""
    root, _outside = trees
    (root / "etc" / "motd").write_text("hi\n")
    os.symlink("/etc", str(root / "root" / "etc-link"))
    with root_fd(root) as fd:
        assert tenant_tree.lookup_at(fd, "partition p", "/root/etc-link/motd") is not None
        assert tenant_tree.is_directory_at(fd, "partition p", "/root/etc-link")
