"""Dataset policies (visibility, embargo, sensitivity, licence) and grants, changed by admins of
the owning organisation (or platform admins)."""

from __future__ import annotations

import re
from datetime import datetime

from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.organisations import COUNTRY, get_organisation
from ecobridge.governance.policy import Principal, forget_grants, require_admin

VISIBILITY = ("public", "registered", "partners", "private")
SPDX = re.compile(r"^[A-Za-z0-9.+-]+$")
POLICY_FIELDS = ("visibility", "embargo_until", "sensitive", "generalise_km", "licence")
MAX_GRID_KM = 500.0


def dataset_ref(store, ref: str | int) -> dict:
    """The dataset's id, slug and owner, with no access check: callers check it themselves."""
    column = "d.id" if isinstance(ref, int) or str(ref).isdigit() else "d.slug"
    rows = store.dicts(
        "SELECT d.id, d.slug, d.owner_org_id, o.slug AS owner FROM datasets d"
        f" JOIN organisations o ON o.id = d.owner_org_id WHERE {column} = ?", [ref])
    if not rows:
        raise NotFound(f"no dataset {ref!r}")
    return rows[0]


def get_policy(store, principal: Principal, ref: str | int) -> dict:
    """The policy of a dataset; only its owner's members (and platform admins) read it whole."""
    ds = dataset_ref(store, ref)
    if not principal.is_platform_admin and ds["owner_org_id"] not in principal.roles:
        raise NotFound(f"no dataset {ref!r}")
    row = store.dicts(
        "SELECT id, slug, visibility, embargo_until, sensitive, generalise_km, licence"
        " FROM datasets WHERE id = ?", [ds["id"]])[0]
    row["owner"] = ds["owner"]
    row["grants"] = list_grants(store, principal, ds["id"])
    return row


def set_policy(store, principal: Principal, ref: str | int, **changes) -> dict:
    """Change some of: visibility, embargo_until (None lifts it), sensitive, generalise_km,
    licence. Checks everything before writing anything."""
    ds = dataset_ref(store, ref)
    require_admin(store, principal, ds["id"])
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown policy field(s): {', '.join(sorted(unknown))}")
    if "visibility" in changes and changes["visibility"] not in VISIBILITY:
        raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITY)}",
                           field="visibility")
    if "generalise_km" in changes:
        km = changes["generalise_km"]
        if km is None or not 0 < float(km) <= MAX_GRID_KM:
            raise InvalidInput(f"generalise_km must be in (0, {MAX_GRID_KM:g}]",
                               field="generalise_km")
    if "licence" in changes and not SPDX.match(changes["licence"] or ""):
        raise InvalidInput(f"licence {changes['licence']!r} is not an SPDX identifier",
                           field="licence")
    if "sensitive" in changes and changes["sensitive"] is None:
        raise InvalidInput("sensitive must be true or false", field="sensitive")
    if changes:
        sets = ", ".join(f"{name} = ?" for name in changes)  # names from POLICY_FIELDS only
        store.execute(f"UPDATE datasets SET {sets}, updated_at = now() WHERE id = ?",
                      [*changes.values(), ds["id"]])
    return get_policy(store, principal, ds["id"])


def add_grant(store, principal: Principal, ref: str | int, *, org: str | int | None = None,
              country: str | None = None, precise: bool = False,
              ends_at: datetime | None = None, access_request_id: int | None = None) -> dict:
    """Open a dataset to one organisation or to every organisation of a country."""
    ds = dataset_ref(store, ref)
    require_admin(store, principal, ds["id"])
    if (org is None) == (country is None):
        raise InvalidInput("a grant names either an organisation or a country", field="grantee")
    org_id = get_organisation(store, org)["id"] if org is not None else None
    if country is not None and not COUNTRY.match(country):
        raise InvalidInput(f"country {country!r} is not an ISO 3166-1 alpha-3 code",
                           field="country")
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO grants (dataset_id, grantee_org_id, grantee_country, precise, ends_at,"
            " created_by, access_request_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [ds["id"], org_id, country, precise, ends_at, principal.user_id, access_request_id])
        grant_id = cur.fetchone()[0]
    forget_grants(store)
    return _grants(store, "g.id = ?", [grant_id])[0]


def _grants(store, where: str, params: list) -> list[dict]:
    return store.dicts(
        "SELECT g.id, d.slug AS dataset, o.slug AS organisation, g.grantee_country AS country,"
        " g.precise, g.ends_at, g.created_at, (g.ends_at IS NULL OR g.ends_at > now()) AS active,"
        " g.access_request_id FROM grants g JOIN datasets d ON d.id = g.dataset_id"
        f" LEFT JOIN organisations o ON o.id = g.grantee_org_id WHERE {where} ORDER BY g.id",
        params)


def list_grants(store, principal: Principal, ref: str | int) -> list[dict]:
    ds = dataset_ref(store, ref)
    if not principal.is_platform_admin and ds["owner_org_id"] not in principal.roles:
        raise NotFound(f"no dataset {ref!r}")
    return _grants(store, "g.dataset_id = ?", [ds["id"]])


def revoke_grant(store, principal: Principal, ref: str | int, grant_id: int) -> None:
    """Remove a grant; the grantee loses access with its next request."""
    ds = dataset_ref(store, ref)
    require_admin(store, principal, ds["id"])
    row = store.one("SELECT 1 FROM grants WHERE id = ? AND dataset_id = ?", [grant_id, ds["id"]])
    if row is None:
        raise NotFound(f"no grant {grant_id} on dataset {ds['slug']!r}")
    store.execute("UPDATE access_requests SET grant_id = NULL WHERE grant_id = ?", [grant_id])
    store.execute("DELETE FROM grants WHERE id = ?", [grant_id])
    forget_grants(store)
