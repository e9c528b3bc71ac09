"""The three feature collections, each described once: where its rows come from, its geometry,
its time, its properties and which of them are queryable.

A collection's `source` is a SELECT over the visible rows only (the governance predicate is in
it), with the geometry already passed through `location_sql`. Every filter, count and extent is
computed over that SELECT, so a hidden row is never counted and a bbox can only ever touch the
generalised point of a sensitive record, never the precise one.

Each source yields: id, dataset_id, geom, t0, t1 (the feature's time span, NULL if none) and
`generalised`, plus the raw columns its properties read. Property expressions are over the
source's columns, so the same expression serves output and filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ecobridge.governance.policy import (
    Principal,
    full_access_sql,
    location_sql,
    visible_datasets_sql,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class Prop:
    name: str
    sql: str
    kind: str  # string, integer, number, boolean, datetime, array
    title: str
    queryable: bool = True
    enum: tuple[str, ...] = ()

    def schema(self) -> dict:
        """The property as JSON Schema (for queryables, the feature schema and OpenAPI)."""
        if self.kind == "datetime":
            out: dict = {"type": "string", "format": "date-time"}
        elif self.kind == "array":
            out = {"type": "array", "items": {"type": "string"}}
        else:
            out = {"type": self.kind}
        if self.enum:
            out["enum"] = list(self.enum)
        return {"title": self.title, **out}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    geometry: str  # point or polygon (the generalised form of anything sensitive is a point)
    source: Callable[[Principal, str], tuple[str, list]]
    props: tuple[Prop, ...]
    temporal: bool

    @property
    def queryables(self) -> tuple[Prop, ...]:
        return tuple(p for p in self.props if p.queryable)

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def feature_schema(self) -> dict:
        """JSON Schema of one feature (GeoJSON), so clients know the fields before reading."""
        geometry = ({"type": "object", "properties": {"type": {"type": "string"}}}
                    if self.geometry == "polygon" else
                    {"type": "object", "properties": {"type": {"type": "string",
                                                               "enum": ["Point"]}}})
        return {"type": "object", "title": self.title, "required": ["type", "geometry",
                                                                     "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "id": {"type": "integer"},
                    "geometry": {"oneOf": [{"type": "null"}, geometry]},
                    "properties": {"type": "object",
                                   "properties": {p.name: p.schema() for p in self.props}}}}


def _policy(principal: Principal) -> tuple[str, str, list, list]:
    """(generalised flag sql, visibility predicate sql, their params), over `datasets d`."""
    full, full_params = full_access_sql(principal, "d")
    pred, pred_params = visible_datasets_sql(principal, "d")
    return f"(d.sensitive AND NOT {full})", pred, full_params, pred_params


def _sites(principal: Principal, lang: str) -> tuple[str, list]:
    loc, loc_params = location_sql(principal, "l.geom", "d")
    generalised, pred, g_params, p_params = _policy(principal)
    sql = (
        f"SELECT t.id, t.dataset_id, {loc} AS geom, s.t0, s.t1, {generalised} AS generalised,"
        " t.code, t.name, t.description, d.slug AS dataset,"
        " coalesce(json_extract_string(t.properties, '$.country'), o.country) AS country,"
        " coalesce(s.n, 0) AS datastreams, s.props AS observed_properties"
        " FROM things t JOIN datasets d ON d.id = t.dataset_id"
        " JOIN organisations o ON o.id = d.owner_org_id"
        " LEFT JOIN (SELECT thing_id, max(location_id) AS location_id FROM thing_locations"
        "  GROUP BY thing_id) tl ON tl.thing_id = t.id"
        " LEFT JOIN locations l ON l.id = tl.location_id"
        " LEFT JOIN (SELECT ds.thing_id, min(ds.phenomenon_time_start) AS t0,"
        "  max(ds.phenomenon_time_end) AS t1, count(*) AS n,"
        "  list(DISTINCT p.code ORDER BY p.code) AS props"
        "  FROM datastreams ds JOIN observed_properties p ON p.id = ds.observed_property_id"
        "  GROUP BY ds.thing_id) s ON s.thing_id = t.id"
        f" WHERE l.geom IS NOT NULL AND {pred}"
    )
    return sql, loc_params + g_params + p_params


def _areas(principal: Principal, lang: str) -> tuple[str, list]:
    loc, loc_params = location_sql(principal, "a.geom", "d")
    generalised, pred, g_params, p_params = _policy(principal)
    # the name in the reader's language, falling back as languages.localise does
    name = ("coalesce(" + ", ".join(f"nullif(json_extract_string(a.name, '$.{code}'), '')"
                                    for code in dict.fromkeys((lang, "en", "ru", "zh")))
            + ", a.code)")
    sql = (
        f"SELECT a.id, a.dataset_id, {loc} AS geom, NULL::TIMESTAMPTZ AS t0,"
        f" NULL::TIMESTAMPTZ AS t1, {generalised} AS generalised, a.code, a.kind,"
        f" {name} AS name, a.country, a.designation, a.approximate, d.slug AS dataset"
        " FROM areas a JOIN datasets d ON d.id = a.dataset_id"
        f" WHERE {pred}"
    )
    return sql, loc_params + g_params + p_params


def _occurrences(principal: Principal, lang: str) -> tuple[str, list]:
    loc, loc_params = location_sql(principal, "x.geom", "d")
    generalised, pred, g_params, p_params = _policy(principal)
    sql = (
        f"SELECT x.id, x.dataset_id, {loc} AS geom, x.event_date AS t0, x.event_date AS t1,"
        f" {generalised} AS generalised, d.generalise_km, x.occurrence_id, x.basis_of_record,"
        " x.scientific_name, x.event_date, x.individual_count, x.occurrence_status,"
        " x.coordinate_uncertainty_in_meters, x.country_code, x.locality, x.recorded_by,"
        " x.sex, x.life_stage, x.behavior, d.slug AS dataset"
        " FROM occurrences x JOIN datasets d ON d.id = x.dataset_id"
        f" WHERE {pred}"
    )
    return sql, loc_params + g_params + p_params


_DATASET = Prop("dataset", "dataset", "string", "Dataset (slug)")
_GENERALISED = Prop("location_generalised", "generalised", "boolean",
                    "Position snapped to the dataset's grid (sensitive data)")

SITES = Collection(
    id="sites", title="Monitoring sites",
    description="Stations and other monitored things with their current location and the "
                "time span of their observations.",
    geometry="point", source=_sites, temporal=True,
    props=(
        Prop("code", "code", "string", "Station code"),
        Prop("name", "name", "string", "Name"),
        Prop("description", "description", "string", "Description", queryable=False),
        _DATASET,
        Prop("country", "country", "string", "Country (ISO 3166-1 alpha-3)"),
        Prop("datastreams", "datastreams", "integer", "Number of datastreams"),
        Prop("observed_properties", "observed_properties", "array",
             "Observed property codes"),
        Prop("phenomenon_time_start", "t0", "datetime", "First observation",
             queryable=False),
        Prop("phenomenon_time_end", "t1", "datetime", "Last observation",
             queryable=False),
        _GENERALISED,
    ),
)

AREAS = Collection(
    id="areas", title="Areas",
    description="Protected areas, key biodiversity areas, river basins, administrative "
                "boundaries and areas of interest.",
    geometry="polygon", source=_areas, temporal=False,
    props=(
        Prop("code", "code", "string", "Area code"),
        Prop("kind", "kind", "string", "Kind of area",
             enum=("protected_area", "key_biodiversity_area", "river_basin", "admin_boundary",
                   "area_of_interest")),
        Prop("name", "name", "string", "Name (in the requested language)"),
        Prop("country", "country", "string", "Country (ISO 3166-1 alpha-3)"),
        Prop("designation", "designation", "string", "Designation"),
        Prop("approximate", "approximate", "boolean", "Outline is approximate"),
        _DATASET,
        _GENERALISED,
    ),
)

OCCURRENCES = Collection(
    id="occurrences", title="Species occurrences",
    description="Darwin Core occurrences. Records of sensitive datasets are shown at the "
                "centre of a coarse grid cell unless the reader has precise access.",
    geometry="point", source=_occurrences, temporal=True,
    props=(
        Prop("occurrence_id", "occurrence_id", "string", "dwc:occurrenceID"),
        Prop("scientific_name", "scientific_name", "string", "dwc:scientificName"),
        Prop("basis_of_record", "basis_of_record", "string", "dwc:basisOfRecord"),
        Prop("event_date", "event_date", "datetime", "dwc:eventDate", queryable=False),
        Prop("individual_count", "individual_count", "integer", "dwc:individualCount"),
        Prop("occurrence_status", "occurrence_status", "string", "dwc:occurrenceStatus"),
        # a generalised position is uncertain by half the diagonal of its grid cell
        Prop("coordinate_uncertainty_in_meters",
             "CASE WHEN generalised THEN round(generalise_km * 707.11)"
             " ELSE coordinate_uncertainty_in_meters END",
             "number", "dwc:coordinateUncertaintyInMeters", queryable=False),
        Prop("country_code", "country_code", "string", "dwc:countryCode (ISO 3166-1 alpha-2)"),
        # free-text places can pinpoint a sensitive record: withheld with the coordinates
        Prop("locality", "CASE WHEN generalised THEN NULL ELSE locality END", "string",
             "dwc:locality", queryable=False),
        Prop("recorded_by", "recorded_by", "string", "dwc:recordedBy"),
        Prop("sex", "sex", "string", "dwc:sex"),
        Prop("life_stage", "life_stage", "string", "dwc:lifeStage"),
        Prop("behavior", "behavior", "string", "dwc:behavior", queryable=False),
        _DATASET,
        _GENERALISED,
    ),
)

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (SITES, AREAS, OCCURRENCES)}
