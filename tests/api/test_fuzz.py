"""schemathesis over the read endpoints: no request, valid or not, gets a 5xx, and every
response is JSON, CSV, Parquet, GeoJSON or problem+json."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .test_openapi import READ_ROUTES

MAX_EXAMPLES = 30
MEDIA = ("application/json", "application/geo+json", "text/csv", "application/vnd.apache.parquet",
         "application/problem+json")


@pytest.mark.slow
def test_read_endpoints_never_fail_with_5xx(client, world):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.method.upper() == "GET" and op.path in READ_ROUTES]
    assert len(operations) == len(READ_ROUTES)
    known = {"thing_id": list(world.things.values()), "datastream_id": list(world.streams.values()),
             "ref": ["kz-air", "kz-secret", str(world.datasets["ru-tigers"])]}
    failures: list[str] = []
    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            for name, values in known.items():
                if case.path_parameters and name in case.path_parameters:
                    pick = hash(str(case.path_parameters[name]))
                    if pick % 3:
                        case.path_parameters[name] = values[pick % len(values)]
            response = case.call()
            media = (response.headers.get("content-type") or [""])[0].split(";")[0]
            if response.status_code >= 500 or media not in MEDIA:
                failures.append(f"{case.method} {case.formatted_path} {case.query}: "
                                f"{response.status_code} {media} {response.text[:300]}")

        run()
    assert not failures, "\n".join(failures[:20])
