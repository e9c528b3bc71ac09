"""China AQI (HJ 633-2012 and HJ 633-2026) against tables typed in here from the standard as
quoted in shared/reference/domain-facts.md 1.1-1.2, not imported from the implementation."""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

import pytest

from ecobridge.air import aqi, iaqi, standard_for, sub_index
from ecobridge.errors import InvalidInput

LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]

# HJ 633-2012 Table 1: concentration at each IAQI level (ug/m3; CO mg/m3).
CN2012 = {
    ("so2", "24h"): [0, 50, 150, 475, 800, 1600, 2100, 2620],
    ("so2", "1h"): [0, 150, 500, 650, 800],
    ("no2", "24h"): [0, 40, 80, 180, 280, 565, 750, 940],
    ("no2", "1h"): [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    ("pm10", "24h"): [0, 50, 150, 250, 350, 420, 500, 600],
    ("co", "24h"): [0, 2, 4, 14, 24, 36, 48, 60],
    ("co", "1h"): [0, 5, 10, 35, 60, 90, 120, 150],
    ("o3", "1h"): [0, 160, 200, 300, 400, 800, 1000, 1200],
    ("o3", "8h"): [0, 100, 160, 215, 265, 800],
    ("pm25", "24h"): [0, 35, 75, 115, 150, 250, 350, 500],
}
# HJ 633-2026 Table 3: only the PM rows change.
CN2026 = dict(CN2012)
CN2026[("pm25", "24h")] = [0, 35, 60, 115, 150, 250, 350, 500]
CN2026[("pm10", "24h")] = [0, 50, 120, 250, 350, 420, 500, 600]


def _expected(bps: list, c: Fraction) -> int:
    """Hand formula: IAQI = (I_hi - I_lo) / (BP_hi - BP_lo) * (C - BP_lo) + I_lo, rounded up."""
    for k in range(len(bps) - 1):
        lo, hi = Fraction(bps[k]), Fraction(bps[k + 1])
        if lo <= c <= hi:
            return math.ceil(Fraction(LEVELS[k + 1] - LEVELS[k]) / (hi - lo) * (c - lo)
                             + LEVELS[k])
    raise AssertionError("outside table")


def _edge_cases(table: dict):
    for (pol, avg), bps in table.items():
        step = Fraction(1, 10) if pol == "co" else Fraction(1)
        for k in range(len(bps) - 1):
            lo, hi = Fraction(bps[k]), Fraction(bps[k + 1])
            yield pol, avg, bps, lo, f"{pol}/{avg} band {k} low"
            yield pol, avg, bps, hi, f"{pol}/{avg} band {k} high"
            yield pol, avg, bps, lo + step, f"{pol}/{avg} band {k} just above low"
            mid = (lo + hi) / 2
            mid = (mid / step).__floor__() * step  # a value the 修约 rule leaves unchanged
            yield pol, avg, bps, mid, f"{pol}/{avg} band {k} middle"


@pytest.mark.parametrize(("std", "table"), [("CN_HJ633_2012", CN2012),
                                            ("CN_HJ633_2026", CN2026)])
def test_every_breakpoint_edge(std, table):
    cases = list(_edge_cases(table))
    assert len(cases) > 200
    for pol, avg, bps, c, label in cases:
        assert iaqi(std, pol, float(c), avg) == _expected(bps, c), (std, label, float(c))


@pytest.mark.parametrize(("std", "pol", "avg"), [
    ("CN_HJ633_2012", "pm25", "24h"), ("CN_HJ633_2026", "pm25", "24h"),
    ("CN_HJ633_2012", "so2", "24h"), ("CN_HJ633_2026", "pm10", "24h")])
def test_exact_breakpoints_give_exact_levels(std, pol, avg):
    bps = (CN2012 if std.endswith("2012") else CN2026)[(pol, avg)]
    assert [iaqi(std, pol, c, avg) for c in bps] == LEVELS[: len(bps)]


@pytest.mark.parametrize(("c", "v2012", "v2026"), [
    # domain-facts 1.2 test vectors (IAQI rounded up)
    (20, 29, 29), (50, 69, 80), (60, 82, 100), (75, 100, 114), (80, 107, 119)])
def test_pm25_vectors(c, v2012, v2026):
    assert iaqi("CN_HJ633_2012", "pm25", c) == v2012
    assert iaqi("CN_HJ633_2026", "pm25", c) == v2026


@pytest.mark.parametrize(("c", "v2012", "v2026"), [
    (120, 85, 100), (150, 100, 112), (200, 125, 131)])
def test_pm10_vectors(c, v2012, v2026):
    assert iaqi("CN_HJ633_2012", "pm10", c) == v2012
    assert iaqi("CN_HJ633_2026", "pm10", c) == v2026


@pytest.mark.parametrize("std", ["CN_HJ633_2012", "CN_HJ633_2026"])
def test_unchanged_items(std):
    assert iaqi(std, "o3", 180, "8h") == 119
    assert iaqi(std, "so2", 300, "24h") == 124  # not the 1-h table (aqi-hub common.py bug)


def test_concentration_rounded_before_lookup():
    # 修约: PM to whole ug/m3, CO to 0.1 mg/m3, half up; then IAQI rounded up.
    assert iaqi("CN_HJ633_2012", "pm25", 35.4) == 50
    assert iaqi("CN_HJ633_2012", "pm25", 35.5) == 52      # 36 -> 51.25 -> 52
    assert iaqi("CN_HJ633_2012", "co", 2.04, "24h") == 50
    assert iaqi("CN_HJ633_2012", "co", 2.05, "24h") == 53  # 2.1 -> 52.5 -> 53
    s = sub_index("CN_HJ633_2012", "pm25", 35.5)
    assert s.used == 36 and s.unit == "ug/m3"


def test_above_top_breakpoint_is_capped_and_flagged():
    for std in ("CN_HJ633_2012", "CN_HJ633_2026"):
        s = sub_index(std, "pm25", 650)
        assert s.value == 500 and s.above_scale
        assert not sub_index(std, "pm25", 500).above_scale


def test_so2_one_hour_overflow_2012_not_computed_2026_is_200():
    assert iaqi("CN_HJ633_2012", "so2", 800, "1h") == 200
    assert iaqi("CN_HJ633_2012", "so2", 801, "1h") is None
    assert iaqi("CN_HJ633_2026", "so2", 801, "1h") == 200
    assert iaqi("CN_HJ633_2026", "so2", 5000, "1h") == 200
    r = aqi("CN_HJ633_2012", {"so2_1h": 900, "so2_24h": 300, "pm25": 20})
    assert r.pollutant_indices["so2"] == 124 and r.aqi == 124
    r = aqi("CN_HJ633_2012", {"so2_1h": 900, "pm25": 20})
    assert "so2" not in r.pollutant_indices and any("800" in n for n in r.notes)


def test_o3_eight_hour_overflow_2012_uses_one_hour_2026_is_300():
    assert iaqi("CN_HJ633_2012", "o3", 801, "8h") is None
    assert iaqi("CN_HJ633_2026", "o3", 801, "8h") == 300
    r = aqi("CN_HJ633_2012", {"o3_8h": 850, "o3_1h": 900})
    assert r.aqi == 350 and r.primary_pollutants == ("o3",)  # 1-h: 300 + 100/200*100


def test_primary_pollutant_only_above_50_and_ties_listed():
    r = aqi("CN_HJ633_2012", {"pm25": 35, "pm10": 50, "no2": 40})
    assert r.aqi == 50 and r.primary_pollutants == () and r.category.code == "excellent"
    r = aqi("CN_HJ633_2012", {"pm25": 36, "pm10": 50})
    assert r.aqi == 52 and r.primary_pollutants == ("pm25",)
    r = aqi("CN_HJ633_2026", {"pm25": 80, "pm10": 120, "o3_8h": 180})
    assert r.aqi == 119 and set(r.primary_pollutants) == {"pm25", "o3"}
    assert set(r.non_attainment) == {"pm25", "o3"}  # IAQI > 100; PM10 at exactly 100 is not


@pytest.mark.parametrize(("pm25", "code", "zh", "hex_"), [
    (35, "excellent", "优", "#00E400"), (36, "good", "良", "#FFFF00"),
    (75, "good", "良", "#FFFF00"), (76, "lightly_polluted", "轻度污染", "#FF7E00"),
    (115, "lightly_polluted", "轻度污染", "#FF7E00"),
    (116, "moderately_polluted", "中度污染", "#FF0000"),
    (150, "moderately_polluted", "中度污染", "#FF0000"),
    (151, "heavily_polluted", "重度污染", "#99004C"),
    (250, "heavily_polluted", "重度污染", "#99004C"),
    (251, "severely_polluted", "严重污染", "#7E0023"),
    (900, "severely_polluted", "严重污染", "#7E0023"),
])
def test_category_boundaries(pm25, code, zh, hex_):
    r = aqi("CN_HJ633_2012", {"pm25": pm25})
    assert (r.category.code, r.category.zh, r.colour) == (code, zh, hex_)
    assert r.category.ru and r.category.en


def test_china_date_switch():
    assert standard_for("CHN", date(2026, 2, 28)) == "CN_HJ633_2012"
    assert standard_for("CHN", date(2026, 3, 1)) == "CN_HJ633_2026"
    assert standard_for("CHN", date(2013, 1, 1)) == "CN_HJ633_2012"
    assert aqi("CHN", {"pm25": 60}, on_date=date(2026, 2, 28)).aqi == 82
    assert aqi("CHN", {"pm25": 60}, on_date=date(2026, 3, 1)).aqi == 100
    with pytest.raises(InvalidInput):
        aqi("CHN", {"pm25": 60})  # the version depends on the date


def test_missing_negative_and_unknown_inputs():
    assert iaqi("CN_HJ633_2012", "pm25", None) is None
    assert iaqi("CN_HJ633_2012", "pm25", float("nan")) is None
    assert iaqi("CN_HJ633_2012", "pm25", -1) is None
    r = aqi("CN_HJ633_2012", {"pm25": None, "pm10": None})
    assert r.aqi is None and r.category is None
    with pytest.raises(InvalidInput):
        aqi("CN_HJ633_2012", {"pm25_8h": 10})
    with pytest.raises(InvalidInput):
        iaqi("CN_HJ633_2012", "nh3", 10)
