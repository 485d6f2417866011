# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_support.py: how engine errors reach the user (a full disk by path and cause, without a traceback)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import PartitionError
from ansible_collections.linuxvps.partitions.plugins.module_utils.module_support import run_engine


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **result):
        self.result = result
        raise Failed()


def failing(exc):
    def work():
        raise exc
    return work


def failure(exc):
    module = FakeModule()
    with pytest.raises(Failed):
        run_engine(module, failing(exc))
    return module.result


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO])
def test_a_disk_fault_names_its_path_without_a_traceback(code):
    result = failure(OSError(code, os.strerror(code), "/var/lib/linuxvps/partitions/web1"))
    assert result == {"msg": "/var/lib/linuxvps/partitions/web1: %s" % os.strerror(code)}


def test_a_rename_names_both_paths():
    result = failure(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/s/a.tmp", None, "/s/a"))
    assert result["msg"] == "/s/a.tmp -> /s/a: No space left on device" and "exception" not in result


def test_other_os_errors_keep_their_traceback():
    result = failure(OSError(errno.EINVAL, "Invalid argument", "/s/x"))
    assert "EINVAL" not in result["msg"] and "Invalid argument" in result["msg"] and "Traceback" in result["exception"]


def test_engine_errors_keep_their_details():
    result = failure(PartitionError("cannot write /s/p.json: No space left on device", path="/s/p.json"))
    assert result == {"msg": "cannot write /s/p.json: No space left on device", "path": "/s/p.json"}
