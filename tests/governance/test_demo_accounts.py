"""Demo users: one per role per demo organisation, able to sign in with the listed password."""

from __future__ import annotations

from ecobridge.governance import accounts
from ecobridge.governance.demo_accounts import (
    DEMO_PASSWORD,
    PLATFORM_ADMIN,
    readme_table,
    seed_demo_accounts,
)
from ecobridge.governance.organisations import create_organisation


def test_seed_demo_accounts_per_role_and_again_safe(store):
    create_organisation(store, slug="tiger-park", name="Tiger park", country="CHN",
                        is_demo=True)
    create_organisation(store, slug="not-demo", name="Real org", country="KAZ")
    rows = seed_demo_accounts(store)
    assert {r["username"] for r in rows} == {
        PLATFORM_ADMIN, "registered.user", "tiger-park.admin", "tiger-park.publisher",
        "tiger-park.analyst", "tiger-park.viewer"}
    assert seed_demo_accounts(store) == rows  # a second run changes nothing
    assert accounts.verify_password(store, "tiger-park.publisher", DEMO_PASSWORD)
    admin = accounts.principal_for(store, PLATFORM_ADMIN)
    assert admin.is_platform_admin
    assert accounts.principal_for(store, "tiger-park.analyst").roles == {1: "analyst"}
    table = readme_table(rows)
    assert "| tiger-park | CHN | `tiger-park.admin` | `tiger-park.publisher` |" in table
    assert "`platform.admin`: platform admin" in table
