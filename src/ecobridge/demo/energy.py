"""Synthetic renewable generation: a port wind farm and a village rooftop PV scheme, hourly.

Wind: speed from a Gaussian copula mapped to a Weibull distribution (so hours are autocorrelated
but the marginal is Weibull), a monsoon season and an afternoon sea breeze, through a generic
2.5 MW turbine power curve. PV: clear-sky irradiance from the sun's elevation, times a cloud
factor with day-to-day persistence and a seasonal cloudiness, with a temperature derating.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ecobridge.demo.timeseries import (
    HOURS,
    day_of_year,
    hour_axis,
    local_hour,
    red_noise,
    solar_elevation,
)


@dataclass(frozen=True)
class Plant:
    code: str
    name: str
    lat: float
    lon: float
    country: str
    kind: str              # wind, pv
    capacity_kw: float


WIND_FARM = Plant("GWD-WIND-01", "Gwadar Port Wind Farm", 25.118, 62.330, "PAK", "wind",
                  50_000.0)
PV_SCHEME = Plant("KYS-PV-01", "Kyzyl-Suu Village Rooftop PV", 42.341, 78.005, "KGZ", "pv",
                  600.0)
TURBINES = 20          # of 2.5 MW
CUT_IN, RATED, CUT_OUT = 3.0, 12.0, 25.0


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF via Abramowitz and Stegun 7.1.26 (error below 1.5e-7)."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def power_curve(speed: np.ndarray) -> np.ndarray:
    """Share of rated power at hub-height wind speed (m/s): cubic from cut-in to rated."""
    ramp = (speed ** 3 - CUT_IN ** 3) / (RATED ** 3 - CUT_IN ** 3)
    share = np.where(speed < CUT_IN, 0.0, np.where(speed < RATED, ramp, 1.0))
    return np.where(speed >= CUT_OUT, 0.0, share)


def wind_speed(*, seed: int = 2024) -> np.ndarray:
    times = hour_axis()
    doy = day_of_year(times)
    hour = local_hour(times, WIND_FARM.lon / 15.0)
    z = red_noise(_rng(seed, "wind"), HOURS, 0.95, 1.0)
    u = np.clip(_normal_cdf(z), 1e-6, 1 - 1e-6)
    # Weibull(k, c) by inverse CDF; the south-west monsoon (June-August) brings the strong winds.
    k = 2.1
    scale = 7.2 * (1.0 + 0.3 * np.cos(2 * np.pi * (doy - 200.0) / 365.25))
    speed = scale * (-np.log(1.0 - u)) ** (1.0 / k)
    sea_breeze = 1.0 + 0.15 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    return speed * sea_breeze


def wind_power(*, seed: int = 2024) -> np.ndarray:
    """Farm output in kW: the curve, a small wake/availability loss, and turbines down for
    maintenance now and then."""
    share = power_curve(wind_speed(seed=seed))
    rng = _rng(seed, "availability")
    available = TURBINES - (rng.random(HOURS) < 0.03).astype(float) * rng.integers(1, 4, HOURS)
    return np.round(WIND_FARM.capacity_kw * 0.95 * share * available / TURBINES, 1)


def pv_power(*, seed: int = 2024) -> np.ndarray:
    """Scheme output in kW (AC), zero at night."""
    times = hour_axis()
    doy = day_of_year(times)
    elev = solar_elevation(times, PV_SCHEME.lat, PV_SCHEME.lon)
    sin_el = np.clip(np.sin(np.radians(elev)), 0.0, None)
    air_mass = 1.0 / np.maximum(sin_el, 0.05)
    clear_sky = 1361.0 * sin_el * 0.7 ** (air_mass ** 0.678)     # W/m2, Meinel's model
    # Cloudiness: more in spring, least in late summer, persistent over a day or two.
    cloudiness = 0.35 + 0.15 * np.cos(2 * np.pi * (doy - 100.0) / 365.25)
    z = red_noise(_rng(seed, "clouds"), HOURS, 0.97, 1.0)
    clouds = np.clip(cloudiness + 0.3 * z, 0.0, 0.95)
    irradiance = clear_sky * (1.0 - 0.75 * clouds ** 1.5)
    # Cells lose about 0.4 %/K above 25 C; summer afternoons are hot, winters cold.
    cell_temp = 8.0 + 14.0 * np.cos(2 * np.pi * (doy - 200.0) / 365.25) + irradiance / 40.0
    derate = 1.0 - 0.004 * (cell_temp - 25.0)
    power = PV_SCHEME.capacity_kw * irradiance / 1000.0 * 0.86 * derate
    return np.round(np.clip(power, 0.0, PV_SCHEME.capacity_kw), 2)


def station(plant: Plant) -> dict:
    return {"code": plant.code, "name": plant.name, "lat": plant.lat, "lon": plant.lon,
            "country": plant.country, "plant_type": plant.kind,
            "capacity_kw": plant.capacity_kw, "demo": True}


def observations(plant: Plant, *, seed: int = 2024) -> pa.Table:
    values = wind_power(seed=seed) if plant.kind == "wind" else pv_power(seed=seed)
    times = hour_axis()
    return pa.table({
        "station": pa.array([plant.code] * HOURS, pa.string()),
        "variable": pa.array(["power"] * HOURS, pa.string()),
        "time": pa.array(times, pa.timestamp("s", tz="UTC")),
        "value": pa.array(values, pa.float64()),
        "unit": pa.array(["kW"] * HOURS, pa.string()),
    })
