"""Positions given only as text (verbatimCoordinates, verbatimLatitude + verbatimLongitude):
the strict reader on the forms real museum and field records use (Latin and Cyrillic
hemispheres, DMS, decimal minutes, decimal degrees), its edges and its refusals, and the
Darwin Core Archive import that uses it: counts, positions, rejects naming file, row, field and
value, the export (verbatim text kept, round trip), and the sensitive-dataset read path.

Expected positions are computed here from the numbers in the text (d + m/60 + s/3600)."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import pytest
from dwca.read import DwCAReader
from dwca_meta import meta_xml
from hypothesis import given
from hypothesis import strategies as st

from ecobridge.biodiversity import service
from ecobridge.biodiversity.dwca import import_dwca
from ecobridge.biodiversity.dwca_export import export_dwca
from ecobridge.biodiversity.verbatim import METRES_PER_DEGREE, Unreadable, read_position
from ecobridge.errors import NotFound
from ecobridge.governance.policy import location_sql
from ecobridge.monitoring.reasons import REASONS

DWC = "http://rs.tdwg.org/dwc/terms/"
EVENT, OCCURRENCE = DWC + "Event", DWC + "Occurrence"


def dms(d: float, m: float = 0, s: float = 0) -> float:
    return d + m / 60 + s / 3600


def _coords(text: str, system: str | None = None):
    row = {"verbatimCoordinates": text}
    if system:
        row["verbatimCoordinateSystem"] = system
    return read_position(row)


# -- the reader --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, system, lat, lon", [
    ("43°15'30\"N 76°57'E", None, dms(43, 15, 30), dms(76, 57)),
    ("43 15 30 N, 76 57 00 E", None, dms(43, 15, 30), dms(76, 57)),
    ("N43.2583 E76.95", None, 43.2583, 76.95),
    ("43.2583N 76.95E", None, 43.2583, 76.95),
    ("43°15.5'N 76°57.25'E", None, dms(43, 15.5), dms(76, 57.25)),
    ("43°15' с.ш. 76°57' в.д.", None, dms(43, 15), dms(76, 57)),
    ("43°15′30″ с. ш., 76°57′ в. д.", None, dms(43, 15, 30), dms(76, 57)),
    ("51°10'12\" С.Ш. 71°26'45\" В.Д.", None, dms(51, 10, 12), dms(71, 26, 45)),
    ("41 05 54S 121 05 34W", None, -dms(41, 5, 54), -dms(121, 5, 34)),
    ("45°30' ю.ш. 70°15' з.д.", None, -dms(45, 30), -dms(70, 15)),
    ("76°57'E 43°15'N", None, dms(43, 15), dms(76, 57)),             # letters say the axes
    ("42º52’44’’N 74º35’40’’E", None, dms(42, 52, 44), dms(74, 35, 40)),  # typographic marks
    ("S 41.0983; W 121.0928", None, -41.0983, -121.0928),
    ("43.2583, 76.95", "decimal degrees", 43.2583, 76.95),
    ("-43.2583, -76.95", "Decimal Degrees", -43.2583, -76.95),
    ("43 15 30 76 57 00", "degrees minutes seconds", dms(43, 15, 30), dms(76, 57)),
    ("43°15'30\" 76°57'10\"", "degrees minutes seconds", dms(43, 15, 30), dms(76, 57, 10)),
    ("43 15.5, 76 57.25", "degrees decimal minutes", dms(43, 15.5), dms(76, 57.25)),
    # edges: the poles, the antimeridian, minutes and seconds just below 60
    ("90°00'00\"N 180°00'00\"E", None, 90.0, 180.0),
    ("90S 180W", None, -90.0, -180.0),
    ("43°59.999'N 76°59'59.9\"E", None, dms(43, 59.999), dms(76, 59, 59.9)),
])
def test_forms_read(text, system, lat, lon):
    found = _coords(text, system)
    assert (found.latitude, found.longitude) == pytest.approx((lat, lon), abs=1e-6)
    assert found.source == "verbatimCoordinates"


def test_separate_fields_say_the_axis():
    found = read_position({"verbatimLatitude": "43°15'30\"", "verbatimLongitude": "-76°57'",
                           "verbatimCoordinates": "ignored when the separate fields are given"})
    assert (found.latitude, found.longitude) == pytest.approx((dms(43, 15, 30), -dms(76, 57)))
    found = read_position({"verbatimLatitude": "43 15 30 с.ш.", "verbatimLongitude": "76.95"})
    assert (found.latitude, found.longitude) == pytest.approx((dms(43, 15, 30), 76.95))
    assert read_position({"verbatimCoordinateSystem": "UTM", "locality": "Almaty"}) is None


@pytest.mark.parametrize("row, field, code", [
    ({"verbatimCoordinates": "43.2583, 76.95"}, "verbatimCoordinates", "verbatim-order-unknown"),
    ({"verbatimCoordinates": "43 15 30 76 57 00"}, "verbatimCoordinates",
     "verbatim-order-unknown"),
    ({"verbatimCoordinates": "43°60'N 76°E"}, "verbatimCoordinates", "verbatim-minutes-seconds"),
    ({"verbatimCoordinates": "43°15'60\"N 76°E"}, "verbatimCoordinates",
     "verbatim-minutes-seconds"),
    ({"verbatimCoordinates": "90°00'01\"N 76°E"}, "verbatimCoordinates",
     "verbatim-latitude-range"),
    ({"verbatimCoordinates": "90.0001N 76E"}, "verbatimCoordinates", "verbatim-latitude-range"),
    ({"verbatimCoordinates": "43N 180°00'00.1\"W"}, "verbatimCoordinates",
     "verbatim-longitude-range"),
    ({"verbatimCoordinates": "-43°15'N 76°E"}, "verbatimCoordinates",
     "verbatim-sign-and-hemisphere"),
    ({"verbatimCoordinates": "43N 76N"}, "verbatimCoordinates", "verbatim-hemisphere"),
    ({"verbatimCoordinates": "43°15' с.ш. 76°57'"}, "verbatimCoordinates",
     "verbatim-hemisphere"),
    ({"verbatimCoordinates": "43.5°15'N 76E"}, "verbatimCoordinates", "verbatim-unreadable"),
    ({"verbatimCoordinates": "15'30\"N 76E"}, "verbatimCoordinates", "verbatim-unreadable"),
    ({"verbatimCoordinates": "near Almaty, 10 km N"}, "verbatimCoordinates",
     "verbatim-unreadable"),
    ({"verbatimCoordinates": "43N, 76E, 800 m"}, "verbatimCoordinates", "verbatim-unreadable"),
    ({"verbatimCoordinates": "43°15'N 76°57'E", "verbatimCoordinateSystem": "decimal degrees"},
     "verbatimCoordinates", "verbatim-system-mismatch"),
    ({"verbatimCoordinates": "43N 76E", "verbatimCoordinateSystem": "UTM"},
     "verbatimCoordinateSystem", "verbatim-system"),
    ({"verbatimLatitude": "76°57'E", "verbatimLongitude": "43°15'N"}, "verbatimLatitude",
     "verbatim-hemisphere"),
    ({"verbatimLatitude": "43,25", "verbatimLongitude": "76,95"}, "verbatimLatitude",
     "verbatim-unreadable"),
    ({"verbatimLatitude": "43°15'"}, "verbatimLongitude", "dwca-coordinates-together"),
    ({"verbatimLatitude": "43", "verbatimLongitude": "181"}, "verbatimLongitude",
     "verbatim-longitude-range"),
])
def test_bad_text_refused_with_field_and_value(row, field, code):
    with pytest.raises(Unreadable) as caught:
        read_position(row)
    err = caught.value
    assert (err.field, err.reason.code) == (field, code)
    assert code in REASONS
    if code != "dwca-coordinates-together":  # names the field and (quoted) the value
        assert err.value == row[field]
        assert field in err.reason.text and repr(row[field]) in err.reason.text


def test_uncertainty_from_the_precision_of_the_text():
    whole_second = _coords("43°15'30\"N 76°57'10\"E").uncertainty_m
    whole_minute = _coords("43°15'N 76°57'E").uncertainty_m
    tenth_minute = _coords("43°15.5'N 76°57.2'E").uncertainty_m
    whole_degree = _coords("43N 76E").uncertainty_m
    four_decimals = _coords("43.2583N 76.9500E").uncertainty_m
    diagonal = METRES_PER_DEGREE * math.sqrt(2)
    assert whole_degree == math.ceil(diagonal) > 150_000
    assert whole_minute == math.ceil(diagonal / 60)
    assert whole_second == math.ceil(diagonal / 3600)
    assert tenth_minute == math.ceil(diagonal / 600)
    assert four_decimals == math.ceil(diagonal / 10_000)
    # the coarser axis rules: minutes on one, seconds on the other
    assert whole_second < _coords("43°15'30\"N 76°57'E").uncertainty_m <= whole_minute


@given(lat=st.integers(-90 * 3600, 90 * 3600), lon=st.integers(-180 * 3600, 180 * 3600),
       cyrillic=st.booleans(), leading=st.booleans())
def test_any_whole_second_position_reads_back(lat, lon, cyrillic, leading):
    def text(seconds: int, letters: str) -> str:
        d, rest = divmod(abs(seconds), 3600)
        m, s = divmod(rest, 60)
        letter = letters[seconds < 0]
        if cyrillic:
            letter = {"N": "с.ш.", "S": "ю.ш.", "E": "в.д.", "W": "з.д."}[letter]
        return f"{letter} {d}°{m}'{s}\"" if leading else f"{d}°{m}'{s}\" {letter}"

    found = _coords(f"{text(lat, 'NS')} {text(lon, 'EW')}")
    assert found.latitude == pytest.approx(lat / 3600, abs=1e-6)
    assert found.longitude == pytest.approx(lon / 3600, abs=1e-6)


# -- the import --------------------------------------------------------------------------------
TERMS = ["occurrenceID", "basisOfRecord", "scientificName", "eventDate", "decimalLatitude",
         "decimalLongitude", "coordinateUncertaintyInMeters", "verbatimCoordinates",
         "verbatimLatitude", "verbatimLongitude", "verbatimCoordinateSystem", "geodeticDatum",
         "locality"]
META = meta_xml((OCCURRENCE, "occurrence.csv", [DWC + t for t in TERMS]))
H = "HumanObservation"
ROWS = [  # (row, expected position or the rejected field)
    (["v1", "PreservedSpecimen", "Panthera uncia", "1936-07", "", "", "",
      "43°15'30\"N 76°57'E", "", "", "", "", "Talgar"], (dms(43, 15, 30), dms(76, 57))),
    (["v2", "PreservedSpecimen", "Ovis ammon", "1951", "", "", "5000",
      "43°15' с.ш. 76°57' в.д.", "", "", "", "Pulkovo 1942", ""], (dms(43, 15), dms(76, 57))),
    (["v3", H, "Capra sibirica", "1978-08-02", "", "", "", "", "42 52 44 N", "74 35 40 E",
      "degrees minutes seconds", "", ""], (dms(42, 52, 44), dms(74, 35, 40))),
    (["v4", H, "Capra sibirica", "1978-08-03", "", "", "", "", "42.875", "", "", "", ""],
     "verbatimLongitude"),  # a verbatimLatitude without its longitude
    (["d1", H, "Uncia uncia", "2024-06-01", "42.1", "75.2", "", "", "", "", "", "WGS84", ""],
     (42.1, 75.2)),
    (["n1", H, "Uncia uncia", "2024-06-02", "", "", "", "", "", "", "", "", "Naryn"], None),
    (["b1", H, "Uncia uncia", "1936", "", "", "", "43°61'N 76°E", "", "", "", "", ""],
     "verbatimCoordinates"),
    (["b2", H, "Uncia uncia", "1936", "", "", "", "43.25, 76.95", "", "", "", "", ""],
     "verbatimCoordinates"),
    (["b3", "Sighting", "Uncia uncia", "1936", "", "", "", "43N 76E", "", "", "", "", ""],
     "basisOfRecord"),
    (["b4", H, "Uncia uncia", "1936", "", "", "", "43°15'N 76°57'E", "", "", "UTM", "", ""],
     "verbatimCoordinateSystem"),
    (["d2", H, "Uncia uncia", "2024-06-03", "42.1", "", "", "43N 76E", "", "", "", "", ""],
     "decimalLongitude"),  # a decimal coordinate given: the text is not used
]


def _archive(path: Path, rows: list[list[str]], meta: str = META) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TERMS)
    writer.writerows(rows)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta.xml", meta)
        z.writestr("eml.xml", "<eml/>")
        z.writestr("occurrence.csv", out.getvalue())
    return path


def _export_rows(data: bytes, path: Path) -> dict[str, dict]:
    path.write_bytes(data)
    with DwCAReader(str(path)) as reader:
        return {r.data[DWC + "occurrenceID"]: {k: v for k, v in r.data.items() if v}
                for r in reader.core_file.iter_rows()}


def test_import_reads_verbatim_positions(store, tmp_path, world):
    path = _archive(tmp_path / "old.zip", [r for r, _ in ROWS])
    report = import_dwca(store, path, dataset="open-records", principal=world.owner)
    bad = {r[0]: e for r, e in ROWS if isinstance(e, str)}
    good = {r[0]: e for r, e in ROWS if not isinstance(e, str)}
    assert (report.rows_in, report.rows_rejected, report.rows_accepted) == \
        (len(ROWS), len(bad), len(good))
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert report.rows_accepted == report.rows_inserted + report.rows_unchanged
    order = [r[0] for r, _ in ROWS]
    assert {(r["file"], r["row_number"], r["field"]) for r in report.rejects} == {
        ("occurrence.csv", order.index(i) + 1, f) for i, f in bad.items()}
    by_row = {r["row_number"]: r for r in report.rejects}
    b1 = by_row[order.index("b1") + 1]
    assert b1["value"] == "43°61'N 76°E" and b1["reason_code"] == "verbatim-minutes-seconds"
    assert "verbatimCoordinates" in b1["reason"] and "43°61'N 76°E" in b1["reason"]
    # the quarantine keeps the row as it came, not as filled
    assert "decimalLatitude" not in b1["raw"] and b1["raw"]["verbatimCoordinates"]
    assert by_row[order.index("b2") + 1]["reason_code"] == "verbatim-order-unknown"

    stored = {r[0]: r[1:] for r in store.rows(
        "SELECT occurrence_id, decimal_latitude, decimal_longitude, ST_Y(geom), ST_X(geom),"
        " coordinate_uncertainty_in_meters, properties FROM occurrences")}
    assert set(stored) == set(good)
    for oid, position in good.items():
        lat, lon, glat, glon, unc, props = stored[oid]
        if position is None:
            assert lat is lon is glat is None
            continue
        assert (lat, lon) == (glat, glon) == pytest.approx(position, abs=1e-6)
    props = {oid: json.loads(stored[oid][5] or "{}") for oid in stored}
    assert props["v1"]["verbatimCoordinates"] == "43°15'30\"N 76°57'E"   # kept as given
    assert "verbatimCoordinates" in props["v1"]["georeferenceProtocol"]
    assert "precision of the text" in props["v1"]["georeferenceProtocol"]
    assert stored["v1"][4] == math.ceil(METRES_PER_DEGREE * math.hypot(1 / 3600, 1 / 60))
    assert stored["v2"][4] == 5000                      # a given uncertainty stays
    assert "precision" not in props["v2"]["georeferenceProtocol"]
    assert props["v2"]["geodeticDatum"] == "Pulkovo 1942"
    assert "verbatimLatitude" in props["v3"]["georeferenceProtocol"]
    assert "georeferenceProtocol" not in props["d1"] and stored["d1"][4] is None

    # the export: decimal position, verbatim text and how it was read; it imports again
    # (into another dataset) to the same positions, uncertainties and text
    out = _export_rows(export_dwca(store, world.owner, "open-records"), tmp_path / "out.zip")
    assert set(out) == set(good)
    v1 = out["v1"]
    assert (float(v1[DWC + "decimalLatitude"]), float(v1[DWC + "decimalLongitude"])) == \
        pytest.approx(good["v1"], abs=1e-6)
    assert v1[DWC + "verbatimCoordinates"] == "43°15'30\"N 76°57'E"
    assert v1[DWC + "georeferenceProtocol"] == props["v1"]["georeferenceProtocol"]
    assert out["v3"][DWC + "verbatimLatitude"] == "42 52 44 N"
    assert out["v3"][DWC + "verbatimCoordinateSystem"] == "degrees minutes seconds"
    again = import_dwca(store, tmp_path / "out.zip", dataset="secret-traps",
                        principal=world.owner)
    assert (again.rows_in, again.rows_rejected) == (len(good), 0)
    back = {r[0]: r[1:] for r in store.rows(
        "SELECT occurrence_id, decimal_latitude, decimal_longitude,"
        " coordinate_uncertainty_in_meters, properties->>'$.georeferenceProtocol'"
        " FROM occurrences o JOIN datasets d ON d.id = o.dataset_id"
        " WHERE d.slug = 'secret-traps'")}
    for oid in good:
        lat, lon, unc, protocol = back[oid]
        assert (lat, lon) == ((None, None) if good[oid] is None
                              else pytest.approx(stored[oid][:2], abs=1e-9))
        assert unc == stored[oid][4] and protocol == props[oid].get("georeferenceProtocol")
    # the same archive twice adds nothing
    twice = import_dwca(store, path, dataset="open-records", principal=world.owner)
    assert (twice.rows_inserted, twice.rows_unchanged) == (0, len(good))


def _grid(store, principal, lat: float, lon: float) -> tuple[float, float]:
    loc, params = location_sql(principal, "ST_Point(p.lon, p.lat)", "d")
    return store.one(f"SELECT ST_Y({loc}), ST_X({loc}) FROM datasets d,"
                     " (SELECT CAST(? AS DOUBLE) AS lon, CAST(? AS DOUBLE) AS lat) p"
                     " WHERE d.slug = ?", [*params, *params, lon, lat, "tiger-traps"])


def test_sensitive_text_positions_are_generalised_like_decimal_ones(store, tmp_path, world):
    rows = [["t1", H, "Panthera tigris", "1962-05", "", "", "",
             "43°15'30\" с.ш. 131°57'10\" в.д.", "", "", "", "", "Kedrovaya Pad"],
            ["t2", H, "Panthera tigris", "1962-06", "43.2583333", "131.9527778", "", "", "",
             "", "", "", "Kedrovaya Pad"]]
    report = import_dwca(store, _archive(tmp_path / "t.zip", rows), dataset="tiger-traps",
                         principal=world.owner)
    assert (report.rows_accepted, report.rows_rejected) == (2, 0)
    # an occurrence stored with position text only (written before this reader, or by the
    # service): no decimal position to snap, and the text still stays with full access
    service.add_occurrences(store, dataset="tiger-traps", principal=world.owner, rows=[
        {"occurrence_id": "t3", "basis_of_record": H, "scientific_name": "Panthera tigris",
         "properties": {"verbatimCoordinates": "43°16'N 131°58'E"}}])
    lat, lon = dms(43, 15, 30), dms(131, 57, 10)

    precise = _export_rows(export_dwca(store, world.precise, "tiger-traps"), tmp_path / "p.zip")
    assert (float(precise["t1"][DWC + "decimalLatitude"]),
            float(precise["t1"][DWC + "decimalLongitude"])) == pytest.approx((lat, lon))
    assert precise["t1"][DWC + "verbatimCoordinates"] == rows[0][7]
    assert precise["t3"][DWC + "verbatimCoordinates"] == "43°16'N 131°58'E"

    coarse = _export_rows(export_dwca(store, world.partner, "tiger-traps"), tmp_path / "c.zip")
    grid = _grid(store, world.partner, lat, lon)
    assert grid != pytest.approx((lat, lon), abs=1e-4)
    for oid in ("t1", "t2"):   # the text position and the decimal one: the same treatment
        out = coarse[oid]
        assert (float(out[DWC + "decimalLatitude"]), float(out[DWC + "decimalLongitude"])) \
            == pytest.approx(grid, abs=1e-5)
        assert float(out[DWC + "coordinateUncertaintyInMeters"]) >= 7000
        assert "generalised" in out[DWC + "dataGeneralizations"]
        assert "withheld" in out[DWC + "informationWithheld"]
        assert not {DWC + t for t in ("verbatimCoordinates", "verbatimLatitude",
                                      "verbatimLongitude", "locality")} & set(out)
    assert DWC + "verbatimCoordinates" not in coarse["t3"]
    assert "withheld" in coarse["t3"][DWC + "informationWithheld"]
    with zipfile.ZipFile(tmp_path / "c.zip") as z:
        text = "".join(z.read(n).decode() for n in z.namelist())
    assert "°" not in text and "Kedrovaya" not in text
    for principal in (world.outsider, world.anonymous):
        with pytest.raises(NotFound):
            export_dwca(store, principal, "tiger-traps")


EVENT_META = meta_xml(
    (EVENT, "event.csv", [DWC + t for t in ("eventID", "eventDate", "verbatimCoordinates",
                                           "locality")]),
    (OCCURRENCE, "occurrence.csv", [DWC + "occurrenceID", DWC + "scientificName",
                                    (DWC + "basisOfRecord", "HumanObservation")]))


def test_event_core_text_positions_reach_its_occurrences(store, tmp_path, world):
    source = tmp_path / "events.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("meta.xml", EVENT_META)
        z.writestr("eml.xml", "<eml/>")
        z.writestr("event.csv", "eventID,eventDate,coords,locality\n"
                                "ev1,1965-07-01,\"43°07'N, 131°54'E\",Kedrovaya Pad\n")
        z.writestr("occurrence.csv", "eventID,occurrenceID,name\nev1,o1,Panthera tigris\n")
    report = import_dwca(store, source, dataset="tiger-traps", principal=world.owner)
    assert (report.rows_accepted, report.rows_rejected) == (2, 0)
    assert store.one("SELECT decimal_latitude, decimal_longitude FROM occurrences"
                     " WHERE occurrence_id = 'o1'") == pytest.approx((dms(43, 7), dms(131, 54)))
    path = tmp_path / "partner.zip"
    path.write_bytes(export_dwca(store, world.partner, "tiger-traps"))
    with zipfile.ZipFile(path) as z:
        text = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".csv"))
    assert "43°07'N" not in text and "Kedrovaya" not in text
