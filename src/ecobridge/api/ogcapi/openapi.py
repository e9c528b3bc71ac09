"""The OpenAPI 3.0 document of /ogcapi, written out per collection.

Each collection's items path lists its queryables as query parameters: GDAL's OAPIF driver
pushes an attribute filter to the server only for a property declared that way, and Part 3
("queryables as query parameters") says the same.
"""

from __future__ import annotations

from ecobridge import __version__
from ecobridge.api.ogcapi.collections import COLLECTIONS, Collection
from ecobridge.api.ogcapi.query import DEFAULT_LIMIT, MAX_LIMIT

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"

_PARAMETERS = {
    "f": {"name": "f", "in": "query", "required": False, "style": "form", "explode": False,
          "description": "Representation: json (default) or html; overrides Accept.",
          "schema": {"type": "string", "enum": ["json", "html"]}},
    "lang": {"name": "lang", "in": "query", "required": False,
             "description": "Language of names and pages: en, zh or ru.",
             "schema": {"type": "string", "enum": ["en", "zh", "ru"]}},
    "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
              "explode": False,
              "description": f"Features per page (default {DEFAULT_LIMIT}; larger values are "
                             f"served as {MAX_LIMIT}).",
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                         "default": DEFAULT_LIMIT}},
    "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
             "explode": False,
             "description": "west,south,east,north in CRS84; sensitive records are matched "
                            "at their generalised position.",
             "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}},
    "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                 "schema": {"type": "string", "format": "uri",
                            "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]}},
    "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form",
                 "explode": False,
                 "description": "Instant or closed interval start/end; `..` for an open end.",
                 "schema": {"type": "string"}},
    "cursor": {"name": "cursor", "in": "query", "required": False,
               "description": "Opaque token of the `next` or `prev` link.",
               "schema": {"type": "string"}},
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1}},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _response(description: str, *media: str) -> dict:
    return {"200": {"description": description,
                    "content": {m: {"schema": {"type": "object"}} if m != "text/html"
                                else {"schema": {"type": "string"}} for m in media}},
            "400": {"description": "Bad parameter",
                    "content": {"application/problem+json": {"schema": {"type": "object"}}}},
            "404": {"description": "Not found or not visible",
                    "content": {"application/problem+json": {"schema": {"type": "object"}}}}}


def _get(summary: str, tag: str, params: list, *media: str, op: str) -> dict:
    return {"get": {"summary": summary, "tags": [tag], "operationId": op,
                    "parameters": params, "responses": _response(summary, *media)}}


def _collection_paths(c: Collection) -> dict:
    base = f"/collections/{c.id}"
    filters = [{"name": p.name, "in": "query", "required": False, "style": "form",
                "explode": False, "description": f"{p.title} (equals)", "schema": p.schema()}
               for p in c.queryables]
    items = [_ref(n) for n in ("limit", "bbox", "bbox-crs", "datetime", "cursor", "f", "lang")]
    return {
        base: _get(f"{c.title}: description", "Collections", [_ref("f"), _ref("lang")],
                   "application/json", "text/html", op=f"describe_{c.id}"),
        f"{base}/items": _get(f"{c.title}: features", "Data", items + filters,
                              "application/geo+json", "text/html", op=f"items_{c.id}"),
        f"{base}/items/{{featureId}}": _get(
            f"{c.title}: one feature", "Data", [_ref("featureId"), _ref("f"), _ref("lang")],
            "application/geo+json", "text/html", op=f"item_{c.id}"),
        f"{base}/queryables": _get(
            f"{c.title}: queryables", "Collections", [_ref("f"), _ref("lang")],
            "application/schema+json", "text/html", op=f"queryables_{c.id}"),
        f"{base}/schema": _get(f"{c.title}: schema of a feature", "Collections", [],
                               "application/schema+json", op=f"schema_{c.id}"),
    }


def document(root: str) -> dict:
    """The OpenAPI document, its server URL being this deployment's /ogcapi."""
    paths = {
        "/": _get("Landing page", "Capabilities", [_ref("f"), _ref("lang")],
                  "application/json", "text/html", op="landing"),
        "/conformance": _get("Conformance classes", "Capabilities", [_ref("f"), _ref("lang")],
                             "application/json", "text/html", op="conformance"),
        "/api": _get("This document", "Capabilities", [], OPENAPI_MEDIA, op="api"),
        "/collections": _get("Feature collections", "Collections", [_ref("f"), _ref("lang")],
                             "application/json", "text/html", op="collections"),
    }
    for c in COLLECTIONS.values():
        paths.update(_collection_paths(c))
    return {
        "openapi": "3.0.3",
        "info": {"title": "ecobridge OGC API - Features", "version": __version__,
                 "description": "Monitoring sites, areas and species occurrences under the "
                                "platform's access policy.",
                 "license": {"name": "Apache-2.0",
                             "url": "https://www.apache.org/licenses/LICENSE-2.0"}},
        "servers": [{"url": root}],
        "tags": [{"name": "Capabilities"}, {"name": "Collections"}, {"name": "Data"}],
        "paths": paths,
        "components": {"parameters": _PARAMETERS},
    }
