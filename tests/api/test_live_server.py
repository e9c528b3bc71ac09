"""End to end through a real uvicorn server on 127.0.0.1, with concurrent clients."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow.parquet as pq


def test_real_server_serves_pages_of_observations(live_server, world):
    url = f"{live_server}/api/v1/datastreams/{world.streams['almaty']}/observations"
    with httpx.Client() as http:
        response = http.get(url, params={"limit": 20, "start": "2024-01-01T05:00:00+05:00"})
        assert response.status_code == 200
        body = response.json()
        assert body["next"].startswith(live_server)
        rest = http.get(body["next"]).json()
        ids = [i["id"] for i in body["items"] + rest["items"]]
        assert len(ids) == 40 == len(set(ids))
        parquet = http.get(url, params={"f": "parquet"})
        assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 50
        assert http.get(f"{live_server}/api/v1/datastreams/{world.streams['secret']}"
                        ).status_code == 404


def test_concurrent_requests_get_their_own_answers(live_server, world):
    """Sync handlers run on a thread pool, each thread on its own DuckDB cursor: many requests
    at once for different streams, ranges and formats each get exactly their own rows."""
    almaty = f"{live_server}/api/v1/datastreams/{world.streams['almaty']}/observations"
    astana = f"{live_server}/api/v1/datastreams/{world.streams['astana']}/observations"
    cases = []
    for i in range(40):
        if i % 4 == 0:
            cases.append((astana, {}, [10.0, 11.0, 12.0, 13.0, 14.0]))
        elif i % 4 == 1:
            cases.append((almaty, {"f": "csv", "limit": 5}, None))
        else:
            hour = i % 40
            cases.append((almaty, {"start": f"2024-01-01T{hour % 24:02d}:00:00Z", "limit": 3},
                          [float(hour % 24 + k) for k in range(3)]))

    def fetch(case):
        url, params, _ = case
        with httpx.Client() as http:
            return http.get(url, params=params)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(fetch, cases))
    for (_, params, expected), response in zip(cases, responses, strict=True):
        assert response.status_code == 200, response.text
        if params.get("f") == "csv":
            assert response.text.splitlines()[1].startswith("1,")
            assert len(response.text.strip().splitlines()) == 6
        else:
            assert [i["result"] for i in response.json()["items"]] == expected
