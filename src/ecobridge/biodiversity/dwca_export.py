"""Darwin Core Archive export: a dataset's occurrences and every extension row its imports
kept, as one star with meta.xml and eml.xml.

    data = export_dwca(store, principal, "kz-birds")          # the zip, as bytes

The core follows the data. Normally it is an Occurrence core (every occurrence of the
dataset), with the kept extension rows that hang on those occurrences (Multimedia,
MeasurementOrFact, ResourceRelationship, ...) and, for occurrences derived from camera-trap
events, the media taken during the event. A dataset whose imports had a Taxon or an Event core
keeps those core rows too; when all its occurrences hang on them (an archive that came in with
that core), that core goes out again, the occurrences as its Occurrence extension and the other
kept rows (VernacularName, Description, Reference, ...) as theirs. A star has one core, so in a
dataset that mixes both kinds the rows hanging on a Taxon or Event core are not written.

Everything is read under the access policy, as the core rows are: a hidden dataset is a 404;
for a reader without full access to a sensitive dataset, coordinates in any row are snapped
to the dataset's grid (location_sql), uncertainty widened, locality and location identifiers
withheld and the rows say so; media rows kept from imported archives go only to readers with
full access (their files cannot be generalised), and a camera-trap medium not marked public
only to those its path is for (media.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import quoteattr

from ecobridge.biodiversity.archive import DWC, EVENT, OCCURRENCE, TAXON, local_name
from ecobridge.biodiversity.eml import eml_document, generalisation_note
from ecobridge.biodiversity.media import file_path_sql
from ecobridge.catalog.service import get_dataset
from ecobridge.governance.policy import (
    Principal,
    dataset_filter_sql,
    located_sql,
    record_read,
)

DC = "http://purl.org/dc/terms/"
# Terms of `properties` that go out again, in this order (others stay in the store).
EXPORT_PROPERTIES = (
    "type", "license", "rightsHolder", "datasetID", "institutionCode", "collectionCode",
    "datasetName", "catalogNumber", "recordNumber", "occurrenceRemarks", "associatedMedia",
    "eventID", "parentEventID", "eventDate", "habitat", "samplingProtocol", "samplingEffort",
    "eventRemarks", "locationID", "country", "stateProvince", "municipality", "geodeticDatum",
    "coordinatePrecision", "minimumElevationInMeters", "maximumElevationInMeters",
    "minimumDistanceAboveSurfaceInMeters", "maximumDistanceAboveSurfaceInMeters",
    "identifiedBy", "dateIdentified", "identificationVerificationStatus",
    "identificationRemarks", "typeStatus", "taxonID", "references", "verbatimCoordinates",
    "verbatimLatitude", "verbatimLongitude", "verbatimCoordinateSystem", "verbatimSRS",
    "georeferenceProtocol")
# position text a generalised occurrence leaves out (the decimal position is snapped)
VERBATIM_POSITION = ("verbatimCoordinates", "verbatimLatitude", "verbatimLongitude")
DC_TERMS = {"type", "license", "rightsHolder", "references", "modified", "language"}
CORE_COLUMNS = ("occurrenceID", "basisOfRecord", "occurrenceStatus", "eventDate",
                "scientificName", "taxonRank", "kingdom", "phylum", "class", "order", "family",
                "genus", "vernacularName", "individualCount", "sex", "lifeStage", "behavior",
                "organismID", "recordedBy", "countryCode", "locality", "decimalLatitude",
                "decimalLongitude", "coordinateUncertaintyInMeters",
                "dataGeneralizations", "informationWithheld")
MULTIMEDIA = "http://rs.tdwg.org/ac/terms/Multimedia"
MULTIMEDIA_TERMS = (
    "http://purl.org/dc/terms/identifier", "http://purl.org/dc/elements/1.1/type",
    "http://ns.adobe.com/xap/1.0/CreateDate", "http://rs.tdwg.org/ac/terms/captureDevice",
    "http://rs.tdwg.org/ac/terms/resourceCreationTechnique",
    "http://rs.tdwg.org/ac/terms/accessURI", "http://purl.org/dc/terms/format")
# rows that describe a media file: the file itself cannot be generalised
MEDIA_ROW_TYPES = {MULTIMEDIA, "http://rs.gbif.org/terms/1.0/Multimedia",
                   "http://rs.gbif.org/terms/1.0/Image", "http://eol.org/schema/media/Document"}
# the core row type -> the term an occurrence links to it by
LINKS = {TAXON: "taxonID", EVENT: "eventID"}
# location text a generalised row leaves out (as the core rows leave out locality)
WITHHELD_TERMS = tuple(DWC + t for t in (
    "locality", "verbatimLocality", "locationID", "coordinatePrecision", "verbatimCoordinates",
    "verbatimLatitude", "verbatimLongitude", "footprintWKT", "georeferenceRemarks"))
LAT, LON = DWC + "decimalLatitude", DWC + "decimalLongitude"
UNCERTAINTY = DWC + "coordinateUncertaintyInMeters"
LAYOUT = ('encoding="UTF-8" fieldsTerminatedBy="," linesTerminatedBy="\\n"'
          ' fieldsEnclosedBy="&quot;" ignoreHeaderLines="1"')


def term_iri(name: str) -> str:
    return (DC if name in DC_TERMS else DWC) + name


@dataclass
class Kept:
    row_type: str
    core_id: str
    record: dict[str, str]   # term IRI -> value


@dataclass
class OutFile:
    """One data file of the export: column 0 is the (core) id, `terms` are the columns from
    `first` on, in the order written."""

    location: str
    row_type: str
    terms: list[str]
    rows: list[list]
    core: bool = False
    first: int = 1
    header: list[str] | None = None


# -- occurrences -------------------------------------------------------------------------------
def export_rows(store, principal: Principal, dataset_id: int) -> tuple[list[dict], bool]:
    """The dataset's occurrences as Darwin Core rows, under the access policy, and whether
    their coordinates were generalised."""
    policy = located_sql(principal, "o.geom", "o.dataset_id")
    rows = store.dicts(
        f"SELECT o.*, {policy.columns}, t.taxon_rank, t.kingdom, t.phylum, t.class,"
        " t.\"order\", t.family, t.genus, t.vernacular_names->>'$.en' AS vernacular"
        " FROM occurrences o JOIN datasets d ON d.id = o.dataset_id"
        " LEFT JOIN taxa t ON t.id = o.taxon_id"
        f" WHERE o.dataset_id = ? AND {policy.where} ORDER BY o.event_date, o.occurrence_id",
        [*policy.columns_params, dataset_id, *policy.where_params])
    generalised = any(not r["precise"] and r["lat"] is not None for r in rows)
    return [_dwc_row(r) for r in rows], generalised


def _dwc_row(r: dict) -> dict:
    props = json.loads(r["properties"]) if r["properties"] else {}
    out = {"occurrenceID": r["occurrence_id"], "basisOfRecord": r["basis_of_record"],
           "occurrenceStatus": r["occurrence_status"],
           "eventDate": props.get("eventDate") or _iso(r["event_date"]),
           "scientificName": r["scientific_name"], "taxonRank": r["taxon_rank"],
           "kingdom": r["kingdom"], "phylum": r["phylum"], "class": r["class"],
           "order": r["order"], "family": r["family"], "genus": r["genus"],
           "vernacularName": r["vernacular"], "individualCount": r["individual_count"],
           "sex": r["sex"], "lifeStage": r["life_stage"], "behavior": r["behavior"],
           "organismID": r["organism_id"], "recordedBy": r["recorded_by"],
           "countryCode": r["country_code"], "locality": r["locality"],
           "decimalLatitude": r["lat"], "decimalLongitude": r["lon"],
           "coordinateUncertaintyInMeters": r["coordinate_uncertainty_in_meters"]}
    out.update({k: v for k, v in props.items() if k in EXPORT_PROPERTIES and k not in out})
    out["dataGeneralizations"] = props.get("dataGeneralizations")
    out["informationWithheld"] = props.get("informationWithheld")
    if not r["precise"] and r["lat"] is not None:
        km = r["generalise_km"]
        out["decimalLatitude"], out["decimalLongitude"] = round(r["lat"], 5), round(r["lon"], 5)
        out["coordinateUncertaintyInMeters"] = max(out["coordinateUncertaintyInMeters"] or 0,
                                                   round(km * 1000 / 2 ** 0.5))
        out["dataGeneralizations"] = "; ".join(
            n for n in (generalisation_note(km), out["dataGeneralizations"]) if n)
        out["informationWithheld"] = "; ".join(
            n for n in ("locality and location identifiers withheld",
                        out["informationWithheld"]) if n)
        for key in ("locality", "locationID", "coordinatePrecision"):
            out.pop(key, None)
    if not r["precise"] and [k for k in VERBATIM_POSITION if out.pop(k, None) is not None] \
            and r["lat"] is None:
        out["informationWithheld"] = "; ".join(
            n for n in ("locality and location identifiers withheld",
                        out["informationWithheld"]) if n)
    return out


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- kept rows ---------------------------------------------------------------------------------
def kept_rows(store, principal: Principal, dataset_id: int) -> list[Kept]:
    """The extension (and Taxon or Event core) rows the dataset's imports kept, in the order
    they were kept, under the access policy."""
    geom = ("CASE WHEN x.record_lat IS NOT NULL AND x.record_lon IS NOT NULL"
            " THEN ST_Point(x.record_lon, x.record_lat) END")
    policy = located_sql(principal, geom, "x.dataset_id")
    rows = store.rows(
        f"SELECT x.row_type, x.core_id, x.record, {policy.columns}"
        " FROM (SELECT *, rowid AS n,"
        " TRY_CAST(json_extract_string(record, ?) AS DOUBLE) AS record_lat,"
        " TRY_CAST(json_extract_string(record, ?) AS DOUBLE) AS record_lon"
        " FROM dwca_extension_rows WHERE dataset_id = ?) x JOIN datasets d ON d.id = x.dataset_id"
        f" WHERE {policy.where} ORDER BY x.run_id, x.n",
        [*policy.columns_params, f'$."{LAT}"', f'$."{LON}"', dataset_id, *policy.where_params])
    out = []
    for row_type, core_id, record, glat, glon, precise, km in rows:
        record = json.loads(record)
        if not precise:
            if row_type in MEDIA_ROW_TYPES:
                continue
            _generalise(record, km, glat, glon)
        out.append(Kept(row_type, core_id, record))
    return out


def _generalise(record: dict, km: float, lat: float | None, lon: float | None) -> None:
    """A row of a sensitive dataset for a reader without full access, as _dwc_row does."""
    notes = []
    if lat is not None and record.get(LAT) is not None:
        record[LAT], record[LON] = str(round(lat, 5)), str(round(lon, 5))
        try:
            given = float(record.get(UNCERTAINTY) or 0)
        except ValueError:
            given = 0
        record[UNCERTAINTY] = str(max(given, round(km * 1000 / 2 ** 0.5)))
        notes.append(generalisation_note(km))
    removed = [t for t in WITHHELD_TERMS if record.pop(t, None) is not None]
    if notes:
        record[DWC + "dataGeneralizations"] = "; ".join(
            [*notes, *filter(None, [record.get(DWC + "dataGeneralizations")])])
    if removed:
        record[DWC + "informationWithheld"] = "; ".join(
            ["locality and location identifiers withheld",
             *filter(None, [record.get(DWC + "informationWithheld")])])


# -- the archive -------------------------------------------------------------------------------
def export_dwca(store, principal: Principal, dataset: str | int) -> bytes:
    """The dataset as a Darwin Core Archive (zip bytes); NotFound if hidden."""
    ds = get_dataset(store, principal, dataset)
    rows, generalised = export_rows(store, principal, ds["id"])
    kept = kept_rows(store, principal, ds["id"])
    core_type = _core_type(rows, kept)
    if core_type == OCCURRENCE:
        files = _occurrence_star(store, principal, ds["id"], rows, kept)
    else:
        files = _other_star(core_type, rows, kept)
    record_read(store, principal, dataset_ids=[ds["id"]], kind="dwca",
                count=sum(len(f.rows) for f in files))
    eml = eml_document(ds, generalised=generalised, count=len(rows),
                       created=datetime.now(UTC))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.writestr(f.location, _table_text(f))
        z.writestr("meta.xml", _meta(files))
        z.writestr("eml.xml", eml)
    return out.getvalue()


def _core_type(rows: list[dict], kept: list[Kept]) -> str:
    """Taxon or Event when the dataset keeps core rows of that one kind and every occurrence
    hangs on one of them; else Occurrence."""
    kinds = {k.row_type for k in kept if k.row_type in LINKS}
    if len(kinds) != 1:
        return OCCURRENCE
    kind = kinds.pop()
    ids = {k.core_id for k in kept if k.row_type == kind}
    return kind if all(r.get(LINKS[kind]) in ids for r in rows) else OCCURRENCE


def _occurrence_columns(rows: list[dict]) -> list[str]:
    extra = [k for k in EXPORT_PROPERTIES
             if k not in CORE_COLUMNS and any(r.get(k) is not None for r in rows)]
    return [c for c in CORE_COLUMNS if c in ("occurrenceID", "basisOfRecord")
            or any(r.get(c) is not None for r in rows)] + extra


def _occurrence_star(store, principal: Principal, dataset_id: int, rows: list[dict],
                     kept: list[Kept]) -> list[OutFile]:
    header = _occurrence_columns(rows)
    core = OutFile("occurrence.csv", OCCURRENCE, [term_iri(c) for c in header],
                   [[r.get(c) for c in header] for r in rows], core=True, first=0,
                   header=header)
    ids = {r["occurrenceID"] for r in rows}
    attached = [k for k in kept if k.row_type not in LINKS and k.core_id in ids]
    media = [k for k in attached if k.row_type == MULTIMEDIA]
    media += _camera_media(store, principal, dataset_id, ids)
    files = [core]
    if media:
        files.append(_extension(MULTIMEDIA, media, "occurrenceID", list(MULTIMEDIA_TERMS)))
    files += _extensions([k for k in attached if k.row_type != MULTIMEDIA], "occurrenceID",
                         taken={f.location for f in files})
    return files


def _other_star(core_type: str, rows: list[dict], kept: list[Kept]) -> list[OutFile]:
    """A Taxon or Event core from the kept core rows; the occurrences as its Occurrence
    extension, linked by taxonID or eventID."""
    link = LINKS[core_type]
    core_rows = [k for k in kept if k.row_type == core_type]
    core = _extension(core_type, core_rows, "id")
    core.core = True
    ids = {k.core_id for k in core_rows}
    header = _occurrence_columns(rows)
    occurrences = OutFile("occurrence.csv", OCCURRENCE, [term_iri(c) for c in header],
                          [[r[link], *(r.get(c) for c in header)] for r in rows],
                          header=[link, *header])
    files = [core, *([occurrences] if rows else [])]
    return files + _extensions(
        [k for k in kept if k.row_type != core_type and k.core_id in ids], link,
        taken={f.location for f in files})


def _extensions(kept: list[Kept], id_name: str, taken: set[str]) -> list[OutFile]:
    """One file per row type, named after it."""
    files = []
    for row_type in dict.fromkeys(k.row_type for k in kept):
        f = _extension(row_type, [k for k in kept if k.row_type == row_type], id_name, [],
                       taken)
        taken.add(f.location)
        files.append(f)
    return files


def _extension(row_type: str, kept: list[Kept], id_name: str, terms: list[str] | None = None,
               taken: set[str] = frozenset()) -> OutFile:
    """Column 0 the core id; then `terms` and every other term the rows hold, first seen
    first."""
    terms = list(dict.fromkeys([*(terms or []), *(t for k in kept for t in k.record)]))
    stem = re.sub(r"[^a-z0-9_-]", "", local_name(row_type).lower()) or "extension"
    location, n = f"{stem}.csv", 1
    while location in taken:
        n += 1
        location = f"{stem}-{n}.csv"
    return OutFile(location, row_type, terms,
                   [[k.core_id, *(k.record.get(t) for t in terms)] for k in kept],
                   header=[id_name, *(local_name(t) for t in terms)])


def _camera_media(store, principal: Principal, dataset_id: int, occurrence_ids: set
                  ) -> list[Kept]:
    """For occurrences derived from camera-trap events, the media taken during the event (as
    camtrapdp::write_dwc does), where the reader may have their path."""
    path, path_params = file_path_sql(principal, "m", "d")
    visible, visible_params = dataset_filter_sql(principal, "o.dataset_id")
    taken = store.rows(
        "SELECT o.occurrence_id, m.media_id, CASE WHEN m.file_mediatype LIKE 'video/%'"
        " THEN 'MovingImage' WHEN m.file_mediatype LIKE 'audio/%' THEN 'Sound'"
        " ELSE 'StillImage' END, strftime(m.timestamp, '%Y-%m-%dT%H:%M:%SZ'), p.camera_model,"
        " CASE m.capture_method WHEN 'activityDetection' THEN 'activity detection'"
        "  WHEN 'timeLapse' THEN 'time lapse' ELSE m.capture_method END,"
        f" {path}, m.file_mediatype"
        " FROM occurrences o JOIN datasets d ON d.id = o.dataset_id"
        " JOIN camtrap_observations c ON c.dataset_id = o.dataset_id"
        "  AND c.observation_id = o.camtrap_observation_id"
        " JOIN camtrap_deployments p ON p.dataset_id = c.dataset_id"
        "  AND p.deployment_id = c.deployment_id"
        " JOIN camtrap_media m ON m.dataset_id = c.dataset_id"
        "  AND m.deployment_id = c.deployment_id"
        "  AND m.timestamp BETWEEN c.event_start AND c.event_end"
        f" WHERE o.dataset_id = ? AND {visible} AND {path} IS NOT NULL"
        " ORDER BY o.event_date, o.occurrence_id, m.timestamp, m.media_id",
        [*path_params, dataset_id, *visible_params, *path_params])
    return [Kept(MULTIMEDIA, row[0], {t: v for t, v in zip(MULTIMEDIA_TERMS, row[1:], strict=True)
                                      if v is not None})
            for row in taken if row[0] in occurrence_ids]


def _table_text(f: OutFile) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(f.header or [])
    writer.writerows(["" if v is None else v for v in row] for row in f.rows)
    return text.getvalue()


def _meta(files: list[OutFile]) -> str:
    """meta.xml with every attribute spelled out (readers differ on the defaults); the core
    is the first file."""
    parts = []
    for f in files:
        tag, id_tag = ("core", "id") if f.core else ("extension", "coreid")
        fields = "\n".join(f'    <field index="{i}" term={quoteattr(term)}/>'
                           for i, term in enumerate(f.terms, start=f.first))
        parts.append(f'  <{tag} {LAYOUT} rowType={quoteattr(f.row_type)}>\n'
                     f"    <files><location>{f.location}</location></files>\n"
                     f'    <{id_tag} index="0"/>\n{fields}\n  </{tag}>\n')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">\n'
            + "".join(parts) + "</archive>\n")


__all__ = ["export_dwca", "export_rows", "kept_rows"]
