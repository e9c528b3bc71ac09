"""Organisations: the data owners, each with its country (ISO 3166-1 alpha-3)."""

from __future__ import annotations

import re

from ecobridge.errors import Conflict, InvalidInput, NotFound
from ecobridge.languages import as_json

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
COUNTRY = re.compile(r"^[A-Z]{3}$")


def create_organisation(store, *, slug: str, name: str | dict, country: str,
                        kind: str | None = None, is_demo: bool = False) -> int:
    if not SLUG.match(slug):
        raise InvalidInput(f"organisation slug {slug!r} must be lower-case letters, digits, '-'",
                           field="slug")
    if not COUNTRY.match(country):
        raise InvalidInput(f"country {country!r} is not an ISO 3166-1 alpha-3 code",
                           field="country")
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM organisations WHERE slug = ?", [slug]).fetchone():
            raise Conflict(f"organisation {slug!r} exists already")
        cur.execute(
            "INSERT INTO organisations (slug, name, country, kind, is_demo) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            [slug, as_json(name), country, kind, is_demo],
        )
        return cur.fetchone()[0]


def get_organisation(store, ref: str | int) -> dict:
    column = "id" if isinstance(ref, int) or str(ref).isdigit() else "slug"
    rows = store.dicts(f"SELECT * FROM organisations WHERE {column} = ?", [ref])
    if not rows:
        raise NotFound(f"no organisation {ref!r}")
    return rows[0]
