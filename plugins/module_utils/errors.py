# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed exceptions of the engine.

Library code raises these; only the edge (module_support.run_engine, called by a module's main) turns them into fail_json,
and the host commands (hostcmd.main) into an exit code and a message.
This file is internal API of the collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from contextlib import contextmanager

# A name shown as it is in an item's label; anything else (a newline, a non-string) is shown as its repr.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


class PartitionError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, msg, **details):
        super(PartitionError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def name_item(self, index, name=None):
        """Say which item of a list-form call this error is about: ``partitions[3] (web7): <msg>``.

        The error keeps its type (an InvalidOption stays one, with its option and value); returns self.
        """
        if "item" in self.details:
            return self  # named already, by an inner step
        self.msg = "%s: %s" % (item_label(index, name), self.msg)
        self.args = (self.msg,)
        self.details["item"] = {"index": index, "name": name}
        return self


def item_label(index, name=None):
    """``partitions[3] (web7)``, or ``partitions[3]`` when the item's name is not known."""
    label = "partitions[%d]" % index
    if name is None or name == "":
        return label
    return "%s (%s)" % (label, name if isinstance(name, str) and _PLAIN_NAME.match(name) else repr(name))


@contextmanager
def about_item(index, name=None):
    """Errors raised inside name the item of the list form they are about."""
    try:
        yield
    except PartitionError as exc:
        exc.name_item(index, name)
        raise


class InvalidOption(PartitionError):
    """User input that cannot be accepted; raised before the host changes."""

    def __init__(self, option, value, reason):
        msg = "option %s: invalid value %r: %s" % (option, value, reason)
        super(InvalidOption, self).__init__(msg, option=option, value=value)
        self.option = option
        self.value = value


class MissingDependency(PartitionError):
    """A program or library the target needs is not installed."""

    def __init__(self, what, hint):
        msg = "%s is required on the target but was not found. %s" % (what, hint)
        super(MissingDependency, self).__init__(msg, missing=what)


class NotFound(PartitionError):
    """A named object (rootfs, partition, cgroup) does not exist."""


class Conflict(PartitionError):
    """The request clashes with something that exists (e.g. a rootfs in use)."""


class NotRunning(PartitionError):
    """The partition exists but does not run (stopped or frozen): nothing can run inside it."""


class CommandFailed(PartitionError):
    """An external command (runc, debootstrap, mount) returned non-zero."""

    def __init__(self, cmd, rc, stdout="", stderr=""):
        msg = "command %s failed with exit code %s: %s" % (
            " ".join(cmd), rc, (stderr or stdout or "").strip()[-2000:])
        super(CommandFailed, self).__init__(msg, cmd=list(cmd), rc=rc, stdout=stdout, stderr=stderr)
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


class BuildError(PartitionError):
    """A rootfs template could not be built."""


class CorruptDocument(PartitionError):
    """A state document exists but cannot be read as one (half-written by hand, a disk error)."""


class CgroupError(PartitionError):
    """A cgroup could not be read or written."""


class LockTimeout(PartitionError):
    """Another run holds the host lock for too long."""


class NetworkError(PartitionError):
    """A netlink, nftables or tc operation failed."""
