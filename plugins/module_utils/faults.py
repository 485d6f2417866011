# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only pause points, so the fault suite can kill -9 a run at a chosen moment of a multi-step change.

They do nothing unless the environment variable LINUXVPS_TEST_PAUSE_AT names the point reached. Then the run writes
its PID to the file named by LINUXVPS_TEST_PAUSE_FILE and sleeps (at most PAUSE_SECONDS, then goes on), and the
test kills it by that PID. The points (where each sits is said where it is called):

* shift-copied       templates.py: a tenant's copy of a template is copied and shifted, not yet renamed into place
* start-created      launch.py: the container is created, its interfaces attached and guarded, init not started
* stop-runtime-gone  launch.py: the container is stopped and deleted, its interfaces, mount and cgroup not yet
* destroy-wiped      actions.py: the partition's files are gone, its ID range and directory not yet
* release-dropped    actions.py: the range's shifted copies are gone, the range is not released yet
* destroy-dir-gone   actions.py: the partition's directory is gone, the state directory's cgroup parents not yet
* restore-extracted  backups.py: a restored partition's files are extracted and shifted, its document not written yet
* clone-copied       clones.py: a clone's copy is staged (source thawed), the host lock not yet taken to move it in
* clone-adopted      actions.py: a clone's files are in its directory, its document not yet written
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading
import time

PAUSE_AT = "LINUXVPS_TEST_PAUSE_AT"
PAUSE_FILE = "LINUXVPS_TEST_PAUSE_FILE"
PAUSE_SECONDS = 600
POINTS = ("shift-copied", "start-created", "stop-runtime-gone", "destroy-wiped", "release-dropped", "destroy-dir-gone",
          "restore-extracted", "clone-copied", "clone-adopted")

# Threads of one bulk converge (parallel_apply.py) reach a point side by side: one at a time writes the PID file
# (they share its partial file), and each then sleeps until the test kills the process.
_FILE_LOCK = threading.Lock()


def pause_point(name, environ=None, sleep=time.sleep):
    """Pause here when the test asked for this point (see the module's docstring); otherwise return at once."""
    environ = os.environ if environ is None else environ
    if environ.get(PAUSE_AT) != name:
        return False
    path = environ.get(PAUSE_FILE)
    if path:
        with _FILE_LOCK:
            partial = path + ".partial"
            with open(partial, "w") as handle:
                handle.write("%d\n" % os.getpid())
            os.rename(partial, path)  # the test reads a whole PID or none
    for _second in range(PAUSE_SECONDS):
        sleep(1)
    return True
