"""A small world for the exchange tests: two parks and a ministry, datasets under each policy,
and the principals who look at them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ecobridge.catalog.service import create_dataset
from ecobridge.governance.accounts import create_user, principal_for, set_membership
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policies import add_grant
from ecobridge.governance.policy import SYSTEM, Principal


@dataclass
class World:
    store: object
    owner: Principal        # publisher of the parks' organisation
    partner: Principal      # analyst of an organisation granted the sensitive dataset, not precise
    precise: Principal      # analyst of an organisation granted precise access
    outsider: Principal     # analyst of an organisation with no grant
    anonymous: Principal


@pytest.fixture
def world(store) -> World:
    return build_world(store)


def build_world(store) -> World:
    orgs = {"tiger-park": "CHN", "leopard-park": "RUS", "kz-ministry": "KAZ",
            "mn-ministry": "MNG"}
    for slug, country in orgs.items():
        create_organisation(store, slug=slug, name={"en": slug.replace("-", " ").title()},
                            country=country)
    users = {"li": ("tiger-park", "publisher"), "ivan": ("leopard-park", "analyst"),
             "aigerim": ("kz-ministry", "analyst"), "bat": ("mn-ministry", "analyst")}
    for username, (org, role) in users.items():
        create_user(store, username=username)  # no password: no argon2 hashing
        set_membership(store, user=username, org=org, role=role)
    common = {"owner": "tiger-park", "domain": "wildlife", "licence": "CC-BY-4.0"}
    create_dataset(store, slug="open-records", title={"en": "Open records", "zh": "公开记录"},
                   description={"en": "Occurrences anyone may read."}, **common)
    create_dataset(store, slug="tiger-traps", title={"en": "Tiger camera traps"},
                   visibility="partners", sensitive=True, generalise_km=10.0,
                   attribution="Tiger Park rangers", **common)
    create_dataset(store, slug="secret-traps", title={"en": "Secret traps"},
                   visibility="private", **common)
    add_grant(store, SYSTEM, "tiger-traps", org="leopard-park", precise=True)
    add_grant(store, SYSTEM, "tiger-traps", org="kz-ministry")
    return World(store=store, owner=principal_for(store, "li"),
                 precise=principal_for(store, "ivan"), partner=principal_for(store, "aigerim"),
                 outsider=principal_for(store, "bat"), anonymous=Principal())
