"""The OpenAPI document covers every read endpoint with its parameters and response schemas."""

from __future__ import annotations

from fastapi.routing import APIRoute

from ecobridge.api.app import _routers, create_app

READ_ROUTES = {
    "/api/v1/datasets", "/api/v1/datasets/{ref}", "/api/v1/organisations",
    "/api/v1/things", "/api/v1/things/{thing_id}", "/api/v1/things/{thing_id}/datastreams",
    "/api/v1/datastreams", "/api/v1/datastreams/{datastream_id}",
    "/api/v1/datastreams/{datastream_id}/observations",
}


def test_every_api_route_is_documented(client):
    doc = client.get("/api/v1/openapi.json").json()
    routes = [*create_app().routes] + [r for router in _routers() for r in router.routes]
    api_routes = {r.path for r in routes if isinstance(r, APIRoute) and r.include_in_schema
                  and r.path.startswith("/api/v1")}
    assert READ_ROUTES <= api_routes
    assert api_routes <= set(doc["paths"]), api_routes - set(doc["paths"])
    for path in READ_ROUTES:
        get = doc["paths"][path]["get"]
        ok = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok, path
        assert "404" in get["responses"] or path in ("/api/v1/datasets",
                                                     "/api/v1/organisations"), path


def test_observation_parameters_and_formats_are_documented(client):
    doc = client.get("/api/v1/openapi.json").json()
    get = doc["paths"]["/api/v1/datastreams/{datastream_id}/observations"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert {"datastream_id", "start", "end", "datetime", "limit", "cursor", "f"} <= names
    content = get["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/vnd.apache.parquet"} <= set(content)
    page = doc["components"]["schemas"]["ObservationPage"]["properties"]
    assert {"items", "next", "count"} <= set(page)
    observation = doc["components"]["schemas"]["Observation"]["properties"]
    assert {"phenomenon_time", "result", "quality_flag"} <= set(observation)
    things = doc["paths"]["/api/v1/things"]["get"]
    assert "application/geo+json" in things["responses"]["200"]["content"]
    assert "bbox" in {p["name"] for p in things["parameters"]}
    stream = doc["components"]["schemas"]["Datastream"]["properties"]
    assert {"unit_of_measurement", "last_result", "last_phenomenon_time"} <= set(stream)
