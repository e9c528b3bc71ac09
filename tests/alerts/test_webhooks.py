"""Webhooks: a receiver down then up gets every alert once; access and cooldown rules."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from ecobridge.alerts import service
from ecobridge.alerts.delivery import DeliveryWorker
from ecobridge.alerts.models import AlertSettings
from ecobridge.governance import SYSTEM, accounts, policies

from .helpers import ingest, series_csv, user, world
from .receiver import Receiver, free_port, wait_for

FAST = AlertSettings(backoff_base_s=0.05, backoff_cap_s=0.3, poll_s=0.05, timeout_s=2)
SECRET = "a webhook secret of some length"


def _recent_start() -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(days=3)


def _episodes(hours: int = 60) -> list[float]:
    """Three separate excursions above 100 (hours 5, 20 and 35)."""
    return [150.0 if h in (5, 20, 35) else 30.0 + 0.2 * (h % 2) for h in range(hours)]


def _setup(store, tmp_path, *, cooldown: int = 0, slug: str = "air", **world_kw) -> tuple:
    world(store, tmp_path, slug=slug, **world_kw)
    service.create_rule(store, SYSTEM, name=f"pm25 above 100 ({slug})", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        observed_property="pm25", dataset=slug)
    return cooldown


def _outbox(store) -> list[tuple]:
    return store.rows("SELECT status, attempts, idempotency_key FROM outbox ORDER BY id")


def test_receiver_down_then_up_gets_everything_once(store, tmp_path):
    _setup(store, tmp_path)
    user(store, "watcher")
    port = free_port()
    principal = accounts.principal_for(store, "watcher")
    service.create_subscription(store, principal, url=f"http://127.0.0.1:{port}/hook",
                                secret=SECRET, cooldown_s=0)
    series = {(s, "pm25"): _episodes() for s in ("BJ1", "BJ2", "MSK")}
    ingest(store, series_csv(tmp_path / "o.csv", series, start=_recent_start()))
    queued = _outbox(store)
    # 3 stations x 3 episodes, each opened and resolved
    assert len(queued) == 18 and {r[0] for r in queued} == {"pending"}
    worker = DeliveryWorker(store, FAST).start()
    receiver = Receiver(port, SECRET)
    try:
        # the receiver is down: attempts fail and back off, nothing is lost
        assert wait_for(lambda: store.scalar("SELECT max(attempts) FROM outbox") >= 3)
        assert store.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 0
        receiver.start()
        assert wait_for(lambda: store.scalar(
            "SELECT count(*) FROM outbox WHERE status = 'delivered'") == 18)
    finally:
        worker.stop()
        receiver.stop()
    counts = Counter(receiver.keys())
    assert set(counts) == {r[2] for r in queued}
    assert max(counts.values()) == 1, "none twice"
    assert all(ok for _k, _b, ok in receiver.got), "every signature verifies"
    opened = [b for _k, b, _ok in receiver.got if b["type"] == "alert.opened"]
    assert len(opened) == 9 and {b["alert"]["station"]["code"] for b in opened} == {
        "BJ1", "BJ2", "MSK"}
    # per receiver, the queue is delivered in order
    ids = [b["event_id"] for _k, b, _ok in receiver.got]
    assert ids == sorted(ids)


def test_subscribers_see_only_what_they_may(store, tmp_path):
    _setup(store, tmp_path, slug="open-air", sensitive=True)
    _setup(store, tmp_path, slug="closed-air", visibility="private")
    accounts.create_user(store, username="member", password="a long password 123")
    accounts.set_membership(store, user="member", org="agency", role="analyst")
    user(store, "outsider")
    for name in ("member", "outsider"):
        service.create_subscription(store, accounts.principal_for(store, name),
                                    url="http://127.0.0.1:9/never", secret=SECRET, cooldown_s=0)
    start = _recent_start()
    for slug in ("open-air", "closed-air"):
        ingest(store, series_csv(tmp_path / f"{slug}.csv", {("BJ1", "pm25"): _episodes()},
                                 start=start), dataset=slug)
    rows = store.dicts("SELECT u.username, o.body FROM outbox o JOIN subscriptions s"
                       " ON s.id = o.subscription_id JOIN users u ON u.id = s.user_id")
    import json

    got = Counter((r["username"], json.loads(r["body"])["alert"]["dataset"]) for r in rows)
    assert got == {("member", "open-air"): 6, ("member", "closed-air"): 6,
                   ("outsider", "open-air"): 6}
    where = {r["username"]: json.loads(r["body"])["alert"] for r in rows
             if json.loads(r["body"])["alert"]["dataset"] == "open-air"}
    assert where["member"]["location_generalised"] is False
    assert where["member"]["location"]["coordinates"] == [116.42, 39.93]
    assert where["outsider"]["location_generalised"] is True
    assert where["outsider"]["location"]["coordinates"] != [116.42, 39.93]
    # made private before delivery: the outsider's rows are dropped, never sent
    policies.set_policy(store, SYSTEM, "open-air", visibility="private")
    worker = DeliveryWorker(store, FAST).start()
    try:
        assert wait_for(lambda: store.scalar(
            "SELECT count(*) FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
            " JOIN users u ON u.id = s.user_id WHERE u.username = 'outsider'"
            " AND o.status = 'dropped'") == 6)
    finally:
        worker.stop()


def test_cooldown_keeps_one_push_per_incident(store, tmp_path):
    _setup(store, tmp_path)
    user(store, "watcher")
    service.create_subscription(store, accounts.principal_for(store, "watcher"),
                                url="http://127.0.0.1:9/never", secret=SECRET, cooldown_s=3600)
    # two Beijing stations, same hours: one incident, two alerts per excursion
    series = {(s, "pm25"): _episodes() for s in ("BJ1", "BJ2")}
    ingest(store, series_csv(tmp_path / "o.csv", series, start=_recent_start()))
    rows = store.rows("SELECT o.status, json_extract_string(o.body, '$.type'), a.incident_id"
                      " FROM outbox o JOIN alerts a ON a.id = o.alert_id ORDER BY o.id")
    pending = [r for r in rows if r[0] == "pending"]
    suppressed = [r for r in rows if r[0] == "suppressed"]
    incidents = {r[2] for r in rows}
    assert len(incidents) == 1  # near in space, within 48 h of each other: one incident
    # the cooldown (in the data's time) is 1 h and the excursions 15 h apart: each excursion's
    # first alert and its resolution are pushed, the twin station's are not
    assert Counter(r[1] for r in pending) == {"alert.opened": 3, "alert.resolved": 3}
    assert Counter(r[1] for r in suppressed) == {"alert.opened": 3, "alert.resolved": 3}
