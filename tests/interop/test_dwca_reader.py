"""python-dwca-reader (the Belgian Biodiversity Platform's reader) on our Darwin Core Archive
exports, downloaded from the real server: every row, the terms and the values as stored, the
EML, and the access policy as a reader sees it."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import httpx
import pytest
from biodiversity.conftest import build_world
from dwca.read import DwCAReader
from serving import serve

from ecobridge.biodiversity.camtrap import import_camtrap_dp
from ecobridge.biodiversity.dwca import import_dwca
from ecobridge.governance.tokens import create_token

DWC = "http://rs.tdwg.org/dwc/terms/"


@pytest.fixture
def archives(settings, store, shared_data, tmp_path):
    world = build_world(store)
    import_dwca(store, shared_data / "dwca" / "camtrap-dp-example-dwca.zip",
                dataset="open-records")
    import_dwca(store, shared_data / "dwca" / "plazi-draposa-taxon-core-dwca.zip",
                dataset="open-records")
    import_camtrap_dp(store, shared_data / "camtrap-dp-example", dataset="tiger-traps")
    tokens = {u: create_token(store, user=u, days=1)["token"] for u in ("aigerim", "ivan")}
    with serve(settings, store) as base:
        def fetch(dataset: str, user: str | None = None):
            headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
            response = httpx.get(f"{base}/api/v1/datasets/{dataset}/dwca", headers=headers,
                                 timeout=120)
            if response.status_code != 200:
                return response.status_code
            path = tmp_path / f"{dataset}-{user}.zip"
            path.write_bytes(response.content)
            return path

        yield world, fetch


def _stored(store, dataset: str) -> dict[str, dict]:
    return {r["occurrence_id"]: r for r in store.dicts(
        "SELECT o.* FROM occurrences o JOIN datasets d ON d.id = o.dataset_id WHERE d.slug = ?",
        [dataset])}


def test_reader_reads_every_row_with_its_terms_and_values(archives, store):
    _, fetch = archives
    path = fetch("open-records")
    stored = _stored(store, "open-records")
    with DwCAReader(str(path)) as reader:
        assert reader.descriptor.core.type == DWC + "Occurrence"
        rows = list(reader)
        terms = set(reader.descriptor.core.terms)
        title = reader.metadata.find("dataset/title").text
        rights = reader.metadata.find("dataset/intellectualRights/para").text
    assert len(rows) == len(stored) == 29 + 47
    assert {DWC + t for t in ("occurrenceID", "basisOfRecord", "scientificName", "eventDate",
                              "decimalLatitude", "decimalLongitude")} <= terms
    assert title == "Open records" and "CC-BY-4.0" in rights
    for row in rows:
        data = row.data
        got = stored[row.id]
        assert data[DWC + "occurrenceID"] == got["occurrence_id"] == row.id
        assert data[DWC + "scientificName"] == got["scientific_name"]
        assert data[DWC + "basisOfRecord"] == got["basis_of_record"]
        lat = data[DWC + "decimalLatitude"]
        assert (float(lat) if lat else None) == got["decimal_latitude"]
        props = json.loads(got["properties"] or "{}")
        if "eventDate" in props:  # the verbatim Darwin Core value, intervals included
            assert data[DWC + "eventDate"] == props["eventDate"]
        count = data[DWC + "individualCount"]
        assert (int(count) if count else None) == got["individual_count"]


def test_reader_sees_the_policy(archives, store):
    _, fetch = archives
    assert fetch("tiger-traps") == 404            # anonymous: the dataset is not there
    precise = {}
    with DwCAReader(str(fetch("tiger-traps", "ivan"))) as reader:
        for row in reader:
            precise[row.id] = (float(row.data[DWC + "decimalLatitude"]),
                               float(row.data[DWC + "decimalLongitude"]))
    stored = _stored(store, "tiger-traps")
    assert precise == {k: (v["decimal_latitude"], v["decimal_longitude"])
                       for k, v in stored.items()}
    with DwCAReader(str(fetch("tiger-traps", "aigerim"))) as reader:
        rows = list(reader)
        note = reader.metadata.find("dataset/additionalInfo/para").text
        methods = ET.tostring(reader.metadata.find("dataset/methods"), encoding="unicode")
    assert len(rows) == len(precise)
    assert "generalised" in note and "10 km" in methods
    for row in rows:
        lat = float(row.data[DWC + "decimalLatitude"])
        lon = float(row.data[DWC + "decimalLongitude"])
        assert not math.isclose(lat, precise[row.id][0], abs_tol=1e-6) or \
            not math.isclose(lon, precise[row.id][1], abs_tol=1e-6)
        assert "generalised" in row.data[DWC + "dataGeneralizations"]
        assert float(row.data[DWC + "coordinateUncertaintyInMeters"]) >= 7000
        assert not row.data.get(DWC + "locality")


def _media(reader) -> set[tuple[str, str]]:
    out = set()
    for row in reader:
        for ext in row.extensions:
            assert ext.rowtype == "http://rs.tdwg.org/ac/terms/Multimedia"
            out.add((row.id, ext.data["http://purl.org/dc/terms/identifier"]))
    return out


def test_multimedia_extension_matches_camtrapdp_write_dwc(archives, store, shared_data):
    """Media of each camera-trap event, as the R package camtrapdp writes them (its output for
    the same example is the archive in ../shared/data/dwca); non-public media only for those
    with full access."""
    import csv
    import io
    import zipfile

    _, fetch = archives
    with zipfile.ZipFile(shared_data / "dwca" / "camtrap-dp-example-dwca.zip") as z:
        expected = {(r["occurrenceID"], r["identifier"]) for r in csv.DictReader(
            io.StringIO(z.read("multimedia.csv").decode("utf-8")))}
    with DwCAReader(str(fetch("tiger-traps", "ivan"))) as reader:
        assert _media(reader) == expected
    with DwCAReader(str(fetch("open-records"))) as reader:  # kept from the imported archive
        assert _media(reader) == expected
    hidden = sorted(expected)[0][1]
    store.execute("UPDATE camtrap_media SET file_public = false WHERE media_id = ?", [hidden])
    with DwCAReader(str(fetch("tiger-traps", "aigerim"))) as reader:
        assert _media(reader) == {m for m in expected if m[1] != hidden}
    with DwCAReader(str(fetch("tiger-traps", "ivan"))) as reader:
        assert _media(reader) == expected
