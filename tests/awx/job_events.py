# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an ansible-runner job says, as AWX reads it: its artifacts (rc, status) and its job events.

    python3 job_events.py <artifacts/<ident> dir>               -> "<rc> <status>" and one recap line per host
    python3 job_events.py <artifacts/<ident> dir> --task NAME   -> the results of task NAME (JSON), one line per host

Recap lines are spelled as ansible-playbook's PLAY RECAP spells them (host ok=.. changed=.. ...), so a plain
run's recap compares as text. They come from the playbook_on_stats event, and are checked against the
per-task events first: a stats event that the task events do not bear out fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import sys

COUNTS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
# playbook_on_stats keys for the recap's words.
STATS_KEYS = {"ok": "ok", "changed": "changed", "unreachable": "dark", "failed": "failures",
              "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


def load_events(artifacts):
    events = []
    for path in glob.glob(os.path.join(artifacts, "job_events", "*.json")):
        with open(path, encoding="utf-8") as f:
            events.append(json.load(f))
    return sorted(events, key=lambda e: e["counter"])


def counted_from_tasks(events):
    """Per host counts from the task events (not the stats event)."""
    counts = {}
    for event in events:
        data = event.get("event_data", {})
        host = data.get("host")
        if not host:
            continue
        c = counts.setdefault(host, dict.fromkeys(COUNTS, 0))
        kind = event["event"]
        if kind == "runner_on_ok":
            c["ok"] += 1
            c["changed"] += bool(data.get("res", {}).get("changed"))
        elif kind == "runner_on_failed":
            c["ignored" if data.get("ignore_errors") else "failed"] += 1
        elif kind == "runner_on_skipped":
            c["skipped"] += 1
        elif kind == "runner_on_unreachable":
            c["unreachable"] += 1
    return counts


def main(argv):
    artifacts = argv[1]
    events = load_events(artifacts)
    if not events:
        sys.exit("no job events in %s" % artifacts)
    if len(argv) == 4 and argv[2] == "--task":
        for event in events:
            if event["event"] in ("runner_on_ok", "runner_on_failed") and event["event_data"].get("task") == argv[3]:
                print(json.dumps(event["event_data"]["res"], sort_keys=True))
        return
    stats = [e["event_data"] for e in events if e["event"] == "playbook_on_stats"]
    if len(stats) != 1:
        sys.exit("expected one playbook_on_stats event, found %d" % len(stats))
    stats = stats[0]
    from_tasks = counted_from_tasks(events)
    with open(os.path.join(artifacts, "rc"), encoding="utf-8") as f:
        rc = f.read().strip()
    with open(os.path.join(artifacts, "status"), encoding="utf-8") as f:
        status = f.read().strip()
    print(rc, status)
    hosts = sorted({h for key in STATS_KEYS.values() for h in stats.get(key) or {}})
    for host in hosts:
        recap = {word: (stats.get(key) or {}).get(host, 0) for word, key in STATS_KEYS.items()}
        # The stats' ok counts changed results too; "rescued" has no task event of its own.
        tasks = dict(from_tasks.get(host, dict.fromkeys(COUNTS, 0)), rescued=recap["rescued"])
        if tasks != recap:
            sys.exit("%s: stats event %s, task events %s" % (host, recap, tasks))
        print(host, " ".join("%s=%d" % (word, recap[word]) for word in COUNTS))


if __name__ == "__main__":
    main(sys.argv)
