"""My organisation and upload pages, for signed-in members.

/org shows the reader's organisations, their datasets with the policy and its grants (forms for
admins), access requests to decide, the audit log of reads by others, and the reader's API
tokens. /upload sends a file to the same background ingest job as the API, and
/upload/runs/{run} follows its report. Every change calls the governance service that the API
calls, so who may do what is decided there; the forms post with the session's CSRF token (checked
in api.deps.get_principal) and answer with a redirect, except a new token, whose secret is shown
on the page that answers the post, once, and is never put in a URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import quote

import yaml
from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.catalog.service import list_datasets
from ecobridge.errors import EcobridgeError, InvalidInput
from ecobridge.governance import audit, policies, requests, tokens
from ecobridge.governance.organisations import get_organisation
from ecobridge.governance.policy import WRITE_ROLES, Principal
from ecobridge.languages import localise
from ecobridge.monitoring import ingest_api
from ecobridge.monitoring.mapping import KINDS
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.ingest_report import (
    ARCHIVES,
    archive_kind,
    archive_rejects,
    import_archive,
    reject_reason,
    takes,
    warning_text,
    with_alerts_state,
)
from ecobridge.web.org_errors import (
    FormPrincipalDep,
    Refusal,
    check_refused,
    dataset_ref,
    number,
    refusal,
    required,
    wants_problem,
)
from ecobridge.web.render import render

router = APIRouter(include_in_schema=False)
SLUG = r"^[a-z0-9][a-z0-9._-]{0,62}$"
RunRef = Annotated[str, Path(pattern=r"^([0-9a-f]{24}|[0-9]{1,15})$")]
TIMEZONE = r"^[A-Za-z0-9_+/-]{1,64}$"
DONE = ("policy", "grant", "grant-revoked", "approved", "declined", "token-revoked")
AUDIT_ROWS = 50


def _sign_in(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


def _day(value: str, field: str) -> datetime | None:
    """A date from a form's <input type=date> as midnight UTC; empty is None."""
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), UTC)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


# -- /org --------------------------------------------------------------------------------------
def _organisations(store, principal: Principal, lang: str) -> list[dict]:
    out = []
    for org_id, role in sorted(principal.roles.items()):
        org = get_organisation(store, org_id)
        out.append({"id": org_id, "slug": org["slug"], "name": localise(org["name"], lang),
                    "country": org["country"], "role": role})
    return out


def _organisation_names(store, lang: str) -> dict[str, str]:
    """Slug -> name in the reader's language, so owners, grantees and requesters read as names
    rather than slugs; the page looks up only the slugs it already shows."""
    return {slug: localise(name, lang)
            for slug, name in store.rows("SELECT slug, name FROM organisations")}


def _owned_datasets(store, principal: Principal, lang: str) -> list[dict]:
    """The datasets of the reader's organisations (every dataset for a platform admin), with
    their policy and grants; `admin` marks those whose policy the reader may change."""
    out = []
    for row in list_datasets(store, principal):
        role = principal.roles.get(row["owner_org_id"])
        if role is None and not principal.is_platform_admin:
            continue
        admin = principal.is_platform_admin or role == "admin"
        out.append({
            "id": row["id"], "slug": row["slug"], "title": localise(row["title"], lang),
            "owner": row["owner"], "visibility": row["visibility"],
            "embargo_until": row["embargo_until"], "sensitive": row["sensitive"],
            "generalise_km": row["generalise_km"], "licence": row["licence"], "admin": admin,
            "publish": principal.is_platform_admin or role in WRITE_ROLES,
            "grants": policies.list_grants(store, principal, row["id"])})
    return out


def _is_admin(principal: Principal) -> bool:
    return principal.is_platform_admin or "admin" in principal.roles.values()


def _org_page(request: Request, store, principal: Principal, lang: str, *, status: int = 200,
              error: Refusal | None = None, new_token: dict | None = None,
              done: str | None = None) -> HTMLResponse:
    datasets = _owned_datasets(store, principal, lang)
    decides = {d["slug"] for d in datasets if d["admin"]}
    found = requests.list_requests(store, principal)
    response = render(
        request, "org/index.html", lang=lang, status=status, error=error, new_token=new_token,
        done=done if done in DONE else None,
        organisations=_organisations(store, principal, lang), datasets=datasets,
        org_names=_organisation_names(store, lang), decides=bool(decides),
        to_decide=[r for r in found if r["dataset"] in decides],
        own_requests=[r for r in found if r["requested_by"] == principal.username
                      and r["dataset"] not in decides],
        audit=(audit.read_audit(store, principal, limit=AUDIT_ROWS)
               if _is_admin(principal) else None),
        is_admin=_is_admin(principal),
        tokens=tokens.list_tokens(store, principal) if principal.user_id else [])
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/org", response_class=HTMLResponse)
def org_page(request: Request, store: StoreDep, principal: PrincipalDep, lang: PageLanguageDep,
             done: str | None = None) -> Response:
    """The reader's organisations and what they manage there."""
    if not principal.authenticated:
        return _sign_in("/org")
    return _org_page(request, store, principal, lang, done=done)


def _change(request: Request, store, principal: Principal, lang: str, done: str, anchor: str,
            action: Callable[[], object]) -> Response:
    """Run one change; redirect to the page (post/redirect/get), or show the page again with
    the refusal and its status."""
    if not principal.authenticated:
        return _sign_in("/org")
    try:
        check_refused(request)
        action()
    except EcobridgeError as exc:
        return _refused(request, store, principal, lang, exc)
    return RedirectResponse(f"/org?done={done}#{anchor}", status_code=303)


def _refused(request: Request, store, principal: Principal, lang: str,
             exc: EcobridgeError) -> Response:
    """The page again with the refusal in the reader's language; problem+json for a program
    that asked for JSON (org_errors.py)."""
    if wants_problem(request):
        raise exc
    return _org_page(request, store, principal, lang, status=exc.status,
                     error=refusal(lang, exc))


@router.post("/org/datasets/{dataset}/policy")
def set_policy(request: Request, store: StoreDep, principal: FormPrincipalDep,
               lang: PageLanguageDep, dataset: str, visibility: str = Form(""),
               embargo_until: str = Form(""), sensitive: str | None = Form(None),
               generalise_km: str = Form("")) -> Response:
    def action() -> None:
        dataset_ref(dataset)
        changes: dict = {"visibility": required(visibility, "visibility"),
                         "sensitive": sensitive is not None,
                         "embargo_until": _day(embargo_until, "embargo_until")}
        if generalise_km.strip():
            try:
                changes["generalise_km"] = float(generalise_km)
            except ValueError:
                raise InvalidInput("generalise_km must be a number",
                                   field="generalise_km") from None
        policies.set_policy(store, principal, dataset, **changes)

    return _change(request, store, principal, lang, "policy", f"dataset-{dataset}", action)


@router.post("/org/datasets/{dataset}/grants")
def add_grant(request: Request, store: StoreDep, principal: FormPrincipalDep,
              lang: PageLanguageDep, dataset: str, grantee: str = Form(""),
              precise: str | None = Form(None), ends_at: str = Form("")) -> Response:
    """`grantee` is an organisation's slug, or a country's ISO 3166-1 alpha-3 code."""
    def action() -> None:
        dataset_ref(dataset)
        who = required(grantee, "grantee").strip()
        country = who.upper() if len(who) == 3 and who.isalpha() else None
        policies.add_grant(store, principal, dataset, org=None if country else who,
                           country=country, precise=precise is not None,
                           ends_at=_day(ends_at, "ends_at"))

    return _change(request, store, principal, lang, "grant", f"dataset-{dataset}", action)


@router.post("/org/datasets/{dataset}/grants/{grant_id}/revoke")
def revoke_grant(request: Request, store: StoreDep, principal: FormPrincipalDep,
                 lang: PageLanguageDep, dataset: str, grant_id: str) -> Response:
    return _change(request, store, principal, lang, "grant-revoked", f"dataset-{dataset}",
                   lambda: policies.revoke_grant(store, principal, dataset_ref(dataset),
                                                 number(grant_id, "grant")))


@router.post("/org/requests/{request_id}/approve")
def approve(request: Request, store: StoreDep, principal: FormPrincipalDep,
            lang: PageLanguageDep, request_id: str, ends_at: str = Form(""),
            precise: str | None = Form(None), note: str = Form("")) -> Response:
    return _change(request, store, principal, lang, "approved", "requests",
                   lambda: requests.approve_request(
                       store, principal, number(request_id, "access request"),
                       ends_at=_day(ends_at, "ends_at"),
                       precise=precise is not None, note=note.strip() or None))


@router.post("/org/requests/{request_id}/decline")
def decline(request: Request, store: StoreDep, principal: FormPrincipalDep,
            lang: PageLanguageDep, request_id: str, note: str = Form("")) -> Response:
    return _change(request, store, principal, lang, "declined", "requests",
                   lambda: requests.decline_request(
                       store, principal, number(request_id, "access request"),
                       note=note.strip() or None))


@router.post("/org/tokens", response_class=HTMLResponse)
def create_token(request: Request, store: StoreDep, principal: FormPrincipalDep,
                 lang: PageLanguageDep, name: str = Form(""),
                 days: str = Form(str(tokens.DEFAULT_DAYS))) -> Response:
    """A new token; its secret is in this answer only (never stored, never in a URL)."""
    if principal.user_id is None:
        return _sign_in("/org")
    try:
        check_refused(request)
        if "\x00" in name or len(name) > 200:
            raise InvalidInput("a token name has at most 200 characters", field="name")
        try:
            lifetime = float(days)
        except ValueError:
            raise InvalidInput("days must be a number", field="days") from None
        created = tokens.create_token(store, user=principal.user_id, name=name.strip(),
                                      days=lifetime)
    except EcobridgeError as exc:
        return _refused(request, store, principal, lang, exc)
    return _org_page(request, store, principal, lang, new_token=created)


@router.post("/org/tokens/{token_id}/revoke")
def revoke_token(request: Request, store: StoreDep, principal: FormPrincipalDep,
                 lang: PageLanguageDep, token_id: str) -> Response:
    return _change(request, store, principal, lang, "token-revoked", "tokens",
                   lambda: tokens.revoke_token(store, principal, number(token_id, "token")))


# -- /upload -----------------------------------------------------------------------------------
def _publishable(store, principal: Principal, lang: str) -> list[dict]:
    """Datasets the reader may write to: publishers and admins of the owner, platform admins."""
    return [{"slug": r["slug"], "title": localise(r["title"], lang), "owner": r["owner"],
             "takes": takes(r)}
            for r in list_datasets(store, principal)
            if principal.is_platform_admin or principal.roles.get(r["owner_org_id"]) in WRITE_ROLES]


def _upload_page(request: Request, store, principal: Principal, lang: str, *, status: int = 200,
                 error: Refusal | None = None, chosen: str | None = None) -> HTMLResponse:
    return render(request, "org/upload.html", lang=lang, status=status, error=error,
                  datasets=_publishable(store, principal, lang), kinds=(*KINDS, *ARCHIVES),
                  chosen=chosen or request.query_params.get("dataset"))


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, store: StoreDep, principal: PrincipalDep,
                lang: PageLanguageDep) -> Response:
    if not principal.authenticated:
        return _sign_in("/upload")
    return _upload_page(request, store, principal, lang)


def _mapping_json(text: str) -> str | None:
    """The optional mapping, written as YAML (or JSON, which is YAML), as the API's JSON."""
    if not text.strip():
        return None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the mapping is not valid YAML: {exc}", field="mapping") from None
    if not isinstance(spec, dict):
        raise InvalidInput("the mapping must be a YAML object of settings", field="mapping")
    return json.dumps(spec, default=str)


@router.post("/upload")
def upload_submit(request: Request, store: StoreDep, principal: FormPrincipalDep,
                  lang: PageLanguageDep, dataset: str = Form(""),
                  file: UploadFile | None = File(None), kind: str = Form(""),
                  timezone: str = Form(""), mapping: str = Form("")) -> Response:
    """Start the same background ingest job as POST /api/v1/datasets/{dataset}/ingest and
    follow it on its run page."""
    if not principal.authenticated:
        return _sign_in("/upload")
    try:
        check_refused(request)
        if not re.fullmatch(SLUG, dataset):
            raise InvalidInput("choose a dataset", field="dataset")
        if file is None or not file.filename:
            raise InvalidInput("choose a file to upload", field="file")
        if kind and kind not in KINDS and kind not in ARCHIVES:
            raise InvalidInput(f"kind must be one of {', '.join((*KINDS, *ARCHIVES))}",
                               field="kind")
        if timezone and not re.fullmatch(TIMEZONE, timezone):
            raise InvalidInput("timezone must be an IANA name such as Asia/Almaty",
                               field="timezone")
        archive = archive_kind(file, kind)
        if archive:  # Darwin Core Archive or Camtrap DP: imported in the request, as the API
            run_id = import_archive(request, store, principal, dataset, file, archive)
            return RedirectResponse(f"/upload/runs/{run_id}", status_code=303)
        job = ingest_api.upload(request, store, principal, dataset, file, kind or None,
                                timezone or None, _mapping_json(mapping))
    except EcobridgeError as exc:
        if wants_problem(request):
            raise
        return _upload_page(request, store, principal, lang, status=exc.status,
                            error=refusal(lang, exc), chosen=dataset)
    return RedirectResponse(f"/upload/runs/{job['job']}", status_code=303)


def _run(store, principal: Principal, run: str) -> dict:
    """A job (or a finished run) as the run page shows it: status, file, report."""
    found = ingest_api.job_status(store, principal, run)
    if "job" in found:
        return with_alerts_state(store, found)
    return archive_rejects(store, {
        "job": None, "dataset": None, "file_name": found.get("file"), "kind": found["kind"],
        "status": found["status"], "run_id": found["run_id"], "report": found,
        "error": found.get("message") if found["status"] == "failed" else None,
        "progress": None})


@router.get("/upload/runs/{run}", response_class=HTMLResponse)
def run_page(request: Request, store: StoreDep, principal: PrincipalDep,
             lang: PageLanguageDep, run: RunRef) -> Response:
    """The ingest report: rows in, accepted, rejected, and the rejects with their reasons. An
    htmx request gets the report section alone (the page polls it while the job runs)."""
    if not principal.authenticated:
        return _sign_in(f"/upload/runs/{run}")
    job = _run(store, principal, run)
    template = ("org/_run.html" if request.headers.get("hx-request") == "true"
                else "org/run.html")
    response = render(request, template, lang=lang, job=job, run=run,
                      reject_reason=lambda reject: reject_reason(lang, reject),
                      warning_text=lambda warning: warning_text(lang, warning),
                      alternate=f"/api/v1/ingest-runs/{run}")
    response.headers["Cache-Control"] = "no-store"
    return response
