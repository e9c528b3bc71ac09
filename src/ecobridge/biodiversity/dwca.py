"""Darwin Core Archive import and export.

    report = import_dwca(store, "archive.zip", dataset="kz-birds", principal=p)
    data = export_dwca(store, principal, "kz-birds")          # the zip, as bytes

Import: an Occurrence core becomes occurrences; a Taxon core becomes taxa, and its Occurrence
extension occurrences (their taxon terms from the core row); an Event core is kept as records and
lends its terms to its Occurrence extension. Every other extension row (Multimedia,
VernacularName, Description, ...) is kept in `dwca_extension_rows` against its core id. Each data
row is accepted or rejected (file, row, field, reason); occurrences already in the dataset (by
occurrenceID) and extension rows already kept count as unchanged, so the same archive twice adds
nothing. Checks run in DuckDB over the whole file at once (TRY_CAST), not per row in Python.
An occurrence without decimalLatitude/decimalLongitude takes its position from verbatim text
(verbatimCoordinates, verbatimLatitude + verbatimLongitude) where verbatim.py can read it.

A Taxon or Event core's rows are kept as records too, and an occurrence from its Occurrence
extension carries the core id as taxonID or eventID where the row names none: the export
(dwca_export.py) rebuilds the same star from them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from ecobridge.biodiversity import service, verbatim
from ecobridge.biodiversity.archive import (
    OCCURRENCE,
    SIMPLE,
    TAXON,
    Archive,
    DataFile,
    local_name,
    read_archive,
)
from ecobridge.biodiversity.dwca_export import export_dwca, export_rows
from ecobridge.biodiversity.runs import Reject, fail_run, finish_run, open_run, run_report
from ecobridge.governance.policy import SYSTEM, Principal
from ecobridge.monitoring.reasons import Reason, reason
from ecobridge.monitoring.report import IngestReport, RowCounts

# Darwin Core term -> occurrences column; other terms of a row go to `properties`.
OCCURRENCE_TERMS = {
    "occurrenceID": "occurrence_id", "basisOfRecord": "basis_of_record",
    "scientificName": "scientific_name", "individualCount": "individual_count",
    "occurrenceStatus": "occurrence_status", "decimalLatitude": "decimal_latitude",
    "decimalLongitude": "decimal_longitude",
    "coordinateUncertaintyInMeters": "coordinate_uncertainty_in_meters",
    "countryCode": "country_code", "locality": "locality", "recordedBy": "recorded_by",
    "sex": "sex", "lifeStage": "life_stage", "behavior": "behavior",
    "organismID": "organism_id",
}
TAXON_TERMS = {"scientificName": "scientific_name", "taxonRank": "taxon_rank",
               "kingdom": "kingdom", "phylum": "phylum", "class": "class", "order": "order",
               "family": "family", "genus": "genus"}
# -- import ------------------------------------------------------------------------------------
def import_dwca(store, path: str | Path, *, dataset: str | int,
                principal: Principal = SYSTEM, file_name: str | None = None) -> IngestReport:
    path = Path(path)
    dataset_id, run_id = open_run(store, path, dataset=dataset, kind="dwca",
                                  principal=principal, file_name=file_name)
    added: list[str] = []
    try:
        archive = read_archive(path)
        counts, rejects, records = _load(store, archive, dataset_id, principal, added)
        with store.transaction() as cur:
            counts.rows_inserted += _keep_records(cur, dataset_id, run_id, records)
            counts.rows_unchanged = counts.rows_accepted - counts.rows_inserted
            finish_run(cur, run_id, counts, rejects, archive.notes)
    except BaseException as exc:
        _remove(store, dataset_id, added)
        fail_run(store, run_id, exc)
        raise
    return run_report(store, run_id)


def _load(store, archive: Archive, dataset_id: int, principal: Principal,
          added: list[str]) -> tuple[RowCounts, list[Reject], list[tuple[str, str, dict]]]:
    core, row_type = archive.core, archive.core.spec.row_type
    rejects = [r for f in (core, *archive.extensions) for r in _shorts(f)]
    counts = RowCounts(rows_in=sum(f.count for f in (core, *archive.extensions)))
    records: list[tuple[str, str, dict]] = []  # (row type, core id, record) kept as they came
    inserted = 0
    if row_type in (OCCURRENCE, SIMPLE):
        table = _columns(core)
        ids = table.get("occurrenceID")
        if ids is None or all(v is None for v in ids):  # the core <id> is the occurrenceID
            table["occurrenceID"] = list(core.ids)
        new, bad, accepted_ids = _occurrences(store, dataset_id, principal, core, table, added)
        inserted += new
        rejects += bad
        accepted = set(accepted_ids)
        core_values: dict[str, dict] = {}
    else:
        accepted, core_values, bad, new = _core_records(store, core, row_type, records)
        rejects += bad
        inserted += new
    for ext in archive.extensions:
        if ext.spec.row_type == OCCURRENCE and row_type != OCCURRENCE:
            table = _columns(ext)
            lend = TAXON_TERMS if row_type == TAXON else None
            orphans = _orphans(ext, accepted)
            link = table.setdefault("taxonID" if row_type == TAXON else "eventID",
                                    [None] * len(ext.ids))
            link[:] = [v if v is not None else c for v, c in zip(link, ext.ids, strict=True)]
            _fill_from_core(table, ext.ids, core_values, lend)
            keep = [i for i in range(len(ext.rows)) if i not in orphans]
            rejects += [orphans[i] for i in sorted(orphans)]
            new, bad, _ = _occurrences(store, dataset_id, principal, ext,
                                       {k: [v[i] for i in keep] for k, v in table.items()},
                                       added, rows=[ext.rows[i] for i in keep])
            inserted += new
            rejects += bad
        else:
            orphans = _orphans(ext, accepted)
            rejects += orphans.values()
            records += [(ext.spec.row_type, ext.ids[i], _record(ext, i))
                        for i in range(len(ext.rows)) if i not in orphans]
    counts.rows_rejected = len({(r.file, r.row) for r in rejects})
    counts.rows_accepted = counts.rows_in - counts.rows_rejected
    counts.rows_inserted = inserted
    return counts, rejects, records


def _shorts(f: DataFile) -> list[Reject]:
    need = 1 + max([x.index for x in f.spec.fields if x.index is not None]
                   + [f.spec.id_index if f.spec.id_index is not None else -1])
    return [Reject(f.location, row, None, None,
                   reason("dwca-short-row", fields=n, meta="meta.xml", mapped=need))
            for row, n in f.short]


def _columns(f: DataFile) -> dict[str, list[str | None]]:
    """Columns by Darwin Core local name (the first of two terms with one name wins)."""
    out: dict[str, list[str | None]] = {}
    for term, values in f.columns.items():
        out.setdefault(local_name(term), values)
    return out


def _record(f: DataFile, i: int) -> dict:
    return {term: values[i] for term, values in f.columns.items() if values[i] is not None}


def _orphans(ext: DataFile, accepted: set) -> dict[int, Reject]:
    """Extension rows whose core id names no accepted core row, by index."""
    return {i: Reject(ext.location, ext.rows[i], "coreid", core_id,
                      reason("dwca-orphan" if core_id else "dwca-core-id-empty"),
                      _record(ext, i))
            for i, core_id in enumerate(ext.ids) if core_id is None or core_id not in accepted}


def _fill_from_core(table: dict, ids: list, core_values: dict[str, dict],
                    terms: dict | None) -> None:
    """Terms an extension occurrence lacks, taken from its core row (Taxon: the taxon terms)."""
    names = set(terms) if terms is not None else {k for v in core_values.values() for k in v}
    for name in names:
        column = table.setdefault(name, [None] * len(ids))
        for i, core_id in enumerate(ids):
            if column[i] is None:
                column[i] = core_values.get(core_id, {}).get(name)


def _core_records(store, core: DataFile, row_type: str, records: list
                  ) -> tuple[set, dict[str, dict], list[Reject], int]:
    """A Taxon core becomes taxa; every core is kept as records (counted when kept). Returns
    the accepted core ids, each core row's terms by local name, the rejects and 0."""
    table = _columns(core)
    values: dict[str, dict] = {}
    first: dict[str, int] = {}
    rejects, accepted = [], set()
    for i, core_id in enumerate(core.ids):
        if core_id is not None and core_id not in values:
            values[core_id] = {k: v[i] for k, v in table.items() if v[i] is not None}
            first[core_id] = core.rows[i]
        if core_id is None:
            rejects.append(Reject(core.location, core.rows[i], "id", None,
                                  reason("dwca-core-id-empty"), _record(core, i)))
        elif first[core_id] != core.rows[i]:
            rejects.append(Reject(core.location, core.rows[i], "id", core_id,
                                  reason("dwca-core-id-duplicate", row=first[core_id]),
                                  _record(core, i)))
        elif row_type == TAXON and not values[core_id].get("scientificName"):
            rejects.append(Reject(core.location, core.rows[i], "scientificName", None,
                                  reason("dwca-required", term="scientificName"),
                                  _record(core, i)))
        else:
            accepted.add(core_id)
    records += [(row_type, core.ids[i], _record(core, i)) for i in range(len(core.rows))
                if core.ids[i] in accepted and first[core.ids[i]] == core.rows[i]]
    if row_type == TAXON:
        taxa: dict[str, dict] = {}
        for core_id in (c for c in dict.fromkeys(core.ids) if c in accepted):
            row = values[core_id]
            taxa.setdefault(row["scientificName"],
                            {column: row.get(term) for term, column in TAXON_TERMS.items()})
        service.add_taxa(store, list(taxa.values()))
    return accepted, values, rejects, 0


_DATE = ("coalesce(TRY_CAST(split_part({c}, '/', 1) AS TIMESTAMPTZ),"
         " TRY_CAST(split_part({c}, '/', 1) || '-01' AS TIMESTAMPTZ),"
         " TRY_CAST(split_part({c}, '/', 1) || '-01-01' AS TIMESTAMPTZ))")


def _occurrences(store, dataset_id: int, principal: Principal, f: DataFile, table: dict,
                 added: list[str], rows: list[int] | None = None
                 ) -> tuple[int, list[Reject], list[str]]:
    """Check occurrence rows in DuckDB, add the good new ones through the service.

    Returns (rows added, rejects, occurrenceIDs accepted). Column names from meta.xml never
    reach the SQL: the columns are renamed c0, c1, ... and term names go in as parameters.
    """
    rows = rows if rows is not None else f.rows
    # rows without decimal coordinates take them from verbatim text (verbatim.py)
    source, (table, unread) = table, verbatim.fill(table)
    names = list(table)
    alias = {n: f"c{i}" for i, n in enumerate(names)}
    arrow = pa.table({"_row": pa.array(rows, pa.int64()),
                      **{alias[n]: pa.array(table[n], pa.string()) for n in names}})

    def c(name: str) -> str:
        return f'"{alias[name]}"' if name in alias else "CAST(NULL AS VARCHAR)"

    lat, lon = f"TRY_CAST({c('decimalLatitude')} AS DOUBLE)", \
        f"TRY_CAST({c('decimalLongitude')} AS DOUBLE)"
    count, unc = f"TRY_CAST({c('individualCount')} AS INTEGER)", \
        f"TRY_CAST({c('coordinateUncertaintyInMeters')} AS DOUBLE)"
    date = _DATE.format(c=c("eventDate"))
    vocabulary = ", ".join(f"'{v}'" for v in service.BASIS_OF_RECORD)
    # (field, failing condition, reason code, its parameters; FIRST: the row of the first
    # occurrence with the same occurrenceID)
    checks = [
        ("occurrenceID", f"{c('occurrenceID')} IS NULL", "dwca-required",
         {"term": "occurrenceID"}),
        ("occurrenceID", f"{c('occurrenceID')} IS NOT NULL AND _dup > 1",
         "dwca-occurrence-id-duplicate", {"term": "occurrenceID", "row": FIRST}),
        ("basisOfRecord", f"{c('basisOfRecord')} IS NULL", "dwca-required",
         {"term": "basisOfRecord"}),
        ("basisOfRecord", f"{c('basisOfRecord')} NOT IN ({vocabulary})", "dwca-basis-of-record",
         {"term": "basisOfRecord", "values": ", ".join(service.BASIS_OF_RECORD)}),
        ("scientificName", f"{c('scientificName')} IS NULL", "dwca-required",
         {"term": "scientificName"}),
        ("decimalLatitude", f"{c('decimalLatitude')} IS NOT NULL AND ({lat} IS NULL"
         f" OR {lat} NOT BETWEEN -90 AND 90)", "dwca-latitude", {}),
        ("decimalLongitude", f"{c('decimalLongitude')} IS NOT NULL AND ({lon} IS NULL"
         f" OR {lon} NOT BETWEEN -180 AND 180)", "dwca-longitude", {}),
        ("decimalLongitude", f"({lat} IS NULL) <> ({lon} IS NULL)",
         "dwca-coordinates-together",
         {"latitude": "decimalLatitude", "longitude": "decimalLongitude"}),
        ("individualCount", f"{c('individualCount')} IS NOT NULL AND coalesce({count} < 0,"
         " true)", "dwca-individual-count", {}),
        ("coordinateUncertaintyInMeters", f"{c('coordinateUncertaintyInMeters')} IS NOT NULL"
         f" AND coalesce({unc} <= 0, true)", "dwca-uncertainty", {}),
        ("eventDate", f"{c('eventDate')} IS NOT NULL AND {date} IS NULL", "dwca-event-date", {}),
        ("occurrenceStatus", f"lower({c('occurrenceStatus')}) NOT IN ('present', 'absent')",
         "dwca-occurrence-status",
         {"term": "occurrenceStatus", "present": "present", "absent": "absent"}),
    ]
    base = (f"(SELECT *, row_number() OVER (PARTITION BY {c('occurrenceID')} ORDER BY _row)"
            f" AS _dup, min(_row) OVER (PARTITION BY {c('occurrenceID')}) AS _first"
            " FROM incoming) i")
    failing = " UNION ALL ".join(
        f"SELECT _row, ? AS field, CAST({c(field)} AS VARCHAR) AS value, {i} AS check_no,"
        f" _first FROM {base} WHERE coalesce({cond}, false)"
        for i, (field, cond, _, _) in enumerate(checks))
    properties = [n for n in names if n not in OCCURRENCE_TERMS]
    entries = ", ".join(f"{{'k': ?, 'v': {c(n)}}}" for n in properties)
    select = ", ".join([*(f"{c(term)} AS {column}" for term, column in OCCURRENCE_TERMS.items()
                          if column not in ("individual_count", "decimal_latitude",
                                            "decimal_longitude", "occurrence_status",
                                            "coordinate_uncertainty_in_meters",
                                            "country_code")),
                        f"{date} AS event_date", f"{count} AS individual_count",
                        f"lower({c('occurrenceStatus')}) AS occurrence_status",
                        f"{lat} AS decimal_latitude", f"{lon} AS decimal_longitude",
                        f"{unc} AS coordinate_uncertainty_in_meters",
                        f"upper({c('countryCode')}) AS country_code",
                        f"CAST(to_json(map_from_entries(list_filter([{entries}],"
                        " x -> x.v IS NOT NULL))) AS VARCHAR) AS properties"
                        if properties else "CAST(NULL AS VARCHAR) AS properties",
                        *(f"{c(term)} AS taxon_{column}" for term, column in TAXON_TERMS.items()
                          if term != "scientificName")])
    cur = store.cursor()
    cur.register("incoming", arrow)
    try:
        bad = cur.execute(f"SELECT * FROM ({failing}) ORDER BY _row, field",
                          [field for field, *_ in checks]).fetchall()
        bad_rows = sorted({r[0] for r in bad} | {rows[i] for i, _ in unread})
        good = cur.execute(
            f"SELECT {select} FROM incoming WHERE _row NOT IN (SELECT unnest(?::BIGINT[]))"
            " ORDER BY _row", [*properties, bad_rows]).fetch_arrow_table()
    finally:
        cur.unregister("incoming")
    by_row = {r: i for i, r in enumerate(rows)}

    def given(i: int) -> dict:  # the row as it came, not as filled
        return {n: v[i] for n, v in source.items() if v[i]}

    rejects = [Reject(f.location, row, field, value, _check_reason(checks[check], first),
                      given(by_row[row])) for row, field, value, check, first in bad]
    rejects += [Reject(f.location, rows[i], e.field, e.value or None, e.reason, given(i))
                for i, e in unread]
    rejects.sort(key=lambda r: (r.row, r.field or ""))
    accepted_ids = good["occurrence_id"].to_pylist()
    existing = {r[0] for r in store.rows(
        "SELECT occurrence_id FROM occurrences WHERE dataset_id = ?"
        " AND occurrence_id IN (SELECT unnest(?::VARCHAR[]))", [dataset_id, accepted_ids])}
    fresh = good.filter(pa.array([i not in existing for i in accepted_ids], pa.bool_()))
    _add_taxa(store, fresh)
    occurrences = fresh.select([c for c in fresh.column_names if not c.startswith("taxon_")])
    added += occurrences["occurrence_id"].to_pylist()
    service.add_occurrences(store, dataset=dataset_id, rows=occurrences, principal=principal)
    return occurrences.num_rows, rejects, accepted_ids


FIRST = object()  # stands for the row of a check's first occurrence (`_first` in the SQL)


def _check_reason(check: tuple, first: int) -> Reason:
    _field, _cond, code, params = check
    return Reason(code, {k: first if v is FIRST else v for k, v in params.items()})


def _add_taxa(store, table: pa.Table) -> None:
    """A taxon for each new scientific name, with the taxon terms of its first row."""
    taxa: dict[str, dict] = {}
    columns = {column: table[f"taxon_{column}"].to_pylist()
               for column in TAXON_TERMS.values() if column != "scientific_name"}
    for i, name in enumerate(table["scientific_name"].to_pylist()):
        taxa.setdefault(name, {"scientific_name": name,
                               **{k: v[i] for k, v in columns.items()}})
    if taxa:
        service.add_taxa(store, list(taxa.values()))


def _keep_records(cur, dataset_id: int, run_id: int, records: list) -> int:
    """Extension (and non-occurrence core) rows not kept before; returns how many were new."""
    if not records:
        return 0
    rows = []
    for row_type, core_id, record in records:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True)
        key = hashlib.sha256(f"{row_type}\0{core_id}\0{text}".encode()).hexdigest()
        rows.append((row_type, core_id, text, key))
    table = pa.table({name: [r[i] for r in rows] for i, name in
                      enumerate(("row_type", "core_id", "record", "record_key"))})
    cur.register("records", table)
    try:
        cur.execute(
            "INSERT INTO dwca_extension_rows (dataset_id, run_id, row_type, core_id, record,"
            " record_key) SELECT DISTINCT ON (record_key) ?, ?, row_type, core_id, record,"
            " record_key FROM records WHERE record_key NOT IN (SELECT record_key FROM"
            " dwca_extension_rows WHERE dataset_id = ?)", [dataset_id, run_id, dataset_id])
        return cur.fetchone()[0]
    finally:
        cur.unregister("records")


def _remove(store, dataset_id: int, occurrence_ids: list[str]) -> None:
    """Undo the occurrences an import added before it failed."""
    if occurrence_ids:
        with store.transaction() as cur:
            cur.execute("DELETE FROM occurrences WHERE dataset_id = ?"
                        " AND occurrence_id IN (SELECT unnest(?::VARCHAR[]))",
                        [dataset_id, occurrence_ids])


__all__ = ["export_dwca", "export_rows", "import_dwca"]
