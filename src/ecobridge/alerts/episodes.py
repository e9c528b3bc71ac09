"""Episodes and their reconciliation with stored alerts (the last step of alerts.evaluate).

Firing points closer than a rule's clear time form one episode; an episode keeps the id of the
stored alert it overlaps (a condition that goes on updates its alert), new episodes open
alerts, stored alerts left without an episode are retracted. Pure Python and numpy: no store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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


def episodes(rule: Rule, pts: Points) -> list[Episode]:
    """Firing points closer than the rule's clear time, per key, as episodes."""
    n = len(pts.t)
    if n == 0:
        return []
    same_next = np.r_[pts.key[1:] == pts.key[:-1], False]
    nxt = np.r_[pts.t[1:], 0]  # valid where same_next (times may be negative: before 1970)
    last_of_key = np.flatnonzero(~same_next)
    max_t = dict(zip(pts.key[last_of_key].tolist(), pts.t[last_of_key].tolist(), strict=True))
    fired = np.flatnonzero(pts.sev >= 0)
    if len(fired) == 0:
        return []
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
    after = np.where(same_next[ends_i], nxt[ends_i], 0).tolist()
    out = []
    for key, last, s, n, sv, nx, more, peak, peak_at, last_value, limit in zip(
            pts.key[ends_i].tolist(), pts.t[ends_i].tolist(), pts.t[starts_i].tolist(),
            size.tolist(), sev.tolist(), after, same_next[ends_i].tolist(),
            pts.value[peak_i].astype(float).tolist(), pts.t[peak_i].tolist(),
            pts.value[ends_i].astype(float).tolist(), pts.limit[peak_i].astype(float).tolist(),
            strict=True):
        ended = nx if more and max_t[key] >= last + c else None
        out.append(Episode(key, s, last, ended, n, sv, peak, peak_at, last_value, limit))
    return out


@dataclass
class Writes:
    """What an evaluation changes, written in a few statements at the end."""

    new: list[tuple[Rule, Episode, dict]] = field(default_factory=list)
    updates: list[tuple[tuple, Episode, list[str]]] = field(default_factory=list)
    retracted: list[tuple] = field(default_factory=list)
    known: Known = field(default_factory=Known)
    staged: tuple | None = None  # the new alerts' rows, made ahead (writes.stage)

    def stage(self, streams: dict[int, Stream]) -> None:
        from ecobridge.alerts import writes

        self.staged = writes.stage(self.new, streams)

    def commit(self, cur, streams: dict[int, Stream]) -> dict:
        from ecobridge.alerts import writes

        return writes.write(cur, self, streams)


def _reconcile(plan: Plan, pts: Points, streams: dict[int, Stream], writes: Writes) -> None:
    rule = plan.rule
    by_key: dict[int, list[Episode]] = {}
    for ep in episodes(rule, pts):
        by_key.setdefault(ep.key, []).append(ep)
    for key in set(by_key) | set(plan.absorbed):
        stored = plan.absorbed.get(key)
        if not stored:  # every episode opens an alert (none ended past the range read)
            eps = by_key.get(key)
            if eps:
                detail = pts.detail.get(key, {})
                writes.new.extend([(rule, ep, detail) for ep in eps])
            continue
        stored = list(stored)
        for ep in by_key.get(key, []):
            if ep.ended is None:
                # the point that ended it may lie past the range read (after a gap in the
                # data): a stored alert ending at the same last point knows it
                ep.ended = next((a[7] for a in stored if a[2] == ep.last and a[7] is not None),
                                None)
            overlapping = [a for a in stored if a[1] <= ep.last and a[2] >= ep.start]
            if not overlapping:
                writes.new.append((rule, ep, pts.detail.get(key, {})))
                continue
            keep, *merged = overlapping
            for a in overlapping:
                stored.remove(a)
            writes.retracted.extend(merged)
            kinds = _changes(keep, ep)
            if kinds:
                writes.updates.append((keep, ep, kinds))
        writes.retracted.extend(stored)


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
