"""The governance leak matrix (tests/governance) run on the two export routes alone, so an
export that leaks fails here quickly: every principal x every dataset policy, zip contents
scanned for hidden markers, precise sensitive positions and hidden counts."""

from __future__ import annotations

import pytest
from governance.test_matrix import READERS, get_routes, matrix_problems
from governance.world import VISIBLE, world_client

EXPORTS = ("/api/v1/datasets/{ref}/dwca", "/api/v1/datasets/{ref}/camtrap-dp")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with world_client(tmp_path_factory.mktemp("home")) as world_and_client:
        yield world_and_client


@pytest.mark.parametrize("principal", READERS)
def test_exports_leak_nothing(env, principal):
    world, client = env
    routes = [r for r in get_routes(client.app) if r[0] in EXPORTS]
    assert len(routes) == 2
    seen: set[str] = set()
    problems = matrix_problems(client, world, principal, routes, seen=seen)
    assert not problems, "\n".join(problems[:20])
    # not vacuous: each dataset the principal may see comes out of some export
    assert seen == {ds["marker"] for policy, ds in world.datasets.items()
                    if principal in VISIBLE[policy]}
