"""Incidents: alerts close in time and space grouped into one.

A new alert joins the incident of a stored (or just made) alert whose station lies within
`KM` kilometres and whose time span comes within `HOURS` hours of its own, provided the
incident began no more than `MAX_DAYS` days before the new alert (so a season of repeated
exceedances does not chain into one endless incident). Otherwise it opens an incident. What an
incident shows (extent, severity, status, alerts) is computed at read time from the alerts the
reader may see, so an incident never tells anyone about alerts on data they cannot see.
"""

from __future__ import annotations

import numpy as np

from ecobridge.alerts.models import HOUR_US

KM = 400.0
HOURS = 48
MAX_DAYS = 14
EARTH_KM = 6371.0


def _km(lon1, lat1, lon2, lat2) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(x) for x in (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _places(lon: np.ndarray, lat: np.ndarray, new: list) -> tuple:
    """Alerts sit at few places (their stations): a place index per stored alert then per new
    one, and the distances between places computed once, as _km computes them."""
    lon = np.r_[lon, [n[0] for n in new]]
    lat = np.r_[lat, [n[1] for n in new]]
    key = np.nan_to_num(np.stack((lon, lat), axis=1), nan=1e9)
    _u, at, place = np.unique(key, axis=0, return_index=True, return_inverse=True)
    if len(at) > 2000:
        return None, None
    x, y = lon[at], lat[at]
    return place.reshape(-1), _km(x[:, None], y[:, None], x[None, :], y[None, :])


def assign(cur, new: list[tuple[float, float, int, int]]) -> list[int]:
    """Incident id for each new alert (lon, lat, start us, last us), creating incidents."""
    if not new:
        return []
    gap = HOUR_US * HOURS
    lo = min(n[2] for n in new) - gap - MAX_DAYS * 24 * HOUR_US
    hi = max(n[3] for n in new) + gap
    rows = cur.execute(
        "SELECT a.incident_id, ST_X(ST_Centroid(a.geom)), ST_Y(ST_Centroid(a.geom)),"
        " epoch_us(a.started_at), epoch_us(a.last_seen_at), epoch_us(f.first)"
        " FROM alerts a JOIN (SELECT incident_id, min(started_at) AS first FROM alerts"
        "   WHERE incident_id IS NOT NULL GROUP BY 1) f USING (incident_id)"
        " WHERE a.resolution IS DISTINCT FROM 'retracted'"
        " AND a.started_at <= make_timestamptz(?) AND a.last_seen_at >= make_timestamptz(?)",
        [hi, lo]).fetchall()
    # Stored alerts then new ones as they are placed, in arrays sized once; new incidents get
    # provisional negative ids and are created together at the end.
    size = len(rows) + len(new)
    inc = np.zeros(size, np.int64)
    lon, lat = np.zeros(size), np.zeros(size)
    start, last = np.zeros(size, np.int64), np.zeros(size, np.int64)
    for k, r in enumerate(rows):
        inc[k], lon[k], lat[k], start[k], last[k] = r[0], r[1], r[2], r[3], r[4]
    first = {r[0]: r[5] for r in rows}
    n = len(rows)
    place, dist = _places(lon[:n], lat[:n], new)
    at = place[:size].copy() if place is not None else None  # place of each placed alert
    out = np.zeros(len(new), np.int64)
    provisional = 0
    for i in sorted(range(len(new)), key=lambda j: (new[j][2], j)):
        x, y, s, e = new[i]
        near = np.flatnonzero((start[:n] <= e + gap) & (last[:n] >= s - gap))
        if dist is None:
            near = near[_km(lon[near], lat[near], x, y) <= KM]
        else:
            near = near[dist[at[near], place[len(rows) + i]] <= KM]
        open_ = [int(c) for c in np.unique(inc[near])
                 if first[int(c)] >= s - MAX_DAYS * 24 * HOUR_US]
        if open_:
            # stored incidents (positive ids) first, then the earliest made in this call
            chosen = min(c for c in open_ if c > 0) if any(c > 0 for c in open_) else max(open_)
        else:
            provisional -= 1
            chosen = provisional
            first[chosen] = s
        first[chosen] = min(first[chosen], s)
        out[i] = chosen
        inc[n], lon[n], lat[n], start[n], last[n] = chosen, x, y, s, e
        if at is not None:
            at[n] = place[len(rows) + i]
        n += 1
    if provisional:
        made = [r[0] for r in cur.execute(
            "INSERT INTO incidents (id) SELECT nextval('incidents_id_seq') FROM range(?)"
            " RETURNING id", [-provisional]).fetchall()]
        made.sort()
        out = np.where(out < 0, np.array(made, np.int64)[np.maximum(-out - 1, 0)], out)
    return out.tolist()
