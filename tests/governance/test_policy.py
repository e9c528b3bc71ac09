"""The visibility predicate and coordinate generalisation, straight on the SQL."""

from __future__ import annotations

import pytest

from ecobridge.governance import (
    ANONYMOUS,
    SYSTEM,
    dataset_filter_sql,
    location_sql,
    visible_datasets_sql,
)
from ecobridge.governance.accounts import principal_for
from ecobridge.governance.policies import add_grant, revoke_grant, set_policy
from ecobridge.governance.policy import Principal

from .world import PRECISE, PRINCIPALS, SENSITIVE_LONLAT, VISIBLE, World


def principal(world: World, name: str) -> Principal:
    if PRINCIPALS[name] is None:
        return ANONYMOUS
    return principal_for(world.store, f"user-{name.replace('_', '-')}")


def visible(world: World, who: Principal) -> set[str]:
    pred, params = visible_datasets_sql(who, "d")
    slugs = {s for (s,) in world.store.rows(f"SELECT slug FROM datasets d WHERE {pred}", params)}
    return {p for p, ds in world.datasets.items() if ds["slug"] in slugs}


@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_each_principal_sees_exactly_its_datasets(module_env, name):
    world = module_env[0]
    expected = {policy for policy, who in VISIBLE.items() if name in who}
    assert visible(world, principal(world, name)) == expected


@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_dataset_filter_agrees_with_predicate(module_env, name):
    world = module_env[0]
    who = principal(world, name)
    pred, params = dataset_filter_sql(who, "t.dataset_id")
    codes = {c for (c,) in world.store.rows(f"SELECT code FROM things t WHERE {pred}", params)}
    expected = {world.datasets[p]["marker"] + "-code" for p in visible(world, who)}
    assert codes == expected


@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_sensitive_point_is_snapped_unless_full_access(module_env, name):
    world = module_env[0]
    who = principal(world, name)
    ds = world.datasets["sensitive"]
    geom, params = location_sql(who, "l.geom", "d")
    lon, lat = world.store.one(
        f"SELECT ST_X({geom}), ST_Y({geom}) FROM locations l JOIN thing_locations tl"
        " ON tl.location_id = l.id JOIN things t ON t.id = tl.thing_id"
        " JOIN datasets d ON d.id = t.dataset_id WHERE d.id = ?", [*params, *params, ds["id"]])
    if name in PRECISE:
        assert (lon, lat) == pytest.approx(SENSITIVE_LONLAT)
    else:
        # the centre of a 10 km cell: at most ~5 km (0.045 deg lat) off, never the point itself
        assert abs(lat - SENSITIVE_LONLAT[1]) > 0.01 and abs(lat - SENSITIVE_LONLAT[1]) < 0.05
        assert abs(lon - SENSITIVE_LONLAT[0]) > 0.01
        assert f"{lon:.3f}" != f"{SENSITIVE_LONLAT[0]:.3f}"


def test_a_snapped_longitude_tells_nothing_of_the_latitude_within_its_cell(module_env):
    """Every point of one grid cell gets the same published position: the longitude cells'
    width comes from the row of cells, not from the point's latitude (from which a reader
    knowing the grid size could read the latitude back off the longitude)."""
    store = module_env[0].store
    geom, params = location_sql(ANONYMOUS, "p.geom", "d")
    step = 10 / 111.32
    row = 479  # a row of 10 km cells near 43.07 N (Tianshan)
    lats = [(row + f) * step for f in (0.02, 0.3, 0.5, 0.77, 0.98)]
    out = set()
    for lat in lats:
        for lon in (76.9101, 76.9102, 76.9103):
            out.add(store.one(
                f"SELECT round(ST_X({geom}), 9), round(ST_Y({geom}), 9) FROM"
                " (SELECT ST_Point(?, ?) AS geom) p, (SELECT 1 AS id, 0 AS owner_org_id,"
                " true AS sensitive, 10.0 AS generalise_km) d", [*params, *params, lon, lat]))
    assert len(out) == 1
    lon, lat = out.pop()
    assert lat == pytest.approx((row + 0.5) * step)
    assert abs(lon - 76.91) < 0.07  # the centre of a cell about 10 km wide there


def test_non_sensitive_points_stay_precise_for_everyone(module_env):
    world = module_env[0]
    ds = world.datasets["public"]
    geom, params = location_sql(ANONYMOUS, "l.geom", "d")
    lon, lat = world.store.one(
        f"SELECT ST_X({geom}), ST_Y({geom}) FROM locations l JOIN thing_locations tl"
        " ON tl.location_id = l.id JOIN things t ON t.id = tl.thing_id"
        " JOIN datasets d ON d.id = t.dataset_id WHERE d.id = ?", [*params, *params, ds["id"]])
    assert (lon, lat) == pytest.approx((ds["lon"], ds["lat"]))


def test_grant_with_end_date_passed_hides_and_future_end_shows(world):
    from datetime import UTC, datetime, timedelta

    other = principal(world, "other_country")
    assert "expired" not in visible(world, other)
    grant = add_grant(world.store, SYSTEM, world.datasets["expired"]["id"],
                      org="other-country-org",
                      ends_at=datetime.now(UTC) + timedelta(days=1))
    assert "expired" in visible(world, other)
    revoke_grant(world.store, SYSTEM, world.datasets["expired"]["id"], grant["id"])
    assert "expired" not in visible(world, other)


def test_country_grant_covers_every_org_of_that_country(world):
    from ecobridge.governance.accounts import create_user, set_membership
    from ecobridge.governance.organisations import create_organisation

    create_organisation(world.store, slug="second-rus-org", name="x", country="RUS")
    create_user(world.store, username="second-rus")
    set_membership(world.store, user="second-rus", org="second-rus-org", role="viewer")
    assert "partners-country" in visible(world, principal_for(world.store, "second-rus"))


def test_lifting_the_embargo_opens_a_public_dataset(world):
    anon_before = visible(world, ANONYMOUS)
    set_policy(world.store, SYSTEM, world.datasets["embargoed"]["id"], embargo_until=None)
    assert "embargoed" not in anon_before
    assert "embargoed" in visible(world, ANONYMOUS)


def test_platform_admin_and_system_see_all(world):
    assert visible(world, SYSTEM) == set(world.datasets)
