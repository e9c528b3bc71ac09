"""The catalogue pages: the dataset catalogue (search, filters, paging, live filtering with htmx),
one dataset (metadata, licence, policy, extent, stations, map, downloads, access request), and the
areas (protected areas, boundaries) with what is monitored inside them.

Everything is read through the catalogue, monitoring and area services, which apply the access
policy; a dataset or area the reader may not see answers the same 404 page as a missing one.
Each page names its JSON twin (`alternate`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from babel import Locale
from babel.core import get_global
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.catalog import area_service, search
from ecobridge.catalog.api import dataset_record
from ecobridge.catalog.service import get_dataset
from ecobridge.errors import Conflict, EcobridgeError, InvalidInput, NotFound
from ecobridge.governance import requests as access_requests
from ecobridge.governance.policy import Principal, visible_datasets_sql
from ecobridge.languages import localise
from ecobridge.monitoring import service as monitoring
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.render import render, translate

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent / "static"
PAGE_SIZE = 20
MAX_STATIONS = 500
MAX_STREAMS = 2000
Slug = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.+-]*$")]
Text = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")]
SLUG_PATH = r"^[a-z0-9][a-z0-9-]{0,62}$"


def _(message: str) -> str:
    """Marks English text for extraction; it is translated where it is shown."""
    return message


DOMAINS = {
    "air": _("Air quality"), "water": _("Water"), "glacier": _("Glaciers"),
    "wildlife": _("Wildlife"), "biodiversity": _("Biodiversity"), "energy": _("Energy"),
    "boundaries": _("Boundaries"), "areas": _("Protected and key areas"),
    "climate": _("Climate"),
}
VISIBILITY = {"public": _("Public"), "registered": _("Registered users"),
              "partners": _("Partners"), "private": _("Private")}
AREA_KINDS = {
    "protected_area": _("Protected area"), "key_biodiversity_area": _("Key biodiversity area"),
    "river_basin": _("River basin"), "admin_boundary": _("Country or administrative boundary"),
    "area_of_interest": _("Area of interest"),
}
# Datasets whose records are species occurrences: exported as Darwin Core and Camtrap DP.
BIODIVERSITY_DOMAINS = ("wildlife", "biodiversity")
SPDX_URL = "https://spdx.org/licenses/{}.html"
BOUNDARY_KIND = "admin_boundary"


# -- labels ------------------------------------------------------------------------------------
def label(lang: str, table: dict[str, str], value: str | None) -> str:
    """The reader's name of a code from one of the tables above (the code itself if unknown)."""
    if value is None:
        return ""
    return translate(lang, table[value]) if value in table else value


@cache
def country_name(code: str | None, lang: str) -> str:
    """A country's name in the reader's language from CLDR (via Babel), from its alpha-3 code."""
    if not code:
        return ""
    alpha2 = (get_global("territory_aliases").get(code.upper()) or [None])[0]
    name = Locale.parse(lang).territories.get(alpha2) if alpha2 else None
    return name or code


def _script_json(value) -> str:
    """JSON to place inside <script type="application/json">: no "<" can close the element."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("<", "\\u003c")


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _moment(value: datetime | None) -> str:
    """Date and time in UTC, as the station page shows them: the data are hourly."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _labels(lang: str) -> dict:
    """What templates need to name codes: one dict of helpers per render."""
    return {"domain_name": lambda v: label(lang, DOMAINS, v),
            "visibility_name": lambda v: label(lang, VISIBILITY, v),
            "kind_name": lambda v: label(lang, AREA_KINDS, v),
            "country_name": lambda v: country_name(v, lang),
            "local": lambda v: localise(v, lang), "day": _day, "moment": _moment}


def boundary_counts(store, principal: Principal,
                    dataset_ids: list[int] | None = None) -> dict[int, int]:
    """How many of each visible dataset's areas are country or administrative boundaries (of
    the given datasets, or all). The pages count protected and monitored areas as "areas", as the
    catalogue's area pages mean them; 177 Natural Earth country outlines are boundaries."""
    if dataset_ids is not None and not dataset_ids:
        return {}
    pred, params = visible_datasets_sql(principal, "ad")
    where, more = "", []
    if dataset_ids is not None:
        where = f" AND a.dataset_id IN ({', '.join('?' for _ in dataset_ids)})"
        more = list(dataset_ids)
    return dict(store.rows(
        "SELECT a.dataset_id, count(*) FROM areas a JOIN datasets ad ON ad.id = a.dataset_id"
        f" WHERE {pred} AND a.kind = ?{where} GROUP BY a.dataset_id",
        [*params, BOUNDARY_KIND, *more]))


def _not_found(request: Request, lang: str) -> HTMLResponse:
    return render(request, "catalog/not_found.html", lang=lang, status=404)


def _routes(request: Request) -> list:
    """The app's routes, those of included routers too (newer FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [(getattr(r, "path", None), r) for r in request.app.routes]
    return [(c.path, c.original_route) for c in iter_route_contexts(request.app.routes)]


def _export_route(request: Request, name: str) -> bool:
    """Whether a dataset export (dwca, camtrap-dp) is mounted, whatever its parameter's name."""
    return any(p and p.startswith("/api/v1/datasets/{") and p.endswith("}/" + name)
               for p, _r in _routes(request))


def _offers(request: Request, path: str, fmt: str) -> bool:
    """Whether the GET route at `path` accepts f=`fmt` (its pattern lists the formats)."""
    for p, route in _routes(request):
        if p == path and "GET" in getattr(route, "methods", ()):
            found = [str(q.field_info.metadata) for dep in _dependants(route.dependant)
                     for q in dep.query_params if q.name == "f"]
            return any(fmt in text for text in found)
    return False


def _dependants(dependant) -> list:
    out, todo = [], [dependant]
    while todo:
        d = todo.pop()
        out.append(d)
        todo += d.dependencies
    return out


def _is_htmx_fragment(request: Request) -> bool:
    """An htmx request for the results only (not a history restore, which needs the page)."""
    return (request.headers.get("hx-request") == "true"
            and request.headers.get("hx-history-restore-request") != "true")


# -- the catalogue -----------------------------------------------------------------------------
@router.get("/datasets", response_class=HTMLResponse)
def catalogue(request: Request, store: StoreDep, principal: PrincipalDep, lang: PageLanguageDep,
              q: Text = None, domain: Slug = "", country: Slug = "", owner: Slug = "",
              licence: Slug = "", visibility: Slug = "",
              page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    """The datasets this reader may see, found by text in any language and filtered."""
    q = (q or "").strip()
    chosen = {"domain": domain, "country": country.upper(), "owner": owner, "licence": licence,
              "visibility": visibility}
    rows, total = search.search_datasets(store, principal, q=q or None, limit=PAGE_SIZE,
                                         offset=(page - 1) * PAGE_SIZE, **chosen)
    records = [dataset_record(r, lang) for r in rows]
    pages = max(1, -(-total // PAGE_SIZE))
    params = {k: v for k, v in {"q": q, **chosen}.items() if v}

    def page_url(n: int) -> str:
        return "/datasets?" + urlencode({**params, **({"page": n} if n > 1 else {})})

    owners = search.owner_names(store, principal)
    context = {"records": records, "total": total, "page": page, "pages": pages,
               "page_url": page_url, "q": q, "chosen": chosen, "params": params,
               "facets": search.facets(store, principal, q=q or None, **chosen),
               "boundaries": boundary_counts(store, principal, [r["id"] for r in records]),
               "owner_names": owners, **_labels(lang)}
    api = {"lang": lang, **({"q": q} if q else {}), **({"domain": domain} if domain else {})}
    alternate = "/api/v1/datasets?" + urlencode(api)
    template = "catalog/_results.html" if _is_htmx_fragment(request) else "catalog/datasets.html"
    response = render(request, template, lang=lang, alternate=alternate, **context)
    response.headers["Vary"] = response.headers["Vary"] + ", HX-Request"
    return response


# -- one dataset -------------------------------------------------------------------------------
def _downloads(request: Request, record: dict, streams: list[dict]) -> dict:
    """Every file the API offers for this dataset, by group."""
    slug = record["slug"]
    files = [(_("Metadata"), "JSON", f"/api/v1/datasets/{slug}")]
    if record["counts"]["things"]:
        files += [(_("Stations"), "CSV", f"/api/v1/things?dataset={slug}&f=csv"),
                  (_("Stations"), "GeoJSON", f"/api/v1/things?dataset={slug}&f=geojson")]
        if _offers(request, "/api/v1/things", "parquet"):
            files.append((_("Stations"), "Parquet",
                          f"/api/v1/things?dataset={slug}&f=parquet"))
    if record["counts"]["datastreams"]:
        files.append((_("Datastreams"), "CSV", f"/api/v1/datastreams?dataset={slug}&f=csv"))
    if record["domain"] in BIODIVERSITY_DOMAINS or record["counts"]["occurrences"]:
        for path, what, name in (("dwca", _("Species occurrences"), "Darwin Core Archive"),
                                 ("camtrap-dp", _("Camera-trap data"), "Camtrap DP")):
            if _export_route(request, path):
                files.append((what, f"{name} (ZIP)", f"/api/v1/datasets/{slug}/{path}"))
    per_stream = [{"stream": s, "files": [
        ("csv", f"/api/v1/datastreams/{s['id']}/observations?f=csv"),
        ("parquet", f"/api/v1/datastreams/{s['id']}/observations?f=parquet")]}
        for s in streams]
    return {"dataset": files, "streams": per_stream}


def _padded(bbox: list[float] | None, least: float = 6.0) -> list[float] | None:
    """A map view around `bbox` at least `least` degrees wide and high: a single station's
    extent is a point, which would zoom the map in to the street."""
    if bbox is None:
        return None
    w, s, e, n = bbox
    pad_x, pad_y = max(0.0, least - (e - w)) / 2, max(0.0, least - (n - s)) / 2
    view = [max(-180.0, w - pad_x), max(-85.0, s - pad_y), min(180.0, e + pad_x),
            min(85.0, n + pad_y)]
    return [round(v, 2) for v in view]  # a view, not a position: no false precision


def _map_areas(record: dict, lang: str) -> str | None:
    """The dataset's own areas for its map (country outlines are the base map already, so a
    boundaries dataset asks for them by kind)."""
    if not record["counts"]["areas"]:
        return None
    kind = "&kind=admin_boundary" if record["domain"] == "boundaries" else ""
    return f"/api/v1/map/areas?dataset={record['slug']}{kind}&lang={lang}"


def _access_request_offer(principal, row: dict, summary: dict) -> bool:
    """A signed-in reader outside the owner who sees a sensitive dataset only on the coarse grid
    may ask its owner for precise access (every other visible dataset is open to them already)."""
    return (principal.user_id is not None and bool(principal.roles)
            and row["owner_org_id"] not in principal.roles and not summary["precise"])


@router.get("/datasets/{slug}", response_class=HTMLResponse)
def dataset_page(request: Request, store: StoreDep, principal: PrincipalDep,
                 lang: PageLanguageDep, slug: str) -> HTMLResponse:
    """One dataset: what it is, who owns it, on what terms, where and when, and its files."""
    row = _visible_dataset(store, principal, slug)
    if row is None:
        return _not_found(request, lang)
    return _dataset_response(request, store, principal, lang, row)


def _visible_dataset(store, principal, slug: str) -> dict | None:
    """The dataset if the reader may see it; None for a malformed slug, a missing and a hidden
    dataset alike, which all answer the same 404 page."""
    if re.match(SLUG_PATH, slug) is None:
        return None
    try:
        return get_dataset(store, principal, slug)
    except NotFound:
        return None


def _dataset_response(request: Request, store, principal, lang: str, row: dict, *,
                      status: int = 200, message: str | None = None,
                      purpose: str = "") -> HTMLResponse:
    record = dataset_record(row, lang)
    summary = search.dataset_summary(store, principal, row["id"])
    things = monitoring.list_things(store, principal, dataset=row["id"],
                                    limit=MAX_STATIONS).items if record["counts"]["things"] else []
    streams = monitoring.list_datastreams(
        store, principal, dataset=row["id"],
        limit=MAX_STREAMS).items if record["counts"]["datastreams"] else []
    deployments = search.deployments(store, principal, row["id"]) \
        if record["counts"]["deployments"] else []
    by_thing: dict[int, list[dict]] = {}
    for s in streams:
        by_thing.setdefault(s["thing_id"], []).append(s)
    areas, _next = area_service.list_areas(store, principal, dataset_id=row["id"], limit=50) \
        if record["counts"]["areas"] else ([], None)
    context = {
        "d": record, "row": row, "summary": summary, "things": things, "by_thing": by_thing,
        "deployments": deployments, "areas": areas,
        "boundaries": boundary_counts(store, principal, [row["id"]])
        if record["counts"]["areas"] else {},
        "downloads": _downloads(request, record, streams),
        "map_js": (STATIC / "js" / "map.js").is_file(),
        "map_sites": f"/api/v1/map/sites?dataset={record['slug']}&lang={lang}"
        if things or deployments else None,
        "map_areas": _map_areas(record, lang),
        "map_fit": _padded(summary["bbox"]),
        "spdx_url": SPDX_URL.format(record["licence"])
        if not record["licence"].startswith("LicenseRef-") else None,
        "is_owner": principal.is_platform_admin or row["owner_org_id"] in principal.roles,
        "offer_request": _access_request_offer(principal, row, summary),
        "message": message, "purpose": purpose,
        "requested": request.query_params.get("requested") == "1",
        "truncated_stations": record["counts"]["things"] > len(things), **_labels(lang)}
    return render(request, "catalog/dataset.html", lang=lang, status=status,
                  alternate=f"/api/v1/datasets/{record['slug']}?lang={lang}", **context)


@router.post("/datasets/{slug}/access-request", response_class=HTMLResponse)
def request_access(request: Request, store: StoreDep, principal: PrincipalDep,
                   lang: PageLanguageDep, slug: str,
                   purpose: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """The dataset page's form: ask the owner for precise access (POST /api/v1/access-requests
    for programs). The session's CSRF token is checked with the principal."""
    row = _visible_dataset(store, principal, slug)
    if row is None:
        return _not_found(request, lang)
    if not principal.authenticated:
        return RedirectResponse(f"/login?next=/datasets/{slug}", status_code=303)
    try:
        access_requests.create_request(store, principal, row["id"], purpose=purpose.replace(
            "\x00", ""), org=principal.org_ids[0] if principal.org_ids else None)
    except (InvalidInput, Conflict) as exc:
        text = (translate(lang, "Describe what you need the data for.")
                if isinstance(exc, InvalidInput)
                else translate(lang, "Your organisation has asked for this dataset already."))
        return _dataset_response(request, store, principal, lang, row, status=exc.status,
                                 message=text, purpose=purpose)
    except EcobridgeError as exc:
        return _dataset_response(request, store, principal, lang, row, status=exc.status,
                                 message=translate(lang, "The request could not be sent."),
                                 purpose=purpose)
    return RedirectResponse(f"/datasets/{slug}?requested=1", status_code=303)


# -- areas -------------------------------------------------------------------------------------
@router.get("/areas", response_class=HTMLResponse)
def areas_page(request: Request, store: StoreDep, principal: PrincipalDep,
               lang: PageLanguageDep, kind: Slug = "", country: Slug = "", q: Text = None,
               after: Annotated[int | None, Query(ge=0, le=2**53)] = None) -> HTMLResponse:
    """Protected areas, boundaries and other areas of the visible datasets."""
    kinds = area_service.area_kinds(store, principal)
    if kind and kind not in AREA_KINDS:
        kind = ""
    q = (q or "").strip()
    items, next_after = area_service.list_areas(
        store, principal, kind=kind or None, country=country or None, q=q or None, after=after,
        limit=100)
    params = {k: v for k, v in (("kind", kind), ("country", country), ("q", q)) if v}
    next_url = ("/areas?" + urlencode({**params, "after": next_after})) if next_after else None
    api = {"lang": lang, **params}
    return render(request, "catalog/areas.html", lang=lang,
                  alternate="/api/v1/areas?" + urlencode(api), items=items, kinds=kinds,
                  kind=kind, country=country, q=q, next_url=next_url, after=after,
                  first_url="/areas?" + urlencode(params), **_labels(lang))


def _site_feature(row: dict, kind: str, name: str, domains: dict[str, str]) -> dict:
    """A site in the shape map.js draws (its `generalised` property only when true)."""
    props = {"id": row["id"], "kind": kind, "name": name, "dataset": row["dataset"],
             "domain": domains.get(row["dataset"])}
    if row["generalised"]:
        props["generalised"] = True
    return {"type": "Feature", "geometry": row["location"], "properties": props}


@router.get("/areas/{area_id}", response_class=HTMLResponse)
def area_page(request: Request, store: StoreDep, principal: PrincipalDep,
              lang: PageLanguageDep, area_id: str) -> HTMLResponse:
    """One area: its outline, and the sites, camera traps and species recorded inside it."""
    if not area_id.isdigit() or len(area_id) > 15:
        return _not_found(request, lang)
    try:
        contents = area_service.area_contents(store, principal, int(area_id))
    except NotFound:
        return _not_found(request, lang)
    area = contents["area"]
    domains = {d["slug"]: d["domain"] for d in contents["datasets"]}
    sites = {"type": "FeatureCollection", "features": [
        _site_feature(s, "station", s["name"], domains) for s in contents["sites"]] + [
        _site_feature(d, "deployment", d["location_name"] or d["deployment_id"], domains)
        for d in contents["deployments"]]}
    return render(request, "catalog/area.html", lang=lang,
                  alternate=f"/api/v1/areas/{area['id']}/contents?lang={lang}",
                  area=area, c=contents, sites_json=_script_json(sites),
                  map_js=(STATIC / "js" / "map.js").is_file(), **_labels(lang))
