"""HTTP router for things, datastreams and observations (read-only JSON, GeoJSON, CSV, Parquet).

Handlers only wire parameters (api.params) to the service (monitoring.service) and hand the
result to a renderer (api.formats).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import (
    feature_collection,
    json_response,
    link_header,
    records_table,
    table_response,
)
from ecobridge.api.params import (
    MAX_ID,
    BBoxDep,
    DatasetFilterDep,
    Paging,
    TimeRangeDep,
    encode_cursor,
    format_param,
    paging_param,
)
from ecobridge.monitoring import series as series_service
from ecobridge.monitoring import service

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
ThingFormat = format_param("json", "geojson", "csv")
ThingPaging = paging_param(ThingFormat)
OneThingFormat = format_param("json", "geojson")
StreamFormat = format_param("json", "csv")
StreamPaging = paging_param(StreamFormat)
ObsFormat = format_param("json", "csv", "parquet")
ObsPaging = paging_param(ObsFormat, default=1000)


# -- response schemas (OpenAPI) ----------------------------------------------------------------
class Link(BaseModel):
    rel: str
    href: str


class Thing(BaseModel):
    id: int
    code: str = Field(description="Station identifier used in source files")
    name: str
    description: str
    properties: dict[str, Any] | None
    dataset_id: int
    dataset: str = Field(description="Dataset slug")
    location: dict[str, Any] | None = Field(description="GeoJSON geometry, WGS 84")
    location_generalised: bool = Field(description="Snapped to the dataset's grid: sensitive")
    links: list[Link]


class ThingPage(BaseModel):
    items: list[Thing]
    count: int
    next: str | None = Field(description="URL of the next page, null on the last")


class ObservedProperty(BaseModel):
    code: str
    name: str
    definition: str


class UnitOfMeasurement(BaseModel):
    name: str
    symbol: str
    definition: str = Field(description="UCUM code")


class Datastream(BaseModel):
    id: int
    name: str
    description: str
    thing_id: int
    thing_code: str
    dataset_id: int
    dataset: str
    sensor_id: int
    observation_type: str
    observed_property: ObservedProperty
    unit_of_measurement: UnitOfMeasurement
    phenomenon_time_start: datetime | None
    phenomenon_time_end: datetime | None
    result_time_start: datetime | None
    result_time_end: datetime | None
    observation_count: int
    last_phenomenon_time: datetime | None
    last_result: float | None
    last_quality_flag: int | None
    properties: dict[str, Any] | None
    links: list[Link]


class DatastreamPage(BaseModel):
    items: list[Datastream]
    count: int
    next: str | None


class Observation(BaseModel):
    id: int
    phenomenon_time: datetime
    result_time: datetime | None
    result: float | None
    quality_flag: int = Field(description="QARTOD: 1 pass, 2 not evaluated, 3 suspect, 4 fail, "
                              "9 missing")
    qc_tests: int = Field(description="Bit set of the QC tests that did not pass")


class ObservationPage(BaseModel):
    items: list[Observation]
    datastream_id: int
    count: int
    next: str | None


class SeriesBucket(BaseModel):
    time: datetime = Field(description="Start of the bucket")
    count: int
    min: float
    max: float
    mean: float
    first: float
    last: float
    time_first: datetime
    time_last: datetime
    time_min: datetime
    time_max: datetime


class SeriesPoint(BaseModel):
    time: datetime
    value: float


class SeriesResponse(BaseModel):
    items: list[SeriesBucket] | list[SeriesPoint] = Field(description=(
        "minmax: one summary per non-empty bucket; lttb: the points kept"))
    datastream_id: int
    method: str
    start: datetime | None = Field(description="First time covered (inclusive)")
    end: datetime | None = Field(description="End of the range (exclusive)")
    bucket_seconds: float | None = Field(description="Width of one bucket")
    observations: int = Field(description="Observations summarised")
    count: int


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text,
           "content": {"application/problem+json": {}}}
    for code, text in ((400, "Bad parameter (e.g. cursor)"), (404, "Unknown or not visible"),
                       (422, "Invalid parameter value"))
}


def _alternatives(*formats: str) -> dict[int | str, dict[str, Any]]:
    media = {"csv": {"text/csv": {"schema": {"type": "string"}}},
             "parquet": {"application/vnd.apache.parquet":
                         {"schema": {"type": "string", "format": "binary"}}},
             "geojson": {"application/geo+json": {"schema": {"type": "object"}}}}
    content: dict[str, Any] = {}
    for fmt in formats:
        content.update(media[fmt])
    return {200: {"content": content}, **_ERRORS}


# -- helpers -----------------------------------------------------------------------------------
def _url(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def _next_url(request: Request, key: tuple[int, ...] | None) -> str | None:
    if key is None:
        return None
    return str(request.url.include_query_params(cursor=encode_cursor(*key)))


def _with_thing_links(request: Request, thing: dict) -> dict:
    base = f"/api/v1/things/{thing['id']}"
    return {**thing, "links": [{"rel": "self", "href": _url(request, base)},
                               {"rel": "datastreams", "href": _url(request, base + "/datastreams")},
                               {"rel": "dataset",
                                "href": _url(request, f"/api/v1/datasets/{thing['dataset']}")}]}


def _with_stream_links(request: Request, stream: dict) -> dict:
    base = f"/api/v1/datastreams/{stream['id']}"
    thing = f"/api/v1/things/{stream['thing_id']}"
    return {**stream, "links": [
        {"rel": "self", "href": _url(request, base)},
        {"rel": "observations", "href": _url(request, base + "/observations")},
        {"rel": "thing", "href": _url(request, thing)}]}


def _thing_row(thing: dict) -> dict:
    """A thing flattened for CSV: the (generalised) point as longitude and latitude."""
    point = thing["location"] or {}
    lon, lat = (point.get("coordinates") or [None, None])[:2] if point.get("type") == "Point" \
        else (None, None)
    return {**{k: thing[k] for k in ("id", "code", "name", "description", "dataset_id",
                                     "dataset", "location_generalised")},
            "longitude": lon, "latitude": lat}


def _stream_row(stream: dict) -> dict:
    """A datastream flattened for CSV."""
    flat = {k: v for k, v in stream.items()
            if k not in ("observed_property", "unit_of_measurement", "links", "properties")}
    prop, unit = stream["observed_property"], stream["unit_of_measurement"]
    return {**flat, "observed_property": prop["code"], "unit_code": unit["definition"],
            "unit_symbol": unit["symbol"], "unit_name": unit["name"]}


def _list_response(request: Request, fmt: str, page: service.Page, records: list[dict],
                   filename: str, csv_rows: Callable[[dict], dict] | None = None) -> Response:
    next_url = _next_url(request, page.next_key)
    headers = link_header({"next": next_url})
    if fmt == "csv":
        rows = [csv_rows(r) for r in records] if csv_rows else records
        columns = list(rows[0]) if rows else ["id"]
        return table_response("csv", records_table(rows, columns), filename=filename,
                              headers=headers)
    if fmt == "geojson":
        links = [{"rel": "next", "href": next_url}] if next_url else []
        return json_response(feature_collection(records, links=links), media="geojson",
                             headers=headers)
    return json_response({"items": records, "count": len(records), "next": next_url},
                         headers=headers)


# -- endpoints ---------------------------------------------------------------------------------
@router.get("/things", response_model=ThingPage, responses=_alternatives("geojson", "csv"))
def list_things(request: Request, store: StoreDep, principal: PrincipalDep,
                fmt: Annotated[str, ThingFormat], page: Annotated[Paging, ThingPaging],
                bbox: BBoxDep, dataset: DatasetFilterDep) -> Response:
    """Stations of the datasets you may see, with their (possibly generalised) location."""
    result = service.list_things(store, principal, dataset=dataset,
                                 bbox=astuple(bbox) if bbox else None, after=page.after(1),
                                 limit=page.limit)
    records = [_with_thing_links(request, t) for t in result.items]
    return _list_response(request, fmt, result, records, "things", _thing_row)


@router.get("/things/{thing_id}", response_model=Thing, responses=_alternatives("geojson"))
def get_thing(request: Request, store: StoreDep, principal: PrincipalDep, thing_id: Id,
              fmt: Annotated[str, OneThingFormat]) -> Response:
    thing = _with_thing_links(request, service.get_thing(store, principal, thing_id))
    if fmt == "geojson":
        feature = feature_collection([thing])["features"][0]
        return json_response(feature, media="geojson")
    return json_response(thing)


@router.get("/things/{thing_id}/datastreams", response_model=DatastreamPage,
            responses=_alternatives("csv"))
def thing_datastreams(request: Request, store: StoreDep, principal: PrincipalDep, thing_id: Id,
                      fmt: Annotated[str, StreamFormat],
                      page: Annotated[Paging, StreamPaging]) -> Response:
    result = service.list_datastreams(store, principal, thing_id=thing_id, after=page.after(1),
                                      limit=page.limit)
    records = [_with_stream_links(request, s) for s in result.items]
    return _list_response(request, fmt, result, records, f"thing-{thing_id}-datastreams",
                          _stream_row)


@router.get("/datastreams", response_model=DatastreamPage, responses=_alternatives("csv"))
def list_datastreams(request: Request, store: StoreDep, principal: PrincipalDep,
                     fmt: Annotated[str, StreamFormat], page: Annotated[Paging, StreamPaging],
                     dataset: DatasetFilterDep,
                     observed_property: Annotated[str | None, Query(
                         max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                         description="Observed property code, e.g. pm25")] = None) -> Response:
    """Datastreams with their unit, time extent and last value (kept by ingest)."""
    result = service.list_datastreams(store, principal, dataset=dataset,
                                      observed_property=observed_property,
                                      after=page.after(1), limit=page.limit)
    records = [_with_stream_links(request, s) for s in result.items]
    return _list_response(request, fmt, result, records, "datastreams", _stream_row)


@router.get("/datastreams/{datastream_id}", response_model=Datastream, responses=_ERRORS)
def get_datastream(request: Request, store: StoreDep, principal: PrincipalDep,
                   datastream_id: Id) -> Response:
    return json_response(
        _with_stream_links(request, service.get_datastream(store, principal, datastream_id)))


@router.get("/datastreams/{datastream_id}/observations", response_model=ObservationPage,
            responses=_alternatives("csv", "parquet"))
def datastream_observations(request: Request, store: StoreDep, principal: PrincipalDep,
                            datastream_id: Id, fmt: Annotated[str, ObsFormat],
                            page: Annotated[Paging, ObsPaging], when: TimeRangeDep) -> Response:
    """Observations in [start, end) by phenomenon time; follow `next` (or the Link header)."""
    result = service.observations(store, principal, datastream_id=datastream_id,
                                  start=when.start, end=when.end, after=page.after(2),
                                  limit=page.limit)
    next_url = _next_url(request, result.next_key)
    return table_response(
        fmt, result.items, filename=f"datastream-{datastream_id}-observations",
        body={"datastream_id": datastream_id, "count": result.items.num_rows, "next": next_url},
        headers=link_header({"next": next_url}))


@router.get("/datastreams/{datastream_id}/series", response_model=SeriesResponse,
            responses=_ERRORS)
def datastream_series(
    store: StoreDep, principal: PrincipalDep, datastream_id: Id, when: TimeRangeDep,
    points: Annotated[int, Query(ge=series_service.MIN_POINTS, le=series_service.MAX_POINTS,
                                 description="At most this many buckets (minmax) or points "
                                 "(lttb)")] = series_service.DEFAULT_POINTS,
    method: Annotated[str, Query(pattern="^(minmax|lttb)$", description=(
        "minmax: count, min, max, mean, first and last per time bucket (draw first, min, max "
        "and last for a faithful line); lttb: Largest-Triangle-Three-Buckets points"))] = "minmax",
    failed: Annotated[bool, Query(description="Include values that failed QC (flag 4)")] = False,
    interval: Annotated[int | None, Query(ge=1, le=series_service.MAX_INTERVAL, description=(
        "Bucket width in seconds instead of one chosen from `points` (minmax only), e.g. "
        "86400 for means per UTC day; at most `points` buckets"))] = None,
) -> Response:
    """A downsampled series for charts, computed in the database: the time range, narrowed to
    the datastream's extent, is cut into equal buckets of a round width."""
    result = series_service.series(store, principal, datastream_id=datastream_id,
                                   start=when.start, end=when.end, points=points, method=method,
                                   include_failed=failed, interval=interval)
    body = {"datastream_id": datastream_id, "method": result.method, "start": result.start,
            "end": result.end,
            "bucket_seconds": result.bucket.total_seconds() if result.bucket else None,
            "observations": result.observations, "count": result.items.num_rows}
    return json_response(body, rows=result.items)
