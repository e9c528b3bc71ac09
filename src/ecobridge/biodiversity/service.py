"""Writing biodiversity records: taxa, camera-trap deployments, media and detections (Camtrap DP
observations, table `camtrap_observations`), and Darwin Core occurrences.

Every writer takes an Arrow table or a list of dicts, checks it with vectorised expressions, and
inserts it in one statement (the table is registered with DuckDB and selected from; the dataset
id goes in as a parameter). A bad value raises InvalidInput naming the row (1-based) and field;
nothing is dropped silently. Column names come only from the constants below.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecobridge.catalog.service import resolve_dataset_id
from ecobridge.errors import Conflict, InvalidInput
from ecobridge.governance.policy import SYSTEM, Principal, require_write

_TS = pa.timestamp("us", tz="UTC")

# column -> (Arrow type, required)
DEPLOYMENT_COLUMNS: dict[str, tuple[pa.DataType, bool]] = {
    "deployment_id": (pa.string(), True), "location_id": (pa.string(), False),
    "location_name": (pa.string(), False), "latitude": (pa.float64(), True),
    "longitude": (pa.float64(), True), "coordinate_uncertainty": (pa.int32(), False),
    "deployment_start": (_TS, True), "deployment_end": (_TS, True),
    "setup_by": (pa.string(), False), "camera_id": (pa.string(), False),
    "camera_model": (pa.string(), False), "camera_height": (pa.float64(), False),
    "bait_use": (pa.bool_(), False), "feature_type": (pa.string(), False),
    "habitat": (pa.string(), False), "country": (pa.string(), False),
    "tags": (pa.string(), False), "comments": (pa.string(), False),
    # Camtrap DP terms added by migration 0005 (biodiversity/camtrap.py)
    "camera_delay": (pa.int32(), False), "camera_depth": (pa.float64(), False),
    "camera_tilt": (pa.int32(), False), "camera_heading": (pa.int32(), False),
    "detection_distance": (pa.float64(), False), "timestamp_issues": (pa.bool_(), False),
    "deployment_groups": (pa.string(), False),
}
MEDIA_COLUMNS: dict[str, tuple[pa.DataType, bool]] = {
    "media_id": (pa.string(), True), "deployment_id": (pa.string(), True),
    "capture_method": (pa.string(), False), "timestamp": (_TS, True),
    "file_path": (pa.string(), True), "file_public": (pa.bool_(), True),
    "file_name": (pa.string(), False), "file_mediatype": (pa.string(), True),
    "favorite": (pa.bool_(), False), "comments": (pa.string(), False),
    "exif_data": (pa.string(), False),
}
DETECTION_COLUMNS: dict[str, tuple[pa.DataType, bool]] = {
    "observation_id": (pa.string(), True), "deployment_id": (pa.string(), True),
    "media_id": (pa.string(), False), "event_id": (pa.string(), False),
    "event_start": (_TS, True), "event_end": (_TS, True),
    "observation_level": (pa.string(), True), "observation_type": (pa.string(), True),
    "scientific_name": (pa.string(), False), "count": (pa.int32(), False),
    "life_stage": (pa.string(), False), "sex": (pa.string(), False),
    "behavior": (pa.string(), False), "individual_id": (pa.string(), False),
    "classification_method": (pa.string(), False), "classified_by": (pa.string(), False),
    "classification_timestamp": (_TS, False),
    "classification_probability": (pa.float64(), False), "comments": (pa.string(), False),
    "camera_setup_type": (pa.string(), False),
    "individual_position_radius": (pa.float64(), False),
    "individual_position_angle": (pa.float64(), False),
    "individual_speed": (pa.float64(), False), "bbox_x": (pa.float64(), False),
    "bbox_y": (pa.float64(), False), "bbox_width": (pa.float64(), False),
    "bbox_height": (pa.float64(), False), "observation_tags": (pa.string(), False),
}
OCCURRENCE_COLUMNS: dict[str, tuple[pa.DataType, bool]] = {
    "occurrence_id": (pa.string(), True), "basis_of_record": (pa.string(), True),
    "scientific_name": (pa.string(), True), "event_date": (_TS, False),
    "individual_count": (pa.int32(), False), "occurrence_status": (pa.string(), False),
    "decimal_latitude": (pa.float64(), False), "decimal_longitude": (pa.float64(), False),
    "coordinate_uncertainty_in_meters": (pa.float64(), False),
    "country_code": (pa.string(), False), "locality": (pa.string(), False),
    "recorded_by": (pa.string(), False), "sex": (pa.string(), False),
    "life_stage": (pa.string(), False), "behavior": (pa.string(), False),
    "organism_id": (pa.string(), False), "camtrap_observation_id": (pa.string(), False),
    "properties": (pa.string(), False),
}
TAXON_COLUMNS: dict[str, tuple[pa.DataType, bool]] = {
    "scientific_name": (pa.string(), True), "taxon_rank": (pa.string(), False),
    "kingdom": (pa.string(), False), "phylum": (pa.string(), False),
    "class": (pa.string(), False), "order": (pa.string(), False),
    "family": (pa.string(), False), "genus": (pa.string(), False),
    "vernacular_names": (pa.string(), False), "iucn_category": (pa.string(), False),
    "sensitive": (pa.bool_(), False),
}
OBSERVATION_LEVELS = ("media", "event")
OBSERVATION_TYPES = ("animal", "human", "vehicle", "blank", "unknown", "unclassified")
BASIS_OF_RECORD = ("HumanObservation", "MachineObservation", "PreservedSpecimen",
                   "MaterialSample", "LivingSpecimen", "FossilSpecimen", "MaterialCitation",
                   "Occurrence")


def _table(rows: pa.Table | list[dict], columns: dict[str, tuple[pa.DataType, bool]],
           what: str) -> pa.Table:
    """Rows as an Arrow table with exactly `columns` (absent optional ones as nulls)."""
    if isinstance(rows, list) and not rows:
        return pa.table({name: pa.array([], dtype) for name, (dtype, _) in columns.items()})
    if isinstance(rows, list):
        # Every key of every row (from_pylist alone would keep only the first row's keys).
        keys = list(dict.fromkeys(k for row in rows for k in row))
        rows = pa.table({k: [json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                             for v in (row.get(k) for row in rows)] for k in keys})
    unknown = [c for c in rows.column_names if c not in columns]
    if unknown:
        raise InvalidInput(f"unknown {what} column", field=unknown[0])
    arrays = []
    for name, (dtype, required) in columns.items():
        if name not in rows.column_names:
            if required:
                raise InvalidInput(f"{what} column is required", field=name)
            arrays.append(pa.nulls(rows.num_rows, dtype))
            continue
        column = rows[name]
        try:
            arrays.append(column if column.type == dtype else column.cast(dtype))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"{what} values are not {dtype}: {exc}", field=name) from None
        if required:
            _fail_where(pc.is_null(arrays[-1]), f"{what} value is required", name)
    return pa.table(arrays, names=list(columns))


def _fail_where(bad: pa.ChunkedArray | pa.Array, message: str, field: str) -> None:
    bad = pc.fill_null(bad, False)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise InvalidInput(message, row=row + 1, field=field)


def _check_enum(table: pa.Table, field: str, allowed: tuple[str, ...]) -> None:
    bad = pc.invert(pc.is_in(table[field], value_set=pa.array(allowed)))
    _fail_where(pc.and_(bad, pc.is_valid(table[field])),
                f"must be one of {', '.join(allowed)}", field)


def _check_unique(table: pa.Table, field: str) -> None:
    if pc.count_distinct(table[field]).as_py() != table.num_rows:
        counts = pc.value_counts(table[field])
        dup = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
        first = pc.index(table[field], dup).as_py()
        second = pc.index(table[field].slice(first + 1), dup).as_py() + first + 1
        raise InvalidInput(f"duplicate id {dup!r}", row=second + 1, field=field)


def _insert(store, table: pa.Table, target: str, columns: list[str], dataset_id: int,
            *, select: dict[str, str] | None = None, checks: list[tuple[str, str, str]] = ()
            ) -> int:
    """INSERT INTO target (dataset_id, columns) SELECT ?, ... FROM the registered table.

    `select` overrides the expression of some target columns; each check is (sql returning the
    0-based index of the first bad incoming row or NULL, message, field), run inside the same
    transaction before the insert.
    """
    select = select or {}
    names = ", ".join(f'"{c}"' for c in columns)
    exprs = ", ".join(select.get(c, f'i."{c}"') for c in columns)
    with store.transaction() as cur:
        cur.register("incoming", table)
        try:
            for sql, message, field in checks:
                row = cur.execute(sql, [dataset_id]).fetchone()
                if row is not None and row[0] is not None:
                    raise InvalidInput(message, row=int(row[0]) + 1, field=field)
            cur.execute(f"INSERT INTO {target} (dataset_id, {names}) SELECT ?, {exprs}"
                        f" FROM (SELECT *, row_number() OVER () - 1 AS _row FROM incoming) i"
                        f" ORDER BY i._row", [dataset_id])
        except duckdb.ConstraintException as exc:
            raise Conflict(f"{target}: {str(exc).splitlines()[0]}") from None
        finally:
            cur.unregister("incoming")
    return table.num_rows


def _dataset(store, principal: Principal, dataset: str | int) -> int:
    dataset_id = resolve_dataset_id(store, dataset)
    require_write(store, principal, dataset_id)
    return dataset_id


def add_taxa(store, rows: pa.Table | list[dict]) -> int:
    """Add taxa not yet known (by scientific name); known ones are left as they are."""
    table = _table(rows, TAXON_COLUMNS, "taxon")
    _check_unique(table, "scientific_name")
    names = ", ".join(f'"{c}"' for c in TAXON_COLUMNS)
    with store.transaction() as cur:
        cur.register("incoming", table)
        try:
            values = names.replace('"sensitive"', 'coalesce("sensitive", false)')
            cur.execute(f"INSERT INTO taxa ({names}) SELECT {values} FROM incoming"
                        " WHERE scientific_name NOT IN (SELECT scientific_name FROM taxa)")
            return cur.fetchone()[0]
        finally:
            cur.unregister("incoming")


def add_deployments(store, *, dataset: str | int, rows: pa.Table | list[dict],
                    principal: Principal = SYSTEM) -> int:
    """Add Camtrap DP deployments to a dataset; returns the number added."""
    dataset_id = _dataset(store, principal, dataset)
    table = _table(rows, DEPLOYMENT_COLUMNS, "deployment")
    _check_unique(table, "deployment_id")
    lat, lon = table["latitude"], table["longitude"]
    _fail_where(pc.or_(pc.less(lat, -90), pc.greater(lat, 90)), "latitude out of range",
                "latitude")
    _fail_where(pc.or_(pc.less(lon, -180), pc.greater(lon, 180)), "longitude out of range",
                "longitude")
    _fail_where(pc.greater(table["deployment_start"], table["deployment_end"]),
                "deployment ends before it starts", "deployment_end")
    columns = list(DEPLOYMENT_COLUMNS) + ["geom"]
    return _insert(store, table, "camtrap_deployments", columns, dataset_id,
                   select={"geom": "ST_Point(i.longitude, i.latitude)"})


def add_media(store, *, dataset: str | int, rows: pa.Table | list[dict],
              principal: Principal = SYSTEM) -> int:
    """Add Camtrap DP media; each must belong to a deployment of the same dataset."""
    dataset_id = _dataset(store, principal, dataset)
    table = _table(rows, MEDIA_COLUMNS, "media")
    _check_unique(table, "media_id")
    _fail_where(pc.invert(pc.match_substring_regex(table["file_mediatype"],
                                                   r"^(image|video|audio)/")),
                "media type must be image/*, video/* or audio/*", "file_mediatype")
    return _insert(store, table, "camtrap_media", list(MEDIA_COLUMNS), dataset_id, checks=[
        (_orphans("deployment_id", "camtrap_deployments", "deployment_id"),
         "no such deployment in this dataset", "deployment_id"),
    ])


def add_detections(store, *, dataset: str | int, rows: pa.Table | list[dict],
                   principal: Principal = SYSTEM) -> int:
    """Add Camtrap DP observations (detections), checked against the dataset's deployments and
    media: the event lies inside its deployment's operating period."""
    dataset_id = _dataset(store, principal, dataset)
    table = _table(rows, DETECTION_COLUMNS, "observation")
    _check_unique(table, "observation_id")
    _check_enum(table, "observation_level", OBSERVATION_LEVELS)
    _check_enum(table, "observation_type", OBSERVATION_TYPES)
    _fail_where(pc.greater(table["event_start"], table["event_end"]),
                "event ends before it starts", "event_end")
    _fail_where(pc.less(table["count"], 1), "count must be at least 1", "count")
    probability = table["classification_probability"]
    _fail_where(pc.or_(pc.less(probability, 0), pc.greater(probability, 1)),
                "classification probability must be within 0..1", "classification_probability")
    _fail_where(pc.and_(pc.equal(table["observation_type"], "animal"),
                        pc.is_null(table["scientific_name"])),
                "an animal observation needs a scientific name", "scientific_name")
    outside = (
        "SELECT min(i._row) FROM (SELECT *, row_number() OVER () - 1 AS _row FROM incoming) i"
        " JOIN camtrap_deployments d ON d.dataset_id = ? AND d.deployment_id = i.deployment_id"
        " WHERE i.event_start < d.deployment_start OR i.event_start > d.deployment_end")
    return _insert(store, table, "camtrap_observations", list(DETECTION_COLUMNS), dataset_id,
                   checks=[
                       (_orphans("deployment_id", "camtrap_deployments", "deployment_id"),
                        "no such deployment in this dataset", "deployment_id"),
                       (_orphans("media_id", "camtrap_media", "media_id"),
                        "no such media in this dataset", "media_id"),
                       (outside, "event outside its deployment's operating period",
                        "event_start"),
                   ])


def _orphans(column: str, table: str, key: str) -> str:
    """SQL for the first incoming row whose non-null `column` names no `table` row."""
    return (f"SELECT min(i._row) FROM (SELECT *, row_number() OVER () - 1 AS _row FROM incoming) i"
            f" WHERE i.{column} IS NOT NULL AND i.{column} NOT IN"
            f" (SELECT {key} FROM {table} WHERE dataset_id = ?)")


def add_occurrences(store, *, dataset: str | int, rows: pa.Table | list[dict],
                    principal: Principal = SYSTEM) -> int:
    """Add Darwin Core occurrences; the taxon is linked by scientific name when known."""
    dataset_id = _dataset(store, principal, dataset)
    table = _table(rows, OCCURRENCE_COLUMNS, "occurrence")
    _check_unique(table, "occurrence_id")
    _check_enum(table, "basis_of_record", BASIS_OF_RECORD)
    lat, lon = table["decimal_latitude"], table["decimal_longitude"]
    _fail_where(pc.or_(pc.less(lat, -90), pc.greater(lat, 90)), "latitude out of range",
                "decimal_latitude")
    _fail_where(pc.or_(pc.less(lon, -180), pc.greater(lon, 180)), "longitude out of range",
                "decimal_longitude")
    _fail_where(pc.xor(pc.is_null(lat), pc.is_null(lon)),
                "latitude and longitude come together", "decimal_longitude")
    columns = list(OCCURRENCE_COLUMNS) + ["taxon_id", "geom"]
    return _insert(store, table, "occurrences", columns, dataset_id, select={
        "occurrence_status": "coalesce(i.occurrence_status, 'present')",
        "taxon_id": "(SELECT t.id FROM taxa t WHERE t.scientific_name = i.scientific_name)",
        "geom": "CASE WHEN i.decimal_latitude IS NOT NULL"
                " THEN ST_Point(i.decimal_longitude, i.decimal_latitude) END",
    })


def occurrences_from_detections(store, *, dataset: str | int, principal: Principal = SYSTEM,
                                properties: dict | None = None) -> int:
    """Derive one occurrence per event-level animal detection that has none yet, as
    camtrapdp::write_dwc does: occurrenceID = observationID, MachineObservation, the
    deployment's coordinates. `properties` are added to each occurrence's properties.
    Returns the number added."""
    dataset_id = _dataset(store, principal, dataset)
    alpha2 = ", ".join("(?, ?)" for _ in ALPHA2)
    alpha2_params = [code for pair in ALPHA2.items() for code in pair]
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO occurrences (dataset_id, occurrence_id, basis_of_record, taxon_id,"
            " scientific_name, event_date, individual_count, occurrence_status,"
            " decimal_latitude, decimal_longitude, coordinate_uncertainty_in_meters, geom,"
            " country_code, locality, recorded_by, sex, life_stage, behavior, organism_id,"
            " camtrap_observation_id, properties)"
            " SELECT o.dataset_id, o.observation_id, 'MachineObservation', t.id,"
            " o.scientific_name, o.event_start, o.count, 'present', d.latitude, d.longitude,"
            " d.coordinate_uncertainty, d.geom, c.alpha2, d.location_name, o.classified_by,"
            " o.sex, o.life_stage, o.behavior, o.individual_id, o.observation_id,"
            " json_merge_patch(json_object('eventID', o.event_id,"
            "   'parentEventID', o.deployment_id,"
            "   'eventDate', strftime(o.event_start, '%Y-%m-%dT%H:%M:%SZ') || '/'"
            "     || strftime(o.event_end, '%Y-%m-%dT%H:%M:%SZ'),"
            "   'samplingProtocol', 'camera trap'), CAST(? AS JSON))"
            " FROM camtrap_observations o"
            " JOIN camtrap_deployments d ON d.dataset_id = o.dataset_id"
            "   AND d.deployment_id = o.deployment_id"
            " LEFT JOIN taxa t ON t.scientific_name = o.scientific_name"
            f" LEFT JOIN (VALUES {alpha2}) c(alpha3, alpha2) ON c.alpha3 = d.country"
            " WHERE o.dataset_id = ? AND o.observation_type = 'animal'"
            "   AND o.observation_level = 'event'"
            "   AND o.observation_id NOT IN (SELECT occurrence_id FROM occurrences"
            "     WHERE dataset_id = ?)"
            " ORDER BY o.event_start",
            [json.dumps(properties or {}), *alpha2_params, dataset_id, dataset_id])
        return cur.fetchone()[0]


# ISO 3166-1 alpha-3 -> alpha-2 for the countries of the region; Darwin Core wants alpha-2.
ALPHA2 = {"CHN": "CN", "RUS": "RU", "MNG": "MN", "KAZ": "KZ", "KGZ": "KG", "TJK": "TJ",
          "UZB": "UZ", "TKM": "TM", "IND": "IN", "PAK": "PK", "IRN": "IR", "BLR": "BY",
          "NPL": "NP", "AFG": "AF", "PRK": "KP", "KOR": "KR", "BTN": "BT", "AZE": "AZ"}
