"""Vectorised building blocks shared by the demo generators: the hourly time axis, red noise,
smooth episode envelopes and the sun's elevation. No Python loop runs per hour."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

# Two full years, hourly, UTC. Fixed so that every build gives the same series.
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2025, 12, 31, 23, tzinfo=UTC)
HOURS = int((END - START).total_seconds() // 3600) + 1   # 17,544


def hour_axis() -> np.ndarray:
    """The hourly instants as numpy datetime64[s] (naive, UTC)."""
    start = np.datetime64(START.replace(tzinfo=None), "s")
    return start + np.arange(HOURS, dtype="int64") * np.timedelta64(3600, "s")


def day_of_year(times: np.ndarray, offset_hours: float = 0.0) -> np.ndarray:
    """Fractional day of year (0-based) of each instant, in a time zone offset from UTC."""
    local = times + np.timedelta64(int(offset_hours * 3600), "s")
    year_start = local.astype("datetime64[Y]").astype("datetime64[s]")
    return (local - year_start).astype("int64") / 86400.0


def local_hour(times: np.ndarray, offset_hours: float) -> np.ndarray:
    """Fractional hour of the day in a time zone offset from UTC."""
    seconds = times.astype("datetime64[s]").astype("int64") + int(offset_hours * 3600)
    return (seconds % 86400) / 3600.0


def red_noise(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """An AR(1) series x[t] = phi x[t-1] + e[t] with stationary standard deviation `sigma`.

    Computed as a convolution of white noise with the truncated impulse response phi**k (by FFT),
    so it costs O(n log n) and no per-step loop.
    """
    taps = int(np.ceil(np.log(1e-6) / np.log(phi))) if phi > 0 else 1
    kernel = phi ** np.arange(taps)
    white = rng.standard_normal(n + taps)
    size = 1 << int(np.ceil(np.log2(n + 2 * taps)))
    full = np.fft.irfft(np.fft.rfft(white, size) * np.fft.rfft(kernel, size), size)
    series = full[taps:taps + n]
    return series * sigma / np.sqrt(np.sum(kernel ** 2))


def envelope(times: np.ndarray, start: datetime, end: datetime, ramp_hours: float) -> np.ndarray:
    """0 outside [start - ramp, end + ramp], 1 inside [start, end], cosine ramps between."""
    t = times.astype("datetime64[s]").astype("int64") / 3600.0
    s = np.datetime64(start.replace(tzinfo=None), "s").astype("int64") / 3600.0
    e = np.datetime64(end.replace(tzinfo=None), "s").astype("int64") / 3600.0
    up = np.clip((t - (s - ramp_hours)) / ramp_hours, 0.0, 1.0)
    down = np.clip(((e + ramp_hours) - t) / ramp_hours, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def solar_elevation(times: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Sun elevation in degrees (Cooper's declination, equation of time ignored: demo accuracy)."""
    doy = day_of_year(times)
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    solar_hour = local_hour(times, lon / 15.0)
    hour_angle = np.radians(15.0 * (solar_hour - 12.0))
    phi = np.radians(lat)
    sin_el = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0)))
