"""The grant conditions read a principal's grants from a per-store cache (policy._granted) when
the principal was loaded from a Store, and ask the database in the statement otherwise. Both
must say the same as the rules, and the cache must never answer past a grant change or expiry.
"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from serving import serve

from ecobridge.governance import ANONYMOUS, SYSTEM, full_access_sql, visible_datasets_sql
from ecobridge.governance.accounts import create_user, principal_for, set_membership
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policies import add_grant, revoke_grant
from ecobridge.governance.policy import Principal, located_sql
from ecobridge.store import Store

from .world import PRECISE, PRINCIPALS, VISIBLE, World

SRC = Path(__file__).resolve().parents[2] / "src" / "ecobridge"


def principal(world: World, name: str, path: str) -> Principal:
    if PRINCIPALS[name] is None:
        return ANONYMOUS
    who = principal_for(world.store, f"user-{name.replace('_', '-')}")
    assert who.store is world.store
    return who if path == "cached" else dataclasses.replace(who, store=None)


def policies_where(world: World, sql: str, params: list) -> set[str]:
    slugs = {s for (s,) in world.store.rows(f"SELECT slug FROM datasets d WHERE {sql}", params)}
    return {p for p, ds in world.datasets.items() if ds["slug"] in slugs}


@pytest.mark.parametrize("path", ["cached", "subquery"])
@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_both_paths_follow_the_rules(module_env, name, path):
    world = module_env[0]
    who = principal(world, name, path)
    for _ in range(2):  # the second time from the cache, on the cached path
        assert policies_where(world, *visible_datasets_sql(who, "d")) == {
            p for p, seen in VISIBLE.items() if name in seen}
        precise = policies_where(world, *full_access_sql(who, "d"))
        assert ("sensitive" in precise) == (name in PRECISE)


@pytest.mark.parametrize("name", ["partner", "country_grantee", "other_country"])
def test_located_rows_agree_on_both_paths(module_env, name):
    """The statement with the grant condition four times (position, flag, filter) answers the
    same either way, and with the cache it carries no grants subquery at all."""
    world = module_env[0]
    answers = []
    for path in ("cached", "subquery"):
        parts = located_sql(principal(world, name, path), "l.geom", "t.dataset_id")
        sql = (f"SELECT t.code, {parts.columns} FROM things t JOIN thing_locations tl"
               " ON tl.thing_id = t.id JOIN locations l ON l.id = tl.location_id"
               f" JOIN datasets d ON d.id = t.dataset_id WHERE {parts.where} ORDER BY t.code")
        if path == "cached":
            assert "FROM grants" not in sql
        answers.append(world.store.rows(sql, [*parts.columns_params, *parts.where_params]))
    assert answers[0] == answers[1] and answers[0]


def test_grant_added_then_revoked_shows_at_the_next_request(settings, world):
    """Through a real server and a token (whose principal is itself cached): the grant opens
    the dataset at once, and its revocation closes it at once."""
    ds = world.datasets["private"]
    path = f"/api/v1/datasets/{ds['slug']}"
    with serve(settings, world.store) as base, httpx.Client(base_url=base) as http:
        headers = world.headers("partner")
        assert http.get(path, headers=headers).status_code == 404
        assert http.get(path, headers=headers).status_code == 404  # now answered by the cache
        grant = add_grant(world.store, SYSTEM, ds["id"], org="partner-org")
        assert http.get(path, headers=headers).status_code == 200
        assert http.get(path, headers=headers).status_code == 200
        revoke_grant(world.store, SYSTEM, ds["id"], grant["id"])
        assert http.get(path, headers=headers).status_code == 404


def test_cache_never_outlives_an_expiry(world):
    """A dataset open by a grant ending in a moment, and kept precise by another: after the
    end, the next read has lost exactly what that grant gave."""
    who = principal_for(world.store, "user-other-country")
    expired, sensitive = world.datasets["expired"], world.datasets["sensitive"]
    ends = datetime.now(UTC) + timedelta(seconds=1.5)
    add_grant(world.store, SYSTEM, expired["id"], org="other-country-org", ends_at=ends)
    add_grant(world.store, SYSTEM, sensitive["id"], org="other-country-org", precise=True,
              ends_at=ends)
    add_grant(world.store, SYSTEM, sensitive["id"], country="MNG")  # no end, not precise
    for _ in range(2):
        assert {"expired", "sensitive"} <= policies_where(world, *visible_datasets_sql(who))
        assert "sensitive" in policies_where(world, *full_access_sql(who))
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    assert "expired" not in policies_where(world, *visible_datasets_sql(who))
    assert "sensitive" in policies_where(world, *visible_datasets_sql(who))
    assert "sensitive" not in policies_where(world, *full_access_sql(who))


def test_a_second_store_over_the_same_file_sees_the_change(settings, world):
    """Generations are per database file: a grant written through one Store object reaches
    the cache of another Store over the same file in the same process."""
    other = Store(settings.database_path, memory_limit=settings.memory_limit,
                  threads=settings.threads)
    try:
        who = principal_for(other, "user-other-country")
        ds = world.datasets["private"]
        assert "private" not in policies_where(world, *visible_datasets_sql(who))
        grant = add_grant(world.store, SYSTEM, ds["id"], org="other-country-org")
        assert "private" in policies_where(world, *visible_datasets_sql(who))
        revoke_grant(world.store, SYSTEM, ds["id"], grant["id"])
        assert "private" not in policies_where(world, *visible_datasets_sql(who))
    finally:
        other.close()


def test_principals_with_the_same_organisations_share_an_entry_and_others_do_not(world):
    create_organisation(world.store, slug="second-kaz-org", name="x", country="KAZ")
    for user, org in (("kaz-a", "partner-org"), ("kaz-b", "partner-org"),
                      ("kaz-c", "second-kaz-org")):
        create_user(world.store, username=user)
        set_membership(world.store, user=user, org=org, role="viewer")
    seen = {u: policies_where(world, *visible_datasets_sql(principal_for(world.store, u)))
            for u in ("kaz-a", "kaz-b", "kaz-c")}
    assert seen["kaz-a"] == seen["kaz-b"] == {p for p, who in VISIBLE.items()
                                              if "partner" in who}
    assert "partners-org" not in seen["kaz-c"]


def test_only_governance_policies_writes_grants():
    """The cache is cleared by policies.add_grant and revoke_grant (forget_grants): any other
    write to the grants table would leave it stale, so there must be none."""
    write = re.compile(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE)\s+grants\b", re.I)
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if write.search(p.read_text(encoding="utf-8"))]
    assert offenders == ["governance/policies.py"]
