"""Darwin Core Archive import: meta.xml with the XSD defaults, core and extensions, rejects with
file, row, field and reason, the malformed real Plazi archive, and a second import adding
nothing. Expected values are read from the archives' files here, with the csv module."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dwca_meta import DWC, meta_xml
from hypothesis import given, settings
from hypothesis import strategies as st

from ecobridge.biodiversity.archive import Field, FileSpec, parse_meta, read_archive, read_file
from ecobridge.biodiversity.dwca import import_dwca
from ecobridge.errors import InvalidInput, NotFound

MULTIMEDIA = "http://rs.tdwg.org/ac/terms/Multimedia"


def _zip(folder: Path, name: str, files: dict[str, str]) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as z:
        for file, text in files.items():
            z.writestr(file, text)
    return path


def _source_rows(zip_path: Path, member: str, delimiter: str = ",") -> list[dict]:
    with zipfile.ZipFile(zip_path) as z:
        text = z.read(member).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


# -- meta.xml ----------------------------------------------------------------------------------
def test_meta_xml_defaults_follow_the_xsd():
    """Attributes left out take the XSD defaults, not python-dwca-reader's tab/no-quote ones."""
    _, specs = parse_meta(b"""<archive xmlns="http://rs.tdwg.org/dwc/text/">
      <core><files><location>o.csv</location></files><id index="0"/>
        <field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
        <field term="http://rs.tdwg.org/dwc/terms/country" default="Kyrgyzstan"/></core>
      <extension rowType="http://rs.gbif.org/terms/1.0/VernacularName"
                 fieldsTerminatedBy="\\t" fieldsEnclosedBy="" linesTerminatedBy="\\r\\n"
                 ignoreHeaderLines="1" encoding="ISO-8859-1">
        <files><location>v.txt</location></files><coreid index="0"/></extension>
    </archive>""")
    core, ext = specs
    assert (core.fields_terminated_by, core.lines_terminated_by, core.fields_enclosed_by,
            core.encoding, core.ignore_header_lines) == (",", "\n", '"', "UTF-8", 0)
    assert core.row_type == "http://rs.tdwg.org/dwc/terms/SimpleDarwinRecord"
    assert core.fields[1].default == "Kyrgyzstan" and core.fields[1].index is None
    assert (ext.fields_terminated_by, ext.fields_enclosed_by, ext.lines_terminated_by,
            ext.ignore_header_lines, ext.encoding) == ("\t", "", "\r\n", 1, "ISO-8859-1")


def test_defaults_applied_when_reading(store, tmp_path, world):
    """No header line by default, comma and quotes, and default values for absent or empty
    cells."""
    meta = """<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
      <core rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
        <files><location>occ.csv</location></files><id index="0"/>
        <field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
        <field index="1" term="http://rs.tdwg.org/dwc/terms/scientificName"/>
        <field index="2" term="http://rs.tdwg.org/dwc/terms/locality" default="unknown"/>
        <field term="http://rs.tdwg.org/dwc/terms/basisOfRecord" default="HumanObservation"/>
        <field term="http://rs.tdwg.org/dwc/terms/countryCode" default="KZ"/>
      </core></archive>"""
    path = _zip(tmp_path, "a.zip", {
        "meta.xml": meta, "eml.xml": "<eml/>",
        "occ.csv": 'k1,"Panthera uncia","Aksu-Zhabagly, west ridge"\nk2,Ovis ammon,\n'})
    report = import_dwca(store, path, dataset="open-records")
    assert (report.rows_in, report.rows_accepted, report.rows_inserted) == (2, 2, 2)
    rows = store.dicts("SELECT occurrence_id, scientific_name, locality, basis_of_record,"
                       " country_code FROM occurrences ORDER BY 1")
    assert rows == [
        {"occurrence_id": "k1", "scientific_name": "Panthera uncia",
         "locality": "Aksu-Zhabagly, west ridge", "basis_of_record": "HumanObservation",
         "country_code": "KZ"},
        {"occurrence_id": "k2", "scientific_name": "Ovis ammon", "locality": "unknown",
         "basis_of_record": "HumanObservation", "country_code": "KZ"}]
    assert store.scalar("SELECT count(*) FROM taxa WHERE scientific_name IN"
                        " ('Panthera uncia', 'Ovis ammon')") == 2


# -- the real archives -------------------------------------------------------------------------
def test_camtrap_dwca_core_and_multimedia(store, shared_data, world):
    path = shared_data / "dwca" / "camtrap-dp-example-dwca.zip"
    source = _source_rows(path, "occurrence.csv")
    media = _source_rows(path, "multimedia.csv")
    report = import_dwca(store, path, dataset="open-records", principal=world.owner)
    assert report.status == "done" and report.kind == "dwca"
    assert report.rows_in == len(source) + len(media) == report.rows_accepted
    assert report.rows_rejected == 0 and report.rows_inserted == report.rows_in
    stored = {r["occurrence_id"]: r for r in store.dicts(
        "SELECT o.*, t.kingdom FROM occurrences o LEFT JOIN taxa t ON t.id = o.taxon_id")}
    assert set(stored) == {r["occurrenceID"] for r in source}
    for row in source:
        got = stored[row["occurrenceID"]]
        assert got["scientific_name"] == row["scientificName"]
        assert got["basis_of_record"] == row["basisOfRecord"] == "MachineObservation"
        assert got["decimal_latitude"] == float(row["decimalLatitude"])
        assert got["decimal_longitude"] == float(row["decimalLongitude"])
        assert got["individual_count"] == int(row["individualCount"])
        assert got["kingdom"] == row["kingdom"]
        start = row["eventDate"].split("/")[0]
        assert got["event_date"] == datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC)
        props = json.loads(got["properties"])
        assert props["eventDate"] == row["eventDate"]
        assert props["parentEventID"] == row["parentEventID"]
    kept = store.dicts("SELECT core_id, record FROM dwca_extension_rows WHERE row_type = ?",
                       [MULTIMEDIA])
    assert len(kept) == len(media)
    uris = {(r["core_id"], json.loads(r["record"])["http://rs.tdwg.org/ac/terms/accessURI"])
            for r in kept}
    assert uris == {(m["occurrenceID"], m["accessURI"]) for m in media}

    again = import_dwca(store, path, dataset="open-records", principal=world.owner)
    assert (again.rows_in, again.rows_inserted, again.rows_unchanged) == (
        report.rows_in, 0, report.rows_in)
    assert store.scalar("SELECT count(*) FROM occurrences") == len(source)
    assert store.scalar("SELECT count(*) FROM dwca_extension_rows") == len(media)


def test_malformed_plazi_archive_imports_with_a_warning(store, shared_data, world):
    path = shared_data / "dwca" / "plazi-draposa-taxon-core-dwca.zip"
    with zipfile.ZipFile(path) as z:
        taxa = [r for r in csv.DictReader(io.StringIO(z.read("taxa.txt").decode()),
                                          delimiter="\t")]
        materials = list(csv.DictReader(io.StringIO(z.read("occurrences.txt").decode()),
                                        delimiter="\t", quoting=csv.QUOTE_NONE))
    report = import_dwca(store, path, dataset="open-records")
    assert report.status == "done"
    assert "metadata.xml" in report.message and "eml.xml" in report.message
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    # the archive repeats one taxon id (the genus and a synonym): the second row is rejected
    first = {}
    for number, r in enumerate(taxa, start=1):
        first.setdefault(r["Identifier"], (number, r["ScientificName"]))
    repeated = [n for n, r in enumerate(taxa, start=1) if first[r["Identifier"]][0] != n]
    assert {(r["file"], r["row_number"], r["field"]) for r in report.rejects} == {
        ("taxa.txt", n, "id") for n in repeated}
    assert report.rows_rejected == len(repeated) == 1
    names = {name for _, name in first.values()}
    assert {n for (n,) in store.rows("SELECT scientific_name FROM taxa")} == names
    occurrences = store.dicts("SELECT occurrence_id, basis_of_record, scientific_name,"
                              " decimal_latitude FROM occurrences")
    assert {o["occurrence_id"] for o in occurrences} == {m["Identifier"] for m in materials}
    # basisOfRecord comes from the field's default; the name from the Taxon core row
    assert {o["basis_of_record"] for o in occurrences} == {"PreservedSpecimen"}
    core_name = {k: name for k, (_, name) in first.items()}
    by_id = {o["occurrence_id"]: o for o in occurrences}
    for m in materials:
        assert by_id[m["Identifier"]]["scientific_name"] == core_name[m["TaxonID"]]
        lat = m["Latitude"].strip()
        assert by_id[m["Identifier"]]["decimal_latitude"] == (float(lat) if lat else None)
    kinds = dict(store.rows("SELECT row_type, count(*) FROM dwca_extension_rows GROUP BY 1"))
    assert kinds["http://rs.gbif.org/terms/1.0/Description"] > 0
    assert store.scalar("SELECT message FROM ingest_runs WHERE id = ?",
                        [report.run_id]) == report.message


def test_synthetic_archives_are_rejected_row_by_row(store, shared_data, world):
    """The python-dwca-reader samples lack occurrenceID / scientificName and use an old
    basisOfRecord: every row is rejected with its reason, nothing crashes."""
    simple = import_dwca(store, shared_data / "dwca" / "dwca-simple-test-archive.zip",
                         dataset="open-records")
    assert (simple.rows_in, simple.rows_rejected, simple.rows_accepted) == (2, 2, 0)
    reasons = {(r["file"], r["row_number"], r["field"]) for r in simple.rejects}
    assert ("occurrence.txt", 1, "occurrenceID") in reasons
    assert ("occurrence.txt", 2, "basisOfRecord") in reasons
    star = import_dwca(store, shared_data / "dwca" / "dwca-star-test-archive.zip",
                       dataset="open-records")
    assert (star.rows_in, star.rows_rejected) == (8, 8)
    assert {(r["file"], r["field"]) for r in star.rejects} == {
        ("taxon.txt", "scientificName"), ("vernacularname.txt", "coreid")}


def test_bad_rows_named_by_file_row_field(store, tmp_path, world):
    meta = meta_xml((DWC + "Occurrence", "occurrence.csv", [DWC + t for t in (
        "occurrenceID", "basisOfRecord", "scientificName", "decimalLatitude",
        "decimalLongitude", "eventDate", "individualCount")]),
        ("http://rs.tdwg.org/ac/terms/Multimedia", "multimedia.csv",
         ["http://rs.tdwg.org/ac/terms/accessURI"]), layout='ignoreHeaderLines="1"')
    occurrences = ("id,basis,name,lat,lon,date,count\n"
                   "a1,HumanObservation,Uncia uncia,42.1,75.2,2024-06,1\n"
                   "a2,HumanObservation,Uncia uncia,95,75.2,2024-06-02,1\n"
                   "a3,Sighting,Uncia uncia,42.1,75.2,2024-06-03,1\n"
                   "a1,HumanObservation,Uncia uncia,42.1,75.2,2024-06-04,1\n"
                   "a5,HumanObservation,Uncia uncia,42.1,,2024-06-05,1\n"
                   "a6,HumanObservation,Uncia uncia,42.1,75.2,last June,two\n"
                   "a7,HumanObservation\n")
    multimedia = "id,uri\na1,https://example.org/1.jpg\nzz,https://example.org/2.jpg\n"
    path = _zip(tmp_path, "bad.zip", {"meta.xml": meta, "eml.xml": "<eml/>",
                                      "occurrence.csv": occurrences,
                                      "multimedia.csv": multimedia})
    report = import_dwca(store, path, dataset="open-records")
    found = {(r["file"], r["row_number"], r["field"]) for r in report.rejects}
    assert found == {
        ("occurrence.csv", 2, "decimalLatitude"), ("occurrence.csv", 3, "basisOfRecord"),
        ("occurrence.csv", 4, "occurrenceID"), ("occurrence.csv", 5, "decimalLongitude"),
        ("occurrence.csv", 6, "eventDate"), ("occurrence.csv", 6, "individualCount"),
        ("occurrence.csv", 7, None), ("multimedia.csv", 2, "coreid")}
    assert (report.rows_in, report.rows_rejected, report.rows_accepted) == (9, 7, 2)
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert store.rows("SELECT occurrence_id, event_date FROM occurrences") == [
        ("a1", datetime(2024, 6, 1, tzinfo=UTC))]
    # the rejects are kept with the whole source row
    raw = store.scalar("SELECT raw FROM quarantine WHERE run_id = ? AND file = ?"
                       " AND row_number = 2", [report.run_id, "occurrence.csv"])
    assert json.loads(raw)["decimalLatitude"] == "95"


def test_unreadable_archive_is_a_failed_run(store, tmp_path, world):
    path = _zip(tmp_path, "broken.zip", {"meta.xml": "<archive><core>"})
    with pytest.raises(InvalidInput, match="meta.xml is not well-formed"):
        import_dwca(store, path, dataset="open-records")
    status, message = store.one("SELECT status, message FROM ingest_runs ORDER BY id DESC")
    assert status == "failed" and "meta.xml" in message
    with pytest.raises(InvalidInput, match="not hold"):
        import_dwca(store, _zip(tmp_path, "m.zip", {"meta.xml": (
            '<archive xmlns="http://rs.tdwg.org/dwc/text/"><core><files><location>gone.csv'
            '</location></files></core></archive>')}), dataset="open-records")


def test_simple_darwin_core_without_meta_xml(tmp_path):
    path = _zip(tmp_path, "simple.zip", {"records.csv": (
        "occurrenceID,basisOfRecord,scientificName\nx1,HumanObservation,Lynx lynx\n")})
    archive = read_archive(path)
    assert any("simple Darwin Core" in w for w in archive.warnings)
    assert archive.core.columns["http://rs.tdwg.org/dwc/terms/scientificName"] == ["Lynx lynx"]


def test_only_publishers_of_the_owner_import(store, shared_data, world):
    path = shared_data / "dwca" / "camtrap-dp-example-dwca.zip"
    from ecobridge.errors import Forbidden

    with pytest.raises(Forbidden):
        import_dwca(store, path, dataset="open-records", principal=world.precise)
    with pytest.raises(NotFound):  # a stranger does not learn the private dataset exists
        import_dwca(store, path, dataset="secret-traps", principal=world.outsider)
    assert store.scalar("SELECT count(*) FROM occurrences") == 0


# -- the reader as a parser: whatever a writer quotes, the reader gets back -------------------
_cells = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                 max_size=12)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_cells, min_size=3, max_size=3), min_size=1, max_size=8),
       delimiter=st.sampled_from([",", ";", "\t", "|"]), header=st.integers(0, 2),
       crlf=st.booleans())
def test_quoted_files_read_back(rows, delimiter, header, crlf):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, quotechar='"', quoting=csv.QUOTE_ALL,
                        lineterminator="\r\n" if crlf else "\n")
    for _ in range(header):
        writer.writerow(["h1", "h2", "h3"])
    writer.writerows(rows)
    spec = FileSpec(row_type="x", locations=["f.csv"], id_index=0,
                    fields=[Field(term=f"t{i}", index=i) for i in range(3)],
                    fields_terminated_by=delimiter, ignore_header_lines=header)
    data = read_file(spec, "f.csv", text.getvalue().encode("utf-8"))
    expected = [[c.strip() or None for c in r] for r in rows]
    assert [[data.columns[f"t{i}"][n] for i in range(3)] for n in range(len(data.rows))] \
        == expected
    assert data.ids == [r[0] for r in expected] and data.rows == list(range(1, len(rows) + 1))


def test_event_core_lends_its_terms_to_occurrences(store, tmp_path, world):
    meta = """<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
      <core rowType="http://rs.tdwg.org/dwc/terms/Event" fieldsTerminatedBy="\\t"
            fieldsEnclosedBy="" ignoreHeaderLines="1">
        <files><location>event.txt</location></files><id index="0"/>
        <field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/>
        <field index="1" term="http://rs.tdwg.org/dwc/terms/eventDate"/>
        <field index="2" term="http://rs.tdwg.org/dwc/terms/decimalLatitude"/>
        <field index="3" term="http://rs.tdwg.org/dwc/terms/decimalLongitude"/></core>
      <extension rowType="http://rs.tdwg.org/dwc/terms/Occurrence" fieldsTerminatedBy="\\t"
                 fieldsEnclosedBy="" ignoreHeaderLines="1">
        <files><location>occurrence.txt</location></files><coreid index="0"/>
        <field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
        <field index="2" term="http://rs.tdwg.org/dwc/terms/scientificName"/>
        <field term="http://rs.tdwg.org/dwc/terms/basisOfRecord" default="HumanObservation"/>
      </extension></archive>"""
    path = _zip(tmp_path, "events.zip", {
        "meta.xml": meta, "eml.xml": "<eml/>",
        "event.txt": "id\tdate\tlat\tlon\nE1\t2023-07-14\t42.5\t77.1\nE2\t2023-07-15\t\t\n",
        "occurrence.txt": "event\tid\tname\nE1\to1\tUncia uncia\nE1\to2\tCapra sibirica\n"
                          "E2\to3\tMarmota baibacina\nE9\to4\tUncia uncia\n"})
    report = import_dwca(store, path, dataset="open-records")
    assert (report.rows_in, report.rows_accepted, report.rows_rejected) == (6, 5, 1)
    assert [(r["file"], r["row_number"], r["field"]) for r in report.rejects] == [
        ("occurrence.txt", 4, "coreid")]
    rows = store.rows("SELECT occurrence_id, event_date, decimal_latitude, properties->>'$.eventID'"
                      " FROM occurrences ORDER BY 1")
    assert rows == [("o1", datetime(2023, 7, 14, tzinfo=UTC), 42.5, "E1"),
                    ("o2", datetime(2023, 7, 14, tzinfo=UTC), 42.5, "E1"),
                    ("o3", datetime(2023, 7, 15, tzinfo=UTC), None, "E2")]
    assert store.scalar("SELECT count(*) FROM dwca_extension_rows WHERE row_type ="
                        " 'http://rs.tdwg.org/dwc/terms/Event'") == 2
