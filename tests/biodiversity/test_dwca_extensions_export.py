"""Darwin Core Archive export of every extension the store keeps: real archives imported,
exported, and read back with python-dwca-reader (the Belgian Biodiversity Platform's reader),
every extension's rows compared with the input's (counts and values), under the access policy.

Inputs: the real Plazi archive (Taxon core with Occurrence, Description, EOL media Document
and Reference rows), the real camtrap DwC-A (Occurrence core + Audubon Multimedia) with
MeasurementOrFact and ResourceRelationship files added in a temporary copy, and a small Event
core archive written here. Expected values come from the input files, read with
python-dwca-reader (Plazi through a copy whose meta.xml names its real metadata file)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from dwca.read import DwCAReader
from dwca_meta import file_xml, meta_xml

from ecobridge.biodiversity.dwca import import_dwca
from ecobridge.biodiversity.dwca_export import export_dwca
from ecobridge.errors import NotFound
from ecobridge.governance.policy import location_sql

DWC = "http://rs.tdwg.org/dwc/terms/"
TAXON, OCCURRENCE, EVENT = DWC + "Taxon", DWC + "Occurrence", DWC + "Event"
MULTIMEDIA = "http://rs.tdwg.org/ac/terms/Multimedia"
MOF = "http://rs.iobis.org/obis/terms/ExtendedMeasurementOrFact"
RELATION = DWC + "ResourceRelationship"


def _filled(data: dict) -> dict:
    """The terms that hold a value, trimmed as the importer trims cells (archive.py)."""
    return {k: v.strip() for k, v in data.items() if v and v.strip()}


def _read(path: Path) -> tuple[str, dict[str, dict], dict[str, Counter], dict[str, list]]:
    """(core row type, core rows by id (the first of a repeated id), extension rows per row
    type as a multiset of (core id, filled values), extension rows per row type)."""
    with DwCAReader(str(path)) as reader:
        core: dict[str, dict] = {}
        for row in reader.core_file.iter_rows():
            core.setdefault(row.id, _filled(row.data))
        rows: dict[str, list] = {}
        for f in reader.extension_files:
            for row in f.iter_rows():
                rows.setdefault(row.rowtype, []).append((row.core_id, _filled(row.data)))
        kind = reader.descriptor.core.type
    multisets = {t: Counter((c, tuple(sorted(d.items()))) for c, d in r)
                 for t, r in rows.items()}
    return kind, core, multisets, rows


def _save(data: bytes, path: Path) -> Path:
    path.write_bytes(data)
    return path


def _plazi_input(shared_data: Path, folder: Path) -> Path:
    """The Plazi archive unpacked for python-dwca-reader, which refuses the original: meta.xml
    names the metadata file the archive holds, and the lone carriage-return lines between
    description.txt's rows (no data rows: the importer skips them as empty) are dropped."""
    with zipfile.ZipFile(shared_data / "dwca" / "plazi-draposa-taxon-core-dwca.zip") as z:
        z.extractall(folder)
    meta = folder / "meta.xml"
    meta.write_text(meta.read_text("utf-8").replace('metadata="metadata.xml"',
                                                    'metadata="eml.xml"'), "utf-8")
    for path in folder.glob("*.txt"):
        lines = path.read_bytes().split(b"\n")
        path.write_bytes(b"\n".join(line for line in lines if line != b"\r"))
    return folder


def test_taxon_core_round_trip(store, shared_data, tmp_path, world):
    source = shared_data / "dwca" / "plazi-draposa-taxon-core-dwca.zip"
    report = import_dwca(store, source, dataset="open-records")
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert report.rows_accepted == report.rows_inserted + report.rows_unchanged
    kind, core, extensions, ext_rows = _read(_plazi_input(shared_data, tmp_path / "in"))
    assert kind == TAXON and len(extensions) >= 3
    assert report.rows_in == sum(1 for _ in DwCAReader(str(tmp_path / "in")).core_file
                                 .iter_rows()) + sum(len(r) for r in ext_rows.values())

    exported = _save(export_dwca(store, world.anonymous, "open-records"), tmp_path / "out.zip")
    out_kind, out_core, out_extensions, out_rows = _read(exported)
    assert out_kind == TAXON
    assert out_core == core  # the repeated id once, with its first row's values
    for row_type, rows in extensions.items():
        if row_type == OCCURRENCE:
            continue
        assert out_extensions[row_type] == rows, row_type  # every row, every value
    # occurrences: one per input row, linked to the same taxon, the input's values kept for
    # every term the export writes
    occurrences = {d[DWC + "occurrenceID"]: (c, d) for c, d in out_rows[OCCURRENCE]}
    assert len(occurrences) == len(ext_rows[OCCURRENCE])
    written = {t for _, d in out_rows[OCCURRENCE] for t in d}
    for core_id, data in ext_rows[OCCURRENCE]:
        got_core, got = occurrences[data[DWC + "occurrenceID"]]
        assert got_core == core_id
        for term, value in data.items():
            if term in written:
                assert got[term] == value, term
        assert got[DWC + "scientificName"] == core[core_id][DWC + "scientificName"]
    assert set(out_extensions) == set(extensions)

    again = import_dwca(store, exported, dataset="secret-traps")
    assert again.rows_in == again.rows_accepted + again.rows_rejected
    assert again.rows_rejected == 0
    assert again.rows_in == len(out_core) + sum(len(r) for r in out_rows.values())


def _with_more_extensions(shared_data: Path, path: Path) -> Path:
    """The real camtrap DwC-A plus a MeasurementOrFact and a ResourceRelationship file built
    from its own occurrences."""
    with zipfile.ZipFile(shared_data / "dwca" / "camtrap-dp-example-dwca.zip") as z:
        files = {n: z.read(n) for n in z.namelist()}
    occurrences = list(csv.DictReader(io.StringIO(files["occurrence.csv"].decode("utf-8"))))
    mof, rel = io.StringIO(), io.StringIO()
    mof_w, rel_w = csv.writer(mof, lineterminator="\n"), csv.writer(rel, lineterminator="\n")
    mof_w.writerow(["occurrenceID", "measurementType", "measurementValue", "measurementUnit"])
    rel_w.writerow(["occurrenceID", "relatedResourceID", "relationshipOfResource"])
    for o in occurrences:
        mof_w.writerow([o["occurrenceID"], "individual count", o["individualCount"], ""])
        mof_w.writerow([o["occurrenceID"], "event duration", o["eventDate"], "interval"])
        rel_w.writerow([o["occurrenceID"], o["parentEventID"], "taken during deployment"])
    more = (file_xml("extension", (MOF, "mof.csv", [DWC + t for t in (
        "measurementType", "measurementValue", "measurementUnit")])),
            file_xml("extension", (RELATION, "relations.csv", [DWC + t for t in (
                "relatedResourceID", "relationshipOfResource")])))
    meta = files["meta.xml"].decode("utf-8").replace(
        "</archive>", "\n".join(("", *more, "</archive>")))
    files.update({"meta.xml": meta.encode(), "mof.csv": mof.getvalue().encode(),
                  "relations.csv": rel.getvalue().encode()})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def test_occurrence_core_round_trip_and_access(store, shared_data, tmp_path, world):
    source = _with_more_extensions(shared_data, tmp_path / "in.zip")
    kind, core, extensions, _ = _read(source)
    assert kind == OCCURRENCE and set(extensions) == {MULTIMEDIA, MOF, RELATION}
    report = import_dwca(store, source, dataset="tiger-traps", principal=world.owner)
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert report.rows_rejected == 0

    # full access: every extension row with every value, the core rows as they came
    precise = _save(export_dwca(store, world.precise, "tiger-traps"), tmp_path / "p.zip")
    out_kind, out_core, out_extensions, _ = _read(precise)
    assert out_kind == OCCURRENCE and set(out_core) == set(core)
    assert out_extensions == extensions
    with zipfile.ZipFile(precise) as z:
        meta = z.read("meta.xml").decode()
    for row_type in (MULTIMEDIA, MOF, RELATION):
        assert f'rowType="{row_type}"' in meta

    # a sensitive dataset without precise access: the same measurement and relation rows,
    # media rows withheld, the occurrences generalised; hidden ones stay hidden
    coarse = _save(export_dwca(store, world.partner, "tiger-traps"), tmp_path / "c.zip")
    _, coarse_core, coarse_extensions, _ = _read(coarse)
    assert set(coarse_extensions) == {MOF, RELATION}
    assert coarse_extensions[MOF] == extensions[MOF]
    assert coarse_extensions[RELATION] == extensions[RELATION]
    assert all("generalised" in r[DWC + "dataGeneralizations"] for r in coarse_core.values())
    for principal in (world.outsider, world.anonymous):
        with pytest.raises(NotFound):
            export_dwca(store, principal, "tiger-traps")


EVENT_META = meta_xml(
    (EVENT, "event.csv", [DWC + t for t in ("eventID", "eventDate", "decimalLatitude",
                                           "decimalLongitude", "locality",
                                           "samplingProtocol")]),
    (OCCURRENCE, "occurrence.csv", [DWC + "occurrenceID", DWC + "scientificName",
                                    DWC + "individualCount",
                                    (DWC + "basisOfRecord", "HumanObservation")]),
    (MOF, "mof.csv", [DWC + "measurementType", DWC + "measurementValue"]))
EVENTS = ("eventID,eventDate,lat,lon,locality,protocol\n"
          "ev1,2024-06-01,43.123456,77.654321,Aksu-Zhabagly ridge,transect\n"
          "ev2,2024-06-02,42.5,75.25,Issyk-Kul north shore,point count\n")
EVENT_OCCURRENCES = ("eventID,occurrenceID,name,count\n"
                     "ev1,o1,Panthera uncia,1\nev1,o2,Ovis ammon,4\nev2,o3,Uncia uncia,2\n")
EVENT_MOF = "eventID,type,value\nev1,snow depth (cm),35\nev2,snow depth (cm),0\n"


def test_event_core_round_trip_generalised(store, tmp_path, world):
    source = tmp_path / "events.zip"
    with zipfile.ZipFile(source, "w") as z:
        for name, text in (("meta.xml", EVENT_META), ("eml.xml", "<eml/>"),
                           ("event.csv", EVENTS), ("occurrence.csv", EVENT_OCCURRENCES),
                           ("mof.csv", EVENT_MOF)):
            z.writestr(name, text)
    report = import_dwca(store, source, dataset="tiger-traps", principal=world.owner)
    assert report.rows_in == report.rows_accepted + report.rows_rejected == 2 + 3 + 2
    _, core, extensions, ext_rows = _read(source)

    owner = _save(export_dwca(store, world.owner, "tiger-traps"), tmp_path / "owner.zip")
    kind, out_core, out_extensions, out_rows = _read(owner)
    assert kind == EVENT and out_core == core
    assert out_extensions[MOF] == extensions[MOF]
    got = {d[DWC + "occurrenceID"]: (c, d) for c, d in out_rows[OCCURRENCE]}
    assert len(got) == len(ext_rows[OCCURRENCE])
    for core_id, data in ext_rows[OCCURRENCE]:
        assert got[data[DWC + "occurrenceID"]][0] == core_id
        assert data.items() <= got[data[DWC + "occurrenceID"]][1].items()

    # the partner's copy: event coordinates on the dataset's grid, locality withheld
    partner = _save(export_dwca(store, world.partner, "tiger-traps"), tmp_path / "p.zip")
    kind, coarse, coarse_extensions, _ = _read(partner)
    assert kind == EVENT and set(coarse) == set(core)
    assert coarse_extensions[MOF] == extensions[MOF]
    loc, params = location_sql(world.partner, "ST_Point(p.lon, p.lat)", "d")
    for event_id, row in core.items():
        lat, lon = float(row[DWC + "decimalLatitude"]), float(row[DWC + "decimalLongitude"])
        grid = store.one(f"SELECT ST_Y({loc}), ST_X({loc}) FROM datasets d,"
                         " (SELECT CAST(? AS DOUBLE) AS lon, CAST(? AS DOUBLE) AS lat) p"
                         " WHERE d.slug = ?", [*params, *params, lon, lat, "tiger-traps"])
        out = coarse[event_id]
        assert (float(out[DWC + "decimalLatitude"]), float(out[DWC + "decimalLongitude"])) \
            == pytest.approx(grid, abs=1e-5)
        assert float(out[DWC + "decimalLatitude"]) != pytest.approx(lat, abs=1e-6)
        assert DWC + "locality" not in out and "generalised" in out[DWC + "dataGeneralizations"]
        assert float(out[DWC + "coordinateUncertaintyInMeters"]) >= 7000

