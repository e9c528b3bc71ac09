"""The demo's generators as pure functions: deterministic, plausible, and where they say."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow.compute as pc
import pytest
import shapely
from shapely.geometry import Polygon, shape

from ecobridge.demo import air, areas, energy, glaciers, timeseries, wildlife


def test_time_axis_is_two_full_years_hourly():
    t = timeseries.hour_axis()
    assert len(t) == timeseries.HOURS == (366 + 365) * 24
    assert str(t[0]) == "2024-01-01T00:00:00" and str(t[-1]) == "2025-12-31T23:00:00"
    assert np.all(np.diff(t.astype("int64")) == 3600)


def test_red_noise_has_the_asked_persistence_and_spread():
    x = timeseries.red_noise(np.random.default_rng(1), 200_000, 0.9, 2.0)
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert lag1 == pytest.approx(0.9, abs=0.01)
    assert x.std() == pytest.approx(2.0, rel=0.03)


def test_envelope_is_one_inside_zero_outside():
    t = timeseries.hour_axis()
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC)
    e = timeseries.envelope(t, start, end, 12.0)
    inside = (t >= np.datetime64("2024-03-01")) & (t <= np.datetime64("2024-03-03"))
    far = (t < np.datetime64("2024-02-29T11")) | (t > np.datetime64("2024-03-03T13"))
    assert np.all(e[inside] == 1.0) and np.all(e[far] == 0.0)
    assert np.all((e >= 0) & (e <= 1))


def test_air_generation_is_deterministic_and_seeded():
    a, b = air.generate("MNG", seed=7), air.generate("MNG", seed=7)
    assert a.equals(b)
    assert not a.equals(air.generate("MNG", seed=8))


def test_air_cities_cover_the_region():
    names = {c.name for c in air.CITIES}
    named_in_issue = {"Beijing", "Ningbo", "Almaty", "Bishkek", "Dushanbe", "Tashkent", "Moscow",
                      "Vladivostok", "Delhi", "Lahore", "Tehran", "Minsk", "Ulaanbaatar"}
    assert named_in_issue <= names and len(names) >= 15
    assert sum(len(c.stations) > 1 for c in air.CITIES) >= 2


def test_air_table_shape_units_and_gaps():
    table = air.generate("IND")
    assert table.column_names == ["station", "variable", "time", "value", "unit"]
    assert set(table["variable"].to_pylist()) == set(air.POLLUTANTS)
    co = table.filter(pc.equal(table["variable"], "co"))
    assert set(co["unit"].to_pylist()) == {"mg/m3"}
    per_series = table.group_by(["station", "variable"]).aggregate([("value", "count")])
    counts = per_series["value_count"].to_numpy()
    assert np.all(counts < timeseries.HOURS)            # a few hours are missing
    assert np.all(counts > 0.98 * timeseries.HOURS)
    assert pc.min(table["value"]).as_py() > 0


def test_delhi_episode_raises_pm25_over_the_weeks_before():
    table = air.generate("IND")
    pm = table.filter(pc.and_(pc.equal(table["variable"], "pm25"),
                              pc.equal(table["station"], "IND-DELH-01")))
    t = pm["time"].to_numpy().astype("datetime64[s]")
    v = pm["value"].to_numpy()
    episode = (t >= np.datetime64("2024-11-01")) & (t <= np.datetime64("2024-11-12"))
    before = (t >= np.datetime64("2024-10-01")) & (t < np.datetime64("2024-10-29"))
    assert v[episode].mean() > 2.5 * v[before].mean()


def test_wind_power_stays_within_capacity_and_follows_the_curve():
    assert energy.power_curve(np.array([0.0, 2.9, 12.0, 20.0, 26.0])).tolist() == \
        [0.0, 0.0, 1.0, 1.0, 0.0]
    p = energy.wind_power()
    assert p.min() >= 0 and p.max() <= energy.WIND_FARM.capacity_kw
    assert 0.15 < p.mean() / energy.WIND_FARM.capacity_kw < 0.45   # a plausible capacity factor


def test_pv_is_zero_at_night_and_peaks_near_solar_noon():
    p = energy.pv_power()
    t = timeseries.hour_axis()
    elevation = timeseries.solar_elevation(t, energy.PV_SCHEME.lat, energy.PV_SCHEME.lon)
    assert np.all(p[elevation < 0] == 0)
    solar_hour = timeseries.local_hour(t, energy.PV_SCHEME.lon / 15.0)
    by_hour = [p[np.floor(solar_hour) == h].mean() for h in range(24)]
    assert int(np.argmax(by_hour)) in (11, 12)
    june = (t >= np.datetime64("2024-06-01")) & (t < np.datetime64("2024-07-01"))
    december = (t >= np.datetime64("2024-12-01")) & (t < np.datetime64("2025-01-01"))
    assert p[june].mean() > 1.5 * p[december].mean()


def test_glacier_stations_have_coordinates_and_series():
    stations = {s["code"]: s for s in glaciers.stations()}
    obs = glaciers.observations()
    assert len(stations) == 69
    assert set(obs["station"].to_pylist()) <= set(stations)
    abramov = stations["WGMS-732"]
    assert abramov["name"] == "Abramov" and 39 < abramov["lat"] < 40


def test_camera_sites_fall_inside_their_park_and_country():
    ne = {f["properties"]["iso_a3"]: shape(f["geometry"])
          for f in areas.natural_earth()["features"]}
    for side, rows in wildlife.deployments().items():
        country = {"CN": "CHN", "RU": "RUS"}[side]
        park = Polygon(areas.park({"CN": "CN-NCTLNP", "RU": "RU-LOTLNP"}[side])["ring"])
        lon = np.array([r["longitude"] for r in rows])
        lat = np.array([r["latitude"] for r in rows])
        assert len(rows) >= 10
        assert shapely.contains_xy(park, lon, lat).all()
        assert shapely.contains_xy(ne[country], lon, lat).all()


def test_detections_lie_within_their_deployment():
    data = wildlife.camera_data()
    for side in ("CN", "RU"):
        deps = {d["deployment_id"]: d for d in data[side]["deployments"].to_pylist()}
        for o in data[side]["observations"].to_pylist()[::25]:
            d = deps[o["deployment_id"]]
            assert d["deployment_start"] <= o["event_start"] <= o["event_end"]
            assert o["event_start"] < d["deployment_end"]


def test_protected_areas_are_valid_and_labelled():
    fc = areas.protected_areas_geojson()
    assert len(fc["features"]) == 4
    for f in fc["features"]:
        assert shape(f["geometry"]).is_valid
        p = f["properties"]
        assert p["approximate"] is True and p["kind"] == "protected_area"
        assert p["name"] and p["name_zh"] and p["name_ru"]
