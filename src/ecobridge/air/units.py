"""Unit conversion for air pollutants between mass concentration and mixing ratio.

Canonical units on the platform: ug/m3 for every pollutant except CO, which is mg/m3.
Mixing ratios (ppb, ppm) convert at 25 degC and 1 atm, where one mole of an ideal gas fills
24.45 L; that is the reference state of the US AQI tables (EPA-454/B-24-002) and of GB 3095's
gaseous pollutants since its 2018 amendment (298.15 K, 1013.25 hPa).
  ug/m3 = ppb * M / 24.45        mg/m3 = ppm * M / 24.45
"""

from __future__ import annotations

import numpy as np

from ecobridge.errors import InvalidInput

MOLAR_VOLUME_L_25C = 24.45  # L/mol, ideal gas at 298.15 K and 101.325 kPa (rounded as EPA does)

# g/mol, from standard atomic weights (O 15.999, N 14.007, S 32.06, C 12.011).
MOLAR_MASS = {"o3": 47.997, "no2": 46.0055, "so2": 64.066, "co": 28.010, "nh3": 17.031}

CANONICAL_UNIT = {"pm25": "ug/m3", "pm10": "ug/m3", "no2": "ug/m3", "so2": "ug/m3",
                  "o3": "ug/m3", "co": "mg/m3", "nh3": "ug/m3"}

_ALIASES = {"µg/m3": "ug/m3", "µg/m³": "ug/m3", "ug/m³": "ug/m3", "ug/m3": "ug/m3",
            "mg/m3": "mg/m3", "mg/m³": "mg/m3", "ppb": "ppb", "ppm": "ppm",
            "ug.m-3": "ug/m3", "mg.m-3": "mg/m3", "[ppb]": "ppb", "[ppm]": "ppm"}

# Factor that turns one unit into ug/m3; mixing ratios need the molar mass, so they are None here.
_TO_UG = {"ug/m3": 1.0, "mg/m3": 1000.0}
_PER_PPB = {"ppb": 1.0, "ppm": 1000.0}


def normalise_unit(unit: str) -> str:
    try:
        return _ALIASES[unit.strip()]
    except KeyError:
        raise InvalidInput(f"unknown unit {unit!r}; use ug/m3, mg/m3, ppb or ppm",
                           field="unit") from None


def canonical_unit(pollutant: str) -> str:
    try:
        return CANONICAL_UNIT[pollutant]
    except KeyError:
        raise InvalidInput(f"unknown pollutant {pollutant!r}", field="pollutant") from None


def factor(pollutant: str, from_unit: str, to_unit: str) -> float:
    """Multiplier that converts a value of `pollutant` from `from_unit` into `to_unit`."""
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src == dst:
        return 1.0
    to_ug = _to_ug_factor(pollutant, src)
    from_ug = 1.0 / _to_ug_factor(pollutant, dst)
    return to_ug * from_ug


def _to_ug_factor(pollutant: str, unit: str) -> float:
    if unit in _TO_UG:
        return _TO_UG[unit]
    if pollutant not in MOLAR_MASS:
        raise InvalidInput(f"{pollutant} is not a gas; {unit} does not apply", field="unit")
    return _PER_PPB[unit] * MOLAR_MASS[pollutant] / MOLAR_VOLUME_L_25C


def convert(pollutant: str, value, from_unit: str, to_unit: str):
    """Convert a scalar or a numpy array; None stays None."""
    if value is None:
        return None
    f = factor(pollutant, from_unit, to_unit)
    if isinstance(value, np.ndarray):
        return value.astype(float) * f
    return float(value) * f


def to_canonical(pollutant: str, value, unit: str):
    return convert(pollutant, value, unit, canonical_unit(pollutant))
