# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partition spec: the one argument spec shared by modules, and its validation.

``normalise_partition`` turns module parameters into a plain, JSON-friendly dict with every
default filled in, so that the planner compares like with like and the state document records
exactly what was asked. It raises InvalidOption naming the option before anything on the host
changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import resource
import shlex

from ansible.module_utils.six import string_types

from ansible_collections.linuxvps.partitions.plugins.module_utils import lxcfs as lxcfs_view
from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption
from ansible_collections.linuxvps.partitions.plugins.module_utils.idmap import REGISTRY
from ansible_collections.linuxvps.partitions.plugins.module_utils.interfaces import INTERFACES_ARGSPEC
from ansible_collections.linuxvps.partitions.plugins.module_utils.state import DEFAULT_STATE_DIR, STATE_DIR_ARGSPEC
from ansible_collections.linuxvps.partitions.plugins.module_utils.templates import validate_template_name
from ansible_collections.linuxvps.partitions.plugins.module_utils.units import (
    parse_cpus,
    parse_cpuset,
    parse_int_range,
    parse_size,
)

# \Z, not $: $ also matches before a final newline, and a name ending in one would pass.
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
HOSTNAME_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,62}[A-Za-z0-9])?\Z")
LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}\Z")
SSH_KEY = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?\Z")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
STATES = ["present", "started", "stopped", "restarted", "frozen", "absent"]

# Resource keys enforced through cgroups (changeable live) and the ones fixed at start.
CGROUP_RESOURCES = ("memory", "swap", "cpus", "cpu_weight", "cpuset", "pids", "io_weight", "io_read_bps", "io_write_bps",
                    "io_read_iops", "io_write_iops")
# I/O bandwidth and IOPS limits: absent from a spec's resources when unset, so documents made before them compare equal.
IO_LIMITS = ("io_read_bps", "io_write_bps", "io_read_iops", "io_write_iops")
MIN_IO_BPS = 64 * 1024  # below this a partition's own init and journal stall
MIN_IO_IOPS = 10
MAX_IO_IOPS = 2 ** 32 - 1  # blk-throttle keeps IOPS in 32 bits
START_RESOURCES = ("nofile",)
RESOURCE_DEFAULTS = {"cpu_weight": 100, "io_weight": 100}
DEFAULT_PIDS = 4096  # a fork bomb stops here even when the user set no limit
MAX_PIDS = 4194304  # the kernel's PID_MAX_LIMIT: pids.max refuses more
NOFILE_MAX = 2147483584  # the kernel's ceiling of fs.nr_open, for a host whose own hard limit is unlimited
MAX_INODES = 2 ** 32 - 1  # ext4 counts inodes in 32 bits
MIB = 1024 * 1024
# Where a bind mount may not go inside the partition: the kernel's views that runc sets up, masks and makes read-only.
KERNEL_PATHS = ("/proc", "/sys", "/dev")

# Settings that take effect only when the partition's init starts.
RESTART_SETTINGS = ("rootfs", "storage", "hostname", "command", "env", "secret_env", "mounts", "lxcfs", "idmapped_template")
SECRET_ROUNDS = 100000  # PBKDF2 rounds of a secret's fingerprint: it sits in documents and diffs
# "interfaces" is split: addresses, gateways, rates and DNS change live, the rest needs a restart.

RESOURCES_ARGSPEC = dict(
    memory=dict(type="raw"),
    swap=dict(type="raw"),
    cpus=dict(type="raw"),
    cpu_weight=dict(type="int"),
    cpuset=dict(type="str"),
    pids=dict(type="int"),
    io_weight=dict(type="int"),
    io_read_bps=dict(type="raw"),
    io_write_bps=dict(type="raw"),
    io_read_iops=dict(type="int"),
    io_write_iops=dict(type="int"),
    nofile=dict(type="int"),
    disk=dict(type="raw"),
    inodes=dict(type="int"),
)

# One partition's options (an item of the partition module's list form, and its single form).
ITEM_ARGSPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=STATES),
    rootfs=dict(type="str"),
    hostname=dict(type="str"),
    command=dict(type="raw"),
    env=dict(type="dict"),
    secret_env=dict(type="dict", no_log=True),
    mounts=dict(type="list", elements="dict", options=dict(
        source=dict(type="path", required=True),
        target=dict(type="str", required=True),
        read_only=dict(type="bool", default=False),
    )),
    autostart=dict(type="bool"),
    autostart_order=dict(type="int"),
    tenant=dict(type="str"),
    privileged=dict(type="bool"),
    labels=dict(type="dict"),
    authorized_keys=dict(type="list", elements="str", no_log=False),
    stop_timeout=dict(type="int"),
    lxcfs=dict(type="bool"),  # None: on where the host runs lxcfs (lxcfs.py)
    idmapped_template=dict(type="bool"),  # None: true, an idmapped mount where the host allows (engine.lower_root)
    recreate=dict(type="str", choices=["never", "options-changed"]),
    reset_counters=dict(type="bool"),  # an act of the run, never recorded in the spec
    clone_from=dict(type="str"),  # acts at creation only (clones.py); recorded as the document's cloned_from, not in the spec
    storage=dict(type="str", choices=["overlay", "copy"]),
    resources=dict(type="dict", options=RESOURCES_ARGSPEC),
    interfaces=dict(type="list", elements="dict", options=INTERFACES_ARGSPEC),
)

# Options every module that drives partitions shares (documented in doc_fragments state and runtime).
ENGINE_ARGSPEC = dict(runtime=dict(type="str", default="auto", choices=["auto", "runc", "crun"]), **STATE_DIR_ARGSPEC)
# Waiting for started partitions to be up (readiness.py): options of the whole call, never of one item.
WAIT_CHOICES = ["running", "none"]
DEFAULT_WAIT_TIMEOUT = 120
WAIT_ARGSPEC = dict(wait=dict(type="str", default="none", choices=WAIT_CHOICES), wait_timeout=dict(type="int", default=DEFAULT_WAIT_TIMEOUT))
# The partition module: one partition's options (name optional there) or a list of them.
# How many of the list form's partitions are applied at once (parallel_apply.py): an option of the whole call.
WORKERS_ARGSPEC = dict(workers=dict(type="int"))
PARTITION_ARGSPEC = dict(ITEM_ARGSPEC, name=dict(type="str"), partitions=dict(type="list", elements="raw"),
                         **dict(ENGINE_ARGSPEC, **dict(WAIT_ARGSPEC, **WORKERS_ARGSPEC)))

# What a tenant's limits may bound over all its partitions (tenants.py): a subset of the partition's resources,
# checked by normalise_resources; a key the partition's spec does not know yet is refused by name.
TENANT_RESOURCES = ("memory", "swap", "cpus", "cpu_weight", "pids", "io_weight", "io_read_bps", "io_write_bps",
                    "io_read_iops", "io_write_iops")


class HostFacts:
    """What validation needs to know about the host; injectable for tests."""

    def __init__(self, cpu_count, online_cpus, nofile_hard, memory_bytes=None, lxcfs=False):
        self.cpu_count = cpu_count
        self.online_cpus = online_cpus
        self.nofile_hard = nofile_hard
        self.memory_bytes = memory_bytes
        self.lxcfs = lxcfs  # whether lxcfs serves here (lxcfs.py): partitions may have their own view of /proc

    @classmethod
    def probe(cls, online_cpus):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        return cls(len(online_cpus) or os.cpu_count() or 1, online_cpus,
                   None if hard == resource.RLIM_INFINITY else hard, host_memory(), lxcfs_view.available())

    @property
    def default_memory(self):
        """Memory limit of a partition that sets none: a quarter of the host, so one tenant cannot take it all."""
        if not self.memory_bytes:
            return None
        return self.memory_bytes // 4 // MIB * MIB


def host_memory(meminfo="/proc/meminfo"):
    try:
        with open(meminfo) as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (IOError, ValueError):
        return None
    return None


def validate_name(value, option="name"):
    if not isinstance(value, string_types) or not NAME_PATTERN.match(value):
        raise InvalidOption(option, value, "must be a DNS label: 1 to 63 characters of a-z, 0-9 and '-', "
                                           "not starting or ending with '-'")
    return value


def normalise_resources(raw, host):
    raw = raw or {}
    res = {}
    res["memory"] = parse_size("resources.memory", raw.get("memory"))
    if res["memory"] is None:
        res["memory"] = host.default_memory
    if res["memory"] is not None and res["memory"] < 4 * 1024 * 1024:
        raise InvalidOption("resources.memory", raw.get("memory"), "must be at least 4M")
    res["swap"] = parse_size("resources.swap", raw.get("swap"))
    if res["swap"] is not None and res["memory"] is None:
        raise InvalidOption("resources.swap", raw.get("swap"), "a swap limit needs resources.memory")
    for key in ("memory", "swap"):
        if host.memory_bytes and res[key] is not None and res[key] > host.memory_bytes:
            raise InvalidOption("resources." + key, raw.get(key), "is more than this host's memory (%d bytes)" % host.memory_bytes)
    res["cpus"] = parse_cpus("resources.cpus", raw.get("cpus"), host.cpu_count)
    res["cpu_weight"] = parse_int_range("resources.cpu_weight", _default(raw, "cpu_weight"), 1, 10000)
    res["cpuset"] = parse_cpuset("resources.cpuset", raw.get("cpuset"), host.online_cpus)
    res["pids"] = parse_int_range("resources.pids", raw.get("pids"), 1, MAX_PIDS)
    if res["pids"] is None:
        res["pids"] = DEFAULT_PIDS
    res["io_weight"] = parse_int_range("resources.io_weight", _default(raw, "io_weight"), 1, 10000)
    res.update(normalise_io_limits(raw))
    res["nofile"] = parse_int_range("resources.nofile", raw.get("nofile"), 64, host.nofile_hard or NOFILE_MAX)
    res["disk"] = parse_size("resources.disk", raw.get("disk"))
    if res["disk"] is not None and res["disk"] < 64 * MIB:
        raise InvalidOption("resources.disk", raw.get("disk"), "must be at least 64M")
    res["inodes"] = parse_int_range("resources.inodes", raw.get("inodes"), 1024, MAX_INODES)
    if res["inodes"] is not None and res["disk"] is None:
        raise InvalidOption("resources.inodes", raw.get("inodes"), "an inode limit needs resources.disk")
    return res


def normalise_io_limits(raw, prefix="resources."):
    """The I/O limits set in raw, in bytes and I/Os per second ({} when none): only the keys given, see IO_LIMITS."""
    limits = {}
    for key in IO_LIMITS:
        value = raw.get(key)
        if value is None:
            continue
        if key.endswith("_bps"):
            per_second = value.rstrip()[:-2] if isinstance(value, string_types) and value.rstrip().endswith("/s") else value
            limits[key] = parse_size(prefix + key, per_second)
            if limits[key] < MIN_IO_BPS:
                raise InvalidOption(prefix + key, value, "must be at least 64K (bytes per second)")
        else:
            limits[key] = parse_int_range(prefix + key, value, MIN_IO_IOPS, MAX_IO_IOPS)
    return limits


def _default(raw, key):
    value = raw.get(key)
    return RESOURCE_DEFAULTS[key] if value is None else value


def normalise_command(value):
    if value is None:
        return None
    if isinstance(value, string_types):
        try:
            args = shlex.split(value)
        except ValueError as exc:
            raise InvalidOption("command", value, str(exc))
    elif isinstance(value, list) and all(isinstance(item, string_types) for item in value):
        args = list(value)
    else:
        raise InvalidOption("command", value, "expected a string or a list of strings")
    if not args:
        raise InvalidOption("command", value, "must not be empty")
    return args


def normalise_env(value, option="env"):
    env = {}
    for key, item in sorted((value or {}).items()):
        if not ENV_NAME.match(str(key)):
            raise InvalidOption(option, key, "is not a valid environment variable name")
        env[str(key)] = "" if item is None else str(item)
    return env


def secret_fingerprint(value, salt=None):
    """'pbkdf2-sha256:<salt>:<digest>' of a secret: what documents, diffs and reports hold instead of it. A
    recorded fingerprint's salt gives the same fingerprint for the same value, so an unchanged secret is no change."""
    salt = bytes.fromhex(salt) if salt else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8", "surrogateescape"), salt, SECRET_ROUNDS)
    return "pbkdf2-sha256:%s:%s" % (salt.hex(), digest.hex())


def normalise_secret_env(value, recorded, env):
    """{key: fingerprint} of the secret variables (their values go only to a root-only file, see state.py)."""
    secrets = normalise_env(value, "secret_env")
    fingerprints = {}
    for key, item in secrets.items():
        if key in env:
            raise InvalidOption("secret_env", key, "is also set in env; give each variable once")
        parts = (recorded.get(key) or "").split(":")
        fingerprints[key] = secret_fingerprint(item, parts[1] if len(parts) == 3 else None)
    return fingerprints, secrets


def normalise_mounts(value, protected=()):
    """protected: host trees a source may not be in or above (see protected_trees)."""
    mounts = []
    targets = set()
    for index, item in enumerate(value or []):
        option = "mounts[%d]" % index
        source = item["source"]
        if not isinstance(source, string_types) or not os.path.isabs(source):
            raise InvalidOption(option + ".source", source, "must be an absolute path on the host")
        if not os.path.exists(source):
            raise InvalidOption(option + ".source", source, "does not exist on the host")
        refuse_protected(option + ".source", source, protected)
        target = _mount_target(option + ".target", item["target"])
        if target in targets:
            raise InvalidOption(option + ".target", item["target"], "is mounted twice")
        targets.add(target)
        # the real path: what is checked is what runc mounts, whatever a symlink on the way says
        mounts.append({"source": os.path.realpath(source), "target": target, "read_only": bool(item.get("read_only"))})
    return mounts


def _mount_target(option, target):
    if not isinstance(target, string_types) or not target.startswith("/") or ".." in target.split("/") \
            or any(ord(char) < 32 for char in target):
        raise InvalidOption(option, target, "must be an absolute path inside the partition, without '..' or control characters")
    norm = "/" + os.path.normpath(target).lstrip("/")  # normpath keeps a leading '//'
    if norm == "/" or any(_within(norm, path) for path in KERNEL_PATHS):
        raise InvalidOption(option, target, "may not be /, nor be or lie under %s" % ", ".join(KERNEL_PATHS))
    return norm


def _within(path, base):
    """True when path is base or lies under it."""
    return path == base or path.startswith(base.rstrip("/") + "/")


def protected_trees(state_dir):
    """What only a privileged partition may mount: the state directory (partitions' trees, templates) and the ID ranges."""
    return [os.path.realpath(path) for path in (state_dir, os.path.dirname(REGISTRY))]


def refuse_protected(option, source, protected):
    real = os.path.realpath(source)
    for path in protected:
        if _within(real, path) or _within(path, real):  # above: / or /var would show the tree too
            raise InvalidOption(option, source, "%s inside or above %s; only a privileged partition may mount it"
                                % ("lies" if real == source else "resolves to %s, which lies" % real, path))


def normalise_labels(value):
    """Free-form metadata (tenant, profile, ...) kept with the partition; strings only."""
    labels = {}
    for key, item in sorted((value or {}).items()):
        if not LABEL_KEY.match(str(key)):
            raise InvalidOption("labels", key, "label names are 1 to 63 characters of a-z, A-Z, 0-9, '.', '_', '/' and '-'")
        labels[str(key)] = "" if item is None else str(item)
    return labels


def normalise_keys(value):
    keys = []
    for key in value or []:
        if not isinstance(key, string_types) or not SSH_KEY.match(key.strip()):
            raise InvalidOption("authorized_keys", key, "expected one OpenSSH public key line such as 'ssh-ed25519 AAAA... comment'")
        keys.append(key.strip())
    return keys


def normalise_partition(params, host, rootfs_exists, recorded=None, interfaces=None, state_dir=DEFAULT_STATE_DIR):
    """Module parameters -> normalised spec dict.

    An option left out (None) keeps the value recorded for an existing partition, else its
    default; ``resources`` and ``interfaces`` given are taken whole. rootfs_exists(name) asks the
    template store; interfaces(raw) validates interfaces against host networks and other partitions;
    state_dir is the partition's state directory, which a mount may not expose.
    """
    recorded = recorded or {}
    name = validate_name(params["name"])

    def given(key, default):
        value = params.get(key)
        if value is None:
            return recorded.get(key, default)
        return value

    rootfs = params.get("rootfs")
    if rootfs is not None and not rootfs_exists(validate_template_name(rootfs, "rootfs")):
        raise InvalidOption("rootfs", rootfs, "no such rootfs template; build it with linuxvps.partitions.rootfs")
    if rootfs is None:
        rootfs = recorded.get("rootfs")
    if rootfs is None:
        raise InvalidOption("rootfs", None, "is required to create partition %s" % name)
    hostname = given("hostname", name)
    if not HOSTNAME_PATTERN.match(hostname) or len(hostname) > 64:
        raise InvalidOption("hostname", hostname, "is not a valid host name")
    if params.get("resources") and params["resources"].get("disk") is not None and given("storage", "overlay") == "copy":
        raise InvalidOption("resources.disk", params["resources"]["disk"], "disk quotas need storage: overlay")
    spec = {
        "name": name,
        "rootfs": rootfs,
        "storage": given("storage", "overlay"),
        "tenant": validate_name(given("tenant", name), "tenant"),
        "privileged": bool(given("privileged", False)),
        "hostname": hostname,
        "autostart": bool(given("autostart", False)),
        "autostart_order": parse_int_range("autostart_order", given("autostart_order", 100), 0, 100000),
        "labels": normalise_labels(given("labels", {})),
        "authorized_keys": normalise_keys(given("authorized_keys", [])),
        "stop_timeout": parse_int_range("stop_timeout", given("stop_timeout", 30), 0, 3600),
    }
    spec["command"] = recorded.get("command") if params.get("command") is None else normalise_command(params["command"])
    spec["env"] = recorded.get("env", {}) if params.get("env") is None else normalise_env(params["env"])
    if params.get("secret_env") is None:
        secret_env = recorded.get("secret_env")
    else:
        secret_env, _values = normalise_secret_env(params["secret_env"], recorded.get("secret_env") or {}, spec["env"])
    if secret_env:  # absent when there is none, so documents made before the option compare equal
        spec["secret_env"] = secret_env
    lxcfs = given("lxcfs", None)
    if lxcfs is not None:  # absent when left to the host, so documents made before the option compare equal
        spec["lxcfs"] = bool(lxcfs)
    if given("idmapped_template", True) is False:  # absent when true, so documents made before the option compare equal
        spec["idmapped_template"] = False
    protected = () if spec["privileged"] else protected_trees(state_dir)
    if params.get("mounts") is None:
        spec["mounts"] = recorded.get("mounts", [])
        for index, item in enumerate(spec["mounts"]):  # privileged may have been dropped since they were recorded
            refuse_protected("mounts[%d].source" % index, item["source"], protected)
    else:
        spec["mounts"] = normalise_mounts(params["mounts"], protected)
    if params.get("resources") is None and "resources" in recorded:
        spec["resources"] = recorded["resources"]
    else:
        spec["resources"] = normalise_resources(params.get("resources"), host)
    if params.get("interfaces") is None:
        spec["interfaces"] = recorded.get("interfaces", [])
    elif interfaces is None:
        raise InvalidOption("interfaces", params["interfaces"], "cannot be checked without the host's networks")
    else:
        spec["interfaces"] = interfaces(params["interfaces"])
    return spec
