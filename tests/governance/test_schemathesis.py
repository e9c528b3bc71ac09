"""schemathesis over the whole OpenAPI document: no request, valid or not, gets a 5xx.

Runs in-process against the ASGI app over a store holding the access world, once anonymous and
once as a platform admin (who passes every permission check, so handlers run deep). Bounded by
a few examples per operation so it takes well under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .world import World

MAX_EXAMPLES = 8


def _known_values(world: World) -> dict[str, list]:
    """Real values for path parameters, so half the cases reach past the 404 of a random id."""
    return {"dataset": [d["slug"] for d in world.datasets.values()],
            "org": ["owner-org", "partner-org"], "username": ["user-owner", "user-partner"],
            "grant_id": [1, 2, 3], "request_id": [1, 2], "token_id": [1, 2], "run": ["1"]}


def _steer(case, known: dict[str, list]) -> None:
    for name, values in known.items():
        if case.path_parameters and name in case.path_parameters:
            pick = hash(str(case.path_parameters[name]))
            if pick % 2 == 0:
                case.path_parameters[name] = values[(pick // 2) % len(values)]


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operations"
    return operations


@pytest.mark.parametrize("who", ["anonymous", "platform_admin"])
def test_no_server_errors_anywhere_in_the_api(module_env, who):
    world: World = module_env[0]
    app = module_env[1].app
    headers = world.headers(who)
    known = _known_values(world)
    failures: list[str] = []
    for operation in _operations(app):

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            _steer(case, known)
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"{case.body!r:.200}: {response.status_code} "
                                f"{response.text[:300]}")

        run()
    assert not failures, "\n".join(failures[:20])
