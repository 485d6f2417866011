# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edge between modules and the engine: the only place that turns engine errors into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import traceback

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError

# Errors of the host's disks rather than of this code: reported by path and cause, without a traceback.
HOST_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def run_engine(module, work):
    """Call work(); on a PartitionError fail the module with its message and details.

    Returns work()'s result. Errors that are not ours keep their traceback for the user.
    """
    try:
        return work()
    except PartitionError as exc:
        details = dict((key, value) for key, value in exc.details.items() if key not in ("msg", "changed"))
        module.fail_json(msg=exc.msg, **details)
    except (OSError, IOError) as exc:
        if exc.errno in HOST_FAULTS:  # the host's disk, not a bug: the path and the cause are all there is to say
            module.fail_json(msg=describe_os_error(exc))
        module.fail_json(msg="%s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc())


def describe_os_error(exc):
    """'path: reason' of an OSError (both paths of a rename or link)."""
    paths = [path for path in (exc.filename, getattr(exc, "filename2", None)) if path is not None]
    if not paths:
        return exc.strerror or str(exc)
    return "%s: %s" % (" -> ".join(str(path) for path in paths), exc.strerror)


def emit_warnings(module, warnings):
    seen = set()
    for warning in warnings:
        if warning not in seen:
            seen.add(warning)
            module.warn(warning)
