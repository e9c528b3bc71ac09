"""Benchmark: incident grouping (`alerts.incidents.assign`) as stored alerts accumulate.

    .venv/bin/python benchmarks/alerts_incidents.py [--repeat 30] [--new 30] [--large 100000]

Two stores, one with 10,000 and one with 100,000 stored alerts at the same rate (about 27 a
day at 50 stations across Asia: one year against ten), each ending at the same day. Each call
groups a batch of new alerts of the last two days, as an ingest of recent data brings, with
`assign` as it is (the read bounded by the new alerts) and with the read it replaced
(`incidents._all_stored`: every incident's first start from the whole table), interleaved in
the same run; medians in ms, and the ratios 100 k / 10 k and old / new (`--large` sets the
larger store's size). Both reads give the same incidents (checked here too;
tests/alerts/test_incidents_bounded.py checks the edges).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ecobridge.alerts import incidents
from ecobridge.config import Settings
from ecobridge.store import open_store

HOUR_US = 3_600_000_000
END_US = 1_767_225_600_000_000  # 2026-01-01
STEP_US = 365 * 24 * HOUR_US // 10_000  # 10,000 alerts a year
PLACES = 50


def place(p: int) -> tuple[float, float]:
    return 60.0 + (p % 10) * 6.0, 25.0 + (p // 10) * 5.0


def build(home: Path, n: int):
    """A store with n alerts, one incident per 8 consecutive ones (ids in time order)."""
    store = open_store(Settings(home=home))
    with store.transaction() as cur:
        cur.execute("INSERT INTO incidents (id) SELECT nextval('incidents_id_seq')"
                    " FROM range(?)", [n // 8 + 1])
        cur.execute(
            "INSERT INTO alerts (id, rule_id, dataset_id, thing_id, incident_id, status,"
            " resolution, severity, started_at, last_seen_at, points, geom)"
            " SELECT nextval('alerts_id_seq'), 1, 1, 1 + i % ?, 1 + i // 8, 'resolved', 'auto',"
            " 'moderate', make_timestamptz(? + i * ?),"
            " make_timestamptz(? + i * ? + (1 + i % 24) * ?), 1,"
            " ST_Point(60.0 + (i % ? % 10) * 6.0, 25.0 + (i % ? // 10) * 5.0)"
            " FROM (SELECT range AS i FROM range(?))",
            [PLACES, END_US - n * STEP_US, STEP_US, END_US - n * STEP_US, STEP_US, HOUR_US,
             PLACES, PLACES, n])
    store.checkpoint()
    return store


@contextlib.contextmanager
def old_read():
    """`assign` with the read it had before (the grouping itself is the same code)."""
    bounded = incidents._nearby
    incidents._nearby = incidents._all_stored
    try:
        yield
    finally:
        incidents._nearby = bounded


def batch(rng: np.random.Generator, size: int) -> list[tuple[float, float, int, int]]:
    out = []
    for _ in range(size):
        lon, lat = place(int(rng.integers(PLACES)))
        s = END_US - int(rng.integers(0, 48)) * HOUR_US
        out.append((lon, lat, s, s + int(rng.integers(0, 12)) * HOUR_US))
    return out


def timed(store, new: list) -> tuple[float, float]:
    """Wall and CPU ms (DuckDB's threads included) of one assign, commit excluded."""
    with store.transaction() as cur:
        t, c = time.perf_counter(), time.process_time()
        incidents.assign(cur, new)
        return (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--new", type=int, default=30)
    ap.add_argument("--large", type=int, default=100_000, help="stored alerts of the large store")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    ms: dict[tuple[int, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="alerts-incidents-") as tmp:
        for n in (10_000, args.large):
            store = build(Path(tmp) / str(n), n)
            try:
                probe = batch(rng, args.new)
                cur = store.cursor()
                same = (incidents._plan(incidents._nearby(cur, probe), probe)[0].tolist()
                        == incidents._plan(incidents._all_stored(cur, probe), probe)[0].tolist())
                if not same:
                    raise SystemExit("the bounded and the full read disagree")
                for _ in range(3):  # warm up both
                    timed(store, probe)
                    with old_read():
                        timed(store, probe)
                for _ in range(args.repeat):
                    new = batch(rng, args.new)
                    ms.setdefault((n, "new"), []).append(timed(store, new))
                    with old_read():
                        ms.setdefault((n, "old"), []).append(timed(store, new))
            finally:
                store.close()
    med = {k: statistics.median(w for w, _c in v) for k, v in ms.items()}
    for (n, read), value in sorted(med.items()):
        cpu = statistics.median(c for _w, c in ms[(n, read)])
        print(json.dumps({"benchmark": "alerts_incidents", "figure": f"assign_ms_{read}_read",
                          "stored_alerts": n, "new_alerts": args.new, "median_ms": round(value, 2),
                          "median_cpu_ms": round(cpu, 2), "repeat": args.repeat}))
    for read in ("old", "new"):
        print(json.dumps({"benchmark": "alerts_incidents", "figure": f"ratio_large_10k_{read}_read",
                          "stored_alerts": args.large,
                          "value": round(med[(args.large, read)] / med[(10_000, read)], 2)}))
    for n in (10_000, args.large):
        print(json.dumps({"benchmark": "alerts_incidents", "figure": "ratio_old_new",
                          "stored_alerts": n,
                          "value": round(med[(n, "old")] / med[(n, "new")], 2)}))


if __name__ == "__main__":
    main()
