"""OGC API - Features (Part 1 Core, Part 3 queryables) under /ogcapi.

JSON by default (OWSLib sends `Accept: */*`, GDAL asks for JSON), HTML on `f=html` or when the
Accept header prefers text/html, as browsers do. Links are absolute: clients follow them as
they are. The routes stay out of /api/v1/openapi.json; this API describes itself at /ogcapi/api.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import dumps, media_ranges
from ecobridge.api.ogcapi import query
from ecobridge.api.ogcapi.collections import COLLECTIONS, CRS84, Collection
from ecobridge.api.ogcapi.openapi import OPENAPI_MEDIA, document
from ecobridge.errors import BadRequest, NotFound
from ecobridge.web.i18n import page_language
from ecobridge.web.render import render

router = APIRouter(prefix="/ogcapi", include_in_schema=False)

JSON, GEOJSON, SCHEMA, HTML = ("application/json", "application/geo+json",
                               "application/schema+json", "text/html")
_JSONISH = (JSON, GEOJSON, SCHEMA, "application/vnd.oai.openapi+json",
            "application/openapi+json")
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]


# -- negotiation and links ---------------------------------------------------------------------
def wants_html(request: Request, f: str | None) -> bool:
    """`f` wins; else HTML only when Accept names text/html at least as high as any JSON type
    (a bare */* means JSON)."""
    if f is not None:
        if f not in ("json", "html"):
            raise BadRequest("f: json or html", parameter="f")
        return f == "html"
    html = json_q = 0.0
    for media, q in media_ranges(request.headers.get("accept", "").lower()):
        if media in ("text/html", "application/xhtml+xml"):
            html = max(html, q)
        elif media.startswith(_JSONISH):
            json_q = max(json_q, q)
    return html > 0 and html >= json_q


def root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogcapi"


def url(request: Request, path: str = "", **params) -> str:
    """Absolute URL of `path` under /ogcapi with `params` as its whole query."""
    query_string = urlencode({k: v for k, v in params.items() if v is not None})
    return root(request) + path + (f"?{query_string}" if query_string else "")


def same(request: Request, **changes) -> str:
    """The current request's URL with some query parameters replaced (None drops one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    query_string = urlencode(params)
    return str(request.url).split("?")[0] + (f"?{query_string}" if query_string else "")


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def self_links(request: Request, json_type: str = JSON) -> list[dict]:
    return [link(same(request, f="json"), "self", json_type, "This document"),
            link(same(request, f="html"), "alternate", HTML, "This document as HTML")]


def json_response(body: dict, media: str = JSON) -> Response:
    # Part 2 says which CRS the coordinates are in; GDAL looks for it
    headers = {"Content-Crs": f"<{CRS84}>"} if media == GEOJSON else None
    return Response(dumps(body).encode(), media_type=media, headers=headers)


def page(request: Request, template: str, **context) -> Response:
    return render(request, f"ogcapi/{template}", alternate=same(request, f="json"),
                  **context)


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}")
    return found


# -- capabilities ------------------------------------------------------------------------------
@router.get("")
@router.get("/")
def landing(request: Request, f: str | None = None) -> Response:
    query.check_params(request.query_params, query.COMMON)
    body = {
        "title": "ecobridge OGC API - Features",
        "description": "Monitoring sites, areas and species occurrences shared across borders.",
        "links": [*self_links(request),
                  link(url(request, "/api"), "service-desc", OPENAPI_MEDIA,
                       "The API definition (OpenAPI 3.0)"),
                  link(url(request, "/conformance"), "conformance", JSON,
                       "Conformance classes"),
                  link(url(request, "/collections"), "data", JSON, "Feature collections")],
    }
    if wants_html(request, f):
        return page(request, "landing.html", body=body, collections=list(COLLECTIONS.values()))
    return json_response(body)


@router.get("/conformance")
def conformance(request: Request, f: str | None = None) -> Response:
    query.check_params(request.query_params, query.COMMON)
    body = {"conformsTo": CONFORMANCE, "links": self_links(request)}
    if wants_html(request, f):
        return page(request, "conformance.html", body=body)
    return json_response(body)


@router.get("/api")
def api(request: Request) -> Response:
    query.check_params(request.query_params, query.COMMON)  # the document is JSON only
    return json_response(document(root(request)), OPENAPI_MEDIA)


# -- collections -------------------------------------------------------------------------------
def describe(request: Request, store, principal, c: Collection, lang: str) -> dict:
    base = url(request, f"/collections/{c.id}")
    return {
        "id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84,
        "extent": query.extent(store, principal, c, lang),
        "links": [link(base, "self", JSON, c.title),
                  link(f"{base}?f=html", "alternate", HTML, c.title),
                  link(f"{base}/items", "items", GEOJSON, c.title),
                  link(f"{base}/items?f=html", "items", HTML, c.title),
                  link(f"{base}/queryables", QUERYABLES_REL, SCHEMA, "Queryables"),
                  link(f"{base}/schema", "describedby", SCHEMA, "Schema of a feature")],
    }


@router.get("/collections")
def collections(request: Request, store: StoreDep, principal: PrincipalDep,
                f: str | None = None) -> Response:
    query.check_params(request.query_params, query.COMMON)
    lang = page_language(request)
    body = {"links": self_links(request),
            "collections": [describe(request, store, principal, c, lang)
                            for c in COLLECTIONS.values()]}
    if wants_html(request, f):
        return page(request, "collections.html", body=body)
    return json_response(body)


@router.get("/collections/{collectionId}")
def collection(request: Request, store: StoreDep, principal: PrincipalDep, collectionId: str,
               f: str | None = None) -> Response:
    c = _collection(collectionId)
    query.check_params(request.query_params, query.COMMON)
    body = describe(request, store, principal, c, page_language(request))
    if wants_html(request, f):
        return page(request, "collection.html", body=body, collection=c)
    return json_response(body)


@router.get("/collections/{collectionId}/queryables")
def queryables(request: Request, collectionId: str, f: str | None = None) -> Response:
    c = _collection(collectionId)
    query.check_params(request.query_params, query.COMMON)
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": url(request, f"/collections/{c.id}/queryables"),
            "type": "object", "title": c.title,
            "properties": {p.name: p.schema() for p in c.queryables},
            "additionalProperties": False}
    if wants_html(request, f):
        return page(request, "queryables.html", body=body, collection=c)
    return json_response(body, SCHEMA)


@router.get("/collections/{collectionId}/schema")
def schema(request: Request, collectionId: str) -> Response:
    c = _collection(collectionId)
    query.check_params(request.query_params, query.COMMON)  # the schema is JSON only
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": url(request, f"/collections/{c.id}/schema"), **c.feature_schema()}
    return json_response(body, SCHEMA)


# -- features ----------------------------------------------------------------------------------
@router.get("/collections/{collectionId}/items")
def items(request: Request, store: StoreDep, principal: PrincipalDep, collectionId: str,
          f: str | None = None) -> Response:
    c = _collection(collectionId)
    q = query.parse_items(c, request.query_params)
    html = wants_html(request, f)
    lang = page_language(request)
    result = query.items(store, principal, c, q, lang)
    links = self_links(request, GEOJSON)
    fmt = "html" if html else "json"
    if result.next_cursor:
        links.append(link(same(request, cursor=result.next_cursor, limit=str(q.limit), f=fmt),
                          "next", HTML if html else GEOJSON, "Next page"))
    if result.prev_cursor:
        links.append(link(same(request, cursor=result.prev_cursor, limit=str(q.limit), f=fmt),
                          "prev", HTML if html else GEOJSON, "Previous page"))
    links.append(link(url(request, f"/collections/{c.id}"), "collection", JSON, c.title))
    body = {"type": "FeatureCollection", "features": result.features,
            "numberMatched": result.matched, "numberReturned": len(result.features),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "links": links}
    if html:
        return page(request, "items.html", body=body, collection=c,
                    json_url=same(request, f="json"),
                    next=next((x["href"] for x in links if x["rel"] == "next"), None),
                    prev=next((x["href"] for x in links if x["rel"] == "prev"), None))
    return json_response(body, GEOJSON)


@router.get("/collections/{collectionId}/items/{featureId}")
def item(request: Request, store: StoreDep, principal: PrincipalDep, collectionId: str,
         featureId: str, f: str | None = None) -> Response:
    c = _collection(collectionId)
    query.check_params(request.query_params, query.COMMON)
    html = wants_html(request, f)
    body = query.one(store, principal, c, featureId, page_language(request))
    body["links"] = [*self_links(request, GEOJSON),
                     link(url(request, f"/collections/{c.id}"), "collection", JSON, c.title)]
    if html:
        return page(request, "item.html", body=body, collection=c)
    return json_response(body, GEOJSON)

