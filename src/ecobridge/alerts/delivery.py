"""Webhook delivery from the durable outbox.

Guarantee: at-least-once on the wire, exactly-once after the receiver dedupes on the
`Idempotency-Key` header (also the body's `id` + subscription). A row is marked delivered in
one transaction after the receiver answered 2xx; if the process dies between the receiver's
answer and that commit, the row is sent again after restart. Each receiver has at most one
request in flight, so duplicates on the wire are bounded by the number of receivers served at
the time of the crash (`parallel`).

A failing receiver (connection refused, timeout, non-2xx) is backed off as a whole:
`subscriptions.retry_at` doubles from `backoff_base_s` up to `backoff_cap_s` (with jitter), and
its queue waits, in order, until it answers again. A row still undelivered `give_up_hours`
after it was queued is marked failed. Before each attempt the subscriber must still see the
dataset (else the row is dropped).

Signature: `X-Ecobridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ecobridge.alerts.matching import principal_of
from ecobridge.alerts.models import AlertSettings
from ecobridge.governance.policy import visible_datasets_sql

log = logging.getLogger("ecobridge.alerts")
_listeners: set[threading.Event] = set()
_listeners_lock = threading.Lock()


def notify() -> None:
    """New outbox rows or events may be about to commit: wake every worker and feed."""
    with _listeners_lock:
        for event in _listeners:
            event.set()


def listen() -> threading.Event:
    event = threading.Event()
    with _listeners_lock:
        _listeners.add(event)
    return event


def unlisten(event: threading.Event) -> None:
    with _listeners_lock:
        _listeners.discard(event)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: float | None = 300) -> bool:
    """What a receiver does: recompute the HMAC, compare in constant time, check the age."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if tolerance_s is not None and abs(time.time() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), f"t={ts},v1={parts.get('v1', '')}")


def post(url: str, body: bytes, headers: dict[str, str],
         timeout: float) -> tuple[bool, int | None, str | None]:
    u = urlsplit(url)
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    conn = cls(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read(1 << 16)
        ok = 200 <= resp.status < 300
        return ok, resp.status, None if ok else f"HTTP {resp.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        conn.close()


_DUE = """
    SELECT o.id, o.subscription_id, o.idempotency_key, o.body, a.dataset_id,
           o.created_at < now() - to_microseconds(CAST(? * 3600e6 AS BIGINT)) AS expired,
           s.url, s.secret, s.user_id, s.deleted_at IS NOT NULL, s.failures,
           json_extract_string(o.body, '$.type')
    FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
    JOIN alerts a ON a.id = o.alert_id
    WHERE o.status = 'pending' AND o.next_attempt_at <= now()
      AND (s.retry_at IS NULL OR s.retry_at <= now())
    ORDER BY o.id LIMIT 1000
"""


class DeliveryWorker:
    """A thread that sends due outbox rows, one receiver per pool thread, in queue order."""

    def __init__(self, store, settings: AlertSettings | None = None):
        self.store = store
        self.settings = settings or AlertSettings()
        self._stop = threading.Event()
        self._wake = listen()
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, self.settings.parallel),
                                        thread_name_prefix="ecobridge-webhook")
        self._thread = threading.Thread(target=self._run, name="ecobridge-outbox", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        unlisten(self._wake)

    def _run(self) -> None:
        hot_until = 0.0
        while not self._stop.is_set():
            try:
                self.dispatch()
            except Exception:  # a bad round must not end deliveries for good
                log.exception("outbox round failed")
            if self._wake.is_set():
                self._wake.clear()
                hot_until = time.monotonic() + 10.0
            # after a notify, poll fast until the notifying transaction has committed
            pause = 0.02 if time.monotonic() < hot_until else self.settings.poll_s
            self._wake.wait(pause)

    def dispatch(self) -> int:
        """Hand each receiver with due rows (and none in flight) to the pool."""
        # A receiver busy when the query starts may commit marks the query does not see: its
        # rows are left for the next round (only this thread starts deliveries).
        with self._busy_lock:
            busy_before = set(self._busy)
        rows = self.store.cursor().execute(_DUE, [self.settings.give_up_hours]).fetchall()
        by_sub: dict[int, list[tuple]] = {}
        for row in rows:
            by_sub.setdefault(row[1], []).append(row)
        started = 0
        for sub_id, queue in by_sub.items():
            with self._busy_lock:
                if sub_id in self._busy or sub_id in busy_before:
                    continue
                self._busy.add(sub_id)
            self._pool.submit(self._serve, sub_id, queue)
            started += 1
        return started

    def _serve(self, sub_id: int, queue: list[tuple]) -> None:
        try:
            for row in queue:
                if self._stop.is_set() or not self._attempt(row):
                    break
        except Exception:
            log.exception("delivery to subscription %s failed", sub_id)
        finally:
            with self._busy_lock:
                self._busy.discard(sub_id)
            self._wake.set()

    def _attempt(self, row: tuple) -> bool:
        """One attempt; True to go on with this receiver's queue."""
        (oid, sub_id, key, body, dataset_id, expired, url, secret, user_id, deleted,
         failures, kind) = row
        state = self.store.cursor().execute("SELECT status FROM outbox WHERE id = ?",
                                            [oid]).fetchone()
        if state is None or state[0] != "pending":
            return True  # settled meanwhile: never send a settled row again
        if deleted:
            return self._mark(oid, sub_id, "dropped", None, "subscription removed")
        if expired:
            return self._mark(oid, sub_id, "failed", None, "gave up: undelivered too long")
        if not self._still_visible(user_id, dataset_id):
            return self._mark(oid, sub_id, "dropped", None,
                              "the subscriber can no longer see this dataset")
        data = body.encode()
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "ecobridge-webhook",
                   "Idempotency-Key": key, "X-Ecobridge-Event": kind or "",
                   "X-Ecobridge-Delivery": str(oid),
                   "X-Ecobridge-Signature": sign(secret or "", ts, data)}
        ok, status, error = post(url, data, headers, self.settings.timeout_s)
        if ok:
            return self._mark(oid, sub_id, "delivered", status, None, attempted=True)
        s = self.settings
        delay = min(s.backoff_cap_s, s.backoff_base_s * 2 ** min(failures, 30))
        delay *= 0.5 + random.random() / 2
        self._mark(oid, sub_id, "pending", status, error, attempted=True, delay=delay)
        return False

    def _still_visible(self, user_id: int, dataset_id: int) -> bool:
        cur = self.store.cursor()
        principal = principal_of(cur, user_id)
        if principal is None:
            return False
        pred, params = visible_datasets_sql(principal, "d")
        row = cur.execute(f"SELECT {pred} FROM datasets d WHERE d.id = ?",
                          [*params, dataset_id]).fetchone()
        return bool(row and row[0])

    def _mark(self, oid: int, sub_id: int, status: str, http_status: int | None,
              error: str | None, *, attempted: bool = False, delay: float = 0.0) -> bool:
        """The attempt's result, and the receiver's backoff, in one transaction."""
        cur = self.store.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + ?, last_status = ?,"
                " last_error = ?, delivered_at = CASE WHEN ? = 'delivered' THEN now() END,"
                " next_attempt_at = now() + to_microseconds(CAST(? * 1e6 AS BIGINT))"
                " WHERE id = ?",
                [status, int(attempted), http_status, error, status, delay, oid])
            if status == "delivered":
                cur.execute("UPDATE subscriptions SET failures = 0, retry_at = NULL"
                            " WHERE id = ? AND failures > 0", [sub_id])
            elif status == "pending":
                cur.execute("UPDATE subscriptions SET failures = failures + 1,"
                            " retry_at = now() + to_microseconds(CAST(? * 1e6 AS BIGINT))"
                            " WHERE id = ?", [delay, sub_id])
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        return status != "pending"
