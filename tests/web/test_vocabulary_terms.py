"""Fixed vocabularies on the catalogue pages: dataset keywords and protected-area designations
(kinds such as "National Park", IUCN categories) read in the reader's language; an owner's free
keyword or a local designation stays as data, marked translate="no"."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file
from web.i18n_check import assert_translated

PARKS = [("LAND", "Land of the Leopard", "National Park; UNESCO World Heritage Site"),
         ("KEDR", "Kedrovaya Pad", "IUCN Category Ia"),
         ("LOCAL", "Birch grove", "Municipal birch grove")]
WORDS = {"zh": ("红外相机", "豹", "国家公园", "联合国教科文组织世界遗产地", "世界自然保护联盟第"),
         "ru": ("фотоловушка", "леопард", "Национальный парк", "Объект всемирного наследия ЮНЕСКО",
                "категория МСОП")}


@pytest.fixture
def client(settings, store, tmp_path):
    create_organisation(store, slug="park", name="Park", country="RUS")
    create_dataset(store, slug="leopard-traps", owner="park", domain="wildlife",
                   title="Leopard traps", licence="CC-BY-4.0",
                   keywords=["camera trap", "Leopard", "Barsovy cluster"])
    create_dataset(store, slug="parks", owner="park", domain="areas", title="Parks",
                   licence="CC0-1.0")
    features = [{"type": "Feature", "properties": {"code": code, "name": name, "kind":
                 "protected_area", "designation": designation, "country": "RUS"},
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [131.0 + i, 43.0], [131.5 + i, 43.0], [131.5 + i, 43.5], [131.0 + i, 43.5],
                     [131.0 + i, 43.0]]]}}
                for i, (code, name, designation) in enumerate(PARKS)]
    path = tmp_path / "parks.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    ingest_file(store, path, dataset="parks", kind="areas")
    with TestClient(create_app(settings, store=store)) as c:
        yield c


def _area_ids(store) -> dict[str, int]:
    return dict(store.rows("SELECT code, id FROM areas"))


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_keywords_and_designations_are_translated(client, store, lang):
    dataset = client.get("/datasets/leopard-traps", params={"lang": lang}).text
    listing = client.get("/areas", params={"lang": lang}).text
    area = client.get(f"/areas/{_area_ids(store)['LAND']}", params={"lang": lang}).text
    for where, html in (("dataset", dataset), ("areas", listing), ("area", area)):
        assert_translated(html, f"the {where} page in {lang}")
    keywords, leopard = WORDS[lang][:2]
    assert keywords in dataset and leopard in dataset
    # the owner's own keyword stays as written, as data
    assert '<span translate="no">Barsovy cluster</span>' in dataset
    park, heritage, iucn = WORDS[lang][2:]
    for html in (listing, area):
        assert park in html and heritage in html
    assert iucn in listing and '<span translate="no">Ia</span>' in listing
    assert '<span translate="no">Municipal birch grove</span>' in listing


def test_english_pages_show_the_terms_as_they_are(client, store):
    dataset = client.get("/datasets/leopard-traps", params={"lang": "en"}).text
    assert re.search(r'data-term="camera trap">camera trap<', dataset)
    listing = client.get("/areas", params={"lang": "en"}).text
    assert ">National Park<" in listing and ">UNESCO World Heritage Site<" in listing


@pytest.mark.parametrize(("lang", "comma", "semicolon"),
                         [("zh", "、", "；"), ("ru", ", ", "; "), ("en", ", ", "; ")])
def test_lists_are_set_apart_the_languages_way(client, store, lang, comma, semicolon):
    """Chinese enumerates with 、 (and ； between longer items), Russian and English with ", "."""
    dataset = client.get("/datasets/leopard-traps", params={"lang": lang}).text
    keywords = re.search(r'<dd>(<span class="term".*?)</dd>', dataset).group(1)
    parts = re.split(r"<span[^>]*>[^<]*</span>", keywords)
    assert len(parts) == 4 and parts[1:3] == [comma, comma], keywords
    area = client.get(f"/areas/{_area_ids(store)['LAND']}", params={"lang": lang}).text
    designation = re.search(r'<span><span class="term".*?</span>(.*?)<span', area).group(1)
    assert designation == semicolon
