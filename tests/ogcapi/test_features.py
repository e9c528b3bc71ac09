"""OGC API - Features over HTTP on the in-process app: the resources, paging, filters, and the
access policy (hidden features never shown nor counted nor in extents; sensitive positions
generalised, bbox included)."""

from __future__ import annotations

from datetime import UTC

import pytest
from governance.world import PRECISE, SENSITIVE_LONLAT, VISIBLE, hidden_markers

from .world import AREA_COUNTRY, READERS, visible_ids

TABLES = {"sites": "things", "areas": "areas", "occurrences": "occurrences"}
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"


def get(client, world, path, principal="anonymous", **params):
    return client.get(path, params=params, headers=world.headers(principal))


def all_features(client, world, collection, principal, **params):
    """Every feature by following `next` links; returns (features, first page body, pages)."""
    first = get(client, world, f"/ogcapi/collections/{collection}/items", principal, **params)
    assert first.status_code == 200, first.text
    body, features, pages = first.json(), [], 0
    while True:
        pages += 1
        features += body["features"]
        assert body["numberReturned"] == len(body["features"])
        nxt = [x["href"] for x in body["links"] if x["rel"] == "next"]
        if not nxt:
            return features, first.json(), pages
        response = client.get(nxt[0], headers=world.headers(principal))
        assert response.status_code == 200, response.text
        body = response.json()


# -- capabilities ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/ogcapi", "/ogcapi/"])
def test_landing_page_links(env, path):
    world, client = env
    response = client.get(path, headers={"Accept": "*/*"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    links = {x["rel"]: x for x in response.json()["links"]}
    assert {"self", "service-desc", "conformance", "data", "alternate"} <= set(links)
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["service-desc"]["href"].endswith("/ogcapi/api")
    assert all("type" in x and x["href"].startswith("http") for x in links.values())
    api = client.get(links["service-desc"]["href"])
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert api.json()["openapi"].startswith("3.0")


def test_conformance_declares_what_is_implemented(env):
    world, client = env
    classes = client.get("/ogcapi/conformance").json()["conformsTo"]
    for name in ("core", "geojson", "html", "oas30"):
        assert CORE + name in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables" in classes
    # no CQL2 filter is implemented, so none is claimed
    assert not [c for c in classes if c.endswith(("/filter", "/features-filter"))]


def test_openapi_declares_items_parameters_and_queryables(env):
    world, client = env
    doc = client.get("/ogcapi/api").json()
    params = doc["components"]["parameters"]
    limit = params["limit"]
    assert limit["in"] == "query" and limit["required"] is False
    assert limit["style"] == "form" and limit["explode"] is False
    assert limit["schema"]["minimum"] >= 0 and limit["schema"]["default"] >= 1
    for cid in ("sites", "areas", "occurrences"):
        declared = set()
        for p in doc["paths"][f"/collections/{cid}/items"]["get"]["parameters"]:
            declared.add(params[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p
                         else p["name"])
        queryables = client.get(f"/ogcapi/collections/{cid}/queryables").json()
        assert {"limit", "bbox", "datetime"} <= declared
        assert set(queryables["properties"]) <= declared
        assert f"/collections/{cid}/items/{{featureId}}" in doc["paths"]


def test_queryables_are_json_schema(env):
    world, client = env
    response = client.get("/ogcapi/collections/areas/queryables")
    assert response.headers["content-type"].startswith("application/schema+json")
    body = response.json()
    assert body["type"] == "object" and body["$schema"].startswith("https://json-schema.org/")
    assert body["properties"]["kind"]["type"] == "string"
    assert "protected_area" in body["properties"]["kind"]["enum"]
    assert client.get("/ogcapi/collections/nope/queryables").status_code == 404


# -- collections and extents -------------------------------------------------------------------
@pytest.mark.parametrize("principal", READERS + ["owner"])
def test_extent_covers_only_visible_features(env, principal):
    world, client = env
    body = get(client, world, "/ogcapi/collections", principal).json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"sites", "areas", "occurrences"}
    for cid, c in by_id.items():
        assert c["itemType"] == "feature"
        assert "http://www.opengis.net/def/crs/OGC/1.3/CRS84" in c["crs"]
        assert {x["rel"] for x in c["links"]} >= {"self", "items"}
        west, south, east, north = c["extent"]["spatial"]["bbox"][0]
        features, _, _ = all_features(client, world, cid, principal, limit=1000)
        xs, ys = [], []
        for f in features:
            coords = f["geometry"]["coordinates"]
            ring = coords[0] if f["geometry"]["type"] == "Polygon" else [coords]
            xs += [p[0] for p in ring]
            ys += [p[1] for p in ring]
        assert (west, south, east, north) == pytest.approx(
            (min(xs), min(ys), max(xs), max(ys)), abs=1e-5)
    sites = by_id["sites"]["extent"]
    assert sites["temporal"]["interval"][0][0].startswith("2024-01-01")
    assert "temporal" not in by_id["areas"]["extent"]


def test_hidden_dataset_does_not_enlarge_the_extent(env):
    """The expired and embargoed datasets lie north of everything the anonymous reader sees."""
    world, client = env
    hidden_north = max(ds["lat"] for p, ds in world.datasets.items()
                       if "anonymous" not in VISIBLE[p])

    def north(principal):
        body = get(client, world, "/ogcapi/collections/areas", principal).json()
        return body["extent"]["spatial"]["bbox"][0][3]

    assert north("anonymous") < hidden_north - 0.5
    assert north("owner") == pytest.approx(hidden_north + 0.5)


# -- items: counts, paging, leaks --------------------------------------------------------------
@pytest.mark.parametrize("principal", READERS + ["owner"])
@pytest.mark.parametrize("cid", ["sites", "areas", "occurrences"])
def test_items_are_exactly_the_visible_ones_over_all_pages(env, principal, cid):
    world, client = env
    features, first, pages = all_features(client, world, cid, principal, limit=3)
    expected = visible_ids(world, principal, TABLES[cid])
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert first["numberMatched"] == len(expected)
    assert pages == max(1, -(-len(expected) // 3))
    text = str(features) + str(first)
    assert not [m for m in hidden_markers(world, principal) if m in text]


def test_items_response_shape(env):
    world, client = env
    response = get(client, world, "/ogcapi/collections/sites/items", limit=2)
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 2
    assert body["timeStamp"].endswith("Z")
    rels = {x["rel"] for x in body["links"]}
    assert {"self", "alternate", "next"} <= rels and "prev" not in rels
    feature = body["features"][0]
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == "Point"


def test_prev_link_walks_back(env):
    world, client = env
    first = get(client, world, "/ogcapi/collections/sites/items", limit=4).json()
    second = client.get(next(x["href"] for x in first["links"] if x["rel"] == "next")).json()
    back = client.get(next(x["href"] for x in second["links"] if x["rel"] == "prev")).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in first["features"]]
    assert not [x for x in back["links"] if x["rel"] == "prev"]


def test_limit_rules(env):
    world, client = env
    path = "/ogcapi/collections/sites/items"
    assert len(get(client, world, path).json()["features"]) == 10  # the default
    assert get(client, world, path, limit="100000").status_code == 200  # clamped, as GDAL asks
    for bad in ("unlimited", "0", "-1", "1.5"):
        response = get(client, world, path, limit=bad)
        assert response.status_code == 400, bad
        assert response.headers["content-type"] == "application/problem+json"
    assert get(client, world, path, color="red").status_code == 400
    assert get(client, world, path, cursor="bm9wZQ").status_code == 400
    assert get(client, world, "/ogcapi/collections/nope/items").status_code == 404


# -- filters -----------------------------------------------------------------------------------
def test_property_filters_are_applied_in_the_database(env):
    world, client = env
    body = get(client, world, "/ogcapi/collections/areas/items", "owner", country="KAZ",
               kind="protected_area", limit=100).json()
    expected = {world.datasets[p]["area"] for p, c in AREA_COUNTRY.items()}
    assert {f["id"] for f in body["features"]} == expected
    assert body["numberMatched"] == len(expected)
    anon = get(client, world, "/ogcapi/collections/areas/items", country="KAZ").json()
    assert {f["id"] for f in anon["features"]} == {world.datasets["public"]["area"]}
    assert get(client, world, "/ogcapi/collections/areas/items", kind="volcano"
               ).status_code == 400
    sites = get(client, world, "/ogcapi/collections/sites/items", observed_properties="pm25",
                limit=100).json()
    assert {f["id"] for f in sites["features"]} == {
        world.datasets[p]["thing"] for p in VISIBLE if "anonymous" in VISIBLE[p]}
    assert get(client, world, "/ogcapi/collections/sites/items", datastreams="x"
               ).status_code == 400


def test_bbox_matches_the_generalised_position_only(env):
    """A box around the tiger's precise position but not its grid cell centre finds nothing
    for a reader without precise access; a box around the centre does."""
    world, client = env
    lon, lat = SENSITIVE_LONLAT
    tight = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    ds = world.datasets["sensitive"]
    for principal in ("anonymous", "registered", "partner", "owner"):
        for cid, key in (("sites", "thing"), ("occurrences", "occurrence")):
            body = get(client, world, f"/ogcapi/collections/{cid}/items", principal,
                       bbox=tight).json()
            found = ds[key] in {f["id"] for f in body["features"]}
            assert found == (principal in PRECISE), (principal, cid)
    item = get(client, world, f"/ogcapi/collections/occurrences/items/{ds['occurrence']}").json()
    cx, cy = item["geometry"]["coordinates"]
    assert (round(cx, 3), round(cy, 3)) != (round(lon, 3), round(lat, 3))
    assert item["properties"]["location_generalised"] is True
    assert item["properties"]["locality"] is None
    centre = f"{cx - 0.001},{cy - 0.001},{cx + 0.001},{cy + 0.001}"
    body = get(client, world, "/ogcapi/collections/occurrences/items", bbox=centre).json()
    assert ds["occurrence"] in {f["id"] for f in body["features"]}
    precise = get(client, world, f"/ogcapi/collections/occurrences/items/{ds['occurrence']}",
                  "partner").json()
    assert precise["geometry"]["coordinates"] == pytest.approx([lon, lat])


def test_bbox_validation_and_antimeridian(env):
    world, client = env
    path = "/ogcapi/collections/sites/items"
    for bad in ("1,2,3", "a,b,c,d", "0,10,1,5", "0,-91,1,0"):
        assert get(client, world, path, bbox=bad).status_code == 400, bad
    everything = get(client, world, path, limit=1000).json()["numberMatched"]
    wrapped = get(client, world, path, bbox="60,-90,-170,90", limit=1000).json()
    assert wrapped["numberMatched"] == everything  # every site lies between 60E and 180E


def _occurrence_dates(world):
    public = world.datasets["public"]["id"]
    return world.store.dicts("SELECT id, event_date FROM occurrences WHERE dataset_id = ?",
                             [public])


@pytest.mark.parametrize("interval, test", [
    ("2023-03-01T00:00:00Z/2023-07-01T00:00:00Z",
     lambda d: "2023-03-01" <= d < "2023-07-01"),
    ("2023-06-01/..", lambda d: d >= "2023-06-01"),
    ("../2023-03-16", lambda d: d < "2023-03-17"),
    ("2023-02-14T12:00:00Z", lambda d: d.startswith("2023-02-14T12:00")),
    ("2023-02-14", lambda d: d.startswith("2023-02-14")),
    ("2023-02-14T/2023-04-15T", lambda d: "2023-02-14" <= d < "2023-04-16"),
])
def test_datetime_instants_and_intervals(env, interval, test):
    world, client = env
    public_expected = {r["id"] for r in _occurrence_dates(world)
                       if test(r["event_date"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))}
    assert public_expected  # each case selects something
    body = get(client, world, "/ogcapi/collections/occurrences/items", datetime=interval,
               dataset=world.datasets["public"]["slug"], limit=1000).json()
    assert {f["id"] for f in body["features"]} == public_expected
    assert body["numberMatched"] == len(public_expected)


def test_datetime_errors(env):
    world, client = env
    for bad in ("yesterday", "2023-05-01/2023-01-01", "2023-01-01T00:00:00"):
        response = get(client, world, "/ogcapi/collections/occurrences/items", datetime=bad)
        assert response.status_code == 400, bad


# -- single features ---------------------------------------------------------------------------
@pytest.mark.parametrize("principal", READERS)
def test_hidden_feature_is_a_404_like_a_missing_one(env, principal):
    world, client = env
    for policy, ds in world.datasets.items():
        for cid, key in (("sites", "thing"), ("areas", "area"), ("occurrences", "occurrence")):
            response = get(client, world, f"/ogcapi/collections/{cid}/items/{ds[key]}",
                           principal)
            if principal in VISIBLE[policy]:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("application/geo+json")
                assert response.json()["id"] == ds[key]
            else:
                assert response.status_code == 404
                missing = get(client, world, f"/ogcapi/collections/{cid}/items/999999",
                              principal)
                assert response.json()["title"] == missing.json()["title"]
                assert ds["marker"] not in response.text


def test_reads_by_other_organisations_are_audited(env):
    world, client = env
    before = world.store.scalar("SELECT coalesce(max(id), 0) FROM audit_events")
    get(client, world, "/ogcapi/collections/occurrences/items", "partner", limit=100)
    kinds = world.store.dicts("SELECT DISTINCT kind, dataset_id FROM audit_events WHERE id > ?"
                              " AND username = 'user-partner'", [before])
    assert {"kind": "occurrences", "dataset_id": world.datasets["public"]["id"]} in kinds


# -- HTML and negotiation ----------------------------------------------------------------------
PAGES = ["/ogcapi", "/ogcapi/conformance", "/ogcapi/collections", "/ogcapi/collections/sites",
         "/ogcapi/collections/areas/items", "/ogcapi/collections/occurrences/items?limit=3",
         "/ogcapi/collections/occurrences/queryables"]


def test_accept_header_negotiation(env):
    world, client = env
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for path in PAGES:
        html = client.get(path, headers={"Accept": browser})
        assert html.headers["content-type"].startswith("text/html"), path
        assert client.get(path, headers={"Accept": "*/*"}).headers[
            "content-type"].startswith("application/"), path
    gdal = {"Accept": "application/geo+json, application/json"}
    assert client.get(PAGES[4], headers=gdal).headers["content-type"].startswith(
        "application/geo+json")
    assert client.get(PAGES[4], params={"f": "xml"}).status_code == 400


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_html_pages_are_translated(env, lang):
    from web.i18n_check import assert_translated

    world, client = env
    ds = world.datasets["sensitive"]
    for path in [*PAGES, f"/ogcapi/collections/occurrences/items/{ds['occurrence']}"]:
        response = client.get(path, params={"f": "html", "lang": lang})
        assert response.status_code == 200, path
        assert f'lang="{lang}"' in response.text
        assert_translated(response.text, f"{path} ({lang})")


def test_html_items_page_shows_generalised_data_and_pages(env):
    world, client = env
    ds = world.datasets["sensitive"]
    html = client.get("/ogcapi/collections/occurrences/items",
                      params={"f": "html", "limit": 2}).text
    assert 'rel="next"' in html and "cursor=" in html
    lon, lat = SENSITIVE_LONLAT
    everything = client.get("/ogcapi/collections/occurrences/items",
                            params={"f": "html", "limit": 1000}).text
    assert f"{lon:.3f}" not in everything and f"{lat:.3f}" not in everything
    assert ds["marker"] in everything  # the sensitive dataset itself is public
    private = world.datasets["private"]["marker"]
    assert private not in everything


@pytest.mark.parametrize("principal", READERS)
def test_no_route_leaks_in_any_representation(env, principal):
    """Every /ogcapi resource in JSON and HTML, with every dataset's feature ids: nothing of a
    hidden dataset, and no precise position of the sensitive one, in any response."""
    world, client = env
    paths = ["/ogcapi/collections", *[f"/ogcapi/collections/{c}" for c in TABLES],
             *[f"/ogcapi/collections/{c}/items?limit=1000" for c in TABLES]]
    for ds in world.datasets.values():
        paths += [f"/ogcapi/collections/sites/items/{ds['thing']}",
                  f"/ogcapi/collections/areas/items/{ds['area']}",
                  f"/ogcapi/collections/occurrences/items/{ds['occurrence']}"]
    markers = hidden_markers(world, principal)
    for path in paths:
        for fmt in ("json", "html"):
            response = client.get(path, params={"f": fmt}, headers=world.headers(principal))
            assert response.status_code in (200, 404), path
            found = [m for m in markers if m in response.text]
            assert not found, f"{path} ({fmt}): {found}"


def test_sites_match_datetime_by_the_span_of_their_observations(env):
    world, client = env
    when = "2024-01-05T12:00:00Z"
    body = get(client, world, "/ogcapi/collections/sites/items", "owner", datetime=when,
               limit=1000).json()
    expected = {r["thing_id"] for r in world.store.dicts(
        "SELECT thing_id FROM datastreams GROUP BY thing_id HAVING min(phenomenon_time_start)"
        " <= ?::TIMESTAMPTZ AND max(phenomenon_time_end) >= ?::TIMESTAMPTZ", [when, when])}
    assert {f["id"] for f in body["features"]} == expected
    assert 0 < len(expected) < len(visible_ids(world, "owner", "things"))


def test_feature_schema_lists_every_property(env):
    from ecobridge.api.ogcapi.collections import COLLECTIONS

    world, client = env
    for cid, c in COLLECTIONS.items():
        described = client.get(f"/ogcapi/collections/{cid}").json()
        href = next(x["href"] for x in described["links"] if x["rel"] == "describedby")
        response = client.get(href)
        assert response.headers["content-type"].startswith("application/schema+json")
        props = response.json()["properties"]["properties"]["properties"]
        assert list(props) == [p.name for p in c.props]
        item = get(client, world, f"/ogcapi/collections/{cid}/items", limit=1).json()
        assert list(item["features"][0]["properties"]) == list(props)


def test_blank_form_fields_are_ignored(env):
    world, client = env
    plain = get(client, world, "/ogcapi/collections/occurrences/items", limit=5).json()
    blank = get(client, world, "/ogcapi/collections/occurrences/items", limit=5, bbox="",
                datetime="", country_code="").json()
    assert [f["id"] for f in blank["features"]] == [f["id"] for f in plain["features"]]
