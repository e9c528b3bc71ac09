"""Benchmark: ingest of a long observation CSV against DuckDB's own read_csv, in the same run.

    .venv/bin/python benchmarks/ingest_csv.py [--rows 10000000] [--stations 300] [--csv FILE]

Generates (station, variable, time, value, unit) rows for stations x 6 air-quality variables,
hourly, in time order as monitoring networks export them. Then, each in a fresh child process:
(a) baseline: DuckDB `CREATE TABLE t AS SELECT * FROM read_csv(...)` into a fresh file database;
(b) ecobridge: `ingest_file` into a fresh store whose stations were ingested beforehand.
Prints one JSON line per figure, each with the load average (1 min) when it was taken. Peak
memory is the child's maximum RSS. `--csv FILE` reuses (or first writes) the generated file, so
that runs compared back to back (e.g. one with PYTHONPATH pointing at a copy of older modules)
read the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

VARIABLES = ("pm25", "pm10", "no2", "so2", "o3", "co")


def generate(path: Path, rows: int, stations: int) -> None:
    import duckdb

    per_hour = stations * len(VARIABLES)
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          SELECT 'ST' || lpad(((i // {len(VARIABLES)}) % {stations})::VARCHAR, 4, '0') AS station,
                 ({list(VARIABLES)})[i % {len(VARIABLES)} + 1] AS variable,
                 strftime(TIMESTAMP '2023-01-01' + to_hours(i // {per_hour}),
                          '%Y-%m-%dT%H:%M:%SZ') AS time,
                 round(25 + 15 * sin((i // {per_hour}) / 24.0 * 6.2832)
                       + (hash(i) % 1000) / 100.0, 2) AS value,
                 CASE WHEN i % {len(VARIABLES)} = 5 THEN 'mg/m3' ELSE 'ug/m3' END AS unit
          FROM range({rows}) r(i)
        ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


BASELINE = """
import duckdb, time, json, resource
con = duckdb.connect({db!r}, config={{"memory_limit": "1GB", "threads": 2}})
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t, c = time.perf_counter(), cpu()
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [{csv!r}])
con.close()
print(json.dumps({{"seconds": time.perf_counter() - t, "cpu_seconds": cpu() - c,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

INGEST = """
import json, resource, time
import ecobridge
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.store import open_store
store = open_store(Settings(home={home!r}, memory_limit="1GB", threads=2))
create_organisation(store, slug="bench", name="Bench", country="KAZ")
create_dataset(store, slug="bench-air", owner="bench", domain="air", title="Bench",
               licence="CC-BY-4.0")
ingest_file(store, {stations!r}, dataset="bench-air")
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t, c = time.perf_counter(), cpu()
report = ingest_file(store, {csv!r}, dataset="bench-air")
seconds, cpu_seconds = time.perf_counter() - t, cpu() - c
store.close()
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds, "rows_in": report.rows_in,
                   "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "rows_inserted": report.rows_inserted, "rows_rejected": report.rows_rejected,
                   "module": ecobridge.__file__}}))
"""


def child(code: str) -> tuple[dict, float]:
    """Run code in a fresh interpreter; its JSON result and its own peak RSS in MiB."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result, result["rss"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--stations", type=int, default=300)
    ap.add_argument("--csv", type=Path, help="generated file to reuse (written if missing)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecobridge-bench-") as tmp:
        tmp = Path(tmp)
        csv, stations = args.csv or tmp / "observations.csv", tmp / "stations.csv"
        t = time.perf_counter()
        if not csv.exists():
            generate(csv, args.rows, args.stations)
        stations.write_text("code,name,lat,lon\n" + "".join(
            f"ST{i:04d},Station {i},{40 + i % 10 * 0.1:.3f},{70 + i // 10 * 0.1:.3f}\n"
            for i in range(args.stations)))
        emit("generate_seconds", time.perf_counter() - t, rows=args.rows,
             bytes=csv.stat().st_size)
        base, base_rss = child(BASELINE.format(db=str(tmp / "baseline.duckdb"), csv=str(csv)))
        emit("baseline_duckdb_read_csv_rows_per_s", args.rows / base["seconds"],
             seconds=base["seconds"], cpu_seconds=base["cpu_seconds"], peak_rss_mib=base_rss)
        ing, ing_rss = child(INGEST.format(home=str(tmp / "home"), csv=str(csv),
                                           stations=str(stations)))
        assert ing["rows_in"] == args.rows and ing["rows_rejected"] == 0, ing
        emit("ingest_rows_per_s", args.rows / ing["seconds"], seconds=ing["seconds"],
             cpu_seconds=ing["cpu_seconds"], target=">= 1000000",
             ecobridge=ing["module"])
        emit("ingest_vs_duckdb_ratio", ing["seconds"] / base["seconds"], target="< 2",
             note="ingest time / DuckDB read_csv-into-table time, same file, same run")
        emit("ingest_vs_duckdb_cpu_ratio", ing["cpu_seconds"] / base["cpu_seconds"],
             note="the same in CPU seconds, steadier than wall time on a shared machine")
        emit("ingest_peak_rss_mib", ing_rss, target="< 2048",
             note="maximum resident set size of the ingest's process")


def emit(figure: str, value: float, **extra) -> None:
    print(json.dumps({"benchmark": "ingest_csv", "figure": figure, "value": round(value, 3),
                      **extra, "load_average": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
