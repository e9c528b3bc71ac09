"""HTTP router for areas: the list (JSON or GeoJSON), one area with its outline, and what is
monitored inside it. Everything goes through catalog.area_service, which applies the access
policy; a hidden area is a 404 like a missing one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import feature_collection, json_response, link_header
from ecobridge.api.params import (
    MAX_ID,
    LanguageDep,
    Paging,
    encode_cursor,
    format_param,
    paging_param,
)
from ecobridge.catalog import area_service
from ecobridge.catalog.areas import KINDS
from ecobridge.languages import localise

router = APIRouter(prefix="/api/v1", tags=["areas"])

AreaId = Annotated[int, Path(ge=1, le=MAX_ID)]
ListFormat = format_param("json", "geojson")
ListPaging = paging_param(ListFormat)
OneFormat = format_param("json", "geojson")
_KIND = f"^({'|'.join(KINDS)})$"
_NOT_FOUND = {404: {"description": "Unknown or not visible",
                    "content": {"application/problem+json": {}}}}


class Area(BaseModel):
    id: int
    code: str
    kind: str = Field(description=", ".join(KINDS))
    name: str = Field(description="In the requested language, with fallback")
    name_i18n: dict[str, str]
    country: str | None = Field(description="ISO 3166-1 alpha-3")
    designation: str | None
    approximate: bool = Field(description="The outline is a rough sketch, not a survey")
    dataset: str = Field(description="Slug of the dataset the area belongs to")
    bbox: list[float] = Field(description="min_lon, min_lat, max_lon, max_lat")
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON, WGS 84")
    links: list[dict[str, str]]


class AreaPage(BaseModel):
    items: list[Area]
    count: int
    next: str | None


class AreaContents(BaseModel):
    area: Area
    sites: list[dict[str, Any]] = Field(description="Stations inside (generalised positions "
                                        "for sensitive datasets)")
    deployments: list[dict[str, Any]] = Field(description="Camera-trap deployments inside")
    species: list[dict[str, Any]] = Field(description="Occurrences inside, per species")
    occurrence_count: int
    latest: list[dict[str, Any]] = Field(description="Latest value of each datastream inside")
    datasets: list[dict[str, Any]]
    truncated: list[str] = Field(description="Lists cut at `limit`")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _record(area: dict, lang: str, base: str) -> dict:
    out = {k: v for k, v in area.items() if k not in ("dataset_id", "dataset_title_i18n",
                                                      "properties")}
    out["name"] = localise(area["name_i18n"], lang)
    out["links"] = [{"rel": "self", "href": f"{base}/api/v1/areas/{area['id']}"},
                    {"rel": "contents", "href": f"{base}/api/v1/areas/{area['id']}/contents"},
                    {"rel": "dataset", "href": f"{base}/api/v1/datasets/{area['dataset']}"},
                    {"rel": "alternate", "type": "text/html",
                     "href": f"{base}/areas/{area['id']}"}]
    return out


@router.get("/areas", response_model=AreaPage, responses={200: {"content": {
    "application/geo+json": {"schema": {"type": "object"}}}}})
def list_areas(request: Request, store: StoreDep, principal: PrincipalDep, lang: LanguageDep,
               fmt: Annotated[str, ListFormat], page: Annotated[Paging, ListPaging],
               kind: Annotated[str | None, Query(pattern=_KIND)] = None,
               country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$",
                                                    description="ISO 3166-1 alpha-3")] = None,
               q: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$",
                                              description="Text in the name or code")] = None,
               ) -> Response:
    """Areas of the datasets you may see (protected areas, boundaries, ...). GeoJSON carries
    each outline; JSON gives its bounding box."""
    after = page.after(1)
    items, next_id = area_service.list_areas(
        store, principal, kind=kind, country=country, q=q, after=after[0] if after else None,
        limit=page.limit, geometry=fmt == "geojson")
    base = _base(request)
    records = [_record(a, lang, base) for a in items]
    next_url = (str(request.url.include_query_params(cursor=encode_cursor(next_id)))
                if next_id is not None else None)
    headers = link_header({"next": next_url})
    if fmt == "geojson":
        links = [{"rel": "next", "href": next_url}] if next_url else []
        return json_response(feature_collection(records, geometry="geometry", links=links),
                             media="geojson", headers=headers)
    return json_response({"items": records, "count": len(records), "next": next_url},
                         headers=headers)


@router.get("/areas/{area_id}", response_model=Area, responses={
    **_NOT_FOUND, 200: {"content": {"application/geo+json": {"schema": {"type": "object"}}}}})
def get_area(request: Request, store: StoreDep, principal: PrincipalDep, lang: LanguageDep,
             area_id: AreaId, fmt: Annotated[str, OneFormat]) -> Response:
    """One area with its outline; as a GeoJSON Feature with f=geojson."""
    record = _record(area_service.get_area(store, principal, area_id), lang, _base(request))
    if fmt == "geojson":
        feature = feature_collection([record], geometry="geometry")["features"][0]
        return json_response(feature, media="geojson")
    return json_response(record)


@router.get("/areas/{area_id}/contents", response_model=AreaContents, responses=_NOT_FOUND)
def area_contents(request: Request, store: StoreDep, principal: PrincipalDep,
                  lang: LanguageDep, area_id: AreaId,
                  limit: Annotated[int, Query(ge=1, le=area_service.MAX_CONTENTS)] =
                  area_service.MAX_CONTENTS) -> Response:
    """What is monitored inside the area: stations, camera traps, species records, the
    datasets they belong to and the latest value of each variable. Positions of sensitive
    datasets are generalised, and are matched against the area as generalised."""
    contents = area_service.area_contents(store, principal, area_id, limit=limit)
    area = _record(contents["area"], lang, _base(request))
    area.pop("geometry", None)
    datasets = [{**d, "title": localise(d["title_i18n"], lang)} for d in contents["datasets"]]
    species = [{**s, "vernacular_name": localise(s.pop("names"), lang) or None}
               for s in contents["species"]]
    return json_response({**contents, "area": area, "datasets": datasets, "species": species})
