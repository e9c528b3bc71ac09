"""schemathesis over the /ogcapi OpenAPI document: whatever a client sends within (or just
outside) what the document declares, the server never answers 5xx."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings


@pytest.mark.parametrize("principal", ["anonymous", "owner"])
def test_no_server_errors_for_any_declared_request(env, principal):
    world, client = env
    schema = schemathesis.openapi.from_asgi("/ogcapi/api", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3 + 4 * 3  # capabilities plus the paths of each collection
    statuses: Counter = Counter()
    failures: list[str] = []
    for operation in operations:

        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=world.headers(principal))
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.formatted_path} {case.query}: {response.status_code}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert statuses[200] > len(operations)  # the cases reach real answers, not only errors
