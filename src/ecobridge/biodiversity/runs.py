"""Import runs for archives and packages, in the monitoring ingest's model: one `ingest_runs`
row per import, rejects in `quarantine` (with the file inside the archive), rows in = rows
accepted + rows rejected, reported as monitoring.report.IngestReport.

An archive's rows go in through the biodiversity service's writers, each its own transaction,
so the run row is written first ('running') and closed at the end ('done' or 'failed'); the
importer removes what it added if a later step fails.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ecobridge.catalog.service import resolve_dataset_id
from ecobridge.errors import EcobridgeError, InvalidInput
from ecobridge.governance.policy import Principal, require_write
from ecobridge.monitoring.reasons import Reason
from ecobridge.monitoring.report import (
    IngestReport,
    RowCounts,
    load_report,
    quarantined,
    reason_columns,
)


@dataclass
class Reject:
    file: str
    row: int | None
    field: str | None
    value: str | None
    reason: Reason | str
    raw: dict | None = None


def digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files in name order."""
    h = hashlib.sha256()
    for p in ([path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file())):
        h.update(str(p.relative_to(path) if p != path else p.name).encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def start_run(store, *, dataset_id: int, kind: str, path: Path, principal: Principal,
              file_name: str | None = None) -> int:
    """`file_name`: the name the user gave an uploaded file (its path is the server's)."""
    with store.transaction() as cur:
        return cur.execute(
            "INSERT INTO ingest_runs (dataset_id, kind, file_name, file_sha256, status, user_id)"
            " VALUES (?, ?, ?, ?, 'running', ?) RETURNING id",
            [dataset_id, kind, file_name or str(path), digest(path),
             principal.user_id]).fetchone()[0]


def open_run(store, path: Path, *, dataset: str | int, kind: str, principal: Principal,
             file_name: str | None = None) -> tuple[int, int]:
    """What an import checks before it reads the file (the dataset exists, the principal may
    write to it, the file is there), then its run row: (dataset id, run id)."""
    dataset_id = resolve_dataset_id(store, dataset)
    require_write(store, principal, dataset_id)
    if not path.exists():
        raise InvalidInput("no such file or folder", file=str(path))
    return dataset_id, start_run(store, dataset_id=dataset_id, kind=kind, path=path,
                                 principal=principal, file_name=file_name)


def finish_run(cur, run_id: int, counts: RowCounts, rejects: list[Reject],
               warnings: list[Reason]) -> None:
    """The run's counts, rejects and warnings: the warnings' English text in `message` (what
    the API and the CLI show), their codes in `warning_codes` (the report page translates them)."""
    assert counts.rows_in == counts.rows_accepted + counts.rows_rejected, \
        "rows in != accepted + rejected"
    assert counts.rows_accepted == counts.rows_inserted + counts.rows_unchanged, \
        "rows accepted != inserted + unchanged"
    if rejects:
        cur.executemany(
            "INSERT INTO quarantine (run_id, file, row_number, field, value, reason,"
            " reason_code, reason_params, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[run_id, r.file, r.row or 0, r.field, r.value, *reason_columns(r.reason),
              json.dumps(r.raw, ensure_ascii=False, default=str) if r.raw is not None else None]
             for r in rejects])
    cur.execute(
        "UPDATE ingest_runs SET status = 'done', finished_at = now(), rows_in = ?,"
        " rows_accepted = ?, rows_rejected = ?, rows_inserted = ?, rows_unchanged = ?,"
        " message = ?, warning_codes = ? WHERE id = ?",
        [counts.rows_in, counts.rows_accepted, counts.rows_rejected, counts.rows_inserted,
         counts.rows_unchanged, "; ".join(w.text for w in warnings) or None,
         json.dumps([w.as_dict() for w in warnings], ensure_ascii=False, default=str)
         if warnings else None, run_id])


def fail_run(store, run_id: int, exc: BaseException) -> None:
    message = exc.detail if isinstance(exc, EcobridgeError) else f"{type(exc).__name__}: {exc}"
    try:
        with store.transaction() as cur:
            cur.execute("UPDATE ingest_runs SET status = 'failed', finished_at = now(),"
                        " message = ? WHERE id = ?", [message[:2000], run_id])
    except Exception:  # the original error matters more than the bookkeeping
        pass


def run_report(store, run_id: int, *, limit: int | None = 100) -> IngestReport:
    """The run with (up to `limit` of) its rejects, each with the file inside the archive."""
    report = load_report(store, run_id, limit=0)
    report.rejects = quarantined(store, run_id, limit, by_file=True)
    return report


def warnings_of(report: IngestReport) -> list[str]:
    return report.message.split("; ") if report.message else []
