"""Episodes and their reconciliation with stored alerts (the last step of alerts.evaluate).

Firing points closer than a rule's clear time form one episode; an episode keeps the id of the
stored alert it overlaps (a condition that goes on updates its alert), new episodes open
alerts, stored alerts left without an episode are retracted. Pure Python and numpy: no store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from ecobridge.alerts.models import SEVERITIES, Points, Rule
from ecobridge.alerts.rules import Stream

if TYPE_CHECKING:
    from ecobridge.alerts.evaluate import Plan


@dataclass
class Known:
    """What the store holds that an evaluation may skip asking about when absent."""

    alerts: bool = True
    subscriptions: bool = True


@dataclass
class Episode:
    key: int
    start: int
    last: int
    ended: int | None
    count: int
    sev: int
    peak: float
    peak_at: int
    last_value: float
    limit: float


@dataclass
class Episodes:
    """A rule's episodes as columns, by key and start (what `episodes` lists one by one):
    new alerts stay columns down to their insert (writes.stage), without an object each."""

    key: np.ndarray
    start: np.ndarray
    last: np.ndarray
    ended: np.ndarray  # meaningful where has_end
    has_end: np.ndarray
    count: np.ndarray
    sev: np.ndarray
    peak: np.ndarray
    peak_at: np.ndarray
    last_value: np.ndarray
    limit: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def take(self, idx: np.ndarray) -> Episodes:
        return Episodes(*(getattr(self, f.name)[idx] for f in fields(self)))

    def one(self, i: int) -> Episode:
        return Episode(int(self.key[i]), int(self.start[i]), int(self.last[i]),
                       int(self.ended[i]) if self.has_end[i] else None, int(self.count[i]),
                       int(self.sev[i]), float(self.peak[i]), int(self.peak_at[i]),
                       float(self.last_value[i]), float(self.limit[i]))


def episodes(rule: Rule, pts: Points) -> list[Episode]:
    """Firing points closer than the rule's clear time, per key, as episodes."""
    cols = episode_columns(rule, pts)
    return [cols.one(i) for i in range(len(cols))]


def episode_columns(rule: Rule, pts: Points) -> Episodes:
    n = len(pts.t)
    fired = np.flatnonzero(pts.sev >= 0) if n else np.zeros(0, np.int64)
    if len(fired) == 0:
        z = np.zeros(0, np.int64)
        return Episodes(z, z, z, z, np.zeros(0, bool), z, z, np.zeros(0), z, np.zeros(0),
                        np.zeros(0))
    same_next = np.r_[pts.key[1:] == pts.key[:-1], False]
    nxt = np.r_[pts.t[1:], 0]  # valid where same_next (times may be negative: before 1970)
    last_of_key = np.flatnonzero(~same_next)
    fk, ft = pts.key[fired], pts.t[fired]
    c = rule.clear_us
    starts = np.flatnonzero(np.r_[True, (fk[1:] != fk[:-1]) | (ft[1:] - ft[:-1] > c)])
    ends = np.r_[starts[1:], len(fired)] - 1
    sev = np.maximum.reduceat(pts.sev[fired], starts)
    ends_i, starts_i = fired[ends], fired[starts]
    size = ends - starts + 1
    magnitude = np.abs(pts.value[fired])
    if np.isnan(magnitude).any():  # argmax stops at the first NaN
        peak_i = np.array([fired[s + int(np.argmax(magnitude[s:e + 1]))]
                           for s, e in zip(starts.tolist(), ends.tolist(), strict=True)],
                          np.int64)
    else:  # the first largest of each episode, as argmax takes it
        top = np.flatnonzero(magnitude == np.repeat(np.maximum.reduceat(magnitude, starts),
                                                    size))
        episode = np.repeat(np.arange(len(starts)), size)[top]
        peak_i = fired[top[np.r_[True, episode[1:] != episode[:-1]]]]
    last = pts.t[ends_i]
    # ended by the next point when the data reach the clear time past the last firing one
    max_t = pts.t[last_of_key[np.searchsorted(last_of_key, ends_i)]]
    more = same_next[ends_i]
    has_end = more & (max_t >= last + c)
    return Episodes(pts.key[ends_i].astype(np.int64), pts.t[starts_i].astype(np.int64),
                    last.astype(np.int64), np.where(more, nxt[ends_i], 0).astype(np.int64),
                    has_end, size.astype(np.int64), sev.astype(np.int64),
                    pts.value[peak_i].astype(float), pts.t[peak_i].astype(np.int64),
                    pts.value[ends_i].astype(float), pts.limit[peak_i].astype(float))


@dataclass
class New:
    """A rule's new alerts: its episodes that open one, in the order they open, and per key
    what the rule says of its limit (alert detail)."""

    rule: Rule
    eps: Episodes
    detail: dict[int, dict]

    def __len__(self) -> int:
        return len(self.eps)


@dataclass
class Writes:
    """What an evaluation changes, written in a few statements at the end."""

    new: list[New] = field(default_factory=list)  # per rule, none empty
    updates: list[tuple[tuple, Episode, list[str]]] = field(default_factory=list)
    retracted: list[tuple] = field(default_factory=list)
    known: Known = field(default_factory=Known)
    staged: Any = None  # the new alerts as columns, made ahead (writes.Staged)

    def stage(self, streams: dict[int, Stream], near: list | None = None) -> None:
        """The new alerts as columns, and their incidents where the stored alerts they
        could join were read ahead (`near`: incidents.around)."""
        from ecobridge.alerts import writes

        self.staged = writes.stage(self.new, streams)
        self.staged.place(near)

    def commit(self, cur, streams: dict[int, Stream]) -> dict:
        from ecobridge.alerts import writes

        return writes.write(cur, self, streams)


def _reconcile(plan: Plan, pts: Points, streams: dict[int, Stream], writes: Writes) -> None:
    rule = plan.rule
    cols = episode_columns(rule, pts)
    keys = cols.key
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True]) if len(keys) else \
        np.zeros(1, np.int64)
    by_key = dict(zip(keys[bounds[:-1]].tolist(), zip(bounds[:-1].tolist(), bounds[1:].tolist(),
                                                       strict=True), strict=True))
    new: list = []  # episode ranges and indices that open alerts, in the order they open
    detail: dict[int, dict] = {}
    # the keys in the order of a set, as before the episodes were columns: the order of new
    # alerts decides their ids and which incident takes an alert first
    for key in set(by_key) | set(plan.absorbed):
        stored = plan.absorbed.get(key)
        if not stored:  # every episode opens an alert (none ended past the range read)
            span = by_key.get(key)
            if span:
                detail[key] = pts.detail.get(key, {})
                new.append(np.arange(*span))
            continue
        stored = list(stored)
        lo, hi = by_key.get(key, (0, 0))
        for i in range(lo, hi):
            ep = cols.one(i)
            if ep.ended is None:
                # the point that ended it may lie past the range read (after a gap in the
                # data): a stored alert ending at the same last point knows it
                ep.ended = next((a[7] for a in stored if a[2] == ep.last and a[7] is not None),
                                None)
            overlapping = [a for a in stored if a[1] <= ep.last and a[2] >= ep.start]
            if not overlapping:
                if ep.ended is not None:
                    cols.ended[i], cols.has_end[i] = ep.ended, True
                detail[key] = pts.detail.get(key, {})
                new.append(np.array([i], np.int64))
                continue
            keep, *merged = overlapping
            for a in overlapping:
                stored.remove(a)
            writes.retracted.extend(merged)
            kinds = _changes(keep, ep)
            if kinds:
                writes.updates.append((keep, ep, kinds))
        writes.retracted.extend(stored)
    if new:
        writes.new.append(New(rule, cols.take(np.concatenate(new)), detail))


def _changes(a: tuple, ep: Episode) -> list[str]:
    """Event kinds for a stored alert row `a` re-derived as episode `ep`."""
    kinds = []
    old_sev = SEVERITIES.index(a[4])
    manual = a[6] == "manual"
    if ep.sev > old_sev:
        kinds.append("escalated")
    if not manual and a[7] is None and ep.ended is not None:
        kinds.append("resolved")
    elif not manual and a[7] is not None and ep.ended is None:
        kinds.append("reopened")
    same = (a[1], a[2], a[7], a[8]) == (ep.start, ep.last, ep.ended, ep.count) and _eq(
        a[9], ep.peak) and _eq(a[10], ep.last_value) and ep.sev == old_sev
    if not kinds and not same:
        kinds.append("updated")
    return kinds


def _eq(a: float | None, b: float) -> bool:
    return a is not None and (a == b or (math.isnan(a) and math.isnan(b)))
