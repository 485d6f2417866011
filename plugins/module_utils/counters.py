# -*- coding: utf-8 -*-
# Copyright: (c) 2026, linuxvps.partitions contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beancounters that outlive a partition's cgroup: the ledger's arithmetic. Pure: no file, no kernel.

The kernel's counters start again with every cgroup, so every start of a partition begins a new *life*
(life id = the host's boot_id + the start time). The ledger (counters_store.py keeps it in
partitions/<name>/counters.json) holds what ended lives counted:

    {"since": UTC time of creation or of the last reset,
     "closed": {field: value}   cumulative fields summed, peaks the highest, over the folded lives,
     "folded": [life ids]       lives already added (never twice),
     "offsets": {"life", "values", "peaks"} or None   a reset during a life: what that life had counted then,
     "approximate": [fields]    lower bounds carried over from the folded lives}

A life is folded at its stop (from its cgroup, before the runtime deletes it) or, after a crash or a reboot
without a stop, at the next start from its last *sample* (partitions/<name>/counters.sample.json, written by
whoever reads the counters: partition_info and the metrics command); what happened after that sample is lost.

Fields ("memory.failcnt", "oom_kills", ...): cumulative ones (failcnt, oom_kills, cpu.held and
cpu.throttled_seconds) add up over lives; peaks (maxheld) are the highest over lives; held and limit are now.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

RESOURCES = ("memory", "swap", "pids", "disk", "inodes")
CUMULATIVE = ("memory.failcnt", "swap.failcnt", "pids.failcnt", "disk.failcnt", "inodes.failcnt",
              "cpu.held", "cpu.failcnt", "cpu.throttled_seconds", "oom_kills")
PEAKS = tuple(resource + ".maxheld" for resource in RESOURCES)
# No kernel peak and no EDQUOT counter for a partition's disk: its peak is the highest sample.
ALWAYS_SAMPLED = ("disk.maxheld", "inodes.maxheld")
FOLDED_KEPT = 64  # life ids remembered: far more than can be pending at once
EVENT_COUNTERS = ("memory.failcnt", "swap.failcnt", "pids.failcnt", "disk.failcnt", "inodes.failcnt", "cpu.failcnt", "oom_kills")


def life_id(boot_id, started):
    """The id of one run of a partition: a start time alone could repeat after a reboot with a wrong clock."""
    return "%s/%s" % (boot_id or "unknown-boot", started)


def new_ledger(since):
    return {"since": since, "closed": {}, "folded": [], "offsets": None, "approximate": []}


def flatten(counters):
    """{field: value} of a counters dict (the schema partition_info returns, or read_counters'), peaks and held too."""
    flat = {}
    for resource in RESOURCES + ("cpu",):
        for key, value in (counters.get(resource) or {}).items():
            flat[resource + "." + key] = value
    flat["oom_kills"] = counters.get("oom_kills")
    return flat


def _add(*values):
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def _highest(*values):
    present = [value for value in values if value is not None]
    return max(present) if present else None


def highest_of(first, second):
    """Two reads of one life's flat fields (before and after its stop): each counter and peak at its highest (a counter
    never goes back; one that did went with a removed sub-cgroup), the approximate lists joined."""
    if second is None:
        return first
    merged = dict(second)
    for field in CUMULATIVE + PEAKS:
        merged[field] = _highest(first.get(field), second.get(field))
    merged["approximate"] = sorted(set(first.get("approximate") or ()) | set(second.get("approximate") or ()))
    return merged


def sample_matches(ledger, sample, life):
    """Whether sample was taken during life and since the ledger's last reset."""
    return bool(sample) and sample.get("life") == life and sample.get("since") == ledger.get("since")


def _reset_in(ledger, life):
    offsets = ledger.get("offsets") or {}
    return offsets if offsets.get("life") == life else None


def life_values(ledger, life, live, sample=None):
    """(values, approximate): one life's fields as the ledger counts them, given what its cgroup counts now (live:
    flat fields and an "approximate" list, as read_counters gives them) and its last sample.

    Peaks are the highest of the kernel's peak, the samples and the value held now; after a reset during this
    life the kernel's peak still holds what came before, so only the samples and held count (lower bounds),
    unless the reset could restart that peak in the kernel too (offsets "peaks")."""
    offsets = _reset_in(ledger, life)
    values, approximate = {}, set(live.get("approximate") or ())
    for field in CUMULATIVE:
        value = live.get(field)
        if offsets is not None and value is not None:
            value = max(0, value - (offsets["values"].get(field) or 0))  # a counter never goes back: max guards a reused cgroup
        values[field] = value
    sampled = (sample or {}).get("peaks") or {} if sample_matches(ledger, sample, life) else {}
    for field in PEAKS:
        held = live.get(field.split(".")[0] + ".held")
        kernel = live.get(field)
        if offsets is not None and field not in (offsets.get("peaks") or ()):
            kernel = None
            if held is not None:
                approximate.add(field)
        values[field] = _highest(kernel, sampled.get(field), held)
        if kernel is None and values[field] is not None and field not in approximate:
            approximate.add(field)
    return values, sorted(approximate)


def fold(ledger, life, values, approximate=()):
    """The ledger with one ended life added (values from life_values); unchanged if it was added already."""
    if life in (ledger.get("folded") or []):
        return ledger
    closed = dict(ledger.get("closed") or {})
    for field in CUMULATIVE:
        closed[field] = _add(closed.get(field), values.get(field))
    for field in PEAKS:
        closed[field] = _highest(closed.get(field), values.get(field))
    offsets = ledger.get("offsets")
    return dict(ledger, closed=closed, folded=((ledger.get("folded") or []) + [life])[-FOLDED_KEPT:],
                offsets=None if (offsets or {}).get("life") == life else offsets,
                approximate=sorted(set(ledger.get("approximate") or ()) | set(approximate)))


def stale_sample(ledger, sample, running_life):
    """Whether sample is of a life that ended without being folded (a crash, a reboot without a stop)."""
    return (bool(sample) and sample.get("life") not in (ledger.get("folded") or []) and sample.get("life") != running_life
            and sample.get("since") == ledger.get("since") and isinstance(sample.get("values"), dict))


def fold_sample(ledger, sample):
    """The ledger with a stale sample's life added (stale_sample said so)."""
    values = dict(sample["values"])
    for field, peak in (sample.get("peaks") or {}).items():
        values[field] = _highest(values.get(field), peak)
    return fold(ledger, sample["life"], values, sample.get("approximate") or ())


def next_sample(ledger, previous, life, live, now):
    """The sample to keep of a running life: its counters now, with the highest values seen by any sample of it."""
    values, approximate = life_values(ledger, life, live, previous)
    peaks = dict(((previous or {}).get("peaks") or {}) if sample_matches(ledger, previous, life) else {})
    for field in PEAKS:
        peaks[field] = _highest(peaks.get(field), values.get(field))
    return {"life": life, "since": ledger.get("since"), "time": now,
            "values": dict((field, values[field]) for field in CUMULATIVE), "peaks": peaks, "approximate": approximate}


def sample_counts_news(previous, sample):
    """Whether sample counts something previous did not (another life, or an event counter that moved): only such a
    sample is worth an fsync; one that moves only held values and peaks may be lost to a power cut at little cost."""
    if not previous or previous.get("life") != sample.get("life"):
        return True
    before, after = previous.get("values") or {}, sample.get("values") or {}
    return any(before.get(field) != after.get(field) for field in EVENT_COUNTERS)


def reset(ledger, now, life=None, live=None, reset_peaks=()):
    """A ledger starting again at now. life/live: the running life and its counters now, which later reads
    subtract; reset_peaks: peak fields the kernel restarted too (v1 memory)."""
    fresh = dict(new_ledger(now), folded=list(ledger.get("folded") or []))
    if life is not None and live is not None:
        fresh["offsets"] = {"life": life, "values": dict((field, live.get(field)) for field in CUMULATIVE),
                            "peaks": sorted(reset_peaks)}
    return fresh


def totals(ledger, life=None, live=None, sample=None):
    """(flat fields, approximate) over the folded lives and the running one (life None: not running)."""
    closed = ledger.get("closed") or {}
    approximate = set(ledger.get("approximate") or ())
    values = dict((field, closed.get(field)) for field in CUMULATIVE + PEAKS)
    if life is not None and live is not None and life not in (ledger.get("folded") or []):
        current, current_approximate = life_values(ledger, life, live, sample)
        approximate |= set(current_approximate)
        for field in CUMULATIVE:
            values[field] = _add(values[field], current[field])
        for field in PEAKS:
            values[field] = _highest(values[field], current[field])
    return values, approximate


def counters_view(ledger, life=None, live=None, sample=None, now_values=None):
    """The counters partition_info returns: {memory|swap|pids|disk|inodes: {held, maxheld, limit, failcnt}, cpu: {held,
    maxheld, limit, failcnt, throttled_seconds}, oom_kills, since, approximate}.

    now_values: flat held and limit fields now (of the running cgroup, the disk, the spec's limits when stopped)."""
    values, approximate = totals(ledger, life, live, sample)
    now_values = now_values or {}
    view = {}
    for resource in RESOURCES:
        held = now_values.get(resource + ".held")
        peak = values[resource + ".maxheld"]
        if held is not None and (peak is None or held > peak):
            peak = held  # nothing was seen above what is held now
            if resource + ".maxheld" not in approximate and (live or {}).get(resource + ".maxheld") is None:
                approximate.add(resource + ".maxheld")
        view[resource] = {"held": held, "maxheld": peak, "limit": now_values.get(resource + ".limit"),
                          "failcnt": values[resource + ".failcnt"]}
    view["cpu"] = {"held": values["cpu.held"], "maxheld": None, "limit": now_values.get("cpu.limit"),
                   "failcnt": values["cpu.failcnt"], "throttled_seconds": values["cpu.throttled_seconds"]}
    view["oom_kills"] = values["oom_kills"]
    view["since"] = ledger.get("since")
    view["approximate"] = sorted(field for field in approximate
                                 if _field_value(view, field) is not None)
    return view


def _field_value(view, field):
    parts = field.split(".")
    value = view.get(parts[0])
    return value.get(parts[1]) if len(parts) > 1 and isinstance(value, dict) else value


def reset_due(view):
    """Whether reset_counters has something to do: an event was counted since the last reset (a limit hit, an OOM
    kill, a throttled period). CPU time and peaks move on their own and would make every reset a change."""
    flat = flatten(view)
    return any(flat.get(field) for field in EVENT_COUNTERS)
