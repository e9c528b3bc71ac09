"""The upload page's per-dataset help and archive uploads, and the ingest report's rejection
reasons in the reader's language.

A reject stores its reason as English text and as a code with parameters
(monitoring/reasons.py); here the code's template is translated (catalogue domain `ingest`) and
the parameters (file, field, value, row names) are filled in as data, marked translate="no".
A reject stored before there were codes shows its English text, marked as English. An
archive import's warnings (of the whole file) are codes too, shown the same way. A run whose
alerts are still to be evaluated (alerts.overlap) says so, read afresh from the run.

Darwin Core Archives and Camtrap DP packages go through the same importers as
POST /api/v1/datasets/{ref}/dwca and /camtrap-dp, in the request, as the API runs them.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from typing import Any

from fastapi import Request, UploadFile
from markupsafe import Markup, escape

from ecobridge.biodiversity.api import save_upload
from ecobridge.biodiversity.camtrap import import_camtrap_dp
from ecobridge.biodiversity.dwca import import_dwca
from ecobridge.governance.policy import Principal
from ecobridge.monitoring.reasons import fill, is_stored_reason
from ecobridge.monitoring.report import quarantined
from ecobridge.web.i18n import translations

ARCHIVES = {"camtrap-dp": import_camtrap_dp, "dwca": import_dwca}
BIODIVERSITY_DOMAINS = ("wildlife", "biodiversity")
AREA_DOMAINS = ("areas", "boundaries")
MAX_REJECTS = 100


# -- reasons -----------------------------------------------------------------------------------
def _data(value: Any, conversion: str) -> str:
    text = repr(value) if conversion == "r" else str(value)
    return f'<span translate="no">{escape(text)}</span>'


def reject_reason(lang: str, reject: dict) -> Markup:
    """A reject's reason as HTML in `lang`: the translated template with its values as data,
    or, for a reject stored without a code, the stored English text."""
    code, params = reject.get("reason_code"), reject.get("reason_params")
    if not is_stored_reason(code, params):
        return Markup('<span translate="no" lang="en">%s</span>') % (reject.get("reason") or "")
    gettext = translations(lang).gettext
    return Markup(fill(code, params, gettext, _data, lambda text: str(escape(text))))


def run_warnings(store, run_id: int, message: str | None) -> list[dict]:
    """An archive run's warnings as stored codes ({code, params}), or for a run from before
    there were codes, its English message, one {"text": ...} per warning."""
    stored = store.scalar("SELECT warning_codes FROM ingest_runs WHERE id = ?", [run_id])
    if stored:
        found = json.loads(stored)
        if all(is_stored_reason(w.get("code"), w.get("params")) for w in found):
            return found
    return [{"text": text} for text in (message or "").split("; ") if text]


def warning_text(lang: str, warning: dict) -> Markup:
    """A warning of run_warnings() as HTML in `lang`, as reject_reason() shows a reason."""
    return reject_reason(lang, {"reason_code": warning.get("code"),
                                "reason_params": warning.get("params"),
                                "reason": warning.get("text")})


# -- what a dataset takes ----------------------------------------------------------------------
def takes(dataset: dict) -> str:
    """What the upload page offers for a dataset (a row of catalog.service.list_datasets):
    'camtrap' (a camera-trap dataset: Camtrap DP packages), 'dwca' (species records: Darwin Core
    Archives), 'areas' (polygons) or 'observations' (stations and their measurements)."""
    domain = dataset.get("domain")
    if domain in BIODIVERSITY_DOMAINS:
        words = " ".join(dataset.get("keywords") or []).lower()
        if (dataset.get("deployments") or "camera trap" in words or "camtrap" in words
                or (domain == "wildlife" and not dataset.get("occurrences"))):
            return "camtrap"
        return "dwca"
    if domain in AREA_DOMAINS:
        return "areas"
    return "observations"


# -- archive uploads ---------------------------------------------------------------------------
def archive_kind(file: UploadFile, kind: str) -> str | None:
    """'camtrap-dp' or 'dwca' when the upload is (or is said to be) one; None for the files of
    the monitoring ingest. A zip holding datapackage.json is a Camtrap DP package, one holding
    meta.xml a Darwin Core Archive (a zipped Shapefile holds neither)."""
    if kind in ARCHIVES:
        return kind
    if kind:
        return None
    try:
        names = {n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(file.file).namelist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        file.file.seek(0)
    if "datapackage.json" in names:
        return "camtrap-dp"
    return "dwca" if "meta.xml" in names else None


def import_archive(request: Request, store, principal: Principal, dataset: str,
                   file: UploadFile, kind: str) -> int:
    """Import the archive or package into the dataset; the run's id (its report follows it)."""
    path = save_upload(request, file)
    try:
        report = ARCHIVES[kind](store, path, dataset=dataset, principal=principal,
                                file_name=path.name)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return report.run_id


def archive_rejects(store, job: dict) -> dict:
    """An archive's run with its rejects naming the file inside the archive (the run's
    report lists them by row only) and, once done, its warnings. Call only after the reader's
    access was checked."""
    report = job.get("report")
    if job.get("kind") in ARCHIVES and report and report.get("run_id"):
        rejects = quarantined(store, report["run_id"], MAX_REJECTS, by_file=True)
        report["rejects"] = json.loads(json.dumps(rejects, default=str))
        if job.get("status") == "done":
            report["warnings"] = run_warnings(store, report["run_id"], report.get("message"))
    return job


# -- alerts still to evaluate ------------------------------------------------------------------
def with_alerts_state(store, job: dict) -> dict:
    """The job with its run's alerts as they stand now. A job's report was stored when the job
    ended, when its alerts may still have been pending (alerts.overlap), and the server
    evaluates them later (alerts.evaluate.recover): the stored report would then go on saying
    they are pending. Call only after the reader's access was checked."""
    report = job.get("report")
    if report and report.get("run_id"):
        row = store.one("SELECT alerts_pending, alerts_error FROM ingest_runs WHERE id = ?",
                        [report["run_id"]])
        if row is not None:
            report["alerts_pending"], report["alerts_error"] = bool(row[0]), row[1]
    return job
