"""Issue 5, rough edges of the web pages: map colours that can be told apart and read on the base
map, a legend that says what a numbered circle is, "areas" that are not country outlines,
positions with their hemispheres in every language, latest values with their time, the reader's
own country's alerts first, and the real Camtrap DP example under its real country."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path

import pytest
from api.areas_data import add_area, add_areas, box  # tests/ is on sys.path
from api.data import build, hourly
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.demo import agencies, camtrap_example
from ecobridge.governance import accounts, tokens
from ecobridge.store import open_store
from ecobridge.web import alert_pages, positions
from ecobridge.web.maps import TILE_LAND
from web.alert_rows import insert_alert
from web.i18n_check import assert_translated

CSS = Path(positions.__file__).parent / "static" / "style.css"
OUTLINES = ("ALB", "BEL", "CHL")  # country outlines of a boundaries dataset


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The read-API test world, its areas, a public boundaries dataset and alerts on the data of
    two countries: Kazakhstan's raised first (older), Russia's after."""
    settings = Settings(home=tmp_path_factory.mktemp("polish"), memory_limit="1GB", threads=2)
    store = open_store(settings)
    world = build(store)
    areas = add_areas(store, world)
    outlines = create_dataset(store, slug="test-outlines", owner=world.org_ids["kz"],
                              domain="boundaries", title="Outlines", licence="CC0-1.0")
    for i, code in enumerate(OUTLINES):
        add_area(store, outlines, code, {"en": code}, box(i, 0, i + 1, 1), kind="admin_boundary")
    alerts = {"kz": [insert_alert(store, world.datasets["kz-air"], world.things["almaty"])
                     for _ in range(3)],
              "ru": [insert_alert(store, world.datasets["ru-tigers"], world.things["tiger"])
                     for _ in range(3)]}
    with TestClient(create_app(settings, store=store)) as client:
        yield client, store, world, areas, alerts
    store.close()


def _member(store, org_id: int, name: str) -> dict:
    accounts.create_user(store, username=name, password="a long password 123")
    accounts.set_membership(store, user=name, org=org_id, role="viewer")
    return {"Authorization": f"Bearer {tokens.create_token(store, user=name)['token']}"}


# -- 1. colours and legend ---------------------------------------------------------------------
def _hex(text: str) -> tuple[int, int, int]:
    return tuple(int(text.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))


def _linear(rgb) -> tuple[float, float, float]:
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                 for c in (v / 255 for v in rgb))


def _contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    la, lb = (0.2126 * r + 0.7152 * g + 0.0722 * b_ for r, g, b_ in (_linear(a), _linear(b)))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


# Machado et al. (2009), severity 1: how the colours look to people without red or green cones
DICHROMACY = {"deutan": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                         (-0.011820, 0.042940, 0.968881)),
              "protan": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                         (-0.003882, -0.048116, 1.051998))}


def _lab(rgb, vision: str | None = None) -> tuple[float, float, float]:
    r, g, b = _linear(rgb)
    if vision:
        r, g, b = (min(1.0, max(0.0, m[0] * r + m[1] * g + m[2] * b))
                   for m in DICHROMACY[vision])
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _delta_e(lab1, lab2) -> float:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7)))
    a1, a2 = a1 * (1 + g), a2 * (1 + g)
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1, h2 = (math.degrees(math.atan2(b, a)) % 360 for a, b in ((a1, b1), (a2, b2)))
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    big_dh = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    h_mean = (h1 + h2 if c1 * c2 == 0 else (h1 + h2) / 2 if abs(h1 - h2) <= 180
              else (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2)
    t = (1 - 0.17 * math.cos(math.radians(h_mean - 30)) + 0.24 * math.cos(math.radians(2 * h_mean))
         + 0.32 * math.cos(math.radians(3 * h_mean + 6))
         - 0.20 * math.cos(math.radians(4 * h_mean - 63)))
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    sc, sh = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    rt = (-2 * math.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7))
          * math.sin(math.radians(60 * math.exp(-(((h_mean - 275) / 25) ** 2)))))
    return math.sqrt(((l2 - l1) / sl) ** 2 + ((c2 - c1) / sc) ** 2 + (big_dh / sh) ** 2
                     + rt * ((c2 - c1) / sc) * (big_dh / sh))


def _css_colours() -> dict[str, tuple[int, int, int]]:
    found = re.findall(r"--(eb-[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", CSS.read_text("utf-8"))
    return {name: _hex(value) for name, value in found}


def test_delta_e_matches_the_published_test_data():
    # pairs 1 and 7 of Sharma, Wu and Dalal's CIEDE2000 test data
    assert _delta_e((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert _delta_e((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)


def test_site_colours_are_apart_and_stand_out_on_the_base_map():
    colours = _css_colours()
    domains = {k.removeprefix("eb-domain-"): v for k, v in colours.items()
               if k.startswith("eb-domain-")}
    land, cluster = colours["eb-map-land"], colours["eb-map-cluster"]
    assert land == TILE_LAND  # the land the server's base map tiles draw under the sites
    assert {"air", "energy", "glacier", "wildlife"} <= set(domains)
    for name, rgb in domains.items():  # a dot is a graphic: 3:1 against what it sits on
        assert _contrast(rgb, land) >= 3, name
    # every domain apart from every other and from a numbered circle, which holds any of them
    for (a, x), (b, y) in itertools.combinations({**domains, "cluster": cluster}.items(), 2):
        assert _delta_e(_lab(x), _lab(y)) >= 12, (a, b)
    # energy and wildlife stood 0.5 apart for deuteranopes (#8a6100 and #a34a00)
    for vision in DICHROMACY:
        energy, wildlife = _lab(domains["energy"], vision), _lab(domains["wildlife"], vision)
        assert _delta_e(energy, wildlife) >= 10, vision
    # text drawn on the map: the white count on a numbered circle
    assert _contrast((255, 255, 255), cluster) >= 4.5


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_legend_says_what_a_numbered_circle_and_a_red_ring_are(shared, lang):
    client, *_ = shared
    html = client.get("/", params={"lang": lang}).text
    legend = re.search(r'<ul class="eb-map-legend".*?</ul>', html, re.S).group(0)
    cluster = re.search(r'<li data-legend="cluster">.*?</li>', legend, re.S).group(0)
    assert 'class="eb-swatch eb-swatch-cluster"' in cluster
    assert re.search(r'<li data-legend="alert">', legend)
    assert re.search(r'<li data-legend="air">', legend)
    if lang == "en":
        assert "numbered circle" in cluster and "of any domain" in cluster
    else:
        assert_translated(html, f"/ in {lang}")
    # the swatch is drawn in the colour map.js gives the circles
    assert re.search(r"\.eb-swatch-cluster \{[^}]*background: var\(--eb-map-cluster\)",
                     CSS.read_text("utf-8"))


# -- 2. areas are not country outlines ---------------------------------------------------------
def _count(html: str, name: str, scope: str = "") -> str | None:
    found = re.search(rf'{scope}.*?data-count="{name}"[^>]*>([^<]*)<', html, re.S)
    return found.group(1).strip() if found else None


def test_areas_total_leaves_out_country_outlines(shared):
    client, store, world, areas, _ = shared
    public = [k for k in areas if k != "secret-park"]  # secret-park: a private dataset's
    html = client.get("/", params={"lang": "en"}).text
    assert _count(html, "areas", r'<dl class="totals">') == str(len(public))
    owner = _member(store, world.org_ids["kz"], "kz-areas-reader")
    mine = client.get("/", params={"lang": "en"}, headers=owner).text
    assert _count(mine, "areas", r'<dl class="totals">') == str(len(areas))


def test_catalogue_and_dataset_page_call_outlines_boundaries(shared):
    client, *_ = shared
    html = client.get("/datasets", params={"lang": "en", "q": "Outlines"}).text
    card = re.search(r'<li class="dataset-card" id="dataset-test-outlines".*?</li>', html,
                     re.S).group(0)
    assert _count(card, "boundaries") == str(len(OUTLINES)) and _count(card, "areas") is None
    html = client.get("/datasets", params={"lang": "en", "q": "Test areas"}).text
    card = re.search(r'<li class="dataset-card" id="dataset-test-areas".*?</li>', html,
                     re.S).group(0)
    assert _count(card, "areas") == "3" and _count(card, "boundaries") is None
    page = client.get("/datasets/test-outlines", params={"lang": "en"}).text
    assert _count(page, "areas") == "0" and _count(page, "boundaries") == str(len(OUTLINES))


# -- 5 and 6. latest values with their time; positions with their hemispheres -------------------
def test_dataset_page_gives_the_latest_values_date_and_time(shared):
    client = shared[0]
    html = client.get("/datasets/kz-air", params={"lang": "en"}).text
    client, _, world, *_ = shared
    row = re.search(rf'<tr id="station-{world.things["almaty"]}">.*?</tr>', html, re.S).group(0)
    last = hourly(50)[-1]  # the fixture's last hourly value of Almaty
    assert f"{last:%Y-%m-%d %H:%M} UTC" in row


@pytest.mark.parametrize(("lang", "north_east", "south_west"), [
    ("en", "43.2500°\u00a0N, 76.9500°\u00a0E", "33.4500°\u00a0S, 70.6667°\u00a0W"),
    ("zh", "北纬\u00a043.2500°，东经\u00a076.9500°", "南纬\u00a033.4500°，西经\u00a070.6667°"),
    ("ru", "43.2500°\u00a0с.\u00a0ш., 76.9500°\u00a0в.\u00a0д.",
     "33.4500°\u00a0ю.\u00a0ш., 70.6667°\u00a0з.\u00a0д."),
])
def test_positions_name_their_hemispheres(lang, north_east, south_west):
    assert positions.position(lang, 43.25, 76.95) == north_east
    assert positions.position(lang, -33.45, -70.66666) == south_west
    # no "0.0000° S": what rounds to zero is on the equator
    assert positions.position(lang, -0.00001, -0.00001) == positions.position(lang, 0.0, 0.0)


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_pages_print_positions_with_hemispheres(shared, lang):
    client, _, world, areas, _ = shared
    station = client.get(f"/stations/{world.things['almaty']}", params={"lang": lang}).text
    dataset = client.get("/datasets/kz-air", params={"lang": lang}).text
    area = client.get(f"/areas/{areas['steppe']}", params={"lang": lang}).text
    where = positions.position(lang, 43.25, 76.95)
    assert positions.position(lang, 43.25, 76.95, 3) in station and where in dataset
    assert where in area
    for html in (station, dataset, area):
        assert "43.2500, 76.9500" not in html and "43.250°, 76.950°" not in html
    # the extent as latitude and longitude ranges, with hemispheres
    assert positions.extent(lang, [69.0, 42.0, 78.0, 46.0]) in area
    if lang != "en":
        for path, html in (("station", station), ("dataset", dataset), ("area", area)):
            assert_translated(html, f"{path} in {lang}")


# -- 7. the reader's own country's alerts first ------------------------------------------------
def _listed(client, headers: dict | None = None) -> tuple[list[int], list[int]]:
    """Every alert id of /alerts?status=all, page after page, and those marked as own."""
    ids, own, url = [], [], "/alerts?status=all&lang=en"
    while url:
        html = client.get(url, headers=headers or {}).text
        rows = re.findall(r'<tr id="alert-(\d+)"[^>]*?( data-own-country)?>', html)
        ids += [int(i) for i, _ in rows]
        own += [int(i) for i, mark in rows if mark]
        older = re.search(r'<a href="(/alerts\?[^"]+)">Older alerts</a>', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    return ids, own


def test_alerts_page_lists_the_readers_country_first_then_the_rest(shared, monkeypatch):
    client, store, world, _, alerts = shared
    monkeypatch.setattr(alert_pages, "PAGE", 2)  # pages that split each country's alerts
    newest_first = sorted(alerts["kz"] + alerts["ru"], reverse=True)
    anonymous, marked = _listed(client)
    assert anonymous == newest_first and marked == []
    kz_reader = _member(store, world.org_ids["kz"], "kz-alerts-reader")
    ids, own = _listed(client, kz_reader)
    # Kazakhstan's alerts are the older ones, yet lead; each group newest first, none twice
    assert ids == sorted(alerts["kz"], reverse=True) + sorted(alerts["ru"], reverse=True)
    assert own == sorted(alerts["kz"], reverse=True)
    page = client.get("/alerts", params={"status": "all", "lang": "en"}, headers=kz_reader).text
    assert "Alerts on data shared from Kazakhstan, your organisation" in page
    # a row drawn alone (a live update, a triage) keeps its mark
    for country, marked in (("kz", True), ("ru", False)):
        row = client.get(f"/alerts/{alerts[country][0]}/row", headers=kz_reader).text
        assert ("data-own-country" in row) is marked, country
    ru_reader = _member(store, world.org_ids["ru"], "ru-alerts-reader")
    ids, own = _listed(client, ru_reader)
    assert ids == sorted(alerts["ru"], reverse=True) + sorted(alerts["kz"], reverse=True)
    html = client.get("/alerts", params={"status": "all", "lang": "ru"}, headers=ru_reader).text
    assert_translated(html, "/alerts in ru, signed in")


# -- 8. the Camtrap DP example's country -------------------------------------------------------
def test_camtrap_example_is_owned_from_the_country_of_its_camera_traps(store):
    """Every camera trap of the package lies in its owner's country (Belgium, not China), as far
    as the demo's Natural Earth 1:110m outlines tell: they are coarse, and three of the traps
    stand within a few kilometres of the Dutch border, so 0.25 degrees is allowed."""
    owner = next(o for o in agencies.organisations() if o["slug"] == camtrap_example.OWNER)
    outlines = Path(camtrap_example.FOLDER).parent / "boundaries"
    path = next(outlines.glob("*.geojson"))
    features = json.loads(path.read_text("utf-8"))["features"]
    with (camtrap_example.FOLDER / "deployments.csv").open(encoding="utf-8") as fh:
        points = [(float(r["longitude"]), float(r["latitude"])) for r in csv.DictReader(fh)]
    assert points
    outline = next(json.dumps(f["geometry"]) for f in features
                   if f["properties"]["iso_a3"] == owner["country"])
    for lon, lat in points:
        assert store.scalar("SELECT ST_Distance(ST_GeomFromGeoJSON(?), ST_Point(?, ?))",
                            [outline, lon, lat]) < 0.25, (lon, lat)
