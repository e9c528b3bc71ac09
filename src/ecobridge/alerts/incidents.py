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


def assign(cur, new: list[tuple[float, float, int, int]], stored: bool = True) -> list[int]:
    """Incident id for each new alert (lon, lat, start us, last us), creating incidents.
    `stored`: whether the store may hold alerts (none: nothing to read)."""
    if not new:
        return []
    return make(cur, *_plan(_nearby(cur, new) if stored else [], new))


def around(cur, spans: list[tuple[float, float, int, int]]) -> list[tuple]:
    """The stored alerts any new alert at these places (lon, lat) within these times (first,
    last us) could join: read before the new alerts are known (evaluate.prepare), so that
    their placement (`plan`) needs no store. A superset of what `_nearby` reads for the new
    alerts, which lie at those places within those times; `_plan` keeps only neighbours."""
    return _nearby(cur, spans) if spans else []


def plan(rows: list, new: list) -> tuple[np.ndarray, int]:
    """`_plan` of the new alerts against stored rows read by `around`."""
    return _plan(rows, new) if new else (np.zeros(0, np.int64), 0)


def make(cur, out: np.ndarray, provisional: int) -> list[int]:
    """The incident ids of a plan: the provisional ones (-k) made in the store."""
    if provisional:
        made = [r[0] for r in cur.execute(
            "INSERT INTO incidents (id) SELECT nextval('incidents_id_seq') FROM range(?)"
            " RETURNING id", [-provisional]).fetchall()]
        made.sort()
        out = np.where(out < 0, np.array(made, np.int64)[np.maximum(-out - 1, 0)], out)
    return out.tolist()


def _plan(rows: list, new: list) -> tuple[np.ndarray, int]:
    """Incidents of the new alerts given the stored ones (incident, lon, lat, start, last,
    incident's first start): a stored id, or -k for the k-th incident to make."""
    first = {r[0]: r[5] for r in rows}
    place, dist = _places(np.array([r[1] for r in rows], float),
                          np.array([r[2] for r in rows], float), new)
    if dist is None:
        return _place_each(rows, new, first)
    return _place(rows, new, first, place, dist)


# A stored alert can matter only if it is a neighbour of a new one (an incident's first start
# only decides whether a neighbour's incident is still open), so the read is bounded by the
# new alerts: in time by HOURS around their spans, in space by a box around their stations
# widened by KM (plus a margin far above the rounding of _km). The incidents' first starts come
# from every alert of those incidents, wherever and whenever: an incident that began long
# before the window is closed. Nothing is grouped over the whole table, which grows with the
# years (the read before grouped it on every call: _all_stored).
_MARGIN_DEG = 0.01


def _nearby(cur, new: list) -> list[tuple]:
    gap = HOUR_US * HOURS
    box = _box(new)
    if box is None:  # no new alert has a position: none is near anything
        return []
    where, params = _box_sql(box)
    # one statement: DuckDB passes the few incident ids of `near` to the second scan of alerts
    # (a semi join's filter), so that scan skips the row groups of other incidents
    return cur.execute(
        "WITH near AS (SELECT incident_id, ST_X(ST_Centroid(geom)) AS x,"
        "  ST_Y(ST_Centroid(geom)) AS y, epoch_us(started_at) AS s,"
        "  epoch_us(last_seen_at) AS e FROM alerts"
        "  WHERE incident_id IS NOT NULL AND resolution IS DISTINCT FROM 'retracted'"
        "  AND started_at <= make_timestamptz(?) AND last_seen_at >= make_timestamptz(?)"
        f"  AND {where})"
        " SELECT n.incident_id, n.x, n.y, n.s, n.e, f.first FROM near n JOIN ("
        "  SELECT incident_id, epoch_us(min(started_at)) AS first FROM alerts"
        "  WHERE incident_id IN (SELECT incident_id FROM near) GROUP BY 1) f USING (incident_id)",
        [max(n[3] for n in new) + gap, min(n[2] for n in new) - gap, *params]).fetchall()


def _box(new: list) -> tuple[float, float, float | None, float | None] | None:
    """(south, north, west, east) holding every point within KM of a new alert; west and east
    None when no longitude bound holds (near a pole, or across the antimeridian)."""
    pts = np.array([(n[0], n[1]) for n in new], float)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return None
    reach = KM / EARTH_KM  # radians of latitude: no path between two latitudes is shorter
    south = float(pts[:, 1].min()) - np.degrees(reach) - _MARGIN_DEG
    north = float(pts[:, 1].max()) + np.degrees(reach) + _MARGIN_DEG
    # within the band |lat| <= polar, cos(lat) >= cos(polar), and haversine gives
    # sin(dlon / 2) <= sin(reach / 2) / cos(polar) for points within KM
    cos_polar = np.cos(np.radians(min(90.0, max(abs(south), abs(north)))))
    if cos_polar <= np.sin(reach / 2):
        return south, north, None, None
    wide = np.degrees(2 * np.arcsin(np.sin(reach / 2) / cos_polar)) + _MARGIN_DEG
    west, east = float(pts[:, 0].min()) - wide, float(pts[:, 0].max()) + wide
    if west < -180 or east > 180:  # stations lie within -180..180: no wrap to handle
        return south, north, None, None
    return south, north, west, east


def _box_sql(box: tuple) -> tuple[str, list]:
    south, north, west, east = box
    sql, params = "ST_Y(ST_Centroid(geom)) BETWEEN ? AND ?", [south, north]
    if west is not None:
        sql += " AND ST_X(ST_Centroid(geom)) BETWEEN ? AND ?"
        params += [west, east]
    return sql, params


def _all_stored(cur, new: list) -> list[tuple]:
    """The read before it was bounded (every incident's first start from the whole table): the
    reference the bounded read is tested and measured against."""
    gap = HOUR_US * HOURS
    lo = min(n[2] for n in new) - gap - MAX_DAYS * 24 * HOUR_US
    hi = max(n[3] for n in new) + gap
    return cur.execute(
        "SELECT a.incident_id, ST_X(ST_Centroid(a.geom)), ST_Y(ST_Centroid(a.geom)),"
        " epoch_us(a.started_at), epoch_us(a.last_seen_at), epoch_us(f.first)"
        " FROM alerts a JOIN (SELECT incident_id, min(started_at) AS first FROM alerts"
        "   WHERE incident_id IS NOT NULL GROUP BY 1) f USING (incident_id)"
        " WHERE a.resolution IS DISTINCT FROM 'retracted'"
        " AND a.started_at <= make_timestamptz(?) AND a.last_seen_at >= make_timestamptz(?)",
        [hi, lo]).fetchall()


_CELLS = 1 << 21  # neighbour matrix cells computed at once


def _place(rows: list, new: list, first: dict, place: np.ndarray, dist: np.ndarray
           ) -> tuple[np.ndarray, int]:
    """New alerts in order of their start, each joining an open incident of an alert placed
    before it (stored or new) within KM and HOURS, else opening one. Which alerts are near
    each other does not depend on the incidents, so it is found for all at once; only the
    choice of incident is made one alert after the other."""
    gap, horizon = HOUR_US * HOURS, MAX_DAYS * 24 * HOUR_US
    n_stored = len(rows)
    order = sorted(range(len(new)), key=lambda j: (new[j][2], j))
    start = np.array([new[i][2] for i in order], np.int64)
    last = np.array([new[i][3] for i in order], np.int64)
    at = place[n_stored + np.array(order, np.int64)].astype(np.int64)
    close = dist <= KM  # between places
    r, c = _near_new(start, last, at, close, gap)
    if n_stored:
        s_start = np.array([x[3] for x in rows], np.int64)
        s_last = np.array([x[4] for x in rows], np.int64)
        s_at = place[:n_stored].astype(np.int64)
        step = max(1, _CELLS // n_stored)
        found = [(r, c + n_stored)]
        for k0 in range(0, len(new), step):
            me = np.arange(k0, min(len(new), k0 + step))
            rs, cs = np.nonzero((s_start[None, :] <= last[me, None] + gap)
                                & (s_last[None, :] >= start[me, None] - gap))
            rs = rs + k0
            keep = close[s_at[cs], at[rs]]
            found.append((rs[keep], cs[keep]))
        r, c = (np.concatenate(x) for x in zip(*found, strict=True))
        by_row = np.argsort(r, kind="stable")
        r, c = r[by_row], c[by_row]
    bounds = np.searchsorted(r, np.arange(len(new) + 1)).tolist()
    neighbours = c.tolist()
    inc = [x[0] for x in rows] + [0] * len(new)  # stored alerts, then new ones as placed
    out = [0] * len(new)
    provisional = 0
    for k, i in enumerate(order):
        s = new[i][2]
        lo, hi = bounds[k], bounds[k + 1]
        open_ = [x for x in {inc[j] for j in neighbours[lo:hi]} if first[x] >= s - horizon] \
            if lo < hi else None
        if open_:  # _choose, inline (one call per alert costs as much as the rest)
            stored = [x for x in open_ if x > 0]
            chosen = min(stored) if stored else max(open_)
            if s < first[chosen]:
                first[chosen] = s
        else:
            provisional -= 1
            chosen = provisional
            first[chosen] = s
        out[i] = chosen
        inc[n_stored + k] = chosen
    return np.array(out, np.int64), provisional


def _near_new(start: np.ndarray, last: np.ndarray, at: np.ndarray, close: np.ndarray,
              gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (k, j), j < k, of new alerts in placing order (start sorted) near in time and
    place, sorted: an earlier alert starts before k ends, so it is near in time if it lasts
    until start[k] - gap, that is for the k from j + 1 up to the last starting by
    last[j] + gap (ranges of pairs, not a matrix of every two alerts)."""
    n = len(start)
    upto = np.searchsorted(start, last + gap, side="right")  # k < upto[j]
    size = np.maximum(upto - np.arange(1, n + 1), 0)
    rs, cs = [], []
    ends = np.cumsum(size)
    j0 = 0
    while j0 < n:  # chunks of about _CELLS pairs
        j1 = max(j0 + 1, int(np.searchsorted(ends, (ends[j0 - 1] if j0 else 0) + _CELLS)))
        j1 = min(j1, n)
        sz = size[j0:j1]
        c = np.repeat(np.arange(j0, j1), sz)
        r = c + 1 + np.arange(int(sz.sum())) - np.repeat(np.cumsum(sz) - sz, sz)
        keep = close[at[c], at[r]]
        rs.append(r[keep])
        cs.append(c[keep])
        j0 = j1
    if not rs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    r, c = np.concatenate(rs), np.concatenate(cs)
    order = np.lexsort((c, r))
    return r[order], c[order]


def _place_each(rows: list, new: list, first: dict) -> tuple[np.ndarray, int]:
    """_place for alerts at too many places for a distance matrix: distances per alert."""
    gap = HOUR_US * HOURS
    size = len(rows) + len(new)
    inc = np.zeros(size, np.int64)
    lon, lat = np.zeros(size), np.zeros(size)
    start, last = np.zeros(size, np.int64), np.zeros(size, np.int64)
    for k, r in enumerate(rows):
        inc[k], lon[k], lat[k], start[k], last[k] = r[0], r[1], r[2], r[3], r[4]
    n = len(rows)
    out = np.zeros(len(new), np.int64)
    provisional = 0
    for i in sorted(range(len(new)), key=lambda j: (new[j][2], j)):
        x, y, s, e = new[i]
        near = np.flatnonzero((start[:n] <= e + gap) & (last[:n] >= s - gap))
        near = near[_km(lon[near], lat[near], x, y) <= KM]
        open_ = [int(c) for c in np.unique(inc[near])
                 if first[int(c)] >= s - MAX_DAYS * 24 * HOUR_US]
        chosen, provisional = _choose(open_, first, s, provisional)
        out[i] = chosen
        inc[n], lon[n], lat[n], start[n], last[n] = chosen, x, y, s, e
        n += 1
    return out, provisional


def _choose(open_: list[int], first: dict, s: int, provisional: int) -> tuple[int, int]:
    """The incident of an alert starting at `s` near the open incidents `open_`: a stored one
    (positive id) first, else the earliest made in this call, else a new provisional id."""
    if open_:
        stored = [x for x in open_ if x > 0]
        chosen = min(stored) if stored else max(open_)
    else:
        provisional -= 1
        chosen = provisional
        first[chosen] = s
    first[chosen] = min(first[chosen], s)
    return chosen, provisional
