"""schemathesis over the whole OpenAPI document: no generated request gets a 5xx.

One test per operation, listed at collection from the app's own OpenAPI document (so a new
endpoint is covered the day it is mounted, and a failure names its operation). Each generated
case is sent twice, anonymous and as a platform admin (who passes every permission check, so
handlers run deep), in-process against the ASGI app over a store holding the access world.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ecobridge.api.app import create_app
from ecobridge.config import Settings

from .world import World

MAX_EXAMPLES = 8  # cases per operation, each sent as both principals
WHO = ("anonymous", "platform_admin")
# A feed streams until its `timeout` (300 s by default); schemathesis would cut it after its own
# 10 s read timeout, idle time that proves nothing the first poll does not. Such a parameter is
# kept at or under this many seconds.
FEED_SECONDS = 0.5
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _listed_operations() -> list[str]:
    """Every operation of the OpenAPI document as "METHOD /path"; building the app opens no
    store (its lifespan does), so collection needs no data."""
    app = create_app(Settings(home=Path(tempfile.gettempdir()) / "ecobridge-never-opened"))
    return [f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items()
            for method in item if method in METHODS]


OPERATIONS = _listed_operations()


def _known_values(world: World) -> dict[str, list]:
    """Real values for path parameters, so half the cases reach past the 404 of a random id."""
    ds = list(world.datasets.values())
    return {"dataset": [d["slug"] for d in ds], "ref": [d["slug"] for d in ds],
            "thing_id": [d["thing"] for d in ds], "datastream_id": [d["datastream"] for d in ds],
            "alert_id": [d["alert"] for d in ds], "incident_id": [d["incident"] for d in ds],
            "rule_id": [d["rule"] for d in ds],
            "org": ["owner-org", "partner-org"], "username": ["user-owner", "user-partner"],
            "grant_id": [1, 2, 3], "request_id": [1, 2], "token_id": [1, 2], "run": ["1"]}


def _steer(case, known: dict[str, list]) -> None:
    for name, values in known.items():
        if case.path_parameters and name in case.path_parameters:
            pick = hash(str(case.path_parameters[name]))
            if pick % 2 == 0:
                case.path_parameters[name] = values[(pick // 2) % len(values)]
    if case.operation.get_parameter("timeout", "query") is not None:
        timeout = (case.query or {}).get("timeout")
        if not isinstance(timeout, int | float) or timeout > FEED_SECONDS:
            case.query = {**(case.query or {}), "timeout": FEED_SECONDS}


@pytest.fixture(scope="module")
def api(module_env):
    """The access world and the schema of its app, loaded once for every operation's test."""
    world, client = module_env
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = {f"{op.method.upper()} {op.path}": op
                  for op in (result.ok() for result in schema.get_all_operations())}
    assert sorted(operations) == sorted(OPERATIONS), "the app's operations changed under the test"
    yield world, operations
    # schemathesis keeps the lifespan it started (the app's alert workers) for the process
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_server_errors(api, operation):
    world, operations = api
    known = _known_values(world)
    failures: list[str] = []
    sent = []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operations[operation].as_strategy())
    def run(case):
        _steer(case, known)
        for who in WHO:
            response = case.call(headers=world.headers(who))
            sent.append(who)
            if response.status_code >= 500:
                failures.append(f"{who}: {case.method} {case.formatted_path} {case.query} "
                                f"{case.body!r:.200}: {response.status_code} "
                                f"{response.text[:300]}")

    run()
    assert not failures, "\n".join(failures[:20])
    assert set(sent) == set(WHO)
