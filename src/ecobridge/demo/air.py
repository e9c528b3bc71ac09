"""Synthetic air-quality networks: hourly PM2.5, PM10, NO2, SO2, O3 and CO for two years.

Each value is a city baseline times log-space terms for season, hour of day, red noise (a
"weather" component shared by a city's primary pollutants plus a local one) and a few named
pollution episodes. Levels are typical of each city (annual PM2.5 around 10 in Moscow and Minsk,
around 100 in Delhi and Lahore); the series are invented and every station is marked demo.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from ecobridge.demo.timeseries import HOURS, day_of_year, envelope, hour_axis, local_hour, red_noise

POLLUTANTS = ("pm25", "pm10", "no2", "so2", "o3", "co")
UNITS = {"pm25": "ug/m3", "pm10": "ug/m3", "no2": "ug/m3", "so2": "ug/m3", "o3": "ug/m3",
         "co": "mg/m3"}
# How strongly each pollutant follows the city's winter (heating, inversion) cycle, relative to
# the city's amplitude; ozone instead peaks in summer.
_WINTER_WEIGHT = {"pm25": 1.0, "pm10": 0.8, "no2": 0.4, "so2": 1.1, "co": 0.9, "o3": 0.0}
# Share of the city's stagnation ("weather") noise each pollutant takes.
_WEATHER_WEIGHT = {"pm25": 1.0, "pm10": 0.9, "no2": 0.6, "so2": 0.7, "co": 0.8, "o3": -0.25}


@dataclass(frozen=True)
class City:
    key: str
    name: str
    country: str              # ISO 3166-1 alpha-3
    utc_offset: float         # civil time, for traffic hours
    # typical (median) hourly level: pm25, pm10, no2, so2, o3 in ug/m3, co in mg/m3
    base: tuple[float, float, float, float, float, float]
    winter: float             # log-amplitude of the winter peak of PM
    stations: tuple[tuple[str, float, float], ...]   # (district, lat, lon)


CITIES: tuple[City, ...] = (
    City("beijing", "Beijing", "CHN", 8, (33, 58, 28, 3, 55, 0.6), 0.35,
         (("Dongsi", 39.929, 116.417), ("Haidian Wanliu", 39.987, 116.287))),
    City("ningbo", "Ningbo", "CHN", 8, (25, 45, 30, 6, 62, 0.6), 0.3,
         (("Beilun Port", 29.889, 121.845),)),
    City("urumqi", "Urumqi", "CHN", 8, (38, 80, 35, 8, 45, 0.9), 0.8,
         (("Midong", 43.946, 87.645),)),
    City("almaty", "Almaty", "KAZ", 5, (33, 60, 40, 18, 40, 1.1), 0.65,
         (("Medeu district", 43.237, 76.957), ("Turksib", 43.336, 76.962))),
    City("astana", "Astana", "KAZ", 5, (20, 38, 25, 22, 45, 0.8), 0.45,
         (("Saryarka", 51.169, 71.449),)),
    City("bishkek", "Bishkek", "KGZ", 6, (36, 62, 30, 15, 40, 1.0), 0.75,
         (("Sverdlovsky", 42.874, 74.612),)),
    City("dushanbe", "Dushanbe", "TJK", 5, (42, 95, 25, 8, 50, 0.8), 0.35,
         (("Shohmansur", 38.559, 68.787),)),
    City("tashkent", "Tashkent", "UZB", 5, (38, 85, 35, 10, 50, 1.0), 0.35,
         (("Chilanzar", 41.275, 69.204), ("Yunusabad", 41.365, 69.285))),
    City("moscow", "Moscow", "RUS", 3, (10, 19, 33, 4, 45, 0.5), 0.15,
         (("Khamovniki", 55.734, 37.572), ("Maryino", 55.650, 37.744))),
    City("vladivostok", "Vladivostok", "RUS", 10, (12, 25, 30, 8, 50, 0.5), 0.3,
         (("Pervorechensky", 43.131, 131.914),)),
    City("delhi", "Delhi", "IND", 5.5, (82, 165, 45, 12, 45, 1.6), 0.7,
         (("Anand Vihar", 28.647, 77.316), ("R.K. Puram", 28.563, 77.187))),
    City("lahore", "Lahore", "PAK", 5, (78, 150, 40, 15, 45, 1.5), 0.7,
         (("Gulberg", 31.511, 74.343),)),
    City("islamabad", "Islamabad", "PAK", 5, (42, 85, 25, 8, 50, 0.9), 0.45,
         (("G-8", 33.699, 73.055),)),
    City("tehran", "Tehran", "IRN", 3.5, (30, 70, 55, 15, 45, 2.0), 0.25,
         (("Shahr-e Rey", 35.597, 51.434),)),
    City("minsk", "Minsk", "BLR", 3, (11, 21, 25, 4, 50, 0.4), 0.15,
         (("Partizansky", 53.890, 27.615),)),
    City("ulaanbaatar", "Ulaanbaatar", "MNG", 8, (40, 75, 35, 18, 30, 1.1), 1.05,
         (("Bayankhoshuu", 47.963, 106.822),)),
    City("kathmandu", "Kathmandu", "NPL", 5.75, (42, 88, 30, 8, 45, 1.0), 0.55,
         (("Ratnapark", 27.703, 85.316),)),
)


@dataclass(frozen=True)
class Episode:
    """A multi-day pollution event: values are multiplied by `factors` inside [start, end]."""

    key: str
    city: str
    start: datetime
    end: datetime
    factors: dict[str, float] = field(default_factory=dict)
    ramp_hours: float = 24.0
    description: str = ""


EPISODES: tuple[Episode, ...] = (
    Episode("beijing-haze-2025-01", "beijing", datetime(2025, 1, 8, tzinfo=UTC),
            datetime(2025, 1, 14, tzinfo=UTC),
            {"pm25": 4.5, "pm10": 3.2, "co": 2.5, "no2": 1.6, "so2": 2.0, "o3": 0.4},
            description="winter haze under a stagnant anticyclone"),
    Episode("delhi-stubble-2024-11", "delhi", datetime(2024, 11, 1, tzinfo=UTC),
            datetime(2024, 11, 12, tzinfo=UTC),
            {"pm25": 3.5, "pm10": 2.6, "co": 2.0, "no2": 1.3},
            description="post-harvest crop-residue burning in Punjab and Haryana"),
    Episode("lahore-smog-2025-11", "lahore", datetime(2025, 11, 5, tzinfo=UTC),
            datetime(2025, 11, 14, tzinfo=UTC),
            {"pm25": 4.0, "pm10": 3.0, "co": 1.8, "no2": 1.3},
            description="autumn smog"),
    Episode("dushanbe-dust-2025-04", "dushanbe", datetime(2025, 4, 18, 12, tzinfo=UTC),
            datetime(2025, 4, 20, 18, tzinfo=UTC), {"pm10": 12.0, "pm25": 5.0},
            ramp_hours=8.0, description="dust storm from the Karakum and Afghan deserts"),
    Episode("tashkent-dust-2025-04", "tashkent", datetime(2025, 4, 19, tzinfo=UTC),
            datetime(2025, 4, 21, 6, tzinfo=UTC), {"pm10": 10.0, "pm25": 4.0},
            ramp_hours=8.0, description="the same dust storm, half a day later"),
)

_DECIMALS = {"co": 2}


def station_code(city: City, index: int) -> str:
    return f"{city.country}-{city.key.upper()[:4]}-{index + 1:02d}"


def stations(country: str | None = None) -> list[dict]:
    """One row per station: code, name, lat, lon and extra columns that become properties."""
    rows = []
    for city in CITIES:
        if country is not None and city.country != country:
            continue
        for i, (district, lat, lon) in enumerate(city.stations):
            rows.append({"code": station_code(city, i), "name": f"{city.name} {district}",
                         "lat": lat, "lon": lon, "city": city.name, "country": city.country,
                         "network": f"{city.country.lower()}-air", "demo": True})
    return rows


def countries() -> list[str]:
    return sorted({c.country for c in CITIES})


def _rush_hours(hour: np.ndarray) -> np.ndarray:
    def bump(centre: float, width: float) -> np.ndarray:
        d = (hour - centre + 12.0) % 24.0 - 12.0
        return np.exp(-0.5 * (d / width) ** 2)
    return bump(8.0, 1.5) + 0.9 * bump(19.0, 2.0)


_RUSH_MEAN = float(_rush_hours(np.arange(0.0, 24.0, 0.01)).mean())


def _traffic(hour: np.ndarray) -> np.ndarray:
    """Morning and evening rush hours, centred so that the daily mean is zero."""
    return _rush_hours(hour) - _RUSH_MEAN


def _diurnal(pollutant: str, hour: np.ndarray, doy: np.ndarray) -> np.ndarray:
    cyc = lambda peak: np.cos(2 * np.pi * (hour - peak) / 24.0)  # noqa: E731
    if pollutant in ("pm25", "pm10"):
        # Night-time inversion traps particles; the afternoon mixed layer dilutes them.
        extra = 0.08 * _traffic(hour) if pollutant == "pm10" else 0.0
        return 0.2 * cyc(1.0) + extra
    if pollutant == "no2":
        return 0.45 * _traffic(hour) - 0.15 * cyc(14.0)
    if pollutant == "co":
        return 0.3 * _traffic(hour) + 0.12 * cyc(1.0)
    if pollutant == "so2":
        return 0.15 * cyc(11.0)
    # Ozone: photochemistry peaks mid-afternoon, more strongly in summer.
    summer = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - 180.0) / 365.25)
    return (0.35 + 0.2 * summer) * cyc(15.0)


def _seasonal(pollutant: str, city: City, doy: np.ndarray) -> np.ndarray:
    if pollutant == "o3":
        return 0.3 * np.cos(2 * np.pi * (doy - 180.0) / 365.25)
    return city.winter * _WINTER_WEIGHT[pollutant] * np.cos(2 * np.pi * (doy - 15.0) / 365.25)


def _missing(rng: np.random.Generator) -> np.ndarray:
    """A keep-mask: about 0.4 % single hours lost, and now and then a one- to two-day outage."""
    keep = rng.random(HOURS) > 0.004
    if rng.random() < 0.5:
        start = int(rng.integers(0, HOURS - 48))
        keep[start:start + int(rng.integers(24, 48))] = False
    return keep


def _seed(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def generate(country: str, *, seed: int = 2024) -> pa.Table:
    """Long-format observations (station, variable, time, value, unit) for one national network."""
    times = hour_axis()
    doy = day_of_year(times)
    out = {"station": [], "variable": [], "time": [], "value": [], "unit": []}
    for city in (c for c in CITIES if c.country == country):
        weather = red_noise(_seed(seed, city.key, "weather"), HOURS, 0.985, 0.38)
        ozone_weather = red_noise(_seed(seed, city.key, "o3"), HOURS, 0.98, 0.22)
        hour = local_hour(times, city.utc_offset)
        for i, _ in enumerate(city.stations):
            code = station_code(city, i)
            rng = _seed(seed, code)
            keep = _missing(rng)
            local_factor = 1.0 + 0.12 * (i % 2) - 0.06 * (i // 2)
            for p, pollutant in enumerate(POLLUTANTS):
                log_value = (np.log(city.base[p] * local_factor)
                             + _seasonal(pollutant, city, doy)
                             + _diurnal(pollutant, hour, doy)
                             + _WEATHER_WEIGHT[pollutant] * weather
                             + red_noise(rng, HOURS, 0.85, 0.18))
                if pollutant == "o3":
                    log_value += ozone_weather
                for ep in EPISODES:
                    if ep.city == city.key and pollutant in ep.factors:
                        log_value += (np.log(ep.factors[pollutant])
                                      * envelope(times, ep.start, ep.end, ep.ramp_hours))
                values = np.round(np.exp(log_value), _DECIMALS.get(pollutant, 1))
                n = int(keep.sum())
                out["station"].append(np.full(n, code, dtype=object))
                out["variable"].append(np.full(n, pollutant, dtype=object))
                out["time"].append(times[keep])
                out["value"].append(values[keep])
                out["unit"].append(np.full(n, UNITS[pollutant], dtype=object))
    return pa.table({
        "station": pa.array(np.concatenate(out["station"]), pa.string()),
        "variable": pa.array(np.concatenate(out["variable"]), pa.string()),
        "time": pa.array(np.concatenate(out["time"]).astype("datetime64[s]"),
                         pa.timestamp("s", tz="UTC")),
        "value": pa.array(np.concatenate(out["value"]), pa.float64()),
        "unit": pa.array(np.concatenate(out["unit"]), pa.string()),
    })
