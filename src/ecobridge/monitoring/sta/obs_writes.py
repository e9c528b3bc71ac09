"""Observations written through SensorThings go down the file-ingest path.

Rows are collected during a write request (one Observation, the Observations of a deep insert,
or a CreateObservations data array) and merged at the end of its transaction by
`monitoring.merge.merge_and_write`, under an `ingest_runs` record per dataset (file name
"SensorThings ..." and the writer's user id): so (datastream, phenomenonTime) stays unique, a
repeated time replaces the stored result as a file would, QARTOD flags, datastream counts and
latest values are kept the same way, and alert rules are evaluated in the same transaction
(`alerts.evaluate.evaluate_ingest`). Results are stored in the observed property's canonical
unit: an Observation whose `parameters.unit` names another unit is converted with the same
pint factors as ingest, or refused when the unit cannot be converted.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from ecobridge.alerts.evaluate import evaluate_ingest
from ecobridge.errors import BadRequest, EcobridgeError
from ecobridge.monitoring.merge import Rows, merge_and_write
from ecobridge.monitoring.properties import load_properties
from ecobridge.monitoring.reasons import Reason, reason
from ecobridge.monitoring.report import Counts, Reject, write_rejects
from ecobridge.monitoring.sta import write_input as inp
from ecobridge.monitoring.units import UnitError, conversion

_UTC_US = pa.timestamp("us", tz="UTC")
OBSERVATION_KEYS = {"phenomenonTime", "resultTime", "result", "resultQuality", "parameters",
                    "Datastream", "FeatureOfInterest"}
ARRAY_COMPONENTS = {"id", "phenomenonTime", "result", "resultTime", "resultQuality",
                    "parameters", "FeatureOfInterest/id"}


class WriterLike(Protocol):
    store: Any
    cur: Any
    observations: list

    def datastream_dataset(self, datastream_id: int, field: str) -> int: ...

    def must_see(self, entity: str, entity_id: int, field: str) -> None: ...

    def create_feature(self, body: dict, field: str) -> int: ...


@dataclass
class Pending:
    """One observation waiting for the merge at the end of the transaction."""

    field: str                      # where it came from, for errors
    datastream_id: int
    dataset_id: int
    t_us: int
    value: float
    unit: str | None
    result_time: datetime | None
    parameters: str | None
    feature_id: int | None
    raw: dict = field(default_factory=dict)
    id: int | None = None
    error: str | None = None
    error_field: str = ""            # the member the error is about, for the quarantine
    reason: Reason | None = None     # `error` as a code and parameters, when it has one
    row: int = 0                     # 1-based position in the request


def read_observation(w: WriterLike, body: Any, where: str, *,
                     datastream_id: int | None = None) -> Pending:
    """Check one Observation object and queue it; the caller flushes the queue."""
    body = inp.entity_object(body, where)
    inp.check_keys(body, OBSERVATION_KEYS, where)
    if datastream_id is None:
        if body.get("Datastream") is None:
            raise inp.bad(inp.where(where, "Datastream"), "is required (link it with @iot.id)")
        datastream_id = inp.link_id(body["Datastream"], inp.where(where, "Datastream"))
        if datastream_id is None:
            raise inp.bad(inp.where(where, "Datastream"),
                          "link an existing Datastream with @iot.id")
    dataset_id = w.datastream_dataset(datastream_id, inp.where(where, "Datastream"))
    feature_id = None
    if body.get("FeatureOfInterest") is not None:
        fw = inp.where(where, "FeatureOfInterest")
        feature_id = inp.link_id(body["FeatureOfInterest"], fw)
        if feature_id is None:
            feature_id = w.create_feature(body["FeatureOfInterest"], fw)
        else:
            w.must_see("FeaturesOfInterest", feature_id, fw)
    pending = _pending(where, datastream_id, dataset_id, body.get("phenomenonTime"),
                       body.get("result"), body.get("resultTime"), body.get("parameters"),
                       feature_id)
    w.observations.append(pending)
    return pending


def _time(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _pending(where: str, ds: int, dataset_id: int, phenomenon, result, result_time,
             parameters, feature_id) -> Pending:
    t = inp.instant(phenomenon, inp.where(where, "phenomenonTime")) or datetime.now(UTC)
    value = inp.number(result, inp.where(where, "result"))
    params = inp.json_object(parameters, inp.where(where, "parameters"))
    unit = (parameters or {}).get("unit")
    if unit is not None and not isinstance(unit, str):
        raise inp.bad(inp.where(where, "parameters.unit"), "expected a unit code such as ug/m3",
                      reason("sta-unit-code", example="ug/m3"))
    rt = inp.instant(result_time, inp.where(where, "resultTime"))
    micros = int(t.timestamp()) * 1_000_000 + t.microsecond
    raw = {"phenomenonTime": phenomenon, "result": result, "resultTime": result_time,
           "parameters": parameters}
    return Pending(where, ds, dataset_id, micros, value, unit, rt, params, feature_id, raw)


# -- CreateObservations ----------------------------------------------------------------------
def read_data_array(w: WriterLike, body: Any) -> list[Pending]:
    """Queue the rows of a CreateObservations request. A row that cannot be read keeps its
    error (and is not stored); anything wrong with the request's structure (not a
    list, an unknown component, a Datastream that does not exist or may not be written) is a
    400 and nothing is written."""
    if not isinstance(body, list):
        raise inp.bad("", "CreateObservations takes a JSON list of "
                          '{"Datastream": {"@iot.id": n}, "components": [...], "dataArray": [...]}')
    out: list[Pending] = []
    for i, item in enumerate(body):
        where = f"[{i}]"
        item = inp.entity_object(item, where)
        inp.check_keys(item, {"Datastream", "components", "dataArray"}, where)
        if item.get("Datastream") is None:
            raise inp.bad(f"{where}.Datastream", "is required (MultiDatastreams are not offered)")
        ds = inp.link_id(item["Datastream"], f"{where}.Datastream")
        if ds is None:
            raise inp.bad(f"{where}.Datastream", "link an existing Datastream with @iot.id")
        dataset_id = w.datastream_dataset(ds, f"{where}.Datastream")
        components = item.get("components")
        if (not isinstance(components, list) or not components
                or not all(isinstance(c, str) for c in components)):
            raise inp.bad(f"{where}.components", "expected a list of component names")
        for c in components:
            if c not in ARRAY_COMPONENTS:
                raise inp.bad(f"{where}.components", f"unknown component {c!r} (expected "
                                                      f"{', '.join(sorted(ARRAY_COMPONENTS))})")
        if len(set(components)) != len(components):
            raise inp.bad(f"{where}.components", "a component is named twice")
        if "result" not in components:
            raise inp.bad(f"{where}.components", "must include result")
        rows = item.get("dataArray")
        if not isinstance(rows, list):
            raise inp.bad(f"{where}.dataArray", "expected a list of rows")
        for j, row in enumerate(rows):
            out.append(_array_row(w, row, components, ds, dataset_id, f"{where}.dataArray[{j}]"))
    return out


def _array_row(w: WriterLike, row: Any, components: list[str], ds: int, dataset_id: int,
               where: str) -> Pending:
    """A queued row; one that cannot be read carries its error (and goes to the quarantine)."""
    values = {}
    try:
        if not isinstance(row, list) or len(row) != len(components):
            raise inp.bad(where, f"expected a list of {len(components)} values",
                          reason("sta-row-length", n=len(components)))
        values = dict(zip(components, row, strict=True))
        feature_id = None
        if values.get("FeatureOfInterest/id") is not None:
            fw = f"{where}.FeatureOfInterest/id"
            feature_id = inp.link_id({"@iot.id": values["FeatureOfInterest/id"]}, fw)
            w.must_see("FeaturesOfInterest", feature_id, fw)
        pending = _pending(where, ds, dataset_id, values.get("phenomenonTime"),
                           values.get("result"), values.get("resultTime"),
                           values.get("parameters"), feature_id)
    except EcobridgeError as exc:
        if exc.status >= 500:
            raise
        # a hidden FeatureOfInterest is a NotFound: an error for its row alone
        member = (exc.extra.get("field") or where).removeprefix(where).lstrip(".")
        found = getattr(exc, "reason", None)  # the detail as a reason, when it has one
        pending = Pending(where, ds, dataset_id, 0, math.nan, None, None, None, None,
                          raw={"row": row} | values, error=exc.detail, error_field=member,
                          reason=found if found and found.text == exc.detail else None)
    w.observations.append(pending)
    return pending


# -- the merge ---------------------------------------------------------------------------------
def flush(w: WriterLike, principal_user: int | None, *, what: str, strict: bool) -> None:
    """Merge every queued observation, one ingest run per dataset. With `strict` a row that
    cannot be stored (a unit that does not convert, a repeated time) is a 400 and the whole
    transaction rolls back; otherwise it keeps its `error`, goes to the run's quarantine with
    its reason, and the others are stored."""
    queued, w.observations = w.observations, []
    if not queued:
        return
    props = {p.id: p for p in load_properties(w.cur).values()}
    info = _datastream_info(w.cur, sorted({p.datastream_id for p in queued}))
    features: dict[int, int | None] = {}
    for row, p in enumerate(queued, start=1):
        p.row = row
        prop = props[info[p.datastream_id][0]]
        if p.error is None and p.unit is not None and not math.isnan(p.value):
            try:
                conv = conversion(p.unit, prop.canonical_unit, prop.molar_mass)
            except UnitError as exc:
                unit_field = inp.where(p.field, "parameters.unit")
                p.error, p.error_field = f"{unit_field}: {exc}", "parameters.unit"
                p.reason = reason("sta-member", member=unit_field, problem=exc.reason)
                if strict:
                    raise BadRequest(p.error, field=unit_field) from None
                continue
            p.value = p.value * conv.factor + conv.offset
        if p.error is None and p.feature_id is None:
            thing = info[p.datastream_id][1]
            if thing not in features:
                features[thing] = _feature_from_location(w.cur, thing)
            p.feature_id = features[thing]
    by_dataset: dict[int, list[Pending]] = {}
    for p in queued:
        by_dataset.setdefault(p.dataset_id, []).append(p)
    for dataset_id, rows in sorted(by_dataset.items()):
        _merge(w.cur, dataset_id, rows, props, info, principal_user, what)
    for p in queued:
        if strict and p.error is not None:
            raise BadRequest(p.error, field=inp.where(p.field, p.error_field))


def _datastream_info(cur, ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per datastream: (observed property id, thing id)."""
    rows = cur.execute("SELECT id, observed_property_id, thing_id FROM datastreams"
                       " WHERE id IN (SELECT unnest(?))", [ids]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _feature_from_location(cur, thing_id: int) -> int | None:
    """The FeatureOfInterest made from the Thing's current Location, made once and reused (the
    spec's default when an Observation names none). None when the Thing has no Location."""
    row = cur.execute("SELECT l.id, l.name, l.description, l.encoding_type FROM thing_locations tl"
                      " JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = ?"
                      " ORDER BY l.id DESC LIMIT 1", [thing_id]).fetchone()
    if row is None:
        return None
    found = cur.execute("SELECT id FROM features_of_interest WHERE"
                        " json_extract(properties, '$.\"ecobridge:location\"') = ?"
                        " ORDER BY id LIMIT 1", [json.dumps(row[0])]).fetchone()
    if found:
        return found[0]
    return cur.execute(
        "INSERT INTO features_of_interest (name, description, encoding_type, geom, properties)"
        " SELECT ?, ?, ?, geom, ? FROM locations WHERE id = ? RETURNING id",
        [row[1], row[2], row[3], json.dumps({"ecobridge:location": row[0]}), row[0]]
    ).fetchone()[0]


def _merge(cur, dataset_id: int, rows: list[Pending], props: dict, info: dict,
           user_id: int | None, what: str) -> None:
    digest = hashlib.sha256(json.dumps([p.raw | {"Datastream": p.datastream_id} for p in rows],
                                       default=str).encode()).hexdigest()
    run_id = cur.execute(
        "INSERT INTO ingest_runs (dataset_id, kind, file_name, file_sha256, status, user_id)"
        " VALUES (?, 'observations', ?, ?, 'running', ?) RETURNING id",
        [dataset_id, f"SensorThings {what}", digest, user_id]).fetchone()[0]
    good = [p for p in rows if p.error is None]
    counts = Counts()
    if good:
        ds_of_g = np.array(sorted({p.datastream_id for p in good}), dtype=np.int64)
        g_of = {int(d): i for i, d in enumerate(ds_of_g)}
        merged = merge_and_write(
            cur, Rows(np.array([g_of[p.datastream_id] for p in good], dtype=np.int32),
                      np.array([p.t_us for p in good], dtype=np.int64),
                      np.array([p.value for p in good], dtype=np.float64),
                      np.array([p.row for p in good], dtype=np.int64),
                      np.arange(1, len(good) + 1, dtype=np.int64)),
            ds_of_g=ds_of_g, configs=[props[info[int(d)][0]].qc for d in ds_of_g],
            run_id=run_id)
        by_row = {p.row: p for p in good}
        for pos, first in zip(merged.duplicate_pos.tolist(), merged.duplicate_of.tolist(),
                              strict=True):
            p = good[pos - 1]
            p.error_field = "phenomenonTime"
            p.reason = reason("sta-same-time", member=inp.where(p.field, "phenomenonTime"),
                              first=by_row[first].field)
            p.error = p.reason.text
        counts = merged.counts
    write_rejects(cur, run_id, [
        Reject(p.row, p.error_field or None, _text(p.raw.get(p.error_field)),
               p.reason or p.error, p.raw)
        for p in rows if p.error is not None])
    _attach(cur, [p for p in good if p.error is None])
    evaluate_ingest(cur, dataset_id=dataset_id, run_id=run_id, kind="observations")
    rejected = sum(p.error is not None for p in rows)
    cur.execute(
        "UPDATE ingest_runs SET status = 'done', finished_at = now(), rows_in = ?,"
        " rows_accepted = ?, rows_rejected = ?, rows_inserted = ?, rows_updated = ?,"
        " rows_unchanged = ?, rows_flagged = ?, rows_reflagged = ? WHERE id = ?",
        [len(rows), len(rows) - rejected, rejected, counts.rows_inserted, counts.rows_updated,
         counts.rows_unchanged, counts.rows_flagged, counts.rows_reflagged, run_id])


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _attach(cur, rows: list[Pending]) -> None:
    """Find each stored row's id and set what the merge does not carry: resultTime,
    parameters and the FeatureOfInterest."""
    if not rows:
        return
    keys = pa.table({
        "i": np.arange(len(rows), dtype=np.int64),
        "ds": np.array([p.datastream_id for p in rows], dtype=np.int64),
        "t": pa.array([p.t_us for p in rows], type=_UTC_US),
        "rt": pa.array([p.result_time for p in rows], type=_UTC_US),
        "params": pa.array([p.parameters for p in rows], type=pa.string()),
        "foi": pa.array([p.feature_id for p in rows], type=pa.int64())})
    lo, hi = int(keys["ds"].to_numpy().min()), int(keys["ds"].to_numpy().max())
    cur.register("__eb_sta_rows", keys)
    try:
        found = cur.execute(
            "SELECT k.i, o.id FROM __eb_sta_rows k JOIN observations o"
            " ON o.datastream_id = k.ds AND o.phenomenon_time = k.t"
            " WHERE o.datastream_id BETWEEN ? AND ?", [lo, hi]).fetchall()
        for i, oid in found:
            rows[i].id = oid
        cur.execute(
            "UPDATE observations SET result_time = coalesce(k.rt, observations.result_time),"
            " parameters = CAST(k.params AS JSON), feature_of_interest_id = k.foi"
            " FROM __eb_sta_rows k WHERE observations.datastream_id = k.ds"
            " AND observations.phenomenon_time = k.t"
            " AND observations.datastream_id BETWEEN ? AND ?", [lo, hi])
        cur.execute(
            "INSERT INTO feature_datastreams SELECT DISTINCT k.foi, k.ds FROM __eb_sta_rows k"
            " WHERE k.foi IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feature_datastreams f"
            " WHERE f.feature_of_interest_id = k.foi AND f.datastream_id = k.ds)")
    finally:
        cur.unregister("__eb_sta_rows")
    # a posted row may have replaced one that named another feature
    prune_feature_links(cur, sorted({p.datastream_id for p in rows}))


def prune_feature_links(cur, datastream_ids: list[int]) -> None:
    """Forget the (feature, datastream) links no observation of these datastreams holds any more."""
    cur.execute(
        "DELETE FROM feature_datastreams WHERE datastream_id IN (SELECT unnest(?)) AND NOT EXISTS"
        " (SELECT 1 FROM observations o WHERE o.datastream_id = feature_datastreams.datastream_id"
        " AND o.feature_of_interest_id = feature_datastreams.feature_of_interest_id)",
        [datastream_ids])


# -- deleting observations -------------------------------------------------------------------
def delete_observations(cur, where_sql: str, params: list) -> None:
    """Delete the observations matching `where_sql` (over `observations`) and recompute the
    counts, time extents and latest values of the datastreams they belonged to."""
    touched = [r[0] for r in cur.execute(
        f"SELECT DISTINCT datastream_id FROM observations WHERE {where_sql}", params).fetchall()]
    if not touched:
        return
    cur.execute(f"DELETE FROM observations WHERE {where_sql}", params)
    refresh_summaries(cur, touched)
    prune_feature_links(cur, touched)


def refresh_summaries(cur, datastream_ids: list[int]) -> None:
    cur.execute("""
        UPDATE datastreams SET observation_count = s.n,
          phenomenon_time_start = s.mn, phenomenon_time_end = s.mx,
          result_time_start = s.rmn, result_time_end = s.rmx,
          last_phenomenon_time = s.mx, last_result = s.lv, last_quality_flag = s.lf
        FROM (SELECT d.id, count(o.datastream_id) AS n, min(o.phenomenon_time) AS mn,
                     max(o.phenomenon_time) AS mx, min(o.result_time) AS rmn,
                     max(o.result_time) AS rmx, arg_max(o.result, o.phenomenon_time) AS lv,
                     arg_max(o.quality_flag, o.phenomenon_time) AS lf
              FROM datastreams d LEFT JOIN observations o ON o.datastream_id = d.id
              WHERE d.id IN (SELECT unnest(?)) GROUP BY d.id) s
        WHERE datastreams.id = s.id""", [datastream_ids])


def update_observation(w: WriterLike, obs_id: int, body: dict, *, replace: bool,
                       user_id: int | None) -> None:
    """PATCH or PUT one Observation: it is taken out and merged again under the same id, so
    its QC flag, its neighbours' flags and the datastream's latest value follow the change."""
    inp.check_keys(body, OBSERVATION_KEYS, "")
    ds, t_us, result, rt, params, foi = w.cur.execute(
        "SELECT datastream_id, epoch_us(phenomenon_time), result, result_time, parameters,"
        " feature_of_interest_id FROM observations WHERE id = ?", [obs_id]).fetchone()
    if body.get("Datastream") is not None and inp.link_id(body["Datastream"], "Datastream") != ds:
        raise inp.bad("Datastream", "an Observation cannot move to another Datastream")
    dataset_id = w.datastream_dataset(ds, "Datastream")
    current = {"phenomenonTime": _time(t_us).isoformat(),
               "result": result, "resultTime": rt.isoformat() if rt else None,
               "parameters": json.loads(params) if params else None}
    merged = dict(body) if replace else current | body
    if replace and merged.get("phenomenonTime") is None:
        merged["phenomenonTime"] = current["phenomenonTime"]
    if body.get("FeatureOfInterest") is not None:
        foi = inp.link_id(body["FeatureOfInterest"], "FeatureOfInterest")
        if foi is None:
            foi = w.create_feature(body["FeatureOfInterest"], "FeatureOfInterest")
        else:
            w.must_see("FeaturesOfInterest", foi, "FeatureOfInterest")
    pending = _pending("", ds, dataset_id, merged.get("phenomenonTime"), merged.get("result"),
                       merged.get("resultTime"), merged.get("parameters"), foi)
    if "result" not in body and not replace:
        pending.unit = None              # the stored result is already in the canonical unit
    if pending.t_us != t_us and w.cur.execute(
            "SELECT 1 FROM observations WHERE datastream_id = ? AND phenomenon_time = ?",
            [ds, _time(pending.t_us)]).fetchone():
        from ecobridge.errors import Conflict

        raise Conflict("phenomenonTime: another Observation of this Datastream is at that time",
                       field="phenomenonTime")
    delete_observations(w.cur, "id = ?", [obs_id])
    w.observations.append(pending)
    flush(w, user_id, what=f"PATCH Observations({obs_id})", strict=True)
    w.cur.execute("UPDATE observations SET id = ? WHERE id = ? AND datastream_id = ?",
                  [obs_id, pending.id, ds])
