# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying many partitions' plans side by side: how many at once (the partition module's ``workers``), which go
together (waves by autostart_order), and the bounded worker threads that run them. Pure scheduling: what a plan does
is converge.py's and actions.py's, and whatever those share between partitions is serialized where it lives.

Partitions that start go in waves by autostart_order, lowest first: a wave is wholly applied (its partitions
started, or failed) before the next begins. Everything else (stops, removals, changes to running partitions) goes
in the first wave, side by side with the lowest order's starts. Within a wave, items are taken in input order by at
most ``workers`` threads; with one worker (or one item) they run in the calling thread, one after another.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading

from ansible_collections.linuxvps.partitions.plugins.module_utils.errors import InvalidOption

MAX_WORKERS = 64
DEFAULT_ORDER = 100  # spec.py's autostart_order default


def default_workers(cpu_count=None):
    """Two per core, at most 8: a start or stop mostly waits on the runtime, the kernel and the partition's init, so a
    core keeps two busy; more only queue on the CPUs and the host's shared locks (nft, cgroup tree)."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(8, 2 * cpus))


def resolve_workers(value, cpu_count=None):
    """The number of workers for the option's value (None: the default for the host's cores); refused by name."""
    if value is None:
        return default_workers(cpu_count)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise InvalidOption("workers", value, "must be a whole number from 1 to %d (1 applies one partition at a time)"
                            % MAX_WORKERS)
    return value


def waves(start_orders):
    """Lists of item indices to apply together, in order. start_orders: per item, its autostart_order when the item
    starts its partition, else None. Items that start nothing join the first wave; each list keeps input order."""
    orders = sorted(set(order for order in start_orders if order is not None))
    if not orders:
        return [list(range(len(start_orders)))] if start_orders else []
    result = [[index for index, order in enumerate(start_orders) if order == wanted] for wanted in orders]
    result[0] = sorted(result[0] + [index for index, order in enumerate(start_orders) if order is None])
    return result


def run_waves(groups, workers, task, thread_name="partition-apply"):
    """Run task(index) for every index of every group, a group wholly done before the next, at most workers at once;
    their results in index order. When a task raises, no further task starts: the ones running finish, then the error
    of the lowest index is raised (what a sequential run would have raised first)."""
    results = {}
    for group in groups:
        errors = _run_group(group, workers, task, results, thread_name)
        if errors:
            raise errors[min(errors)]
    return [results[index] for index in sorted(results)]


def _run_group(group, workers, task, results, thread_name):
    """{index: exception} of the group's tasks that raised (results filled with the others')."""
    errors = {}
    if workers <= 1 or len(group) <= 1:
        for index in group:
            try:
                results[index] = task(index)
            except Exception as exc:
                errors[index] = exc
                break
        return errors
    pending = list(reversed(group))  # popped from the end: input order
    guard = threading.Lock()  # pending, results and errors, shared by this group's threads

    def worker():
        while True:
            with guard:
                if errors or not pending:
                    return
                index = pending.pop()
            try:
                value = task(index)
            except BaseException as exc:  # raised again by the calling thread, whatever it is
                with guard:
                    errors[index] = exc
            else:
                with guard:
                    results[index] = value

    threads = [threading.Thread(target=worker, name="%s-%d" % (thread_name, number)) for number in range(min(workers, len(group)))]
    for thread in threads:
        thread.daemon = True  # a module killed mid-run ends with them: the journal finishes what they left
        thread.start()
    for thread in threads:
        thread.join()
    return errors
