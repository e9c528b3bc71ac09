"""The demo deployment, built once per module through `ecobridge demo` into a temporary home.

Statistics are recomputed here from the stored observations with SQL, never taken from the
generator: the data must look right in the store, whatever the generator believes it made.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecobridge.config import Settings
from ecobridge.demo import agencies, air, glaciers
from ecobridge.demo.timeseries import HOURS
from ecobridge.governance.policy import Principal, visible_datasets_sql
from ecobridge.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]

CLI = [sys.executable, "-c", "from ecobridge.cli import main; main()"]
AIR_DS = "SELECT id FROM datasets WHERE domain = 'air'"


def _run(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "ECOBRIDGE_HOME": str(home), "COLUMNS": "120"}
    return subprocess.run([*CLI, "demo", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("demo") / "home"
    out = _run(home)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Built the demo" in out.stdout, out.stdout
    return home


@pytest.fixture
def db(demo_home):
    """The built store, read-only, opened per test so CLI tests can take the file in between."""
    store = open_store(Settings(home=demo_home), read_only=True)
    yield store
    store.close()


def _series(db, station: str, variable: str, where: str = "true", params=()) -> list:
    return db.rows(
        "SELECT o.phenomenon_time, o.result FROM observations o"
        " JOIN datastreams s ON s.id = o.datastream_id JOIN things t ON t.id = s.thing_id"
        " JOIN observed_properties p ON p.id = s.observed_property_id"
        f" WHERE t.code = ? AND p.code = ? AND {where} ORDER BY 1",
        [station, variable, *params])


def _mean(db, station: str, variable: str, where: str = "true", params=()) -> float:
    return db.scalar(
        "SELECT avg(o.result) FROM observations o"
        " JOIN datastreams s ON s.id = o.datastream_id JOIN things t ON t.id = s.thing_id"
        " JOIN observed_properties p ON p.id = s.observed_property_id"
        f" WHERE t.code = ? AND p.code = ? AND {where}", [station, variable, *params])


# -- air quality ---------------------------------------------------------------------------
def test_at_least_15_cities_with_all_six_pollutants(db):
    rows = db.rows(
        "SELECT t.properties->>'$.city' AS city, count(DISTINCT p.code)"
        " FROM things t JOIN datastreams s ON s.thing_id = t.id"
        " JOIN observed_properties p ON p.id = s.observed_property_id"
        f" WHERE t.dataset_id IN ({AIR_DS}) GROUP BY 1")
    complete = {city for city, n in rows if n == 6}
    assert len(complete) >= 15, rows
    assert {"Beijing", "Delhi", "Moscow", "Ulaanbaatar", "Tehran", "Minsk"} <= complete
    units = dict(db.rows("SELECT p.code, any_value(s.unit_symbol) FROM datastreams s"
                         " JOIN observed_properties p ON p.id = s.observed_property_id"
                         " WHERE p.code IN ('pm25', 'co') GROUP BY 1"))
    assert "g/m" in units["pm25"] and "g/m" in units["co"], units


def test_two_years_hourly_per_datastream(db):
    rows = db.rows(
        "SELECT s.id, s.observation_count, count(o.result), min(o.phenomenon_time),"
        " max(o.phenomenon_time), count(DISTINCT o.phenomenon_time)"
        " FROM datastreams s JOIN things t ON t.id = s.thing_id"
        " LEFT JOIN observations o ON o.datastream_id = s.id"
        f" WHERE t.dataset_id IN ({AIR_DS}) GROUP BY s.id, s.observation_count")
    assert len(rows) >= 15 * 6
    for _, cached, counted, first, last, distinct in rows:
        assert cached == counted == distinct          # the cached count is the real one
        assert 0.97 * HOURS <= counted < HOURS         # a few hours are missing, not more
        assert first >= datetime(2024, 1, 1, tzinfo=UTC)
        assert last <= datetime(2025, 12, 31, 23, tzinfo=UTC)
        assert (last - first).days >= 729


def test_stored_values_are_the_generated_ones(db):
    """The ingest path keeps values exactly (a round trip for one station)."""
    table = air.generate("BLR")
    expected = {(t.astimezone(UTC), v) for s, var, t, v in zip(
        table["station"].to_pylist(), table["variable"].to_pylist(),
        table["time"].to_pylist(), table["value"].to_pylist(), strict=True)
        if s == "BLR-MINS-01" and var == "no2"}
    stored = {(t, v) for t, v in _series(db, "BLR-MINS-01", "no2")}
    assert stored == expected


def test_city_levels_are_plausible(db):
    delhi = _mean(db, "IND-DELH-01", "pm25")
    moscow = _mean(db, "RUS-MOSC-01", "pm25")
    assert 60 < delhi < 200 and 5 < moscow < 25
    assert delhi > 4 * moscow


def test_winter_pm_above_summer_in_northern_cities(db):
    winter = "month(o.phenomenon_time) IN (12, 1, 2)"
    summer = "month(o.phenomenon_time) IN (6, 7, 8)"
    for station, ratio in (("MNG-ULAA-01", 3.0), ("CHN-BEIJ-01", 1.4), ("RUS-MOSC-01", 1.1)):
        w = _mean(db, station, "pm25", winter)
        s = _mean(db, station, "pm25", summer)
        assert w > ratio * s, (station, w, s)
    assert _mean(db, "KAZ-ALMA-01", "so2", winter) > 1.5 * _mean(db, "KAZ-ALMA-01", "so2", summer)


def test_daily_cycles_in_local_time(db):
    """O3 peaks in the afternoon, NO2 at rush hours, PM at night (Beijing local time, UTC+8)."""
    local_hour = "hour(o.phenomenon_time + INTERVAL 8 HOUR)"
    afternoon = f"{local_hour} BETWEEN 13 AND 17"
    night = f"{local_hour} BETWEEN 1 AND 5"
    assert _mean(db, "CHN-BEIJ-01", "o3", afternoon) > 2 * _mean(db, "CHN-BEIJ-01", "o3", night)
    rush = f"{local_hour} IN (7, 8, 9, 18, 19, 20)"
    midday = f"{local_hour} IN (12, 13, 14)"
    assert _mean(db, "CHN-BEIJ-01", "no2", rush) > 1.3 * _mean(db, "CHN-BEIJ-01", "no2", midday)
    assert _mean(db, "CHN-BEIJ-01", "pm25", night) > _mean(db, "CHN-BEIJ-01", "pm25", afternoon)


def test_series_are_autocorrelated_not_white_noise(db):
    lag1 = db.scalar(
        "WITH x AS (SELECT ln(o.result) AS v, lag(ln(o.result)) OVER (ORDER BY o.phenomenon_time)"
        " AS prev FROM observations o JOIN datastreams s ON s.id = o.datastream_id"
        " JOIN things t ON t.id = s.thing_id JOIN observed_properties p"
        " ON p.id = s.observed_property_id WHERE t.code = 'RUS-VLAD-01' AND p.code = 'so2')"
        " SELECT corr(v, prev) FROM x")
    assert 0.6 < lag1 < 0.999


@pytest.mark.parametrize("episode", air.EPISODES, ids=lambda e: e.key)
def test_episodes_are_where_they_were_put(db, episode):
    city = next(c for c in air.CITIES if c.key == episode.city)
    station = air.station_code(city, 0)
    variable = max(episode.factors, key=episode.factors.get)
    during = _mean(db, station, variable, "o.phenomenon_time BETWEEN ? AND ?",
                   (episode.start, episode.end))
    before = _mean(db, station, variable,
                   "o.phenomenon_time BETWEEN ? - INTERVAL 30 DAY AND ? - INTERVAL 3 DAY",
                   (episode.start, episode.start))
    assert during > 2.0 * before, (episode.key, during, before)
    # and no other stretch of three days in that city's two years comes close
    windows = db.rows(
        "SELECT t, w FROM (SELECT o.phenomenon_time AS t, avg(o.result) OVER (ORDER BY"
        " o.phenomenon_time RANGE BETWEEN INTERVAL 3 DAY PRECEDING AND CURRENT ROW) AS w"
        " FROM observations o JOIN datastreams s ON s.id = o.datastream_id"
        " JOIN things t ON t.id = s.thing_id JOIN observed_properties p"
        " ON p.id = s.observed_property_id WHERE t.code = ? AND p.code = ?)",
        [station, variable])
    inside = max(w for t, w in windows if episode.start <= t <= episode.end)
    far = [w for t, w in windows
           if abs((t - episode.start).days) > 10 and abs((t - episode.end).days) > 10]
    assert inside > max(far), (episode.key, inside, max(far))


# -- demo flags and policies -----------------------------------------------------------------
def test_every_record_is_marked_demo(db):
    assert db.scalar("SELECT count(*) FROM organisations WHERE NOT is_demo") == 0
    assert db.scalar("SELECT count(*) FROM datasets WHERE NOT is_demo") == 0
    assert db.scalar("SELECT count(*) FROM users WHERE NOT is_demo") == 0
    assert db.scalar("SELECT count(*) FROM organisations") >= 12
    assert db.scalar("SELECT count(*) FROM things") > 90
    # a JSON boolean, not the string "true"
    assert db.scalar("SELECT count(*) FROM things WHERE (json_type(properties, '$.demo')"
                     " IS DISTINCT FROM 'BOOLEAN') OR NOT (properties->>'$.demo' = 'true')") == 0
    assert db.scalar("SELECT count(*) FROM occurrences WHERE NOT coalesce("
                     "CAST(properties->>'$.demo' AS BOOLEAN), false)") == 0
    for lang in ("en", "zh", "ru"):
        assert db.scalar(f"SELECT count(*) FROM datasets WHERE title->>'$.{lang}' IS NULL") == 0


def test_policies(db):
    ds = {r["slug"]: r for r in db.dicts("SELECT * FROM datasets")}
    for slug in ("demo-camtrap-cn-nctlnp", "demo-camtrap-ru-lotl"):
        assert ds[slug]["sensitive"] and ds[slug]["generalise_km"] == 10
        assert ds[slug]["visibility"] == "partners"
    assert ds["demo-glaciers-wgms"]["visibility"] == "public"
    assert not ds["demo-glaciers-wgms"]["sensitive"]
    air_ds = [d for d in ds.values() if d["domain"] == "air"]
    assert [d["slug"] for d in air_ds if d["visibility"] == "partners"] == ["demo-air-kaz"]
    embargoed = [d for d in ds.values() if d["embargo_until"] is not None]
    assert [d["slug"] for d in embargoed] == ["demo-air-irn"]
    assert embargoed[0]["embargo_until"] > datetime.now(UTC)
    grants = db.rows("SELECT d.slug, o.slug FROM grants g JOIN datasets d ON d.id = g.dataset_id"
                     " JOIN organisations o ON o.id = g.grantee_org_id")
    assert sorted(grants) == [("demo-camtrap-cn-nctlnp", agencies.RU_PARK),
                              ("demo-camtrap-ru-lotl", agencies.CN_PARK)]


def _visible(db, principal: Principal) -> set[str]:
    pred, params = visible_datasets_sql(principal, "d")
    return {s for (s,) in db.rows(f"SELECT d.slug FROM datasets d WHERE {pred}", params)}


def test_camera_traps_are_shared_only_between_the_two_parks(db):
    orgs = dict(db.rows("SELECT slug, id FROM organisations"))
    countries = dict(db.rows("SELECT slug, country FROM organisations"))

    def member(slug: str) -> Principal:
        return Principal(user_id=1, username=slug, roles={orgs[slug]: "viewer"},
                         countries=frozenset({countries[slug]}))

    traps = {"demo-camtrap-cn-nctlnp", "demo-camtrap-ru-lotl"}
    assert traps <= _visible(db, member(agencies.RU_PARK))
    assert traps <= _visible(db, member(agencies.CN_PARK))
    for outsider in (agencies.air_org_slug("CHN"), agencies.air_org_slug("RUS"),
                     "demo-glacier-centre"):
        assert not traps & _visible(db, member(outsider)), outsider
    anonymous = _visible(db, Principal())
    assert not traps & anonymous
    assert "demo-glaciers-wgms" in anonymous and "boundaries" in anonymous
    assert "demo-air-irn" not in anonymous and "demo-air-kaz" not in anonymous
    assert "demo-air-kaz" in _visible(db, member(agencies.air_org_slug("KGZ")))


# -- glaciers ---------------------------------------------------------------------------------
def test_glacier_series_equal_the_wgms_source(db, shared_data):
    source = shared_data / "glaciers" / "wgms_annual_mb_sco_region_combined.csv"
    with source.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["ANNUAL_BALANCE"].strip()]
    for wgms_id in ("732", "817", "1511", "753"):
        expected = {(glaciers.hydrological_year_end(int(r["YEAR"])), float(r["ANNUAL_BALANCE"]))
                    for r in rows if r["WGMS_ID"] == wgms_id}
        stored = set(_series(db, f"WGMS-{wgms_id}", "mass_balance"))
        assert stored == expected, wgms_id
    total = db.scalar("SELECT sum(s.observation_count) FROM datastreams s JOIN things t"
                      " ON t.id = s.thing_id JOIN datasets d ON d.id = t.dataset_id"
                      " WHERE d.slug = 'demo-glaciers-wgms'")
    assert total == len(rows)
    abramov = db.one("SELECT ST_Y(l.geom), ST_X(l.geom) FROM things t"
                     " JOIN thing_locations tl ON tl.thing_id = t.id"
                     " JOIN locations l ON l.id = tl.location_id WHERE t.code = 'WGMS-732'")
    assert abramov == pytest.approx((39.63, 71.56), abs=0.1)
    assert "WGMS" in db.scalar("SELECT attribution FROM datasets WHERE slug = ?",
                               ["demo-glaciers-wgms"])


# -- energy -----------------------------------------------------------------------------------
def test_wind_and_solar_generation(db):
    wind = _mean(db, "GWD-WIND-01", "power")
    assert 0.15 * 50_000 < wind < 0.45 * 50_000
    night = "hour(o.phenomenon_time + INTERVAL 5 HOUR) IN (0, 1, 2, 3)"
    noon = "hour(o.phenomenon_time + INTERVAL 5 HOUR) IN (11, 12, 13)"
    assert _mean(db, "KYS-PV-01", "power", night) == 0
    assert _mean(db, "KYS-PV-01", "power", noon) > 100
    assert len(_series(db, "KYS-PV-01", "power")) == HOURS


# -- camera traps -----------------------------------------------------------------------------
def test_detections_on_both_sides_of_the_border(db):
    """Which side a camera is on is decided by the Natural Earth polygons in the store."""
    rows = db.rows(
        "SELECT a.code, o.scientific_name, count(*) FROM camtrap_observations o"
        " JOIN camtrap_deployments d ON d.dataset_id = o.dataset_id"
        "  AND d.deployment_id = o.deployment_id"
        " JOIN areas a ON a.kind = 'admin_boundary' AND ST_Within(d.geom, a.geom)"
        " WHERE o.observation_type = 'animal' AND d.country IS NOT NULL"  # not the real example
        " GROUP BY 1, 2")
    seen = {(country, name) for country, name, n in rows if n > 0}
    for country in ("CHN", "RUS"):
        for name in ("Panthera tigris altaica", "Panthera pardus orientalis", "Cervus nippon"):
            assert (country, name) in seen, (country, name)
    assert {c for c, _, _ in rows} == {"CHN", "RUS"}
    deployments = db.scalar("SELECT count(*) FROM camtrap_deployments WHERE country IS NOT NULL")
    assert 20 <= deployments <= 40
    crossing = db.scalar(
        "SELECT count(*) FROM (SELECT individual_id FROM camtrap_observations"
        " WHERE individual_id IS NOT NULL GROUP BY 1 HAVING count(DISTINCT dataset_id) = 2)")
    assert crossing >= 2


def test_occurrences_derived_from_detections(db):
    animal_events = db.scalar("SELECT count(*) FROM camtrap_observations"
                              " WHERE observation_type = 'animal' AND observation_level = 'event'")
    assert db.scalar("SELECT count(*) FROM occurrences") == animal_events > 500
    assert db.scalar("SELECT count(*) FROM occurrences o LEFT JOIN taxa t ON t.id = o.taxon_id"
                     " WHERE t.id IS NULL") == 0
    assert db.scalar("SELECT count(*) FROM camtrap_media") > animal_events
    tiger = json.loads(db.scalar("SELECT vernacular_names FROM taxa"
                                 " WHERE scientific_name = 'Panthera tigris altaica'"))
    assert tiger == {"en": "Amur tiger", "zh": "东北虎", "ru": "амурский тигр"}


# -- areas ------------------------------------------------------------------------------------
def test_protected_areas_valid_approximate_and_hold_their_cameras(db):
    parks = db.dicts("SELECT code, name, approximate, ST_IsValid(geom) AS valid,"
                     " ST_GeometryType(geom) AS type FROM areas WHERE kind = 'protected_area'")
    assert len(parks) >= 4
    for park in parks:
        assert park["valid"] and park["approximate"] and park["type"] == "POLYGON"
        assert set(json.loads(park["name"])) == {"en", "zh", "ru"}
    assert {p["code"] for p in parks} >= {"CN-NCTLNP", "RU-LOTLNP", "TJ-TNP", "KG-SESNR"}
    outside = db.scalar(
        "SELECT count(*) FROM camtrap_deployments d JOIN areas a ON a.code ="
        " CASE d.country WHEN 'CHN' THEN 'CN-NCTLNP' ELSE 'RU-LOTLNP' END"
        " WHERE NOT ST_Within(d.geom, a.geom) AND d.country IS NOT NULL")
    assert outside == 0


def test_natural_earth_countries(db):
    rows = dict(db.rows("SELECT code, ST_Area(geom) FROM areas WHERE kind = 'admin_boundary'"))
    assert len(rows) == 177
    assert {"CHN", "RUS", "KAZ", "KGZ", "TJK", "UZB", "IND", "PAK", "IRN", "MNG"} <= set(rows)
    assert rows["RUS"] > rows["CHN"] > rows["KAZ"] > rows["KGZ"] > 0
    assert db.scalar("SELECT bool_and(ST_IsValid(geom)) FROM areas") is True
    assert db.scalar("SELECT licence FROM datasets WHERE slug = 'boundaries'")


# -- the command ------------------------------------------------------------------------------
def test_second_run_skips_the_build(demo_home):
    before = open_store(Settings(home=demo_home), read_only=True)
    orgs = before.scalar("SELECT count(*) FROM organisations")
    before.close()
    out = _run(demo_home)
    assert out.returncode == 0, out.stderr
    assert "already built" in out.stdout
    after = open_store(Settings(home=demo_home), read_only=True)
    assert after.scalar("SELECT count(*) FROM organisations") == orgs
    after.close()


def test_rebuild_refuses_a_store_with_real_data(tmp_path):
    from ecobridge.governance.organisations import create_organisation

    home = tmp_path / "real"
    store = open_store(Settings(home=home))
    create_organisation(store, slug="real-agency", name="Real", country="KAZ")
    store.close()
    out = _run(home, "--rebuild")
    assert out.returncode == 5, (out.stdout, out.stderr)
    assert "not demo data" in out.stderr
    assert (home / "ecobridge.duckdb").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_server_on_the_demo(demo_home):
    port = _free_port()
    env = {**os.environ, "ECOBRIDGE_HOME": str(demo_home)}
    proc = subprocess.Popen([*CLI, "demo", "--serve", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        body = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health",
                                            timeout=2) as r:
                    body = json.load(r)
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                time.sleep(0.2)
        assert body is not None and body["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
