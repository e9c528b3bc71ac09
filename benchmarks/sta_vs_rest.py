"""One month of one datastream through SensorThings against the native REST endpoint.

Reuses the 50-million-observation store of benchmarks/read_api.py (2,000 datastreams x 25,000
hourly values, built once by SQL under benchmarks/out/read_api/). One `uvicorn` subprocess on
127.0.0.1 serves both interfaces; for N random (datastream, calendar month) pairs, interleaved
so that drifting machine load hits both alike, one keep-alive httpx connection fetches

  - SensorThings: GET /sta/v1.1/Datastreams({id})/Observations
        ?$filter=phenomenonTime ge {start} and phenomenonTime lt {end}&$top=1000
  - REST (baseline): GET /api/v1/datastreams/{id}/observations?start={start}&end={end}

anonymously (the dataset is public: both check visibility and write an audit event), each
response parsed as JSON, and both must return the same observation ids. Prints one JSON line
per figure. Target: SensorThings median / REST median < 1.5.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read_api  # noqa: E402  (the store builder and helpers of the REST read benchmark)

TARGET_RATIO = 1.5


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _sta(client: httpx.Client, ds: int, start: datetime, end: datetime,
         select: str | None = None) -> list[int]:
    flt = f"phenomenonTime ge {_iso(start)} and phenomenonTime lt {_iso(end)}"
    params = {"$filter": flt, "$top": "1000", **({"$select": select} if select else {})}
    r = client.get(f"/sta/v1.1/Datastreams({ds})/Observations", params=params)
    r.raise_for_status()
    body = r.json()
    assert "@iot.nextLink" not in body, "a month fits one page"
    return [o["@iot.id"] for o in body["value"]]


def _rest(client: httpx.Client, ds: int, start: datetime, end: datetime) -> list[int]:
    r = client.get(f"/api/v1/datastreams/{ds}/observations",
                   params={"start": _iso(start), "end": _iso(end)})
    r.raise_for_status()
    return [o["id"] for o in r.json()["items"]]


def measure(base: str, cases: list[tuple[int, datetime]], warmup: int) -> dict[str, list]:
    times: dict[str, list] = {"sta": [], "sta_select": [], "rest": []}
    calls = {"sta": _sta, "rest": _rest,
             # the REST endpoint's fields only: no navigation links, no parameters
             "sta_select": lambda *a: _sta(*a, select="id,phenomenonTime,resultTime,result,"
                                                      "resultQuality")}
    with httpx.Client(base_url=base, timeout=60) as client:
        read_api.wait_ready(client)
        for i, (ds, start) in enumerate(cases[:warmup] + cases):
            end = read_api._month_end(start)
            got = {}
            for name in (("sta", "sta_select", "rest") if i % 2 else
                         ("rest", "sta_select", "sta")):
                t = time.perf_counter()
                got[name] = calls[name](client, ds, start, end)
                elapsed = time.perf_counter() - t
                if i >= warmup:
                    times[name].append(elapsed)
            assert got["sta"] == got["rest"] == got["sta_select"], f"{ds} {start}: other rows"
    return times


def emit(figure: str, value: float, **extra) -> None:
    read_api.emit(figure, value, benchmark="sta_vs_rest", **extra)


def main() -> None:
    args = read_api.store_arguments(__doc__.splitlines()[0])
    t = time.perf_counter()
    total = read_api.build(args.home, args.streams, args.hours)
    emit("store_observations", total, build_seconds=round(time.perf_counter() - t, 1),
         note="0 build_seconds: reused from an earlier run")
    cases = read_api._cases(args.requests, args.streams, args.hours, seed=11)
    server, base = read_api.start_server(args.home)
    try:
        times = measure(base, cases, args.warmup)
    finally:
        server.terminate()
        server.wait(timeout=30)
    sta, rest = read_api._stats(times["sta"]), read_api._stats(times["rest"])
    sta_select = read_api._stats(times["sta_select"])
    emit("rest_median_ms", rest["median_ms"], p95_ms=rest["p95_ms"], n=rest["n"],
         note="baseline: GET /api/v1/datastreams/{id}/observations?start&end, JSON")
    emit("sta_median_ms", sta["median_ms"], p95_ms=sta["p95_ms"], n=sta["n"],
         note="GET /sta/v1.1/Datastreams({id})/Observations?$filter=phenomenonTime ...")
    emit("sta_select_median_ms", sta_select["median_ms"], p95_ms=sta_select["p95_ms"],
         ratio_to_rest=round(sta_select["median_ms"] / rest["median_ms"], 3),
         note="the same with $select=id,phenomenonTime,resultTime,result,resultQuality")
    ratio = sta["median_ms"] / rest["median_ms"]
    emit("sta_vs_rest_median_ratio", ratio, target=f"< {TARGET_RATIO:g}",
         meets_target=ratio < TARGET_RATIO, note="same store, same server, same run")
    emit("load_average_1min", os.getloadavg()[0], cpus=os.cpu_count(),
         note="machine load at the end of the run; figures above scale with it")


if __name__ == "__main__":
    main()
