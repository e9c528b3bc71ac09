"""Camtrap DP 1.0 - 1.0.2 import and export (writes 1.0.2).

    report = import_camtrap_dp(store, "package/", dataset="demo-camtrap-x", principal=p)
    data = export_camtrap_dp(store, principal, "demo-camtrap-x")     # zip bytes

Import: the package (a folder or a zip holding datapackage.json) is validated offline with
frictionless against the vendored profile (camtrap_profile.py); an invalid package is refused
whole with an error naming resource, row and field. The tables then go in through the
biodiversity service (deployments, media, observations), taxa come from `taxonomic` and the
observed names, and occurrences are derived from the event-level animal observations. Rows whose
id the dataset holds already count as unchanged, so a package imported twice adds nothing. The
descriptor (project, contributors, licences, ...) is kept for the export.

Export: the three tables, read under the access policy (a sensitive dataset seen without full
access gets grid-snapped deployment coordinates, no location names or EXIF, a widened
coordinateUncertainty, and says so in `description` and `coordinatePrecision`), and a
datapackage.json that validates against the vendored 1.0.2 profile.

Media not marked public (filePublic: "`false` if the media file is not publicly accessible
(e.g. to protect the privacy of people)") keep their rows, since observations name them by
mediaID, but their filePath goes only to readers with full access to the dataset (owner
members, admins, precise grants; sensitive dataset or not). filePath is required ("URL or
relative path to the media file") and "" counts as missing, so everyone else gets
media.WITHHELD_PATH, a URL under the reserved ".invalid" domain that matches the schema's
pattern and resolves nowhere; `description` says how many. The rule and its reasons are in
media.py, the one place every export takes media paths from.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from ecobridge.biodiversity import service
from ecobridge.biodiversity.archive import ZIP_ERRORS
from ecobridge.biodiversity.camtrap_profile import (
    TABLES,
    WRITE_VERSION,
    profile_url,
    schema_url,
    table_schema,
    validate,
)
from ecobridge.biodiversity.eml import generalisation_note
from ecobridge.biodiversity.media import WITHHELD_PATH, file_path_sql
from ecobridge.biodiversity.runs import fail_run, finish_run, open_run, run_report
from ecobridge.catalog.service import get_dataset
from ecobridge.errors import InvalidInput
from ecobridge.governance.policy import (
    SYSTEM,
    Principal,
    located_sql,
    record_read,
)
from ecobridge.languages import localise
from ecobridge.monitoring.reasons import Reason, reason
from ecobridge.monitoring.report import IngestReport, RowCounts

# Camtrap DP field -> store column, where the plain camelCase -> snake_case rule does not hold.
RENAMED = {"deploymentTags": "tags", "deploymentComments": "comments",
           "mediaComments": "comments", "observationComments": "comments"}
SERVICE_COLUMNS = {"deployments": service.DEPLOYMENT_COLUMNS, "media": service.MEDIA_COLUMNS,
                   "observations": service.DETECTION_COLUMNS}
STORE_TABLES = {"deployments": "camtrap_deployments", "media": "camtrap_media",
                "observations": "camtrap_observations"}
KEYS = {"deployments": "deployment_id", "media": "media_id", "observations": "observation_id"}
MISSING = ["", "NA", "NaN", "nan"]
MAX_PACKAGE_BYTES = 2 * 1024**3
# ISO 639-3 (Camtrap DP vernacularNames) <-> the catalogue's ISO 639-1 language keys
LANGUAGES = {"eng": "en", "zho": "zh", "rus": "ru", "nld": "nl", "fra": "fr", "deu": "de",
             "kaz": "kk", "kir": "ky", "mon": "mn", "tgk": "tg", "uzb": "uz", "spa": "es"}


def column_of(field: str) -> str:
    if field in RENAMED:
        return RENAMED[field]
    name = field.replace("ID", "Id")
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


# -- import ------------------------------------------------------------------------------------
def import_camtrap_dp(store, path: str | Path, *, dataset: str | int,
                      principal: Principal = SYSTEM,
                      occurrence_properties: dict | None = None,
                      file_name: str | None = None) -> IngestReport:
    """Import a package; `occurrence_properties` are added to each derived occurrence."""
    path = Path(path)
    dataset_id, run_id = open_run(store, path, dataset=dataset, kind="camtrap-dp",
                                  principal=principal, file_name=file_name)
    scratch = Path(tempfile.mkdtemp(prefix="camtrap-", dir=_tmp(store)))
    added: dict[str, list[str]] = {t: [] for t in TABLES}
    try:
        folder = _unpack(path, scratch)
        descriptor = _descriptor(folder, path.name)
        version = validate(folder, descriptor, path.name)
        tables = {t: _read(store, folder, descriptor, t) for t in TABLES}
        notes = [reason("camtrap-resource-skipped", name=r.get("name"))
                 for r in descriptor["resources"] if r.get("name") not in TABLES]
        counts = _load(store, dataset_id, principal, descriptor, tables, added, notes,
                       occurrence_properties)
        with store.transaction() as cur:
            kept = {k: v for k, v in descriptor.items() if k != "resources"}
            cur.execute("DELETE FROM camtrap_packages WHERE dataset_id = ?", [dataset_id])
            cur.execute("INSERT INTO camtrap_packages (dataset_id, version, descriptor)"
                        " VALUES (?, ?, ?)",
                        [dataset_id, version, json.dumps(kept, ensure_ascii=False)])
            finish_run(cur, run_id, counts, [], notes)
    except BaseException as exc:
        _remove(store, dataset_id, added)
        fail_run(store, run_id, exc)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return run_report(store, run_id)


def _tmp(store) -> Path:
    folder = Path(store.path).parent / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _unpack(path: Path, scratch: Path) -> Path:
    """The package folder: `path` itself, or a zip's contents (root or one top folder)."""
    if path.is_dir():
        return path
    if not zipfile.is_zipfile(path):
        raise InvalidInput("a Camtrap DP package is a folder or a zip file", file=path.name)
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                parts = Path(info.filename).parts
                if info.filename.startswith(("/", "\\")) or ".." in parts:
                    raise InvalidInput(f"zip entry {info.filename!r} leaves the package",
                                       file=path.name)
            if sum(i.file_size for i in z.infolist()) > MAX_PACKAGE_BYTES:
                raise InvalidInput("package too large to unpack", file=path.name)
            z.extractall(scratch)
    except ZIP_ERRORS as exc:
        raise InvalidInput(f"unreadable zip: {exc}", file=path.name) from None
    found = sorted(scratch.rglob("datapackage.json"), key=lambda p: len(p.parts))
    return found[0].parent if found else scratch


def _descriptor(folder: Path, name: str) -> dict:
    file = folder / "datapackage.json"
    if not file.is_file():
        raise InvalidInput("the package has no datapackage.json", file=name)
    try:
        descriptor = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"datapackage.json is not JSON: {exc}", file=name) from None
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        raise InvalidInput("datapackage.json has no resources list", file=name)
    return descriptor


def _read(store, folder: Path, descriptor: dict, table: str) -> pa.Table:
    """A validated resource as an Arrow table in the service's columns and types. Field names
    never reach the SQL: the columns are renamed c0, c1, ... first."""
    resource = next(r for r in descriptor["resources"] if r.get("name") == table)
    paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
    header = _fields(folder, resource)
    options = pacsv.ConvertOptions(column_types={f: pa.string() for f in header},
                                   strings_can_be_null=True, null_values=MISSING)
    raw = pa.concat_tables([pacsv.read_csv(folder / p, convert_options=options)
                            for p in paths])
    raw = raw.rename_columns([f"c{i}" for i in range(raw.num_columns)])
    columns = SERVICE_COLUMNS[table]
    select = [f"{_cast(f'c{i}', columns[column_of(f)][0])} AS {column_of(f)}"
              for i, f in enumerate(header) if column_of(f) in columns]
    cur = store.cursor()
    cur.register("raw_table", raw)
    try:
        return cur.execute(f"SELECT {', '.join(select)} FROM raw_table").fetch_arrow_table()
    except Exception as exc:
        raise InvalidInput(f"resource {table}: {str(exc).splitlines()[0]}",
                           file=str(paths[0])) from None
    finally:
        cur.unregister("raw_table")


def _fields(folder: Path, resource: dict) -> list[str]:
    """The header of the resource's (first) file."""
    paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
    with (folder / paths[0]).open(newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f))


def _cast(column: str, dtype: pa.DataType) -> str:
    if pa.types.is_timestamp(dtype):
        return f"CAST({column} AS TIMESTAMPTZ)"
    if pa.types.is_floating(dtype):
        return f"CAST({column} AS DOUBLE)"
    if pa.types.is_integer(dtype):
        return f"CAST({column} AS INTEGER)"
    if pa.types.is_boolean(dtype):
        return f"CAST({column} AS BOOLEAN)"
    return column


def _load(store, dataset_id: int, principal: Principal, descriptor: dict,
          tables: dict[str, pa.Table], added: dict[str, list[str]], notes: list[Reason],
          occurrence_properties: dict | None) -> RowCounts:
    counts = RowCounts(rows_in=sum(t.num_rows for t in tables.values()))
    counts.rows_accepted = counts.rows_in
    _add_taxa(store, descriptor, tables["observations"])
    writers = {"deployments": service.add_deployments, "media": service.add_media,
               "observations": service.add_detections}
    for name in TABLES:
        table, key = tables[name], KEYS[name]
        ids = table[key].to_pylist()
        existing = {r[0] for r in store.rows(
            f"SELECT {key} FROM {STORE_TABLES[name]} WHERE dataset_id = ?"
            f" AND {key} IN (SELECT unnest(?::VARCHAR[]))", [dataset_id, ids])}
        fresh = table.filter(pa.array([i not in existing for i in ids], pa.bool_()))
        added[name] = fresh[key].to_pylist()
        writers[name](store, dataset=dataset_id, rows=fresh, principal=principal)
        counts.rows_inserted += fresh.num_rows
    counts.rows_unchanged = counts.rows_accepted - counts.rows_inserted
    derived = service.occurrences_from_detections(store, dataset=dataset_id,
                                                  principal=principal,
                                                  properties=occurrence_properties)
    notes.append(reason("camtrap-occurrences-derived", n=derived))
    return counts


def _add_taxa(store, descriptor: dict, observations: pa.Table) -> None:
    """Taxa of `taxonomic`, then any other observed name as a bare taxon."""
    rows = {}
    for t in descriptor.get("taxonomic") or []:
        names = {LANGUAGES.get(k, k): v for k, v in (t.get("vernacularNames") or {}).items()}
        rows[t["scientificName"]] = {
            "scientific_name": t["scientificName"], "taxon_rank": t.get("taxonRank"),
            **{k: t.get(k) for k in ("kingdom", "phylum", "class", "order", "family",
                                     "genus")},
            "vernacular_names": json.dumps(names, ensure_ascii=False) if names else None}
    for name in observations["scientific_name"].drop_null().unique().to_pylist():
        rows.setdefault(name, {"scientific_name": name})
    if rows:
        service.add_taxa(store, list(rows.values()))


def _remove(store, dataset_id: int, added: dict[str, list[str]]) -> None:
    """Undo what an import added before it failed (observations and their occurrences first)."""
    with store.transaction() as cur:
        for name in reversed(TABLES):
            ids = added.get(name) or []
            if not ids:
                continue
            if name == "observations":
                cur.execute("DELETE FROM occurrences WHERE dataset_id = ? AND"
                            " camtrap_observation_id IN (SELECT unnest(?::VARCHAR[]))",
                            [dataset_id, ids])
            cur.execute(f"DELETE FROM {STORE_TABLES[name]} WHERE dataset_id = ?"
                        f" AND {KEYS[name]} IN (SELECT unnest(?::VARCHAR[]))",
                        [dataset_id, ids])


# -- export ------------------------------------------------------------------------------------
def export_camtrap_dp(store, principal: Principal, dataset: str | int) -> bytes:
    """The dataset's camera-trap data as a Camtrap DP 1.0.2 zip; NotFound if hidden."""
    ds = get_dataset(store, principal, dataset)
    tables, generalised = _export_tables(store, principal, ds["id"])
    record_read(store, principal, dataset_ids=[ds["id"]], kind="camtrap-dp",
                count=sum(len(rows) for rows in tables.values()))
    stored = store.scalar("SELECT descriptor FROM camtrap_packages WHERE dataset_id = ?",
                          [ds["id"]])
    descriptor = _export_descriptor(store, ds, json.loads(stored) if stored else {}, tables,
                                    generalised)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("datapackage.json", json.dumps(descriptor, ensure_ascii=False, indent=2))
        for name in TABLES:
            z.writestr(f"{name}.csv", _csv(name, tables[name]))
    return out.getvalue()


def _export_tables(store, principal: Principal, dataset_id: int
                   ) -> tuple[dict[str, list[dict]], bool]:
    policy = located_sql(principal, "c.geom", "c.dataset_id")
    deployments = store.dicts(
        f"SELECT c.*, {policy.columns}"
        " FROM camtrap_deployments c JOIN datasets d ON d.id = c.dataset_id"
        f" WHERE c.dataset_id = ? AND {policy.where} ORDER BY c.deployment_id",
        [*policy.columns_params, dataset_id, *policy.where_params])
    generalised = any(not d["precise"] for d in deployments)
    for d in deployments:
        d["latitude"], d["longitude"] = d["lat"], d["lon"]
        if not d["precise"]:
            d["latitude"], d["longitude"] = round(d["lat"], 5), round(d["lon"], 5)
            d["coordinate_uncertainty"] = max(d["coordinate_uncertainty"] or 0,
                                              round(d["generalise_km"] * 1000 / 2 ** 0.5))
            d["location_name"] = None
    path, path_params = file_path_sql(principal, "c", "d")
    media = store.dicts(
        f"SELECT c.*, {path} AS shown_path FROM camtrap_media c"
        f" JOIN datasets d ON d.id = c.dataset_id WHERE c.dataset_id = ? AND {policy.where}"
        " ORDER BY c.deployment_id, c.timestamp, c.media_id",
        [*path_params, dataset_id, *policy.where_params])
    for m in media:  # the row stays (observations point at it), the path may not
        m["file_path"] = m.pop("shown_path") or WITHHELD_PATH
        if generalised:  # EXIF blocks may carry the camera's GPS position
            m["exif_data"] = None
    observations = store.dicts(
        f"SELECT c.* FROM camtrap_observations c WHERE c.dataset_id = ? AND {policy.where}"
        " ORDER BY c.deployment_id, c.event_start, c.observation_id",
        [dataset_id, *policy.where_params])
    return {"deployments": deployments, "media": media, "observations": observations}, \
        generalised


def _csv(name: str, rows: list[dict]) -> str:
    fields = [f["name"] for f in table_schema(name)["fields"]]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(column_of(f))) for f in fields])
    return text.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def _export_descriptor(store, ds: dict, stored: dict, tables: dict, generalised: bool
                       ) -> dict:
    deployments = tables["deployments"]
    owner = localise(ds["owner_name"], "en")
    title = localise(ds["title"], "en")
    description = localise(ds.get("description"), "en") or stored.get("description") or title
    note = generalisation_note(ds["generalise_km"]) if generalised else None
    observations, media = tables["observations"], tables["media"]
    project = stored.get("project") or {
        "title": title, "samplingDesign": "targeted",
        "captureMethod": sorted({m["capture_method"] for m in media if m["capture_method"]}
                                & {"activityDetection", "timeLapse"}) or ["activityDetection"],
        "individualAnimals": any(o["individual_id"] for o in observations),
        "observationLevel": sorted({o["observation_level"] for o in observations}) or ["event"]}
    descriptor = {k: v for k, v in stored.items() if k not in ("resources", "profile")}
    descriptor.update({
        "profile": profile_url(),
        "name": ds["slug"],
        "id": stored.get("id") or f"ecobridge:{ds['slug']}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title,
        "description": "\n\n".join([description, *_notes(note, media)]),
        "contributors": stored.get("contributors") or [
            {"title": owner, "role": "rightsHolder"}, {"title": owner, "role": "publisher"}],
        # the catalogue's licence governs the data; the package's media licence is kept
        "licenses": [{"name": ds["licence"], "scope": "data"},
                     *([x for x in stored.get("licenses") or [] if x.get("scope") == "media"]
                       or [{"name": ds["licence"], "scope": "media"}])],
        "project": project,
        "spatial": _bbox(deployments),
        "temporal": _temporal(deployments),
        "taxonomic": _taxonomic(store, stored, observations),
        "resources": [{"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource",
                       "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                       "schema": schema_url(t)} for t in TABLES],
    })
    if generalised:
        descriptor["coordinatePrecision"] = round(ds["generalise_km"] / 111.32, 3)
    if ds.get("attribution"):
        descriptor.setdefault("bibliographicCitation", ds["attribution"])
    return descriptor


def _notes(generalisation: str | None, media: list[dict]) -> list[str]:
    """What the reader's copy leaves out, for the package description."""
    notes = [f"{generalisation[0].upper()}{generalisation[1:]}."] if generalisation else []
    withheld = sum(m["file_path"] == WITHHELD_PATH for m in media)
    if withheld:
        notes.append(f"The files of {withheld} media are not public (filePublic false): their"
                     f" filePath is withheld as {WITHHELD_PATH}; observations still name"
                     " them by mediaID.")
    return notes


def _bbox(deployments: list[dict]) -> dict:
    if not deployments:
        return {"type": "Point", "coordinates": [0.0, 0.0]}
    xs = [d["longitude"] for d in deployments]
    ys = [d["latitude"] for d in deployments]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x0 == x1 and y0 == y1:
        return {"type": "Point", "coordinates": [x0, y0]}
    return {"type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _temporal(deployments: list[dict]) -> dict:
    if not deployments:
        today = datetime.now(UTC).date().isoformat()
        return {"start": today, "end": today}
    return {"start": min(d["deployment_start"] for d in deployments).astimezone(UTC)
            .date().isoformat(),
            "end": max(d["deployment_end"] for d in deployments).astimezone(UTC)
            .date().isoformat()}


RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "subspecies")


def _taxonomic(store, stored: dict, observations: list[dict]) -> list[dict]:
    names = sorted({o["scientific_name"] for o in observations if o["scientific_name"]})
    known = {t["scientificName"]: t for t in stored.get("taxonomic") or []}
    rows = {r["scientific_name"]: r for r in store.dicts(
        "SELECT scientific_name, taxon_rank, kingdom, phylum, class, \"order\", family, genus,"
        " vernacular_names FROM taxa WHERE scientific_name IN (SELECT unnest(?::VARCHAR[]))",
        [names])}
    back = {v: k for k, v in LANGUAGES.items()}
    out = []
    for name in names:
        if name in known:
            out.append(known[name])
            continue
        row = rows.get(name, {})
        entry = {"scientificName": name}
        if row.get("taxon_rank") in RANKS:
            entry["taxonRank"] = row["taxon_rank"]
        entry.update({k: row[k] for k in ("kingdom", "phylum", "class", "order", "family",
                                          "genus") if row.get(k)})
        vernacular = json.loads(row["vernacular_names"]) if row.get("vernacular_names") else {}
        if vernacular:
            entry["vernacularNames"] = {back.get(k, k): v for k, v in vernacular.items()}
        out.append(entry)
    return out


__all__ = ["WRITE_VERSION", "export_camtrap_dp", "import_camtrap_dp"]
