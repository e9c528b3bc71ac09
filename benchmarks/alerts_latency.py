"""Benchmark: time from an observation being posted to its webhook being received.

    .venv/bin/python benchmarks/alerts_latency.py [--posts 60]

Runs the real server (`ecobridge serve`, own ECOBRIDGE_HOME, 127.0.0.1) with one threshold rule
and one webhook subscription pointing at a receiver in this process. Each post uploads a small
CSV (POST /api/v1/datasets/{d}/ingest, the API's ingest path) whose last value crosses the
threshold, so it opens one alert; the receiver notes when the `alert.opened` webhook for it
arrives. Baseline, same run: the plain ingest request, from the POST until the ingest job
reports done (polled every 5 ms). Prints p50/p95 latencies and their ratio to the baseline
(target p95 < 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "ecobridge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(home: Path, hook: int) -> str:
    from ecobridge.alerts import service
    from ecobridge.catalog.service import create_dataset
    from ecobridge.config import Settings
    from ecobridge.governance import SYSTEM, accounts, tokens
    from ecobridge.governance.organisations import create_organisation
    from ecobridge.monitoring.ingest import ingest_file
    from ecobridge.store import open_store

    store = open_store(Settings(home=home))
    try:
        create_organisation(store, slug="agency", name="Agency", country="CHN")
        create_dataset(store, slug="air", owner="agency", domain="air", title="Air",
                       licence="CC-BY-4.0")
        stations = home / "stations.csv"
        stations.write_text("code,name,lat,lon\nS1,Station 1,40,116\n", encoding="utf-8")
        ingest_file(store, stations, dataset="air", kind="stations")
        service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                            params={"averaging": "1h", "limit": 100, "clear_hours": 0},
                            observed_property="pm25")
        accounts.create_user(store, username="publisher", password="a long password 123")
        accounts.set_membership(store, user="publisher", org="agency", role="publisher")
        service.create_subscription(store, accounts.principal_for(store, "publisher"),
                                    url=f"http://127.0.0.1:{hook}/", secret="s" * 32,
                                    cooldown_s=0, kinds=["opened"])
        return tokens.create_token(store, user="publisher")["token"]
    finally:
        store.close()


def receiver(port: int, arrived: dict, lock: threading.Lock) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                arrived[body["alert"]["started_at"]] = time.perf_counter()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=60)
    args = ap.parse_args()
    arrived: dict[str, float] = {}
    lock = threading.Lock()
    hook, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        token = setup(home, hook)
        rcv = receiver(hook, arrived, lock)
        env = {**os.environ, "ECOBRIDGE_HOME": str(home)}
        server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(timeout=30) as client:
                while True:
                    try:
                        if client.get(f"{base}/api/v1/health").is_success:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                start -= timedelta(hours=2 * args.posts + 2)
                latency, plain = [], []
                for i in range(args.posts):
                    t1 = start + timedelta(hours=2 * i + 1)
                    fire = t1.strftime("%Y-%m-%dT%H:%M:%SZ")
                    calm = (t1 - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    csv = (f"station,variable,time,value,unit\nS1,pm25,{calm},{30 + i % 2},ug/m3\n"
                           f"S1,pm25,{fire},150,ug/m3\n")
                    t0 = time.perf_counter()
                    r = client.post(f"{base}/api/v1/datasets/air/ingest", headers=auth,
                                    files={"file": (f"p{i}.csv", csv.encode(), "text/csv")},
                                    data={"kind": "observations"})
                    r.raise_for_status()
                    job = r.json()["job"]
                    while client.get(f"{base}/api/v1/ingest-runs/{job}",
                                     headers=auth).json()["status"] not in ("done", "failed"):
                        time.sleep(0.005)
                    plain.append(time.perf_counter() - t0)
                    key = t1.isoformat()
                    deadline = time.perf_counter() + 30
                    while time.perf_counter() < deadline:
                        with lock:
                            if key in arrived:
                                latency.append(arrived[key] - t0)
                                break
                        time.sleep(0.002)
        finally:
            server.terminate()
            server.wait(20)
            rcv.shutdown()
    for name, values in (("ingest_request_plain", plain), ("post_to_webhook", latency)):
        print(json.dumps({"figure": name, "n": len(values),
                          "p50_s": round(pct(values, 0.5), 4), "p95_s": round(pct(values, 0.95), 4),
                          **({"p95_ratio_to_plain_ingest": round(pct(values, 0.95)
                                                                 / pct(plain, 0.95), 3),
                              "target_p95_s": 1.0} if name == "post_to_webhook" else {})}))
    if len(latency) < args.posts:
        print(json.dumps({"figure": "missing_webhooks", "n": args.posts - len(latency)}))


if __name__ == "__main__":
    main()
