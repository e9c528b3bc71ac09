"""The leak matrix: every principal x every GET route x every dataset policy.

Routes are discovered from the app, so a new endpoint is covered the day it is mounted; a route
whose path parameters this file does not know how to fill fails the test until it is classified
in PATH_FILLS (or META_ROUTES, for routes that hold no data). Each response, whatever its format
(JSON, CSV, GeoJSON, HTML, Parquet, zip), must not contain any marker of a dataset the principal
may not see, nor the precise position of the sensitive station, nor a count that includes hidden
observations.

One test per principal and route (routes listed at collection from an app that opens no store),
over one world and one app for the module; a last test per principal checks, from the same
responses, that the matrix is not vacuous.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from functools import cache
from itertools import product
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from ecobridge.api.app import create_app
from ecobridge.config import Settings

from .world import OBS_COUNTS, PRINCIPALS, VISIBLE, World, hidden_markers, world_client

# Routes with no data of any dataset in them.
META_ROUTES = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect",
               "/api/v1/redoc", "/api/v1/health", "/api/v1/me", "/api/v1/tokens",
               # base map tiles: Natural Earth countries drawn as PNG, no shared data
               "/api/v1/map/basemap/{z}/{x}/{y}.png"}


def _dataset_ref(ds: dict, variant: int) -> str:
    return ds["slug"] if variant % 2 == 0 else str(ds["id"])


# path parameter name -> value for (dataset record, variant)
PATH_FILLS = {
    r"dataset|dataset_id|dataset_slug|ds|ref|slug|collection|collection_id": _dataset_ref,
    # OGC API - Features: the sites collection with the dataset's thing, then occurrences
    r"collectionId": lambda ds, v: "sites" if v == 0 else "occurrences",
    r"featureId": lambda ds, v: str(ds["thing"] if v == 0 else ds["occurrence"]),
    r"thing|thing_id": lambda ds, v: str(ds["thing"]),
    r"datastream|datastream_id|stream|stream_id": lambda ds, v: str(ds["datastream"]),
    r"location|location_id": lambda ds, v: str(ds["location"]),
    r"sensor|sensor_id": lambda ds, v: str(ds["sensor"]),
    r"observation|observation_id|obs_id": lambda ds, v: str(ds["observation"]),
    r"feature|feature_id|item|item_id": lambda ds, v: str(ds["thing"]),
    r"occurrence|occurrence_id": lambda ds, v: str(ds["occurrence"]),
    r"deployment|deployment_id": lambda ds, v: str(ds["deployment"]),
    r"org|organisation|organization|org_id|owner": lambda ds, v: "owner-org",
    r"request_id|grant_id|token_id": lambda ds, v: "1",
    r"run|run_id|job": lambda ds, v: "1",
    r"alert|alert_id": lambda ds, v: str(ds["alert"]),
    r"incident|incident_id": lambda ds, v: str(ds["incident"]),
    r"rule|rule_id": lambda ds, v: str(ds["rule"]),
    r"sub_id|subscription_id": lambda ds, v: "1",
    r"area|area_id": lambda ds, v: "1",
    # SensorThings resource paths (/sta/v1.1/{resource}): a location, then observations
    r"resource": lambda ds, v: (f"Locations({ds['location']})" if v == 0
                                else f"Datastreams({ds['datastream']})/Observations"),
}
# query parameters every request to a route carries (a feed that would otherwise stream for
# minutes ends after a second, replaying from the first event)
ROUTE_DEFAULTS = {"/api/v1/alerts/stream": {"timeout": "1", "after": "0"}}
# query parameters worth trying with each dataset's values, and output formats
QUERY_FILLS = {r"dataset|datasets|dataset_id|collection": _dataset_ref,
               r"thing|thing_id": lambda ds, v: str(ds["thing"]),
               r"datastream|datastream_id": lambda ds, v: str(ds["datastream"])}
FORMATS = ("csv", "geojson", "html", "parquet")  # JSON is the default


def _match(table: dict, name: str):
    return next((fill for pattern, fill in table.items() if re.fullmatch(pattern, name)), None)


def get_routes(app) -> list[tuple[str, APIRoute]]:
    """Every GET route with its full path, including those of included routers (which newer
    FastAPI keeps nested instead of copying into app.routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        pairs = [(r.path, r) for r in app.routes]
    else:
        pairs = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    return sorted(((path, r) for path, r in pairs
                   if isinstance(r, APIRoute) and "GET" in r.methods), key=lambda p: p[0])


def _params(route: APIRoute) -> tuple[list[str], list[str]]:
    """Path and query parameter names, those of the route's dependencies included."""
    path, query, todo = [], [], [route.dependant]
    while todo:
        dependant = todo.pop()
        path += [p.name for p in dependant.path_params if p.name not in path]
        query += [getattr(p, "alias", None) or p.name for p in dependant.query_params
                  if (getattr(p, "alias", None) or p.name) not in query]
        todo += dependant.dependencies
    return path, query


def requests_for(entry: tuple[str, APIRoute], world: World) -> list[tuple[str, dict]]:
    """Every (path, query) to try on a route, or AssertionError if it is not classified.

    Each dataset's values in every output format; a dataset's id (instead of its slug) in the
    default format only, which is enough to catch a lookup that treats ids differently."""
    route_path, route = entry
    if route_path in META_ROUTES:
        return [(route_path, {})]
    path_names, query_names = _params(route)
    fills = {n: _match(PATH_FILLS, n) for n in path_names}
    unknown = [n for n, f in fills.items() if f is None]
    assert not unknown, (f"route {route_path}: classify path parameter(s) {unknown} in "
                         "tests/governance/test_matrix.py PATH_FILLS (or META_ROUTES)")
    fmt_name = "f" if "f" in query_names else "format"
    formats = [None] + (list(FORMATS) if fmt_name in query_names else [])
    variants = [(v, f) for v in (0, 1) for f in formats if v == 0 or f is None]
    query_fills = {n: _match(QUERY_FILLS, n) for n in query_names if _match(QUERY_FILLS, n)}
    out: list[tuple[str, dict]] = []

    def add(path: str, query: dict, f: str | None) -> None:
        item = (path, {**ROUTE_DEFAULTS.get(route_path, {}), **query,
                       **({fmt_name: f} if f else {})})
        if item not in out:
            out.append(item)

    datasets = list(world.datasets.values())
    if not path_names:
        for f in formats:
            add(route_path, {}, f)
        for (name, fill), ds, (v, f) in product(query_fills.items(), datasets, variants):
            add(route_path, {name: fill(ds, v)}, f)
        return out
    for ds, (v, f) in product(datasets, variants):
        path = route_path
        for name, fill in fills.items():
            path = re.sub(r"\{" + name + r"(:[^}]*)?\}", fill(ds, v), path)
        add(path, {}, f)
    return out


def body_text(response) -> str:
    """The response as text, whatever its format."""
    raw = response.content
    if raw.startswith(b"PAR1"):
        import pyarrow.parquet as pq

        return str(pq.read_table(io.BytesIO(raw)).to_pylist())
    if raw.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace")
                             for n in archive.namelist())
    return raw.decode("utf-8", "replace")


def hidden_counts(principal: str) -> list[int]:
    """Observation totals that only a reader of hidden data could know."""
    hidden = [p for p in OBS_COUNTS if principal not in VISIBLE[p]]
    if not hidden:
        return []
    return [OBS_COUNTS[p] for p in hidden] + [sum(OBS_COUNTS.values())]


def _shows(marker: str, text: str) -> bool:
    """A coordinate marker is not matched as the seconds of a time ("16:34:34.873")."""
    if re.fullmatch(r"-?\d+\.\d+", marker):
        return re.search(r"(?<!\d\d:)" + re.escape(marker), text) is not None
    return marker in text


def _count_pattern(count: int) -> str:
    return rf"(?<![\w.:/-]){count}(?![\w.])"


@cache
def _any_of(markers: tuple[str, ...], counts: tuple[int, ...]) -> re.Pattern:
    """Matches where any marker or count could: one scan rules out a clean body (most are)."""
    return re.compile("|".join([re.escape(m) for m in markers]
                               + [_count_pattern(c) for c in counts]))


def leaks(text: str, url: str, principal: str, world: World) -> list[str]:
    markers, counts = hidden_markers(world, principal), hidden_counts(principal)
    if not (markers or counts) or not _any_of(tuple(markers), tuple(counts)).search(text):
        return []
    found = [m for m in markers if _shows(m, text) and m not in url]
    for count in counts:
        if re.search(_count_pattern(count), text) and str(count) not in url:
            found.append(f"count {count}")
    return found


def matrix_problems(client, world: World, principal: str, routes: list[tuple[str, APIRoute]],
                    *, audit: bool = False, seen: set | None = None) -> list[str]:
    """Leaks and server errors of every request to every route; with `audit`, also responses
    that hand observation values of the public dataset to this (non-owner) principal without
    an audit event for it."""
    problems = []
    public = world.datasets["public"]
    for entry in routes:
        for path, query in requests_for(entry, world):
            before = (world.store.scalar("SELECT coalesce(max(id), 0) FROM audit_events")
                      if audit else None)
            response = client.get(path, params=query, headers=world.headers(principal),
                                  follow_redirects=False)
            url = str(response.request.url)
            if response.status_code >= 500:
                problems.append(f"{url}: {response.status_code}")
                continue
            text = body_text(response)
            if seen is not None:
                seen.update(ds["marker"] for ds in world.datasets.values()
                            if ds["marker"] in text and ds["marker"] not in url)
            found = leaks(text, url, principal, world)
            if found:
                problems.append(f"{url} ({response.status_code}): {found}")
            if audit and response.status_code == 200 and public["result"] in text:
                logged = world.store.scalar(
                    "SELECT count(*) FROM audit_events WHERE id > ? AND username = ?"
                    " AND dataset_id = ? AND record_count > 0",
                    [before, f"user-{principal.replace('_', '-')}", public["id"]])
                if not logged:
                    problems.append(f"{url}: observations read with no audit event")
    return problems


# The owner and the platform admin see everything: nothing can leak to them.
READERS = [p for p in PRINCIPALS if p not in ("owner", "platform_admin")]
# Building the app opens no store (its lifespan does), so routes are known at collection.
ROUTES = sorted({path for path, _ in get_routes(create_app(Settings(
    home=Path(tempfile.gettempdir()) / "ecobridge-never-opened")))})


@pytest.fixture(scope="module")
def module_env(tmp_path_factory):
    """The governance world and app, with DuckDB on one thread: thousands of small reads cost
    10-20 % less CPU so (measured), and the thread count changes no answer."""
    with world_client(tmp_path_factory.mktemp("home"), threads=1) as env:
        yield env


@pytest.fixture(scope="module")
def checked(module_env):
    """(principal, route) -> (problems, markers seen): every route asked once per principal,
    by whichever test needs it first."""
    world, client = module_env
    routes: dict[str, list[tuple[str, APIRoute]]] = {}
    for entry in get_routes(client.app):
        routes.setdefault(entry[0], []).append(entry)
    assert sorted(routes) == ROUTES, "the app's GET routes changed under the test"
    done: dict[tuple[str, str], tuple[list[str], set[str]]] = {}

    def check(principal: str, route: str) -> tuple[list[str], set[str]]:
        if (principal, route) not in done:
            seen: set[str] = set()
            problems = matrix_problems(client, world, principal, routes[route],
                                       audit=principal == "partner", seen=seen)
            done[principal, route] = problems, seen
        return done[principal, route]

    return check


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("principal", READERS)
def test_nothing_hidden_leaks_from_any_read_route(checked, principal, route):
    problems, _ = checked(principal, route)
    assert not problems, f"{principal}:\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("principal", READERS)
def test_the_matrix_is_not_vacuous(module_env, checked, principal):
    """What the principal may see, some route does show (the responses of the tests above)."""
    world, _ = module_env
    assert ROUTES, "no GET routes found"
    seen = set().union(*(checked(principal, route)[1] for route in ROUTES))
    visible = {ds["marker"] for policy, ds in world.datasets.items()
               if principal in VISIBLE[policy]}
    assert seen == visible


def test_matrix_catches_a_route_that_skips_the_predicate(module_env):
    """Deliberately careless routes, mounted on a scratch app over the same store."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    world, _ = module_env
    scratch = FastAPI()

    @scratch.get("/careless/{dataset}")
    def careless(dataset: str) -> list:
        return world.store.dicts("SELECT t.code, ST_AsText(l.geom) AS wkt FROM things t"
                                 " JOIN thing_locations tl ON tl.thing_id = t.id"
                                 " JOIN locations l ON l.id = tl.location_id")

    @scratch.get("/unaudited")
    def unaudited() -> list:
        return world.store.dicts("SELECT result FROM observations ORDER BY id LIMIT 3")

    with TestClient(scratch) as client:
        problems = matrix_problems(client, world, "partner", get_routes(scratch), audit=True)
    assert any(world.datasets["private"]["marker"] in p for p in problems)
    assert not any("131.371" in p for p in problems)  # the partner may see it precisely
    with TestClient(scratch) as client:
        problems_anon = matrix_problems(client, world, "anonymous", get_routes(scratch))
    assert any("131.371" in p for p in problems_anon)
    assert any("no audit event" in p for p in problems)


def test_matrix_notices_a_leak(module_env):
    """The checker itself: a body holding hidden markers is flagged, a clean one is not."""
    world, _ = module_env
    private = world.datasets["private"]
    assert leaks(f"... {private['marker']} ...", "/x", "anonymous", world)
    assert leaks("lon 131.3713", "/x", "registered", world)
    assert leaks('{"count": 928}', "/x", "partner", world)
    assert not leaks("lon 131.3713", "/x", "owner", world)
    assert not leaks(world.datasets["public"]["marker"], "/x", "anonymous", world)


def test_every_get_route_is_classified(module_env):
    world, client = module_env
    for route in get_routes(client.app):
        assert requests_for(route, world)
