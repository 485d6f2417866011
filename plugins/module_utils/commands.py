# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running external programs from library code, raising CommandFailed instead of returning codes.

The engine does not depend on AnsibleModule so that a module, a connection plugin or a bulk
call can drive it alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import CommandFailed

SBIN_PATHS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def find_program(name):
    """Absolute path of an executable on PATH or the usual sbin directories, or None."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + list(SBIN_PATHS)
    for directory in dirs:
        path = os.path.join(directory, name)
        if directory and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def run(cmd, stdin_data=None, output_file=None, check=True, timeout=None):
    """Run cmd; return (rc, stdout, stderr) as text.

    With output_file, the child's stdout and stderr go to that open file instead of pipes:
    a runtime that leaves a partition's init holding our pipes would hang the caller.
    """
    stdout = output_file if output_file is not None else subprocess.PIPE
    stderr = output_file if output_file is not None else subprocess.PIPE
    stdin = subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, close_fds=True)
    try:
        out, err = proc.communicate(stdin_data.encode() if stdin_data is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise CommandFailed(cmd, "timeout", _text(out), "timed out after %ss" % timeout)
    out, err = _text(out), _text(err)
    if check and proc.returncode != 0:
        raise CommandFailed(cmd, proc.returncode, out, err)
    return proc.returncode, out, err


def _text(data):
    if data is None:
        return ""
    return data.decode("utf-8", "replace")
