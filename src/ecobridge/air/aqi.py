"""Air quality index: sub-indices (IAQI) and the AQI for China, the United States and India.

The breakpoint tables and the per-standard rules are data (data/aqi.yaml, with the source of each
table); this module only interprets them. One vectorised core evaluates every table, so the scalar
and the array functions cannot disagree.

Standards: CN_HJ633_2012 (China, before 2026-03-01), CN_HJ633_2026 (China, from 2026-03-01),
US_EPA_2024 (from 2024-05-06), US_EPA_2018 (before), IN_CPCB_2014. A jurisdiction code (CHN, USA,
IND) with `on_date` picks the version in force on that date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from ecobridge.air import units
from ecobridge.errors import InvalidInput

_EPS_DECIMALS = 6  # float noise is removed at 1e-6 of the table's last digit before rounding


@dataclass(frozen=True)
class Category:
    level: int
    code: str
    en: str
    zh: str
    ru: str
    hex: str
    max: int | None

    @property
    def rgb(self) -> tuple[int, int, int]:
        h = self.hex.lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)

    def name(self, lang: str = "en") -> str:
        return getattr(self, lang, self.en)


@dataclass(frozen=True)
class Table:
    pollutant: str
    averaging: str
    unit: str
    precision: int
    c_lo: np.ndarray
    c_hi: np.ndarray  # inf for an open-ended band
    i_lo: np.ndarray
    i_hi: np.ndarray  # nan for an open-ended band
    above: str
    above_value: float | None
    below_undefined: bool
    note: str


@dataclass(frozen=True)
class Standard:
    id: str
    title: str
    jurisdiction: str
    valid_from: date | None
    valid_to: date | None
    source: str
    status: str
    categories: tuple[Category, ...]
    input_rounding: str
    index_rounding: str
    aqi_rounding: str
    primary_min_aqi: int
    non_attainment_above: int | None
    min_pollutants: int
    required_any: tuple[str, ...]
    defaults: dict[str, str]
    so2_1h_overflow_index: int | None
    tables: dict[tuple[str, str], Table]

    def table(self, pollutant: str, averaging: str | None = None) -> Table:
        avg = averaging or self.defaults.get(pollutant)
        try:
            return self.tables[(pollutant, avg)]
        except KeyError:
            have = ", ".join(f"{p}/{a}" for p, a in self.tables)
            raise InvalidInput(f"{self.id} has no table for {pollutant}/{avg}; it has {have}",
                               field="pollutant") from None

    def category(self, index: float | None) -> Category | None:
        if index is None or (isinstance(index, float) and math.isnan(index)):
            return None
        for cat in self.categories:
            if cat.max is None or index <= cat.max:
                return cat
        return self.categories[-1]


@dataclass(frozen=True)
class SubIndex:
    pollutant: str
    averaging: str
    concentration: float | None   # as given, in the caller's unit
    used: float | None            # after unit conversion and rounding/truncation, table unit
    unit: str                     # the table's unit
    value: float | int | None     # None: not defined for this value (see note)
    above_scale: bool = False     # above the top concentration of the table (capped/extrapolated)
    note: str = ""


@dataclass(frozen=True)
class AqiResult:
    standard: str
    aqi: int | float | None
    category: Category | None
    primary_pollutants: tuple[str, ...]
    sub_indices: dict[str, SubIndex]          # keyed "pollutant/averaging"
    pollutant_indices: dict[str, float | int]  # one value per pollutant after the rules
    non_attainment: tuple[str, ...] = ()
    above_scale: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def colour(self) -> str | None:
        return self.category.hex if self.category else None


# --- loading -----------------------------------------------------------------------------------

@cache
def _raw() -> dict[str, Any]:
    text = resources.files("ecobridge.air").joinpath("data/aqi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _table(pollutant: str, averaging: str, spec: dict, levels: list | None,
           default_above: str) -> Table:
    if "levels" in spec:
        conc = [float(c) for c in spec["levels"]]
        idx = [float(i) for i in levels[: len(conc)]]
        rows = [(conc[k], conc[k + 1], idx[k], idx[k + 1]) for k in range(len(conc) - 1)]
    else:
        rows = [(float(lo), math.inf if hi is None else float(hi), float(ilo),
                 math.nan if ihi is None else float(ihi)) for lo, hi, ilo, ihi in spec["segments"]]
    c_lo, c_hi, i_lo, i_hi = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return Table(pollutant=pollutant, averaging=averaging, unit=units.normalise_unit(spec["unit"]),
                 precision=int(spec["precision"]), c_lo=c_lo, c_hi=c_hi, i_lo=i_lo, i_hi=i_hi,
                 above=spec.get("above", default_above), above_value=spec.get("value"),
                 below_undefined=spec.get("below") == "undefined", note=spec.get("note", ""))


@cache
def standards() -> dict[str, Standard]:
    raw = _raw()
    cats = {k: tuple(Category(**c) for c in v) for k, v in raw["categories"].items()}
    out = {}
    for sid, s in raw["standards"].items():
        tables = {}
        for key, spec in s["tables"].items():
            pol, avg = key.split("/")
            tables[(pol, avg)] = _table(pol, avg, spec, s.get("index_levels"), s["above"])
        out[sid] = Standard(
            id=sid, title=s["title"], jurisdiction=s["jurisdiction"], valid_from=s["valid_from"],
            valid_to=s["valid_to"], source=" ".join(s["source"].split()), status=s["status"],
            categories=cats[s["categories"]], input_rounding=s["input_rounding"],
            index_rounding=s["index_rounding"], aqi_rounding=s.get("aqi_rounding", "none"),
            primary_min_aqi=s["primary_min_aqi"],
            non_attainment_above=s.get("non_attainment_above"),
            min_pollutants=s.get("min_pollutants", 1),
            required_any=tuple(s.get("required_any", ())),
            defaults=dict(s["defaults"]), so2_1h_overflow_index=s.get("so2_1h_overflow_index"),
            tables=tables)
    return out


_JURISDICTION_ALIASES = {"CHN": "CHN", "CN": "CHN", "USA": "USA", "US": "USA", "IND": "IND",
                         "IN": "IND"}


def standard_for(jurisdiction: str, on_date: date) -> str:
    """The AQI standard in force in a jurisdiction on a date (China: 2012 rules before
    2026-03-01, 2026 rules from then; US: 2024 breakpoints from 2024-05-06)."""
    jur = _JURISDICTION_ALIASES.get(jurisdiction.upper())
    if jur is None:
        raise InvalidInput(f"no AQI standard for {jurisdiction!r}; use CHN, USA or IND",
                           field="jurisdiction")
    for sid, s in standards().items():
        if s.jurisdiction != jur:
            continue
        if (s.valid_from is None or on_date >= s.valid_from) and (
                s.valid_to is None or on_date <= s.valid_to):
            return sid
    raise InvalidInput(f"no {jur} AQI standard in force on {on_date}", field="on_date")


def get_standard(standard: str, on_date: date | None = None) -> Standard:
    table = standards()
    if standard in table:
        return table[standard]
    if standard.upper() in _JURISDICTION_ALIASES:
        if on_date is None:
            raise InvalidInput(f"{standard} has several AQI versions; give on_date",
                               field="on_date")
        return table[standard_for(standard, on_date)]
    raise InvalidInput(f"unknown AQI standard {standard!r}; known: {', '.join(table)}",
                       field="standard")


# --- the vectorised core ---------------------------------------------------------------------

def _round_input(c: np.ndarray, precision: int, how: str) -> np.ndarray:
    scale = 10.0 ** precision
    x = np.round(c * scale, _EPS_DECIMALS)
    if how == "truncate":
        return np.floor(x) / scale
    if how == "half_up":
        return np.floor(x + 0.5) / scale
    return c


def _round_index(v: np.ndarray, how: str) -> np.ndarray:
    if how == "ceil":
        return np.ceil(np.round(v, _EPS_DECIMALS))
    if how == "half_up":
        return np.floor(np.round(v, _EPS_DECIMALS) + 0.5)
    return v


def _evaluate(std: Standard, t: Table, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-index for concentrations already in the table's unit.

    Returns (index, used concentration, above-scale mask); index is NaN where undefined.
    """
    c = np.asarray(c, dtype=float)
    invalid = ~np.isfinite(c) | (c < 0)
    used = _round_input(np.where(invalid, 0.0, c), t.precision, std.input_rounding)
    n = len(t.c_lo)
    # First band whose upper end reaches the value: a value on a shared edge takes the lower band.
    k = np.minimum(np.searchsorted(t.c_hi, used, side="left"), n - 1)
    lo, hi, ilo, ihi = t.c_lo[k], t.c_hi[k], t.i_lo[k], t.i_hi[k]
    open_band = ~np.isfinite(hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (ihi - ilo) / (hi - lo)
        value = np.where(open_band, ilo, slope * (used - lo) + ilo)
    # A value that falls in a gap between two bands (not possible after rounding to the table's
    # precision, but guard anyway) takes the lower index of the band above it.
    value = np.where((k > 0) & (used < lo), ilo, value)
    below = used < t.c_lo[0]
    top = t.c_hi[-1]
    above = used > top
    if t.above == "cap":
        value = np.where(above, t.i_hi[-1], value)
    elif t.above == "undefined":
        value = np.where(above, np.nan, value)
    elif t.above == "fixed":
        value = np.where(above, float(t.above_value), value)
    # "extrapolate" keeps the top segment's line; "open" never has used > inf.
    value = np.where(below & t.below_undefined, np.nan, value)
    value = np.where(invalid, np.nan, _round_index(value, std.index_rounding))
    flagged = (above & (t.above in ("cap", "extrapolate"))) | (open_band & ~invalid & ~below)
    return value, np.where(invalid, np.nan, used), flagged


def _to_table_unit(pollutant: str, t: Table, values, unit: str | None):
    src = unit or units.canonical_unit(pollutant)
    return units.convert(pollutant, values, src, t.unit)


# --- public functions ------------------------------------------------------------------------

def iaqi_array(standard: str, pollutant: str, concentrations, averaging: str | None = None, *,
               unit: str | None = None, on_date: date | None = None) -> np.ndarray:
    """Sub-indices for an array of concentrations (canonical units unless `unit` is given).

    NaN where the sub-index is not defined (missing or negative input, outside the table).
    """
    std = get_standard(standard, on_date)
    t = std.table(pollutant, averaging)
    c = _to_table_unit(pollutant, t, np.asarray(concentrations, dtype=float), unit)
    return _evaluate(std, t, c)[0]


def sub_index(standard: str, pollutant: str, concentration: float | None,
              averaging: str | None = None, *, unit: str | None = None,
              on_date: date | None = None) -> SubIndex:
    """The sub-index of one concentration with the details: rounded value used, flags, note."""
    std = get_standard(standard, on_date)
    t = std.table(pollutant, averaging)
    if concentration is None or not math.isfinite(float(concentration)):
        return SubIndex(pollutant, t.averaging, None, None, t.unit, None, note="missing")
    c = _to_table_unit(pollutant, t, np.array([float(concentration)]), unit)
    value, used, flagged = _evaluate(std, t, c)
    v = float(value[0])
    note = ""
    if math.isnan(v):
        note = "negative concentration" if concentration < 0 else (t.note or "outside the table")
        v_out = None
    else:
        v_out = int(v) if std.index_rounding != "none" else v
        if t.above == "fixed" and used[0] > t.c_hi[-1]:
            note = t.note
    if flagged[0]:
        note = note or ("open-ended top band: sub-index is the band's lower index"
                        if t.above == "open" or not np.isfinite(t.c_hi[-1])
                        else "above the top breakpoint")
    return SubIndex(pollutant, t.averaging, float(concentration),
                    None if math.isnan(used[0]) else float(used[0]), t.unit, v_out,
                    bool(flagged[0]), note)


def iaqi(standard: str, pollutant: str, concentration: float | None, averaging: str | None = None,
         *, unit: str | None = None, on_date: date | None = None) -> int | float | None:
    """Sub-index (IAQI) of one concentration, or None where the table does not define one."""
    return sub_index(standard, pollutant, concentration, averaging, unit=unit,
                     on_date=on_date).value


def _parse_key(std: Standard, key: str) -> tuple[str, str]:
    pol, _, avg = key.partition("_")
    if not avg:
        avg = std.defaults.get(pol, "")
    if (pol, avg) not in std.tables:
        have = ", ".join(f"{p}_{a}" for p, a in std.tables)
        raise InvalidInput(f"{std.id} cannot use {key!r}; keys are pollutant or "
                           f"pollutant_averaging: {have}", field=key)
    return pol, avg


def aqi(standard: str, concentrations: dict[str, float | None], *, on_date: date | None = None,
        units_by_key: dict[str, str] | None = None) -> AqiResult:
    """AQI from concentrations keyed 'pm25' (the standard's default averaging) or 'o3_1h'.

    Concentrations are in canonical units (ug/m3; CO mg/m3) unless `units_by_key` says otherwise.
    """
    std = get_standard(standard, on_date)
    units_by_key = units_by_key or {}
    subs: dict[str, SubIndex] = {}
    for key, conc in concentrations.items():
        pol, avg = _parse_key(std, key)
        subs[f"{pol}/{avg}"] = sub_index(std.id, pol, conc, avg, unit=units_by_key.get(key))
    notes: list[str] = []
    per_pollutant: dict[str, float | int] = {}
    for s in subs.values():
        if s.value is None:
            if s.note and s.note != "missing":
                notes.append(f"{s.pollutant}/{s.averaging}: {s.note}")
            continue
        per_pollutant[s.pollutant] = max(per_pollutant.get(s.pollutant, s.value), s.value)
    _apply_so2_overflow(std, subs, per_pollutant, notes)
    result_notes = tuple(notes)
    above = any(s.above_scale for s in subs.values())
    if not per_pollutant:
        return AqiResult(std.id, None, None, (), subs, per_pollutant, notes=result_notes)
    if len(per_pollutant) < std.min_pollutants or (
            std.required_any and not any(p in per_pollutant for p in std.required_any)):
        msg = (f"AQI needs at least {std.min_pollutants} pollutants including one of "
               f"{', '.join(std.required_any)}")
        return AqiResult(std.id, None, None, (), subs, per_pollutant, above_scale=above,
                         notes=result_notes + (msg,))
    top = max(per_pollutant.values())
    value: int | float = top
    if std.aqi_rounding == "half_up":
        value = int(_round_index(np.array([top]), "half_up")[0])
    elif std.index_rounding != "none":
        value = int(top)
    primary = tuple(p for p, v in per_pollutant.items() if v == top) \
        if value >= std.primary_min_aqi else ()
    non_att = tuple(p for p, v in per_pollutant.items()
                    if std.non_attainment_above is not None and v > std.non_attainment_above)
    return AqiResult(std.id, value, std.category(value), primary, subs, per_pollutant, non_att,
                     above, result_notes)


def _apply_so2_overflow(std: Standard, subs: dict[str, SubIndex],
                        per_pollutant: dict[str, float | int], notes: list[str]) -> None:
    """US: 1-h SO2 >= 305 ppb does not define an index; use 24-h SO2 if that reaches 305 ppb,
    else the AQI for SO2 is fixed at 200 (EPA-454/B-24-002, 'Calculating AQI values for SO2')."""
    if std.so2_1h_overflow_index is None:
        return
    one_hour = subs.get("so2/1h")
    if one_hour is None or one_hour.used is None:
        return
    if one_hour.used <= std.tables[("so2", "1h")].c_hi[-1]:
        return
    day = subs.get("so2/24h")
    if day is not None and day.value is not None:
        return
    per_pollutant["so2"] = max(per_pollutant.get("so2", 0), std.so2_1h_overflow_index)
    notes.append(f"so2: 1-h value {one_hour.used:g} ppb >= 305 with no 24-h value >= 305 ppb; "
                 f"SO2 index set to {std.so2_1h_overflow_index}")


def completeness(jurisdiction: str) -> dict[str, Any]:
    """Minimum-data rules for averages in a jurisdiction (CHN, USA, IND), with source and status."""
    rules = _raw()["completeness"]
    jur = _JURISDICTION_ALIASES.get(jurisdiction.upper(), jurisdiction.upper())
    try:
        return rules[jur]
    except KeyError:
        raise InvalidInput(f"no completeness rules for {jurisdiction!r}; known: "
                           f"{', '.join(rules)}", field="jurisdiction") from None
