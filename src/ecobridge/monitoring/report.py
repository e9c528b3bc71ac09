"""Ingest runs: the report of one file and its rejected rows (the quarantine)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ecobridge.errors import NotFound
from ecobridge.monitoring.reasons import Reason


@dataclass
class RowCounts:
    """What happened to a file's rows: rows_in = rows_accepted + rows_rejected."""

    rows_in: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_flagged: int = 0
    rows_reflagged: int = 0  # stored rows whose QC flag changed because of new neighbours


@dataclass
class Counts(RowCounts):
    datastreams: int = 0


@dataclass(kw_only=True)
class IngestReport(RowCounts):
    run_id: int
    kind: str
    file: str
    dataset_id: int
    status: str
    message: str | None = None
    started_at: Any = None
    finished_at: Any = None
    rejects: list[dict] = field(default_factory=list)
    # alerts still to be written for this run (alerts.overlap), and why they are not yet
    alerts_pending: bool = False
    alerts_error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Reject:
    row: int
    field: str | None
    value: str | None
    reason: Reason | str  # a plain text has no code: the pages show it as it is
    raw: dict | None = None


def reason_columns(reason: Reason | str) -> list:
    """(reason, reason_code, reason_params) as the quarantine stores them."""
    if isinstance(reason, Reason):
        return [reason.text, reason.code, reason.params_json()]
    return [reason, None, None]


def write_rejects(cur, run_id: int, rejects: list[Reject]) -> None:
    """Quarantine rows of the small kinds (stations, areas); observations write theirs in SQL."""
    if not rejects:
        return
    cur.executemany(
        "INSERT INTO quarantine (run_id, row_number, field, value, reason, reason_code,"
        " reason_params, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [[run_id, r.row, r.field, r.value, *reason_columns(r.reason),
          json.dumps(r.raw, ensure_ascii=False, default=str) if r.raw is not None else None]
         for r in rejects])


_RUN_COLUMNS = ("id", "dataset_id", "kind", "file_name", "status", "started_at", "finished_at",
                "rows_in", "rows_accepted", "rows_rejected", "rows_inserted", "rows_updated",
                "rows_unchanged", "rows_flagged", "rows_reflagged", "message", "alerts_pending",
                "alerts_error")


def quarantined(store, run_id: int, limit: int | None, *,
                by_file: bool = False) -> list[dict]:
    """A run's rejects in file order (up to `limit`), each with its raw row decoded;
    `by_file` for archives, whose rejects also name the file inside the archive. Beside the
    English `reason`, `reason_code` and `reason_params` (monitoring/reasons.py; None for rows
    stored before there were codes) let a reader show it in another language."""
    order = "file, row_number" if by_file else "row_number"
    sql = (f"SELECT {order}, field, value, reason, reason_code, reason_params, raw"
           f" FROM quarantine WHERE run_id = ? ORDER BY {order}, field")
    params: list = [run_id]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [dict(r, raw=json.loads(r["raw"]) if r["raw"] else None,
                 reason_params=json.loads(r["reason_params"]) if r["reason_params"] else None)
            for r in store.dicts(sql, params)]


def load_report(store, run_id: int, *, limit: int | None = 100) -> IngestReport:
    """A run and (up to `limit`) of its rejects, in file order, for `ecobridge ingest-report`."""
    rows = store.dicts(f"SELECT {', '.join(_RUN_COLUMNS)} FROM ingest_runs WHERE id = ?",
                       [run_id])
    if not rows:
        raise NotFound(f"no ingest run {run_id}")
    run = rows[0]
    rejects = quarantined(store, run_id, limit)
    return IngestReport(
        run_id=run["id"], kind=run["kind"], file=run["file_name"], dataset_id=run["dataset_id"],
        status=run["status"], message=run["message"], started_at=run["started_at"],
        finished_at=run["finished_at"], rejects=rejects,
        alerts_pending=bool(run["alerts_pending"]), alerts_error=run["alerts_error"],
        **{f.name: run[f.name] for f in fields(RowCounts)},
    )
