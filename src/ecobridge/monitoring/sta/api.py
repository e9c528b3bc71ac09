"""OGC SensorThings API 1.1, read side, under /sta/v1.1.

One route answers every resource path (entity sets, entities, navigation, properties, $value,
$ref): SensorThings paths nest to any depth, so they are parsed by monitoring.sta.path rather than
declared route by route. Writes live in write_api.py on the same prefix.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import dumps
from ecobridge.monitoring.sta import service

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["sensorthings"])


def service_root(request: Request) -> str:
    """The absolute URL of the service root, as links in responses use it."""
    return str(request.base_url).rstrip("/") + PREFIX


def _render(body: dict) -> str:
    """The body as JSON; members the database already wrote as JSON go in as they are."""
    return "{" + ",".join(
        json.dumps(k) + ":" + (v if isinstance(v, service.RawJson) else dumps(v))
        for k, v in body.items()) + "}"


def _respond(reply: service.Reply) -> Response:
    if reply.text is not None:
        return PlainTextResponse(reply.text)
    if reply.body is None:
        return Response(status_code=204)
    return Response(_render(reply.body).encode(), media_type="application/json")


@router.get("", summary="SensorThings service root")
def landing(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """Entity sets with their URLs and `serverSettings.conformance`."""
    return _respond(service.read(store, principal, "", [], service_root(request)))


@router.get("/{resource:path}", summary="Any SensorThings resource path")
def resource_path(resource: str, request: Request, store: StoreDep,
                  principal: PrincipalDep) -> Response:
    """E.g. `Things`, `Datastreams(1)/Observations?$filter=result gt 5&$top=10`,
    `Observations(3)/result/$value`, `Things(1)/Locations/$ref`; the query options of
    SensorThings 1.1 ($filter, $select, $expand, $orderby, $top, $skip, $count,
    $resultFormat=dataArray)."""
    return _respond(service.read(store, principal, resource,
                                 request.query_params.multi_items(), service_root(request)))
