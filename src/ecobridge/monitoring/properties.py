"""Observed properties (the `variable` codes of observation files) and their datastreams."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ecobridge.monitoring.qc import QcConfig


@dataclass(frozen=True)
class ObservedProperty:
    id: int
    code: str
    name: str
    canonical_unit: str
    unit_symbol: str
    unit_name: str
    qc: QcConfig
    molar_mass: float | None


def load_properties(cur) -> dict[str, ObservedProperty]:
    rows = cur.execute(
        "SELECT id, code, name, canonical_unit, unit_symbol, unit_name, qc, properties"
        " FROM observed_properties").fetchall()
    out = {}
    for pid, code, name, unit, symbol, unit_name, qc, props in rows:
        extra = json.loads(props) if props else {}
        out[code] = ObservedProperty(pid, code, name, unit, symbol, unit_name,
                                     QcConfig.from_json(qc), extra.get("molar_mass"))
    return out


def default_sensor(cur, dataset_id: int) -> int:
    """The dataset's default Sensor, made on first use (datastreams need one)."""
    row = cur.execute(
        "SELECT id FROM sensors WHERE json_extract(properties, '$.default_for_dataset') = ?",
        [json.dumps(dataset_id)]).fetchone()
    if row:
        return row[0]
    slug = cur.execute("SELECT slug FROM datasets WHERE id = ?", [dataset_id]).fetchone()[0]
    return cur.execute(
        "INSERT INTO sensors (name, description, properties) VALUES (?, ?, ?) RETURNING id",
        [f"{slug} default sensor", "Sensor of observations ingested without a sensor description",
         json.dumps({"default_for_dataset": dataset_id})]).fetchone()[0]


def datastream_ids(cur, dataset_id: int, pairs: set[tuple[int, int]],
                   props_by_id: dict[int, ObservedProperty]) -> tuple[dict, set[int]]:
    """Datastream ids of (thing id, property id) pairs, creating the missing ones in one
    statement. Returns the mapping and the ids created here."""
    import pyarrow as pa

    if not pairs:
        return {}, set()
    existing = {(t, p): ds for ds, t, p in cur.execute(
        "SELECT s.id, s.thing_id, s.observed_property_id FROM datastreams s"
        " JOIN things t ON t.id = s.thing_id WHERE t.dataset_id = ?", [dataset_id]).fetchall()}
    missing = sorted(p for p in pairs if p not in existing)
    created: set[int] = set()
    if missing:
        sensor = default_sensor(cur, dataset_id)
        names = dict(cur.execute("SELECT id, name FROM things WHERE dataset_id = ?",
                                 [dataset_id]).fetchall())
        props = [props_by_id[p] for _, p in missing]
        new = pa.table({
            "thing_id": [t for t, _ in missing], "prop_id": [p for _, p in missing],
            "name": [f"{names.get(t, t)} {pr.name}" for (t, _), pr in zip(missing, props,
                                                                          strict=True)],
            "unit_code": [pr.canonical_unit for pr in props],
            "unit_symbol": [pr.unit_symbol for pr in props],
            "unit_name": [pr.unit_name for pr in props]})
        cur.register("__eb_new_ds", new)
        try:
            rows = cur.execute(
                "INSERT INTO datastreams (thing_id, sensor_id, observed_property_id, name,"
                " unit_code, unit_symbol, unit_name) SELECT thing_id, ?, prop_id, name,"
                " unit_code, unit_symbol, unit_name FROM __eb_new_ds"
                " RETURNING id, thing_id, observed_property_id", [sensor]).fetchall()
        finally:
            cur.unregister("__eb_new_ds")
        for ds, t, p in rows:
            existing[(t, p)] = ds
            created.add(ds)
    return {pair: existing[pair] for pair in pairs}, created
