"""Unit conversion to an observed property's canonical unit (UCUM codes, computed with pint).

A conversion is found once per distinct (source unit, observed property) pair and returned as a
linear map `canonical = value * factor + offset`, which ingest applies to whole columns. A unit
that pint does not know, or that measures another quantity, is never guessed: the caller rejects
the rows that carry it.

Gas mixing ratios (ppm, ppb) convert to mass concentrations only for properties that declare a
molar mass, at the reference state of 25 degC and 1 atm (molar volume 24.45 L/mol), the state that
China's GB 3095-2012 (amended 2018) and the WHO guidelines use for gases:
    ug/m3 = ppb * M / 24.45        mg/m3 = ppm * M / 24.45
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ecobridge.monitoring.reasons import reason

MOLAR_VOLUME_L = 24.45  # L/mol of an ideal gas at 298.15 K and 101.325 kPa
MIXING_RATIOS = {"ppm": 1e-6, "ppb": 1e-9, "ppmv": 1e-6, "ppbv": 1e-9}

# Spellings seen in data files and UCUM codes that pint reads differently or not at all.
_ALIASES = {
    "cel": "degC", "°c": "degC", "℃": "degC", "degc": "degC", "deg c": "degC",
    "[degf]": "degF", "°f": "degF", "degf": "degF", "k": "K",
    "%": "percent", "[pct]": "percent",
    "kwh": "kW*h", "mwh": "MW*h", "gwh": "GW*h", "wh": "W*h",
    "l/s": "L/s", "m3/s": "m**3/s", "m³/s": "m**3/s", "cumecs": "m**3/s",
}
# Water equivalent: "mm w.e." is a depth of water; the canonical unit of mass balance is mm.
_WATER_EQUIVALENT = re.compile(r"\s*(w\.?\s*e\.?|we|weq|water equivalent)$", re.IGNORECASE)
_UCUM_POWER = re.compile(r"([A-Za-z\]])(\d)")


class UnitError(ValueError):
    """The unit is unknown or cannot be converted; the message is the rejection reason, and
    `reason` its code and parameters (monitoring/reasons.py)."""

    def __init__(self, code: str, **params) -> None:
        self.reason = reason(code, **params)
        super().__init__(self.reason.text)


@dataclass(frozen=True)
class Conversion:
    factor: float
    offset: float = 0.0


@cache
def registry():
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def to_pint(unit: str) -> str:
    """A pint expression for a UCUM code or a common spelling (ug/m3, µg/m³, Cel, kW.h)."""
    text = unit.strip()
    key = text.lower()
    if key in _ALIASES:
        return _ALIASES[key]
    text = _WATER_EQUIVALENT.sub("", text)
    text = text.replace("µ", "u").replace("μ", "u").replace("³", "3").replace("²", "2")
    text = re.sub(r"(?<=[A-Za-z\]])\.(?=[A-Za-z\[])", "*", text)  # UCUM product: kW.h
    text = _UCUM_POWER.sub(r"\1**\2", text)  # UCUM powers: m3 -> m**3
    return _ALIASES.get(text.lower(), text)


@cache
def conversion(unit: str, canonical: str, molar_mass: float | None = None) -> Conversion:
    """How to turn values in `unit` into `canonical`; raises UnitError with the reason."""
    unit = (unit or "").strip()
    if not unit:
        raise UnitError("unit-none")
    if unit == canonical:  # the common case needs no unit registry
        return Conversion(factor=1.0)
    reg = registry()
    key = unit.lower()
    if key in MIXING_RATIOS:
        return _mixing_ratio(unit, MIXING_RATIOS[key], canonical, molar_mass)
    try:
        source = reg.Quantity(1.0, to_pint(unit))
    except Exception:
        raise UnitError("unit-unknown", unit=unit) from None
    try:
        target_unit = reg.Unit(to_pint(canonical))
        zero = reg.Quantity(0.0, source.units).to(target_unit).magnitude
        one = source.to(target_unit).magnitude
    except Exception:
        raise UnitError("unit-not-convertible", unit=unit, canonical=canonical) from None
    return Conversion(factor=float(one - zero), offset=float(zero))


def _mixing_ratio(unit: str, ratio: float, canonical: str,
                  molar_mass: float | None) -> Conversion:
    if molar_mass is None:
        raise UnitError("unit-mixing-ratio", unit=unit, canonical=canonical)
    reg = registry()
    try:
        # mol of gas per m3 of air at the reference state, times g/mol, gives g/m3 per unit ratio
        per_m3 = reg.Quantity(ratio * 1000.0 / MOLAR_VOLUME_L * molar_mass, "g/m**3")
        factor = per_m3.to(to_pint(canonical)).magnitude
    except Exception:
        raise UnitError("unit-not-convertible", unit=unit, canonical=canonical) from None
    return Conversion(factor=float(factor))


def is_known(unit: str) -> bool:
    """True if pint can read the unit (used to check the seeded canonical units)."""
    try:
        registry().Unit(to_pint(unit))
    except Exception:
        return False
    return True
