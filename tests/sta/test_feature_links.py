"""FeaturesOfInterest visibility comes from the (feature, datastream) links the observation writes
keep (migration 0006), not from a scan of the observations: the links must follow every write."""

from __future__ import annotations

from ecobridge.store.migrations import available

from . import test_writes
from .test_writes import _datastream, _id, _station, _thing

env = test_writes.env  # the fixture: a real app over a fresh store, with three publishers


def _links(env) -> set[tuple[int, int]]:
    return set(env.store.rows("SELECT feature_of_interest_id, datastream_id"
                              " FROM feature_datastreams"))


def _feature(name: str, lon: float) -> dict:
    return {"name": name, "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [lon, 43.2]}}


def _visible(env, feature: int, who: str) -> bool:
    r = env.get(f"FeaturesOfInterest({feature})", who=who)
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def _observe_canyon(env, ds: int) -> int:
    """Post one observation at a new feature "Canyon"; the feature's id."""
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 5,
                                  "phenomenonTime": "2024-05-01T10:00:00Z",
                                  "FeatureOfInterest": _feature("Canyon", 76.9)})
    assert r.status_code == 201, r.text
    return env.scalar("SELECT feature_of_interest_id FROM observations WHERE id = ?", [_id(r)])


def _hidden_station(env) -> int:
    r = env.post("Things", _thing(dataset="kz-closed", name="Closed",
                                  Datastreams=[_datastream()]))
    assert r.status_code == 201, r.text
    return env.scalar("SELECT id FROM datastreams WHERE thing_id = ?", [_id(r)])


def test_links_follow_posts_replacements_and_deletes(env):
    _, ds = _station(env)
    canyon = _observe_canyon(env, ds)
    assert _links(env) == {(canyon, ds)}
    # the same time posted again naming another feature: the old link goes
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 6,
                                  "phenomenonTime": "2024-05-01T10:00:00Z",
                                  "FeatureOfInterest": _feature("Park", 76.8)})
    assert r.status_code == 201, r.text
    park = env.scalar("SELECT feature_of_interest_id FROM observations WHERE datastream_id = ?",
                      [ds])
    assert park != canyon and _links(env) == {(park, ds)}
    # PATCH moving the observation to the first feature again
    r = env.patch(f"Observations({_id(r)})", {"FeatureOfInterest": {"@iot.id": canyon}})
    assert r.status_code == 200, r.text
    assert _links(env) == {(canyon, ds)}
    only = env.scalar("SELECT id FROM observations WHERE datastream_id = ?", [ds])
    assert env.delete(f"Observations({only})").status_code == 204
    assert _links(env) == set()


def test_visibility_follows_the_links(env):
    _, ds = _station(env)
    hidden_ds = _hidden_station(env)
    r = env.post("Observations", {"Datastream": {"@iot.id": hidden_ds}, "result": 5,
                                  "phenomenonTime": "2024-05-01T10:00:00Z",
                                  "FeatureOfInterest": _feature("Closed yard", 76.7)})
    assert r.status_code == 201, r.text
    feature = env.scalar("SELECT feature_of_interest_id FROM observations WHERE id = ?",
                         [_id(r)])
    # used only by a private datastream: the other organisation's publisher sees nothing
    assert _visible(env, feature, "pub") and not _visible(env, feature, "mnpub")
    assert not _visible(env, feature, None)
    listed = {f["@iot.id"] for f in env.get("FeaturesOfInterest", who="mnpub").json()["value"]}
    assert feature not in listed
    # used by a public datastream as well: visible to everyone
    r = env.post("Observations", {"Datastream": {"@iot.id": ds}, "result": 7,
                                  "phenomenonTime": "2024-05-01T11:00:00Z",
                                  "FeatureOfInterest": {"@iot.id": feature}}, who="pub")
    assert r.status_code == 201, r.text
    assert _visible(env, feature, "mnpub") and _visible(env, feature, None)
    # that public observation deleted: hidden again
    assert env.delete(f"Observations({_id(r)})").status_code == 204
    assert not _visible(env, feature, "mnpub")
    # the private datastream deleted: the feature is used by nothing and is shown to all
    assert env.delete(f"Datastreams({hidden_ds})").status_code == 204
    assert _visible(env, feature, "mnpub") and _visible(env, feature, None)


def test_migration_backfills_links_from_stored_observations(env):
    _, ds = _station(env)
    _observe_canyon(env, ds)
    expected = _links(env)
    sql = next(p for v, _, p in available() if v == 6).read_text(encoding="utf-8")
    with env.store.transaction() as cur:
        cur.execute("DROP TABLE feature_datastreams")
        cur.execute(sql)
    assert _links(env) == expected and len(expected) == 1
