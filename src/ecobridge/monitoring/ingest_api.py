"""Ingest through the API: upload a file, a background job runs the same ingest as the CLI.

The server process owns the store, so the job runs in a thread of the server. Its state lives
in `ingest_jobs` (queued, running, done, failed; the final report); its progress, which changes
many times a second, lives in memory and is lost with the process, which is harmless: a job
interrupted by a restart is reported as failed.

It lives in monitoring, beside the ingest it runs, so governance stays below the domain
packages (interfaces -> services -> governance and store).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import threading
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile

from ecobridge.api.deps import StoreDep, UserDep
from ecobridge.errors import EcobridgeError, InvalidInput, NotFound
from ecobridge.governance.policies import dataset_ref
from ecobridge.governance.policy import Principal, require_write
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.monitoring.report import load_report

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_REJECTS = 100
SAFE_NAME = r"^[^\x00/\\]{1,200}$"

_progress: dict[str, dict] = {}
_progress_lock = threading.Lock()


def _set_progress(job_id: str, value: dict | None) -> None:
    with _progress_lock:
        if value is None:
            _progress.pop(job_id, None)
        else:
            _progress[job_id] = value


def _progress_callback(job_id: str):
    """Accepts the ingest's progress calls in whatever form they come: (done, total) numbers,
    keywords, or a dict; keeps the latest for the status endpoint."""

    def progress(*args: Any, **kwargs: Any) -> None:
        value: dict = {}
        if args and isinstance(args[0], dict):
            value.update(args[0])
        elif args:  # ingest_file reports (bytes done, bytes in the file)
            value["done"] = args[0]
            if len(args) > 1 and args[1]:
                value["total"] = args[1]
                value["fraction"] = round(args[0] / args[1], 4)
        value.update(kwargs)
        _set_progress(job_id, {k: v for k, v in value.items()
                               if isinstance(v, int | float | str | None)})

    return progress


def report_dict(store, report: Any) -> dict:
    """The ingest report as the CLI shows it: counts and the first rejects with their reasons."""
    if dataclasses.is_dataclass(report):
        out = dataclasses.asdict(report)
    elif hasattr(report, "model_dump"):
        out = report.model_dump()
    else:
        out = dict(vars(report))
    run_id = out.get("run_id")
    if run_id is not None and "rejects" not in out:
        out["rejects"] = store.dicts(
            "SELECT row_number, field, value, reason FROM quarantine WHERE run_id = ?"
            f" ORDER BY row_number LIMIT {MAX_REJECTS}", [run_id])
    return json.loads(json.dumps(out, default=str))


def run_job(store, job_id: str, path: FsPath, *, dataset: str, principal: Principal,
            kind: str | None, timezone: str | None, mapping: dict | None) -> None:
    """The job's body, in its own thread; every outcome ends up in `ingest_jobs`."""
    store.execute("UPDATE ingest_jobs SET status = 'running' WHERE id = ?", [job_id])
    _set_progress(job_id, {"done": 0})
    try:
        # the run records the name the user gave, never the server's upload folder
        report = ingest_file(store, path, dataset=dataset, principal=principal, mapping=mapping,
                             timezone=timezone, kind=kind, progress=_progress_callback(job_id),
                             file_name=path.name)
        body = report_dict(store, report)
        store.execute("UPDATE ingest_jobs SET status = 'done', run_id = ?, report = ?,"
                      " finished_at = now() WHERE id = ?",
                      [body.get("run_id"), json.dumps(body), job_id])
    except Exception as exc:  # the job must record every failure, expected or not
        detail = exc.detail if isinstance(exc, EcobridgeError) else f"{type(exc).__name__}: {exc}"
        detail = detail.replace(f"{path.parent}{os.sep}", "")  # a reader's own error text
        store.execute("UPDATE ingest_jobs SET status = 'failed', error = ?, finished_at = now()"
                      " WHERE id = ?", [detail[:2000], job_id])
    finally:
        _set_progress(job_id, None)
        shutil.rmtree(path.parent, ignore_errors=True)


@router.post("/datasets/{dataset}/ingest", status_code=202)
def upload(request: Request, store: StoreDep, principal: UserDep,
           dataset: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")],
           file: Annotated[UploadFile, File(description="CSV, Parquet, GeoJSON, ... file")],
           kind: Annotated[str | None, Form(pattern=r"^[a-z_]{1,40}$")] = None,
           timezone: Annotated[str | None, Form(pattern=r"^[A-Za-z0-9_+/-]{1,64}$")] = None,
           mapping: Annotated[str | None, Form(description="column mapping, JSON")] = None
           ) -> dict:
    """Upload a file into a dataset (publishers of its owner). Answers 202 with the job to poll
    at /api/v1/ingest-runs/{job}."""
    ds = dataset_ref(store, dataset)
    require_write(store, principal, ds["id"])
    name = FsPath(file.filename or "upload").name
    if not name or "\x00" in name:
        raise InvalidInput("the upload needs a file name", field="file")
    parsed_mapping = None
    if mapping:
        try:
            parsed_mapping = json.loads(mapping)
        except ValueError:
            raise InvalidInput("mapping is not JSON", field="mapping") from None
        if not isinstance(parsed_mapping, dict):
            raise InvalidInput("mapping must be a JSON object", field="mapping")
    job_id = secrets.token_hex(12)
    folder = request.app.state.settings.home / "uploads" / job_id
    folder.mkdir(parents=True)
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(file.file, out, length=1 << 20)
    store.execute("INSERT INTO ingest_jobs (id, dataset_id, user_id, file_name, kind, status)"
                  " VALUES (?, ?, ?, ?, ?, 'queued')",
                  [job_id, ds["id"], principal.user_id, name, kind])
    threading.Thread(target=run_job, name=f"ingest-{job_id}", daemon=True,
                     args=(store, job_id, path),
                     kwargs={"dataset": ds["slug"], "principal": principal, "kind": kind,
                             "timezone": timezone, "mapping": parsed_mapping}).start()
    return {"job": job_id, "status": "queued", "dataset": ds["slug"], "file": name,
            "status_url": f"/api/v1/ingest-runs/{job_id}"}


def _may_read(principal: Principal, owner_org_id: int, user_id: int | None) -> bool:
    return (principal.is_platform_admin or owner_org_id in principal.roles
            or (user_id is not None and user_id == principal.user_id))


@router.get("/ingest-runs/{run}")
def job_status(store: StoreDep, principal: UserDep,
               run: Annotated[str, Path(pattern=r"^([0-9a-f]{24}|[0-9]{1,15})$",
                                        description="job id from the upload, or a run id")]
               ) -> dict:
    """A job's status and progress; when done, the ingest report (rows in, accepted, rejected
    and the first rejects). A numeric id reads a finished run's report, CLI runs included."""
    if run.isdigit() and len(run) != 24:
        return _run_report(store, principal, int(run))
    rows = store.dicts(
        "SELECT j.id AS job, d.slug AS dataset, d.owner_org_id AS _owner, j.user_id AS _user,"
        " j.file_name, j.kind, j.status, j.run_id, j.report, j.error, j.created_at,"
        " j.finished_at FROM ingest_jobs j JOIN datasets d ON d.id = j.dataset_id"
        " WHERE j.id = ?", [run])
    if not rows or not _may_read(principal, rows[0].pop("_owner"), rows[0].pop("_user")):
        raise NotFound(f"no ingest job {run}")
    job = rows[0]
    job["report"] = json.loads(job["report"]) if job["report"] else None
    with _progress_lock:
        job["progress"] = dict(_progress.get(run, {})) or None
    return job


def _run_report(store, principal: Principal, run_id: int) -> dict:
    """A finished run's report, exactly as `ecobridge ingest-report` builds it."""
    row = store.one("SELECT d.owner_org_id, r.user_id FROM ingest_runs r"
                    " JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?", [run_id])
    if row is None or not _may_read(principal, row[0], row[1]):
        raise NotFound(f"no ingest run {run_id}")
    body = report_dict(store, load_report(store, run_id, limit=MAX_REJECTS))
    body["file"] = FsPath(str(body.get("file", ""))).name  # not the server's upload folder
    return body
