"""OWSLib's OGC API - Features client against the real server on 127.0.0.1: the calls a Python
user makes, and the access policy as seen through them (a token in the client's headers)."""

from __future__ import annotations

import pytest
from governance.world import PRECISE, SENSITIVE_LONLAT, VISIBLE
from ogcapi.world import open_world, visible_ids
from owslib import ogcapi
from owslib.ogcapi.features import Features
from serving import serve

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    world, settings = open_world(tmp_path_factory.mktemp("home"))
    with serve(settings, world.store) as base_url:
        yield world, base_url
    world.store.close()


def client(server, principal="anonymous") -> Features:
    """A client for one principal. OWSLib 0.35 updates its module-level REQUEST_HEADERS dict in
    place with the headers given, so a token would stick to every later client: the dict is
    cleaned before and after, and the instance keeps its own copy."""
    world, base_url = server
    ogcapi.REQUEST_HEADERS.pop("Authorization", None)
    try:
        w = Features(f"{base_url}/ogcapi", headers=world.headers(principal))
        w.headers = dict(w.headers)
    finally:
        ogcapi.REQUEST_HEADERS.pop("Authorization", None)
    return w


def test_landing_conformance_and_collections(server):
    w = client(server)
    assert any(x["rel"] == "service-desc" for x in w.links)
    assert CORE in w.conformance()["conformsTo"]
    assert w.feature_collections() == ["sites", "areas", "occurrences"]
    assert "/collections/sites/items" in w.api()["paths"]


def test_collection_extent_is_that_of_visible_features(server):
    world, _ = server
    for principal in ("anonymous", "owner"):
        w = client(server, principal)
        west, south, east, north = w.collection("areas")["extent"]["spatial"]["bbox"][0]
        items = w.collection_items("areas", limit=1000)["features"]
        assert len(items) == len(visible_ids(world, principal, "areas"))
        points = [p for f in items for p in (f["geometry"]["coordinates"][0]
                  if f["geometry"]["type"] == "Polygon" else [f["geometry"]["coordinates"]])]
        assert west == pytest.approx(min(p[0] for p in points))
        assert north == pytest.approx(max(p[1] for p in points))


@pytest.mark.parametrize("principal", ["anonymous", "partner", "owner"])
def test_items_with_bbox_and_limit(server, principal):
    world, _ = server
    w = client(server, principal)
    everything = w.collection_items("sites", limit=1000)
    assert {f["id"] for f in everything["features"]} == visible_ids(world, principal, "things")
    page = w.collection_items("sites", limit=2, bbox=[60, 20, 140, 50])
    assert len(page["features"]) == 2
    assert page["numberMatched"] == everything["numberMatched"]
    assert any(x["rel"] == "next" for x in page["links"])
    lon, lat = SENSITIVE_LONLAT
    tight = w.collection_items("occurrences", bbox=[lon - 0.01, lat - 0.01, lon + 0.01,
                                                     lat + 0.01])
    sensitive = world.datasets["sensitive"]["occurrence"]
    assert (sensitive in {f["id"] for f in tight["features"]}) == (principal in PRECISE)


def test_queryables_and_pushed_filters(server):
    world, _ = server
    w = client(server, "owner")
    queryables = w.collection_queryables("areas")
    assert {"kind", "country", "name"} <= set(queryables["properties"])
    kaz = w.collection_items("areas", country="KAZ", kind="protected_area", limit=100)
    assert kaz["numberMatched"] == len(kaz["features"]) > 0
    assert all(f["properties"]["country"] == "KAZ" for f in kaz["features"])


def test_single_items_and_hidden_ones(server):
    world, _ = server
    w = client(server)
    for policy, ds in world.datasets.items():
        if "anonymous" in VISIBLE[policy]:
            assert w.collection_item("occurrences", str(ds["occurrence"]))["id"] == \
                ds["occurrence"]
        else:
            with pytest.raises(RuntimeError, match="not-found"):
                w.collection_item("occurrences", str(ds["occurrence"]))
