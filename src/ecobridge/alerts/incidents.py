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


def assign(cur, new: list[tuple[float, float, int, int]]) -> list[int]:
    """Incident id for each new alert (lon, lat, start us, last us), creating incidents."""
    if not new:
        return []
    gap = HOURS * HOUR_US
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
    inc = [r[0] for r in rows]
    lon, lat = [r[1] for r in rows], [r[2] for r in rows]
    start, last = [r[3] for r in rows], [r[4] for r in rows]
    first = {r[0]: r[5] for r in rows}
    out: list[int] = [0] * len(new)
    for i in sorted(range(len(new)), key=lambda j: (new[j][2], j)):
        x, y, s, e = new[i]
        chosen = None
        if inc:
            near = ((np.array(start) <= e + gap) & (np.array(last) >= s - gap)
                    & (_km(np.array(lon), np.array(lat), x, y) <= KM))
            for j in np.flatnonzero(near).tolist():
                if first[inc[j]] >= s - MAX_DAYS * 24 * HOUR_US:
                    chosen = inc[j] if chosen is None else min(chosen, inc[j])
        if chosen is None:
            chosen = cur.execute("INSERT INTO incidents DEFAULT VALUES RETURNING id").fetchone()[0]
            first[chosen] = s
        first[chosen] = min(first[chosen], s)
        out[i] = chosen
        inc.append(chosen)
        lon.append(x)
        lat.append(y)
        start.append(s)
        last.append(e)
    return out
