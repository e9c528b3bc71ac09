"""OGC SensorThings API 1.1, write side, under /sta/v1.1: Create-Update-Delete and the Data
Array extension's CreateObservations.

    POST   /sta/v1.1/Things                     201, Location: <absolute selfLink>, the entity
    POST   /sta/v1.1/Things(1)/Datastreams      (linked to the parent in the path)
    PATCH  /sta/v1.1/Things(1)                  JSON object (merge) or application/json-patch+json
    PUT    /sta/v1.1/Things(1)                  replace
    DELETE /sta/v1.1/Things(1)                  204, with the cascades of the data model
    POST   /sta/v1.1/CreateObservations         201, list of selfLinks or "error" per row

Writers authenticate with `Authorization: Bearer <token>` (or a session with its CSRF token);
see monitoring/sta/writes.py for who may write what.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import dumps
from ecobridge.errors import BadRequest
from ecobridge.monitoring.sta import responses, writes
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.write_input import apply_json_patch

PREFIX = "/sta/v1.1"
SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
# The conformance classes this module implements, listed in the service root.
CONFORMANCE = (SPEC + "create-update-delete", SPEC + "data-array/data-array")
for _url in CONFORMANCE:
    if _url not in responses.WRITE_CONFORMANCE and _url not in responses.READ_CONFORMANCE:
        responses.WRITE_CONFORMANCE.append(_url)

JSON_PATCH = "application/json-patch+json"
router = APIRouter(prefix=PREFIX, tags=["sensorthings"])


def _body(media: str, schema: dict | None = None) -> dict:
    """The request body for the OpenAPI document (the handlers read it themselves)."""
    return {"requestBody": {"required": True,
                            "content": {media: {"schema": schema or {"type": "object"}}}}}


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _entity_response(store, principal, es: str, entity_id: int, root: str,
                     status: int) -> Response:
    from ecobridge.monitoring.sta.service import entity_json

    body = entity_json(store, principal, es, entity_id, root)
    headers = {"Location": f"{root}/{es}({entity_id})"} if status == 201 else None
    return Response(dumps(body).encode(), status_code=status, media_type="application/json",
                    headers=headers)


@router.post("/CreateObservations", status_code=201,
             summary="Create Observations from data arrays",
             openapi_extra=_body("application/json", schema={"type": "array",
                                                             "items": {"type": "object"}}))
async def create_observations(request: Request, store: StoreDep,
                              principal: PrincipalDep) -> Response:
    """`[{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
    "dataArray": [["2024-05-01T10:00:00Z", 12.5], ...]}, ...]` → the selfLink of each new
    Observation in request order, "error" for a row that could not be stored."""
    body = await _json(request)
    ids = await run_in_threadpool(writes.create_observations, store, principal, body)
    root = _root(request)
    links = [f"{root}/Observations({i})" if i is not None else "error" for i in ids]
    return Response(dumps(links).encode(), status_code=201, media_type="application/json")


@router.post("/{resource:path}", status_code=201, summary="Create an entity",
             openapi_extra=_body("application/json"))
async def create_entity(resource: str, request: Request, store: StoreDep,
                        principal: PrincipalDep) -> Response:
    """Deep insert allowed: a Thing with Locations and Datastreams inline, a Datastream with
    its Sensor and ObservedProperty inline or linked by `@iot.id`, an Observation with a
    FeatureOfInterest (or one made from the Thing's Location). A new Thing names its dataset
    in `properties.dataset`."""
    path = parse_path(resource)
    body = await _json(request)
    es, new_id = await run_in_threadpool(writes.create, store, principal, path, body)
    return await run_in_threadpool(_entity_response, store, principal, es, new_id,
                                   _root(request), 201)


@router.patch("/{resource:path}", summary="Update an entity (merge or JSON Patch)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}},
                  JSON_PATCH: {"schema": {"type": "array", "items": {"type": "object"}}}}}})
async def patch_entity(resource: str, request: Request, store: StoreDep,
                       principal: PrincipalDep) -> Response:
    path = parse_path(resource)
    body = await _json(request)
    if request.headers.get("content-type", "").split(";")[0].strip() == JSON_PATCH:
        body = await run_in_threadpool(_patched, store, principal, path, body, _root(request))
    es, entity_id = await run_in_threadpool(writes.update, store, principal, path, body)
    return await run_in_threadpool(_entity_response, store, principal, es, entity_id,
                                   _root(request), 200)


def _patched(store, principal, path, ops: Any, root: str) -> dict:
    """RFC 6902 over the entity as GET shows it; the members that changed become a merge."""
    from ecobridge.monitoring.sta.service import entity_json

    es, entity_id = writes.target(store, principal, path)
    current = entity_json(store, principal, es, entity_id, root)
    current = {k: v for k, v in current.items() if "@" not in k}
    after = apply_json_patch(current, ops)
    changed = {k: v for k, v in after.items() if current.get(k) != v}
    for k in current:
        if k not in after:
            changed[k] = None
    return changed


@router.put("/{resource:path}", summary="Replace an entity",
            openapi_extra=_body("application/json"))
async def put_entity(resource: str, request: Request, store: StoreDep,
                     principal: PrincipalDep) -> Response:
    path = parse_path(resource)
    body = await _json(request)
    es, entity_id = await run_in_threadpool(
        lambda: writes.update(store, principal, path, body, replace=True))
    return await run_in_threadpool(_entity_response, store, principal, es, entity_id,
                                   _root(request), 200)


@router.delete("/{resource:path}", status_code=204, summary="Delete an entity")
def delete_entity(resource: str, store: StoreDep, principal: PrincipalDep) -> Response:
    """Deleting a Thing deletes its Datastreams, their Observations and its
    HistoricalLocations; a Datastream its Observations; a Sensor or ObservedProperty its
    Datastreams; a FeatureOfInterest its Observations."""
    writes.delete(store, principal, parse_path(resource))
    return Response(status_code=204)
