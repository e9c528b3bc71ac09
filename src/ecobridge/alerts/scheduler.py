"""The server's background work for alerts: the outbox worker, the silence check and the
evaluation of ingest runs whose alerts were left pending (alerts.overlap).

`start_workers(store)` is called by the app's lifespan and `stop_workers` on shutdown; both
threads are bounded (a stop event, joins with a timeout) and survive their own errors.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from ecobridge.alerts.models import HOUR_US, RANK, AlertSettings, Points

log = logging.getLogger("ecobridge.alerts")


def check_silence(store, *, now_us: int | None = None) -> dict:
    """Open an alert for every station in a silence rule's scope whose newest observation is
    older than `hours` (and not older than `max_days`: a station gone that long is archived).
    Data arriving later resolves it, through the ingest evaluation of the same rule."""
    from ecobridge.alerts.delivery import notify
    from ecobridge.alerts.evaluate import _scope, _streams, evaluate_points, load_rules

    now_us = now_us if now_us is not None else int(time.time() * 1e6)
    totals = {"opened": 0, "updated": 0, "retracted": 0, "events": 0, "outbox": 0}
    with store.transaction() as cur:
        rules = [r for r in load_rules(cur) if r.kind == "silence"]
        if not rules:
            return totals
        last = dict(cur.execute(
            "SELECT id, epoch_us(last_phenomenon_time) FROM datastreams"
            " WHERE last_phenomenon_time IS NOT NULL").fetchall())
        if not last:
            return totals
        streams = _streams(cur, {ds: (t, t) for ds, t in last.items()})
        for rule in rules:
            ids = _scope(cur, rule, streams, {ds: None for ds in last if ds in streams})
            newest: dict[int, int] = {}
            for ds in ids:
                thing = streams[ds].thing_id
                newest[thing] = max(newest.get(thing, last[ds]), last[ds])
            h = int(rule.params["hours"] * HOUR_US)
            oldest = now_us - int(rule.params["max_days"] * 24 * HOUR_US)
            silent = sorted((k, t + h) for k, t in newest.items() if oldest <= t < now_us - h)
            if not silent:
                continue
            pts = Points(np.array([k for k, _ in silent], np.int64),
                         np.array([t for _, t in silent], np.int64),
                         np.full(len(silent), rule.params["hours"]),
                         np.full(len(silent), rule.params["hours"]),
                         np.full(len(silent), RANK[rule.severity], np.int8))
            for k, v in evaluate_points(cur, rule, pts, streams).items():
                totals[k] = totals.get(k, 0) + v
    if totals["events"]:
        notify()
    return totals


class SilenceScheduler:
    def __init__(self, store, settings: AlertSettings):
        self.store, self.settings = store, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecobridge-silence", daemon=True)

    def start(self) -> SilenceScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        from ecobridge.alerts.evaluate import recover

        while not self._stop.wait(self.settings.silence_every_s):
            recover(self.store)  # ingest runs whose alerts were left pending (alerts.overlap)
            try:
                check_silence(self.store)
            except Exception:
                log.exception("silence check failed")


@dataclass
class Workers:
    delivery: object
    silence: SilenceScheduler


def start_workers(store, settings: AlertSettings | None = None) -> Workers | None:
    """Start the alert threads for a server that owns a writable store."""
    if getattr(store, "read_only", False):
        return None
    from ecobridge.alerts.delivery import DeliveryWorker
    from ecobridge.alerts.evaluate import recover

    recover(store)  # runs whose alerts a stopped process left pending (alerts.overlap)
    settings = settings or AlertSettings()
    return Workers(DeliveryWorker(store, settings).start(),
                   SilenceScheduler(store, settings).start())


def stop_workers(workers: Workers | None) -> None:
    if workers is not None:
        workers.silence.stop()
        workers.delivery.stop()
