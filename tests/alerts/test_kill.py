"""The real server killed (-9) mid-delivery and restarted: every alert arrives, and after
dedupe by Idempotency-Key none twice; duplicates on the wire are at most the requests that were
in flight (one per receiver being served)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

from ecobridge.alerts import service
from ecobridge.config import Settings
from ecobridge.governance import SYSTEM, accounts
from ecobridge.store import open_store

from .helpers import series_csv, user, world
from .receiver import Receiver, free_port, wait_for
from .test_webhooks import SECRET, _recent_start

BIN = Path(sys.executable).parent / "ecobridge"
SUBSCRIPTIONS = 2


def _serve(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ECOBRIDGE_HOME": str(home), "ECOBRIDGE_ALERTS_BACKOFF_BASE_S": "0.05",
           "ECOBRIDGE_ALERTS_BACKOFF_CAP_S": "0.5", "ECOBRIDGE_ALERTS_POLL_S": "0.1",
           "ECOBRIDGE_ALERTS_PARALLEL": str(SUBSCRIPTIONS)}
    proc = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).is_success
        except httpx.HTTPError:
            return False

    assert wait_for(up, timeout=60, step=0.2), "server did not start"
    return proc


def test_kill_mid_delivery_loses_nothing(tmp_path):
    home = tmp_path / "home"
    hook = free_port()
    store = open_store(Settings(home=home))
    try:
        world(store, tmp_path)
        service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                            params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                            observed_property="pm25")
        token = user(store, "publisher", org="agency", role="publisher")
        for i in range(SUBSCRIPTIONS):
            service.create_subscription(store, accounts.principal_for(store, "publisher"),
                                        name=f"hook {i}", url=f"http://127.0.0.1:{hook}/{i}",
                                        secret=SECRET, cooldown_s=0)
    finally:
        store.close()
    # six excursions per station, each opened and resolved: 36 events per subscription
    values = [150.0 if h % 10 == 5 else 30.0 + 0.2 * (h % 2) for h in range(60)]
    csv = series_csv(tmp_path / "o.csv", {(s, "pm25"): values for s in ("BJ1", "BJ2", "MSK")},
                     start=_recent_start())
    receiver = Receiver(hook, SECRET, delay=0.2).start()
    port = free_port()
    server = _serve(home, port)
    try:
        with csv.open("rb") as f:
            r = httpx.post(f"http://127.0.0.1:{port}/api/v1/datasets/air/ingest",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("o.csv", f, "text/csv")}, data={"kind": "observations"},
                           timeout=30)
        assert r.status_code == 202, r.text
        assert wait_for(lambda: len(receiver.keys()) >= 8, timeout=60)
        server.send_signal(signal.SIGKILL)  # mid-delivery: no shutdown of any kind
        server.wait(10)
        at_kill = len(receiver.keys())
        assert at_kill < 36 * SUBSCRIPTIONS, "killed before the end of delivery"
        server = _serve(home, port)
        assert wait_for(lambda: len(set(receiver.keys())) >= 36 * SUBSCRIPTIONS, timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        receiver.stop()
    store = open_store(Settings(home=home))
    try:
        queued = store.rows("SELECT idempotency_key, status FROM outbox")
        attempts = dict(store.rows("SELECT idempotency_key, attempts FROM outbox"))
    finally:
        store.close()
    assert len(queued) == 36 * SUBSCRIPTIONS
    assert {s for _k, s in queued} == {"delivered"}
    counts = Counter(receiver.keys())
    assert set(counts) == {k for k, _s in queued}, "every alert arrived"
    duplicates = sum(n - 1 for n in counts.values())
    twice = {k: (n, attempts[k]) for k, n in counts.items() if n > 1}
    assert duplicates <= SUBSCRIPTIONS, f"more than the requests in flight: {twice}"
    assert all(ok for _k, _b, ok in receiver.got)
