"""India National AQI (CPCB 2014) against the breakpoints typed in here from the CPCB table as
quoted in shared/reference/domain-facts.md 1.4."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from ecobridge.air import aqi, iaqi, sub_index

BANDS = [(0, 50), (51, 100), (101, 200), (201, 300), (301, 400)]
# Concentration ranges of the five closed bands; the sixth (Severe, 401+) has no upper end.
IN2014 = {
    ("pm10", "24h"): ["0-50", "51-100", "101-250", "251-350", "351-430"],
    ("pm25", "24h"): ["0-30", "31-60", "61-90", "91-120", "121-250"],
    ("no2", "24h"): ["0-40", "41-80", "81-180", "181-280", "281-400"],
    ("o3", "8h"): ["0-50", "51-100", "101-168", "169-208"],
    ("co", "8h"): ["0-1.0", "1.1-2.0", "2.1-10", "10.1-17", "17.1-34"],
    ("so2", "24h"): ["0-40", "41-80", "81-380", "381-800", "801-1600"],
    ("nh3", "24h"): ["0-200", "201-400", "401-800", "801-1200", "1201-1800"],
}


def _cases():
    for (pol, avg), ranges in IN2014.items():
        step = F(1, 10) if pol == "co" else F(1)
        for (ilo, ihi), rng in zip(BANDS, ranges, strict=False):
            lo, hi = (F(x) for x in rng.split("-"))

            def idx(c, lo=lo, hi=hi, ilo=ilo, ihi=ihi):
                return F(ihi - ilo) / (hi - lo) * (c - lo) + ilo
            mid = ((lo + hi) / 2 / step).__floor__() * step
            for c in (lo, hi, lo + step, mid):
                yield pol, avg, c, idx(c), f"{pol}/{avg} {rng} at {float(c)}"


def test_every_breakpoint_edge():
    cases = list(_cases())
    assert len(cases) > 100
    for pol, avg, c, expected, label in cases:
        assert iaqi("IN_CPCB_2014", pol, float(c), avg) == pytest.approx(float(expected)), label


@pytest.mark.parametrize(("c", "expected"), [
    (25, 41.67), (45, 74.66), (75, 148.79), (100, 231.72), (200, 361.63)])  # domain-facts 1.4
def test_pm25_vectors(c, expected):
    assert iaqi("IN_CPCB_2014", "pm25", c) == pytest.approx(expected, abs=0.006)


def test_gaps_between_bands_are_closed_by_rounding():
    assert iaqi("IN_CPCB_2014", "pm25", 30.4) == 50
    assert iaqi("IN_CPCB_2014", "pm25", 30.5) == 51
    assert iaqi("IN_CPCB_2014", "co", 1.04, "8h") == 50
    assert iaqi("IN_CPCB_2014", "co", 1.05, "8h") == 51


def test_severe_band_has_no_upper_end():
    assert iaqi("IN_CPCB_2014", "pm25", 250) == 400
    s = sub_index("IN_CPCB_2014", "pm25", 251)
    assert s.value == 401 and s.above_scale and "open-ended" in s.note
    assert iaqi("IN_CPCB_2014", "pm25", 900) == 401
    assert iaqi("IN_CPCB_2014", "pm10", 431) == 401


def test_ozone_eight_hour_gives_way_to_one_hour():
    assert iaqi("IN_CPCB_2014", "o3", 208, "8h") == 300
    assert iaqi("IN_CPCB_2014", "o3", 209, "8h") is None
    assert iaqi("IN_CPCB_2014", "o3", 208, "1h") is None
    assert iaqi("IN_CPCB_2014", "o3", 209, "1h") == 301
    assert iaqi("IN_CPCB_2014", "o3", 748, "1h") == 400
    r = aqi("IN_CPCB_2014", {"o3_8h": 250, "o3_1h": 478.5, "pm25": 20, "no2": 10})
    assert r.pollutant_indices["o3"] == pytest.approx(350.59, abs=0.01)  # 301 + 99/539*270
    assert r.aqi == 351 and r.primary_pollutants == ("o3",)


def test_aqi_needs_three_pollutants_one_of_them_pm():
    r = aqi("IN_CPCB_2014", {"pm25": 45, "pm10": 80})
    assert r.aqi is None and r.sub_indices["pm25/24h"].value == pytest.approx(74.655, abs=1e-3)
    assert any("at least 3" in n for n in r.notes)
    assert aqi("IN_CPCB_2014", {"no2": 45, "so2": 20, "co": 1.5}).aqi is None
    r = aqi("IN_CPCB_2014", {"pm25": 45, "no2": 45, "so2": 20})
    assert r.aqi == 75 and r.primary_pollutants == ("pm25",)  # 74.66 reported as 75
    assert r.category.code == "satisfactory" and r.colour == "#92D050"


@pytest.mark.parametrize(("pm25", "code"), [
    (30, "good"), (31, "satisfactory"), (60, "satisfactory"), (61, "moderately_polluted"),
    (90, "moderately_polluted"), (91, "poor"), (120, "poor"), (121, "very_poor"),
    (250, "very_poor"), (251, "severe")])
def test_category_boundaries(pm25, code):
    r = aqi("IN_CPCB_2014", {"pm25": pm25, "no2": 1, "so2": 1})
    assert r.category.code == code
