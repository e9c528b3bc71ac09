"""Ambient air-quality limit values as data: national standards, the EU directives and the WHO
2021 guidelines with interim targets.

The values, their averaging periods, statistics, validity dates and sources live in
data/limits.yaml; this module loads them into `Limit` records and answers two questions: which
limit applies to a country on a date (`limit_for`), and which limits a value exceeds
(`exceedances`). Values are compared in canonical units (ug/m3; CO mg/m3); limits written in ppb
or ppm (US) are converted at 25 degC (see units.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ecobridge.air import units
from ecobridge.errors import InvalidInput

AVERAGING = ("20min", "1h", "3h", "8h", "24h", "annual", "peak_season")
POLLUTANTS = ("pm25", "pm10", "no2", "so2", "o3", "co")
_FIXED = 4  # pollutant, averaging, statistic, unit


@dataclass(frozen=True)
class Limit:
    jurisdiction: str          # ISO 3166-1 alpha-3, or EU / WHO
    document: str
    clause: str
    pollutant: str
    averaging: str
    statistic: str
    level: str                 # grade_2, primary, AQG, IT-1, limit, target, pdk, ...
    value: float               # as the document writes it, in `unit`
    unit: str
    value_canonical: float     # in the pollutant's canonical unit (ug/m3; CO mg/m3)
    canonical_unit: str
    valid_from: date | None
    valid_to: date | None
    allowed_exceedances: int | None
    per: str | None
    source: str
    status: str                # V, V-sec, V-impl, C, R as in domain-facts.md
    confirmed: bool
    note: str = ""

    def in_force(self, on_date: date | None) -> bool:
        if on_date is None:
            return self.valid_to is None
        return (self.valid_from is None or on_date >= self.valid_from) and (
            self.valid_to is None or on_date <= self.valid_to)


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("ecobridge.air").joinpath("data/limits.yaml").read_text(
        encoding="utf-8")
    return yaml.safe_load(text)


def _rows(block: dict) -> list[Limit]:
    out = []
    levels = block["levels"]
    for n, row in enumerate(block["rows"]):
        extras = row[-1] if isinstance(row[-1], dict) else {}
        cells = row[:-1] if extras else row
        if len(cells) != _FIXED + len(levels):
            raise InvalidInput(f"{len(cells)} cells, expected {_FIXED + len(levels)}",
                               file="air/data/limits.yaml", row=n, field=block["document"])
        pollutant, averaging, statistic, unit = cells[:_FIXED]
        for level, value in zip(levels, cells[_FIXED:], strict=True):
            if value is None:
                continue
            canon = units.canonical_unit(pollutant)
            out.append(Limit(
                jurisdiction=block["jurisdiction"], document=block["document"],
                clause=block["clause"], pollutant=pollutant, averaging=averaging,
                statistic=statistic, level=level, value=float(value), unit=unit,
                value_canonical=units.convert(pollutant, float(value), unit, canon),
                canonical_unit=canon, valid_from=block["valid_from"], valid_to=block["valid_to"],
                allowed_exceedances=extras.get("allowed"), per=extras.get("per"),
                source=" ".join(str(block["source"]).split()), status=block["status"],
                confirmed=bool(extras.get("confirmed", block["confirmed"])),
                note=" ".join(str(extras.get("note", "")).split())))
    return out


@cache
def all_limits() -> tuple[Limit, ...]:
    """Every limit value in the data file."""
    return tuple(lim for block in _raw()["documents"] for lim in _rows(block))


def jurisdiction_of(country_alpha3: str) -> str:
    """The jurisdiction whose limits apply in a country: itself, or EU for member states."""
    code = country_alpha3.upper()
    if code in set(_raw()["eu_members"]):
        return "EU"
    return code


def limits(*, jurisdiction: str | None = None, pollutant: str | None = None,
           averaging: str | None = None, level: str | None = None,
           on_date: date | None = None, include_unconfirmed: bool = True) -> list[Limit]:
    """Limits filtered by any of the keywords; `on_date` keeps those in force on that date
    (None keeps those without an end date)."""
    _check(pollutant, averaging)
    return [lim for lim in all_limits()
            if (jurisdiction is None or lim.jurisdiction == jurisdiction.upper())
            and (pollutant is None or lim.pollutant == pollutant)
            and (averaging is None or lim.averaging == averaging)
            and (level is None or lim.level == level)
            and lim.in_force(on_date)
            and (include_unconfirmed or lim.confirmed)]


def limit_for(country_alpha3: str, pollutant: str, averaging: str, on_date: date | None = None,
              *, level: str | None = None) -> Limit | None:
    """The national limit that applies in a country on a date, or None if none is on record.

    Without `level`, the jurisdiction's usual level is taken (China grade II, US primary then
    secondary, EU limit then target value, India general areas, Russia MPC, WHO the AQG level).
    """
    jur = jurisdiction_of(country_alpha3)
    preferred = [level] if level else _raw()["default_levels"].get(jur, [])
    candidates = limits(jurisdiction=jur, pollutant=pollutant, averaging=averaging,
                        on_date=on_date)
    for lvl in preferred:
        matches = [lim for lim in candidates if lim.level == lvl]
        if matches:
            # Two rows at one level and date would be an error in the data; tests forbid it.
            return matches[0]
    return None


def exceedances(jurisdiction: str, pollutant: str, averaging: str, value: float, *,
                unit: str | None = None, on_date: date | None = None,
                level: str | None = None) -> list[Limit]:
    """The limits of a jurisdiction (a country code, EU or WHO) that `value` exceeds (strictly
    greater), for the given averaging period. `value` is in canonical units unless `unit` says
    otherwise. For WHO the result lists every interim target and the guideline level exceeded."""
    jur = jurisdiction_of(jurisdiction)
    canon = units.canonical_unit(pollutant)
    v = units.convert(pollutant, float(value), unit or canon, canon)
    return [lim for lim in limits(jurisdiction=jur, pollutant=pollutant, averaging=averaging,
                                  level=level, on_date=on_date)
            if v > lim.value_canonical + 1e-9 * max(1.0, abs(lim.value_canonical))]


WHO_LEVELS = ("IT-1", "IT-2", "IT-3", "IT-4", "AQG")


def who_guideline(pollutant: str, averaging: str, level: str = "AQG") -> Limit | None:
    """The WHO 2021 guideline level or interim target for a pollutant and averaging period."""
    if level not in WHO_LEVELS:
        raise InvalidInput(f"WHO level must be one of {', '.join(WHO_LEVELS)}", field="level")
    found = limits(jurisdiction="WHO", pollutant=pollutant, averaging=averaging, level=level)
    return found[0] if found else None


def who_attainment(pollutant: str, averaging: str, value: float, *,
                   unit: str | None = None) -> str | None:
    """The strictest WHO 2021 level that `value` meets ('AQG', 'IT-4' ... 'IT-1'), 'above IT-1'
    when it meets none, or None when WHO sets nothing for this pollutant and period."""
    canon = units.canonical_unit(pollutant)
    v = units.convert(pollutant, float(value), unit or canon, canon)
    met = None
    for lvl in WHO_LEVELS:  # from the loosest to the strictest
        lim = who_guideline(pollutant, averaging, lvl)
        if lim is None:
            continue
        if v <= lim.value_canonical:
            met = lvl
        elif met is None:
            met = "above IT-1"
    return met


def _check(pollutant: str | None, averaging: str | None) -> None:
    if pollutant is not None and pollutant not in POLLUTANTS:
        raise InvalidInput(f"unknown pollutant {pollutant!r}; use {', '.join(POLLUTANTS)}",
                           field="pollutant")
    if averaging is not None and averaging not in AVERAGING:
        raise InvalidInput(f"unknown averaging {averaging!r}; use {', '.join(AVERAGING)}",
                           field="averaging")
