"""A subscription with the default event kinds is told when an alert it was sent is withdrawn.

Through a real server and real webhook receivers on 127.0.0.1: observations posted through
SensorThings open an alert; the default subscriber is sent it; the station is then deleted
through SensorThings, and the subscriber gets the `retracted` event once. Nobody who was not
told of the alert hears of its withdrawal: not a subscriber who may not see the data, nor one
who subscribed after the alert was sent. A follow-up goes to those told however old the data
are by then. And migration 0007 gave `retracted` to subscriptions stored with the old default.
"""

from __future__ import annotations

import httpx
import pytest
from serving import serve
from sta_station import post_loud_station

from ecobridge.alerts import service
from ecobridge.alerts.models import DEFAULT_EVENT_KINDS
from ecobridge.catalog.service import create_dataset
from ecobridge.governance import SYSTEM, accounts
from ecobridge.governance.organisations import create_organisation
from ecobridge.store.migrations import available

from .helpers import user
from .receiver import Receiver, free_port, wait_for

STA = "/sta/v1.1"
SECRET = "a webhook secret of some length"
OLD_DEFAULT = ["opened", "escalated", "resolved"]


@pytest.fixture
def site(settings, store):
    """A private dataset with a threshold rule; a publisher; a watcher of the owning
    organisation and an outsider, each with a default subscription to a receiver of its own."""
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_organisation(store, slug="mn-agency", name="Mongolia", country="MNG")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="kz-air",
                   licence="CC-BY-4.0", visibility="private")
    auth = {name: {"Authorization": f"Bearer {user(store, name, org, role)}"}
            for name, org, role in (("pub", "kz-hydromet", "publisher"),
                                    ("watcher", "kz-hydromet", "viewer"),
                                    ("late", "kz-hydromet", "viewer"),
                                    ("outsider", "mn-agency", "viewer"))}
    service.create_rule(store, SYSTEM, name="pm25 above 100", kind="threshold",
                        params={"averaging": "1h", "limit": 100, "clear_hours": 2},
                        observed_property="pm25", dataset="kz-air")
    hooks = {name: Receiver(free_port(), SECRET).start() for name in ("watcher", "outsider",
                                                                       "late")}
    for name in ("watcher", "outsider"):
        _subscribe(store, name, hooks[name])
    try:
        with serve(settings, store) as base:
            yield base, auth, hooks
    finally:
        for hook in hooks.values():
            hook.stop()


def _subscribe(store, name: str, hook: Receiver) -> dict:
    """A subscription with the defaults (no kinds given)."""
    return service.create_subscription(
        store, accounts.principal_for(store, name), name=f"{name}'s hook",
        url=f"http://127.0.0.1:{hook.port}/hook", secret=SECRET, cooldown_s=0)


def _alerting_station(base: str, auth: dict, name: str, lon: float) -> tuple[int, int]:
    return post_loud_station(base, auth["pub"], name=name, dataset="kz-air", lon=lon)


def _alert_of(store, stream: int) -> int:
    rows = store.rows("SELECT id FROM alerts WHERE datastream_id = ?", [stream])
    assert len(rows) == 1, rows
    return rows[0][0]


def _got(hook: Receiver, kind: str, alert_id: int) -> list[dict]:
    return [b for _k, b, _ok in list(hook.got)
            if b["type"] == f"alert.{kind}" and b["alert"]["id"] == alert_id]


def _outbox(store, name: str, alert_id: int) -> list[tuple]:
    return store.rows(
        "SELECT json_extract_string(o.body, '$.type'), o.status, o.last_error FROM outbox o"
        " JOIN subscriptions s ON s.id = o.subscription_id JOIN users u ON u.id = s.user_id"
        " WHERE u.username = ? AND o.alert_id = ? ORDER BY o.id", [name, alert_id])


def _settled(store) -> bool:
    return store.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0


def test_a_default_subscriber_is_told_of_the_withdrawal_once(site, store):
    base, auth, hooks = site
    watcher = store.rows("SELECT kinds FROM subscriptions s JOIN users u ON u.id = s.user_id"
                         " WHERE u.username = 'watcher'")
    assert watcher == [(list(DEFAULT_EVENT_KINDS),)] and "retracted" in DEFAULT_EVENT_KINDS
    thing, stream = _alerting_station(base, auth, "Almaty", 76.9)
    alert_id = _alert_of(store, stream)
    assert wait_for(lambda: _got(hooks["watcher"], "opened", alert_id), timeout=60)
    # subscribed after the alert was sent: the same filter, but never told of it
    _subscribe(store, "late", hooks["late"])

    gone = httpx.delete(f"{base}{STA}/Things({thing})", headers=auth["pub"])
    assert gone.status_code == 204, gone.text
    assert store.one("SELECT status, resolution FROM alerts WHERE id = ?", [alert_id]) == (
        "resolved", "retracted")

    assert wait_for(lambda: _got(hooks["watcher"], "retracted", alert_id), timeout=60)
    assert wait_for(lambda: _settled(store), timeout=60)
    told = _got(hooks["watcher"], "retracted", alert_id)
    assert len(told) == 1 and told[0]["alert"]["note"] == f"Station {thing} was deleted"
    assert all(ok for _k, _b, ok in hooks["watcher"].got), "every signature verifies"
    assert [r[:2] for r in _outbox(store, "watcher", alert_id)] == [
        ("alert.opened", "delivered"), ("alert.retracted", "delivered")]
    # the late subscriber's filter matched the retraction; it was kept back, never sent
    assert _outbox(store, "late", alert_id) == [
        ("alert.retracted", "suppressed", "the subscription was not told of this alert")]
    # the outsider may not see the dataset: nothing of it, before or after
    assert _outbox(store, "outsider", alert_id) == []
    assert hooks["late"].got == [] and hooks["outsider"].got == []


def test_a_withdrawal_reaches_those_told_however_old_the_data(site, store, monkeypatch):
    base, auth, hooks = site
    thing, stream = _alerting_station(base, auth, "Astana", 71.4)
    alert_id = _alert_of(store, stream)
    assert wait_for(lambda: _got(hooks["watcher"], "opened", alert_id), timeout=60)
    # a push window of one hour: the alert's data (3 hours old) are now stale, as they would be
    # a week after the alert with the default window
    monkeypatch.setenv("ECOBRIDGE_ALERTS_STALE_DAYS", str(1 / 24))
    _other, other_stream = _alerting_station(base, auth, "Karaganda", 73.1)
    other = _alert_of(store, other_stream)
    assert _outbox(store, "watcher", other) == [
        ("alert.opened", "suppressed", "stale: data older than the push window")]

    assert httpx.delete(f"{base}{STA}/Things({thing})", headers=auth["pub"]).status_code == 204
    assert wait_for(lambda: _got(hooks["watcher"], "retracted", alert_id), timeout=60)
    assert wait_for(lambda: _settled(store), timeout=60)
    assert len(_got(hooks["watcher"], "retracted", alert_id)) == 1
    assert not _got(hooks["watcher"], "opened", other)


def test_migration_gives_retracted_to_the_old_default_only(store):
    """0007 run over subscriptions stored before it: the old default list gains `retracted`;
    kinds chosen otherwise, and deleted subscriptions, are left alone."""
    owner = accounts.create_user(store, username="someone")
    kept = (["opened"], ["resolved", "opened", "escalated"], ["opened", "retracted"],
            ["opened", "escalated", "resolved", "acknowledged"])
    with store.transaction() as cur:
        for kinds in (OLD_DEFAULT, *kept):
            cur.execute("INSERT INTO subscriptions (user_id, kinds) VALUES (?, ?)",
                        [owner, kinds])
        cur.execute("INSERT INTO subscriptions (user_id, kinds, deleted_at)"
                    " VALUES (?, ?, now())", [owner, OLD_DEFAULT])
    version, _name, path = next(m for m in available() if m[1] == "subscription_retracted")
    assert store.scalar("SELECT count(*) FROM schema_migrations WHERE version = ?",
                        [version]) == 1
    with store.transaction() as cur:
        cur.execute(path.read_text(encoding="utf-8"))
        cur.execute("INSERT INTO subscriptions (user_id) VALUES (?)", [owner])
    rows = store.rows("SELECT kinds, deleted_at IS NOT NULL FROM subscriptions ORDER BY id")
    assert rows == [(list(DEFAULT_EVENT_KINDS), False), *((list(k), False) for k in kept),
                    (OLD_DEFAULT, True), (list(DEFAULT_EVENT_KINDS), False)]
