"""The access world of tests/governance (one dataset per policy, one principal of each kind),
plus what the OGC API collections need: an area per dataset, and enough public sites and
occurrences that a small page size takes several pages. Expected answers are computed from the
world's own tables (VISIBLE, the store), never typed in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from governance.world import PRINCIPALS, VISIBLE, build_world

from ecobridge.config import Settings
from ecobridge.store import open_store

EXTRA_SITES = 11
EXTRA_OCCURRENCES = 12
EXTRA_AREAS = 4
AREA_COUNTRY = {"public": "KAZ", "partners-org": "KAZ"}  # others: CHN


def add_area(store, dataset_id: int, *, code: str, kind: str, name: dict, country: str,
             lon: float, lat: float, half: float = 0.5) -> int:
    ring = [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
            (lon - half, lat + half), (lon - half, lat - half)]
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    return store.one(
        "INSERT INTO areas (dataset_id, code, kind, name, country, designation, geom)"
        " VALUES (?, ?, ?, ?, ?, 'National Park', ST_GeomFromText(?)) RETURNING id",
        [dataset_id, code, kind, json.dumps(name, ensure_ascii=False), country, wkt])[0]


def add_site(store, dataset_id: int, *, code: str, lon: float, lat: float) -> int:
    with store.transaction() as cur:
        thing = cur.execute("INSERT INTO things (dataset_id, code, name) VALUES (?, ?, ?)"
                            " RETURNING id", [dataset_id, code, f"Site {code}"]).fetchone()[0]
        loc = cur.execute("INSERT INTO locations (name, geom) VALUES (?, ST_Point(?, ?))"
                          " RETURNING id", [code, lon, lat]).fetchone()[0]
        cur.execute("INSERT INTO thing_locations VALUES (?, ?)", [thing, loc])
    return thing


def add_occurrence(store, dataset_id: int, *, code: str, lon: float, lat: float,
                   when: datetime) -> int:
    return store.one(
        "INSERT INTO occurrences (dataset_id, occurrence_id, basis_of_record, scientific_name,"
        " event_date, decimal_latitude, decimal_longitude, geom, country_code)"
        " VALUES (?, ?, 'HumanObservation', 'Uncia uncia', ?, ?, ?, ST_Point(?, ?), 'KZ')"
        " RETURNING id", [dataset_id, code, when, lat, lon, lon, lat])[0]


def extend_world(world) -> None:
    public = world.datasets["public"]["id"]
    for policy, ds in world.datasets.items():
        ds["area"] = add_area(world.store, ds["id"], code=f"{ds['marker']}-area",
                              kind="protected_area" if policy != "registered" else "river_basin",
                              name={"en": f"Area {ds['marker']}", "zh": "保护区"},
                              country=AREA_COUNTRY.get(policy, "CHN"), lon=ds["lon"],
                              lat=ds["lat"])
    for i in range(EXTRA_AREAS):
        add_area(world.store, public, code=f"basin-{i}", kind="admin_boundary",
                 name={"en": f"District {i}", "ru": f"Район {i}"}, country="UZB",
                 lon=60 + i * 2, lat=36 + i * 0.5, half=0.75)
    for i in range(EXTRA_SITES):
        add_site(world.store, public, code=f"extra-{i}", lon=70 + i * 0.5, lat=40 + i * 0.25)
    start = datetime(2023, 1, 15, 12, tzinfo=UTC)
    for i in range(EXTRA_OCCURRENCES):
        add_occurrence(world.store, public, code=f"snow-{i}", lon=75 + i * 0.1, lat=42,
                       when=start + timedelta(days=30 * i))


def visible_ids(world, principal: str, table: str) -> set[int]:
    """Ids of `table` rows in the datasets this principal may see, by the world's own table of
    who sees what (not by the code under test)."""
    ids = [ds["id"] for policy, ds in world.datasets.items() if principal in VISIBLE[policy]]
    marks = ", ".join("?" for _ in ids)
    rows = world.store.dicts(f"SELECT id FROM {table} WHERE dataset_id IN ({marks})", ids)
    if table == "things":  # sites are things with a location
        rows = [r for r in rows if world.store.scalar(
            "SELECT count(*) FROM thing_locations WHERE thing_id = ?", [r["id"]])]
    return {r["id"] for r in rows}


READERS = [p for p in PRINCIPALS if p not in ("owner", "platform_admin")]


def open_world(home):
    """A fresh store holding the extended world; the caller closes world.store."""
    settings = Settings(home=home, memory_limit="1GB", threads=2)
    world = build_world(open_store(settings))
    extend_world(world)
    return world, settings
