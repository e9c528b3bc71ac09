"""The alerts page: a map and a list of the alerts the reader may see, their incidents, and the
acknowledge / resolve buttons for those the alerts service lets triage.

Every read goes through alerts.service (the governance predicate, generalised positions, the
audit log); the buttons post to page routes that call the same service, so the rules of who may
triage live in one place. The map reads its points from /alerts/map.geojson, built from the same
alert records, so a sensitive station is at its grid cell's centre on the map as in the list.

The page follows the server-sent events of /api/v1/alerts/stream from the last event before it
was rendered (static/js/alerts.js): a new or changed alert's row comes from /alerts/{id}/row,
rendered here like the list's rows, in the page's language and with the reader's rights.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ecobridge.alerts import service, sse
from ecobridge.alerts.models import SEVERITIES
from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.governance.policy import Principal, visible_datasets_sql
from ecobridge.languages import localise
from ecobridge.web.catalog_pages import country_name
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.render import join_list, render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**62)]
# The filter form sends "" for its "any ..." choices: "" is no filter, as a missing parameter.
Status = Literal["open", "acknowledged", "resolved", ""]
# The page opens on what needs attention; "all" lists every status (the API has no default).
PageStatus = Literal["open", "acknowledged", "resolved", "all", ""]
DEFAULT_STATUS = "open"
Severity = Literal["info", "minor", "moderate", "severe", "extreme", ""]
Slug = Annotated[str | None, Query(pattern=r"^([a-z0-9][a-z0-9-]{0,62})?$")]
PAGE = 100


def _filters(status: str | None, severity: str | None, dataset: str | None,
             incident: int | None) -> dict:
    found = {"status": status, "min_severity": severity, "dataset": dataset,
             "incident": incident}
    return {k: v for k, v in found.items() if v not in (None, "")}


def _may_triage(store, principal: Principal, alerts: list[dict]) -> set[int]:
    """Ids of the alerts this principal may acknowledge or resolve, by the service's rule
    (platform admins; admins, publishers and analysts of the dataset's owner)."""
    if not principal.authenticated or not alerts:
        return set()
    if principal.is_platform_admin:
        return {a["id"] for a in alerts}
    ids = sorted({a["dataset_id"] for a in alerts})
    owners = dict(store.rows(f"SELECT id, owner_org_id FROM datasets WHERE id IN"
                             f" ({', '.join('?' for _ in ids)})", ids))
    return {a["id"] for a in alerts
            if principal.roles.get(owners.get(a["dataset_id"])) in service.TRIAGE_ROLES}


def _dataset_choices(store, principal: Principal, lang: str) -> list[tuple[str, str]]:
    """(slug, title in the reader's language) of the visible datasets that have alerts, for the
    filter and to name each row's dataset."""
    pred, params = visible_datasets_sql(principal, "d")
    rows = store.rows("SELECT d.slug, d.title FROM datasets d WHERE " + pred
                      + " AND EXISTS (SELECT 1 FROM alerts a WHERE a.dataset_id = d.id)"
                      " ORDER BY d.slug", params)
    return [(slug, localise(title, lang)) for slug, title in rows]


def _incidents(store, principal: Principal, status: str | None, severity: str | None,
               dataset: str | None, shown: int = 20) -> list[dict]:
    """The latest incidents that hold alerts matching the page's filters."""
    found = service.list_incidents(store, principal, limit=100, status=(
        None if status is None else "resolved" if status == "resolved" else "open"))
    return [i for i in found
            if (dataset is None or dataset in i["datasets"])
            and _rank(i["severity"]) >= _rank(severity)][:shown]


def _listed(store, principal: Principal, chosen: dict, before: int | None,
            others: bool) -> tuple[list[dict], dict | None, int]:
    """A page of alerts, newest first; for a reader whose organisation has a country, the alerts
    of datasets shared from that country first, then the rest (each newest first). Returns the
    alerts, the query of the next page (None on the last) and how many lead as the reader's own.
    `others` says that `before` pages through the rest, the own country's being all shown."""
    home = tuple(sorted(principal.countries))
    if not home:
        items = service.list_alerts(store, principal, after_id=before, limit=PAGE, **chosen)
        return items, ({"before": items[-1]["id"]} if len(items) == PAGE else None), 0
    own = [] if others else service.list_alerts(
        store, principal, after_id=before, limit=PAGE, owner_countries=home, **chosen)
    if len(own) == PAGE:
        return own, {"before": own[-1]["id"]}, len(own)
    rest = service.list_alerts(store, principal, after_id=before if others else None,
                               limit=PAGE - len(own), other_countries=home, **chosen)
    more = len(rest) == PAGE - len(own)
    return own + rest, ({"others": 1, "before": rest[-1]["id"]} if more else None), len(own)


def _own_country(store, principal: Principal, alert: dict) -> bool:
    """Whether a (visible) alert's dataset is shared from the reader's organisation's country,
    so a row redrawn alone keeps its mark."""
    if not principal.countries:
        return False
    return store.scalar("SELECT o.country FROM datasets d JOIN organisations o"
                        " ON o.id = d.owner_org_id WHERE d.id = ?",
                        [alert["dataset_id"]]) in principal.countries


def _country_names(codes, lang: str) -> str:
    return join_list(lang, sorted(country_name(c, lang) for c in codes))


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, store: StoreDep, principal: PrincipalDep,
                lang: PageLanguageDep, status: PageStatus | None = None,
                severity: Severity | None = None, dataset: Slug = None,
                incident: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                others: bool = False) -> HTMLResponse:
    """Map, incidents and the list of alerts, newest first (those of the reader's own country
    first), filtered; the open ones unless the query names a status, so a reader first sees what
    needs attention."""
    status = status or DEFAULT_STATUS
    # the filters as the API and the map read them (no status for "all")...
    chosen = _filters(None if status == "all" else status, severity, dataset, incident)
    # ...and as this page's own links carry them, "all" included, or they would fall back to open
    own = {**chosen, "status": status}
    # read first: an event committed after this id is streamed, none is missed in between
    last_event = sse.start_id(store, None, None)
    items, next_page, own_count = _listed(store, principal, chosen, before, others)
    incidents = _incidents(store, principal, chosen.get("status"), chosen.get("min_severity"),
                           chosen.get("dataset"))
    query = urlencode(chosen)
    older = f"/alerts?{urlencode({**own, **next_page})}" if next_page else None
    datasets = _dataset_choices(store, principal, lang)
    return render(
        request, "alerts/index.html", lang=lang,
        alternate=f"/api/v1/alerts?{query}" if query else "/api/v1/alerts",
        alerts=items, incidents=incidents, triage=_may_triage(store, principal, items),
        filters=chosen, list_status=status, filtered=own != {"status": DEFAULT_STATUS},
        query=query, older=older, live=before is None and not others,
        own_count=own_count, own_first=bool(principal.countries),
        own_countries=sorted(principal.countries),
        home_countries=_country_names(principal.countries, lang),
        stream_url=f"/api/v1/alerts/stream?after={last_event}",
        datasets=datasets, titles=dict(datasets),
        cap_url="/api/v1/alerts.cap?" + urlencode(
            {k: v for k, v in chosen.items() if k != "incident"}),
        geojson_url=f"/alerts/map.geojson?{query}")


@router.get("/alerts/{alert_id}/row", response_class=HTMLResponse)
def alert_row(request: Request, store: StoreDep, principal: PrincipalDep,
              lang: PageLanguageDep, alert_id: Id) -> HTMLResponse:
    """One alert's row of the list, for the live page (404 for an alert the reader may not
    see, as on every read)."""
    alert = service.get_alert(store, principal, alert_id)
    return render(request, "alerts/_row.html", lang=lang, alert=alert,
                  titles=dict(_dataset_choices(store, principal, lang)),
                  triage=_may_triage(store, principal, [alert]), changed=True,
                  own_country=_own_country(store, principal, alert))


@router.get("/alerts/map.geojson")
def alerts_geojson(store: StoreDep, principal: PrincipalDep, lang: PageLanguageDep,
                   status: Status | None = None, severity: Severity | None = None,
                   dataset: Slug = None,
                   incident: Annotated[int | None, Query(ge=1, le=2**62)] = None
                   ) -> JSONResponse:
    """The stations of the page's alerts as GeoJSON points for the shared map (static/js/map.js
    site features), at the position the reader may see: a grid-cell centre for a sensitive
    dataset without full access. `alert` (the highest severity not resolved) marks a station
    with an alert still open."""
    items = service.list_alerts(store, principal, limit=1000,
                                **_filters(status, severity, dataset, incident))
    ids = sorted({a["dataset_id"] for a in items})
    pred, params = visible_datasets_sql(principal, "d")
    meta = {slug: (domain, title) for slug, domain, title in store.rows(
        f"SELECT d.slug, d.domain, d.title FROM datasets d WHERE {pred} AND d.id IN"
        f" ({', '.join('?' for _ in ids)})", [*params, *ids])} if ids else {}
    sites: dict[int, dict] = {}
    for a in items:  # newest first: a station's first alert gives its position
        if not a["location"]:
            continue
        site = sites.setdefault(a["station"]["id"], {
            "type": "Feature", "geometry": a["location"],
            "properties": {"id": a["station"]["id"], "kind": "station",
                           "name": a["station"]["name"], "dataset": a["dataset"],
                           "domain": meta[a["dataset"]][0], "alert_ids": [],
                           **({"generalised": True} if a["location_generalised"] else {})}})
        props = site["properties"]
        props["alert_ids"].append(a["id"])
        if a["status"] != "resolved" and _rank(a["severity"]) > _rank(props.get("alert")):
            props["alert"] = a["severity"]
    datasets = {slug: {"title": localise(title, lang)} for slug, (_, title) in meta.items()}
    return JSONResponse({"type": "FeatureCollection", "features": list(sites.values()),
                         "datasets": datasets}, media_type="application/geo+json")


def _rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _triage(request: Request, store, principal: Principal, lang: str, alert_id: int,
            action: str) -> Response:
    """Run the transition through the service (which checks the rights: 401, 403, or 404 for a
    hidden alert); answer an htmx request with the updated row, a plain form with a redirect."""
    alert = getattr(service, action)(store, principal, alert_id)
    if request.headers.get("hx-request") == "true":
        return render(request, "alerts/_row.html", lang=lang, alert=alert,
                      titles=dict(_dataset_choices(store, principal, lang)),
                      triage=_may_triage(store, principal, [alert]), changed=True,
                      own_country=_own_country(store, principal, alert))
    # to the list its new status puts it in: the default (open) list no longer shows it
    return RedirectResponse(f"/alerts?status={alert['status']}#alert-{alert_id}",
                            status_code=303)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, store: StoreDep, principal: PrincipalDep,
                lang: PageLanguageDep, alert_id: Id) -> Response:
    return _triage(request, store, principal, lang, alert_id, "acknowledge")


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, store: StoreDep, principal: PrincipalDep, lang: PageLanguageDep,
            alert_id: Id) -> Response:
    return _triage(request, store, principal, lang, alert_id, "resolve")
