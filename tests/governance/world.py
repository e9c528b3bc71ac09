"""A small world for access tests: organisations of several countries, one dataset per policy,
each with a thing, a location, a datastream and observations, and one principal of each kind.

Everything a hidden dataset holds carries a marker string (its slug, thing code and name,
location name, observation parameters) or a distinctive coordinate, so a leak shows up as a
substring of any response, whatever its format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from ecobridge.alerts.models import check_params
from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.governance import accounts, policies, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import SYSTEM
from ecobridge.store import open_store

PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = datetime.now(UTC) + timedelta(days=3650)

ORGS = {  # slug -> country
    "owner-org": "CHN",
    "partner-org": "KAZ",          # named in org grants
    "grantee-country-org": "RUS",  # covered by a grant to its whole country
    "same-country-org": "CHN",     # same country as the owner, no grant: sees nothing extra
    "other-country-org": "MNG",    # no grant (its one grant has ended)
}

# principal -> (organisation or None, platform admin)
PRINCIPALS = {
    "anonymous": None,
    "registered": (None, False),
    "partner": ("partner-org", False),
    "country_grantee": ("grantee-country-org", False),
    "same_country": ("same-country-org", False),
    "other_country": ("other-country-org", False),
    "owner": ("owner-org", False),
    "platform_admin": (None, True),
}

# policy -> (visibility, embargoed, sensitive, grants [(org|None, country|None, precise, ends)])
POLICIES = {
    "public": ("public", False, False, []),
    "registered": ("registered", False, False, []),
    "partners-org": ("partners", False, False, [("partner-org", None, False, None)]),
    "partners-country": ("partners", False, False, [(None, "RUS", False, None)]),
    "private": ("private", False, False, []),
    "embargoed": ("public", True, False, [("partner-org", None, False, None)]),
    "sensitive": ("public", False, True, [("partner-org", None, True, None)]),
    "expired": ("partners", False, False, [("other-country-org", None, False, PAST)]),
}

# Which principals see which dataset (True) - the rules of governance/policy.py, spelled out.
ALL = set(PRINCIPALS)
VISIBLE = {
    "public": ALL,
    "registered": ALL - {"anonymous"},
    "partners-org": {"partner", "owner", "platform_admin"},
    "partners-country": {"country_grantee", "owner", "platform_admin"},
    "private": {"owner", "platform_admin"},
    "embargoed": {"partner", "owner", "platform_admin"},
    "sensitive": ALL,
    "expired": {"owner", "platform_admin"},
}
PRECISE = {"partner", "owner", "platform_admin"}  # precise coordinates of "sensitive"

# Observations per dataset: distinct primes, so a total over hidden data is recognisable.
OBS_COUNTS = dict(zip(POLICIES, (101, 103, 107, 109, 113, 127, 131, 137), strict=True))
# The sensitive station's precise position: far from its 10 km cell's centre.
SENSITIVE_LONLAT = (131.3713, 43.2071)


def marker(policy: str) -> str:
    return f"mx{policy.replace('-', '')}q"


def lonlat(index: int, policy: str) -> tuple[float, float]:
    if policy == "sensitive":
        return SENSITIVE_LONLAT
    return (100 + index * 3 + 0.4321, 30 + index * 2 + 0.8731)


def coord_markers(lon: float, lat: float) -> list[str]:
    """Three decimals (about 100 m): the 4th decimal of every position here is below 5, so
    rounding and truncating agree."""
    return [f"{lon:.3f}", f"{lat:.3f}"]


@dataclass
class World:
    store: object
    tokens: dict[str, str] = field(default_factory=dict)      # principal -> bearer token
    datasets: dict[str, dict] = field(default_factory=dict)   # policy -> ids and markers
    orgs: dict[str, int] = field(default_factory=dict)

    def headers(self, principal: str) -> dict:
        token = self.tokens.get(principal)
        return {"Authorization": f"Bearer {token}"} if token else {}


def add_station(store, dataset_id: int, *, code: str, name: str, lon: float, lat: float,
                n_obs: int, mark: str, result_base: float = 0.0, first_obs_id: int) -> dict:
    """A thing at a point with one datastream of n_obs hourly observations."""
    with store.transaction() as cur:
        thing = cur.execute(
            "INSERT INTO things (dataset_id, code, name, description, properties)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            [dataset_id, code, name, f"station {mark}", json.dumps({"marker": mark})]
        ).fetchone()[0]
        loc = cur.execute(
            "INSERT INTO locations (name, description, geom) VALUES (?, ?, ST_Point(?, ?))"
            " RETURNING id", [f"site {mark}", f"site {mark}", lon, lat]).fetchone()[0]
        cur.execute("INSERT INTO thing_locations VALUES (?, ?)", [thing, loc])
        sensor = cur.execute("INSERT INTO sensors (name) VALUES (?) RETURNING id",
                             [f"sensor {mark}"]).fetchone()[0]
        prop = cur.execute("SELECT id FROM observed_properties WHERE code = 'pm25'").fetchone()
        if prop is None:
            prop = cur.execute(
                "INSERT INTO observed_properties (code, name, canonical_unit, unit_symbol,"
                " unit_name) VALUES ('pm25', 'PM2.5', 'ug/m3', 'µg/m³', 'microgram per cubic"
                " metre') RETURNING id").fetchone()
        start = datetime(2024, 1, 1, tzinfo=UTC)
        end = start + timedelta(hours=n_obs - 1)
        last = result_base + n_obs - 1 + 0.0625
        stream = cur.execute(
            "INSERT INTO datastreams (thing_id, sensor_id, observed_property_id, name,"
            " unit_code, unit_symbol, unit_name, phenomenon_time_start, phenomenon_time_end,"
            " observation_count, last_phenomenon_time, last_result, last_quality_flag,"
            " observed_area) VALUES (?, ?, ?, ?, 'ug/m3', 'µg/m³', 'microgram per cubic metre',"
            " ?, ?, ?, ?, ?, 1, ST_Point(?, ?)) RETURNING id",
            [thing, sensor, prop[0], f"pm25 {mark}", start, end, n_obs, end, last, lon, lat]
        ).fetchone()[0]
        cur.execute(
            "INSERT INTO observations (id, datastream_id, phenomenon_time, result, quality_flag,"
            " parameters) SELECT ? + i, ?, ? + i * INTERVAL 1 HOUR, ? + i + 0.0625, 1, ?"
            " FROM range(?) t(i)",
            [first_obs_id, stream, start, result_base, json.dumps({"marker": mark}), n_obs])
        occurrence = cur.execute(
            "INSERT INTO occurrences (dataset_id, occurrence_id, basis_of_record,"
            " scientific_name, event_date, individual_count, decimal_latitude,"
            " decimal_longitude, geom, locality, recorded_by) VALUES (?, ?, 'MachineObservation',"
            " 'Panthera tigris altaica', ?, 1, ?, ?, ST_Point(?, ?), ?, ?) RETURNING id",
            [dataset_id, f"occ-{mark}", start, lat, lon, lon, lat, f"near {mark}",
             f"team {mark}"]).fetchone()[0]
        deployment = cur.execute(
            "INSERT INTO camtrap_deployments (dataset_id, deployment_id, location_id,"
            " location_name, latitude, longitude, geom, deployment_start, deployment_end)"
            " VALUES (?, ?, ?, ?, ?, ?, ST_Point(?, ?), ?, ?) RETURNING id",
            [dataset_id, f"dep-{mark}", f"loc-{mark}", f"trap {mark}", lat, lon, lon, lat,
             start, end]).fetchone()[0]
        cur.execute(
            "INSERT INTO camtrap_media (dataset_id, media_id, deployment_id, timestamp,"
            " file_path, file_mediatype) VALUES (?, ?, ?, ?, ?, 'image/jpeg')",
            [dataset_id, f"media-{mark}", f"dep-{mark}", start, f"media/{mark}.jpg"])
        cur.execute(
            "INSERT INTO camtrap_observations (dataset_id, observation_id, deployment_id,"
            " media_id, event_start, event_end, observation_level, observation_type,"
            " scientific_name, count) VALUES (?, ?, ?, ?, ?, ?, 'event', 'animal',"
            " 'Panthera tigris altaica', 1)",
            [dataset_id, f"cobs-{mark}", f"dep-{mark}", f"media-{mark}", start, start])
        rule = cur.execute(
            "INSERT INTO alert_rules (name, kind, params, severity, dataset_id)"
            " VALUES (?, 'threshold', ?, 'severe', ?) RETURNING id",
            [f"rule {mark}", json.dumps(check_params("threshold", {"limit": 1e9})),
             dataset_id]
        ).fetchone()[0]
        incident = cur.execute("INSERT INTO incidents DEFAULT VALUES RETURNING id").fetchone()[0]
        alert = cur.execute(
            "INSERT INTO alerts (rule_id, dataset_id, thing_id, datastream_id, observed_property,"
            " incident_id, status, severity, started_at, last_seen_at, points, peak_value,"
            " peak_at, last_value, threshold, unit, detail, geom) VALUES (?, ?, ?, ?, 'pm25', ?,"
            " 'open', 'severe', ?, ?, 1, ?, ?, ?, 1, 'ug/m3', ?, ST_Point(?, ?)) RETURNING id",
            [rule, dataset_id, thing, stream, incident, start, end, last, end, last,
             json.dumps({"marker": mark}), lon, lat]).fetchone()[0]
        cur.execute("INSERT INTO alert_events (alert_id, dataset_id, kind, severity, status)"
                    " VALUES (?, ?, 'opened', 'severe', 'open')", [alert, dataset_id])
    return {"thing": thing, "location": loc, "datastream": stream, "sensor": sensor,
            "observation": first_obs_id, "occurrence": occurrence, "deployment": deployment,
            "rule": rule, "incident": incident, "alert": alert}


def build_world(store) -> World:
    world = World(store)
    for slug, country in ORGS.items():
        world.orgs[slug] = create_organisation(store, slug=slug, name=slug, country=country)
    for index, (policy, (visibility, embargoed, sensitive, grants)) in enumerate(
            POLICIES.items()):
        mark = marker(policy)
        slug = f"{mark}-ds"
        ds_id = create_dataset(store, slug=slug, owner="owner-org", domain="air",
                               title=f"Dataset {mark}", description=f"About {mark}",
                               licence="CC-BY-4.0", visibility=visibility,
                               embargo_until=FUTURE if embargoed else None,
                               sensitive=sensitive, generalise_km=10.0, keywords=[mark])
        lon, lat = lonlat(index, policy)
        ids = add_station(store, ds_id, code=f"{mark}-code", name=f"Station {mark}", lon=lon,
                          lat=lat, n_obs=OBS_COUNTS[policy], mark=mark,
                          result_base=1000.0 * (index + 1),
                          first_obs_id=(index + 1) * 10_000_000 + 1)
        for org, country, precise, ends in grants:
            policies.add_grant(store, SYSTEM, ds_id, org=org, country=country, precise=precise,
                               ends_at=ends)
        world.datasets[policy] = {"id": ds_id, "slug": slug, "marker": mark, "lon": lon,
                                  "lat": lat, "result": f"{1000 * (index + 1)}.06",
                                  "count": OBS_COUNTS[policy], **ids}
    for name, spec in PRINCIPALS.items():
        if spec is None:
            continue
        org, admin = spec
        username = f"user-{name.replace('_', '-')}"
        accounts.create_user(store, username=username, is_platform_admin=admin)
        if org:
            accounts.set_membership(store, user=username, org=org, role="viewer")
        world.tokens[name] = tokens.create_token(store, user=username, name="matrix")["token"]
    return world


@contextmanager
def world_client(home: Path, *, threads: int = 2) -> Iterator[tuple[World, TestClient]]:
    """The world in a fresh store under `home` and an in-process client of the real app, for
    a module of tests that share them (the leak matrices make thousands of requests)."""
    settings = Settings(home=home, memory_limit="1GB", threads=threads)
    store = open_store(settings)
    world = build_world(store)
    with TestClient(create_app(settings, store=store)) as client:
        yield world, client
    store.close()


def hidden_markers(world: World, principal: str) -> list[str]:
    """Strings that must not appear in any response to this principal."""
    out = []
    for policy, ds in world.datasets.items():
        if principal not in VISIBLE[policy]:
            out += [ds["marker"], ds["result"], *coord_markers(ds["lon"], ds["lat"])]
    if principal not in PRECISE:
        out += coord_markers(*SENSITIVE_LONLAT)
    return out
