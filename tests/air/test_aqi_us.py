"""US EPA AQI (2024 PM2.5 revision, and the table before it) against tables typed in here from
EPA-454/B-24-002 Table 6 as quoted in shared/reference/domain-facts.md 1.3."""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction as F

import pytest

from ecobridge.air import aqi, iaqi, standard_for, sub_index
from ecobridge.air.units import MOLAR_VOLUME_L_25C, convert, factor

# (c_lo, c_hi, i_lo, i_hi) in the table's unit, decimals of the table.
US2024 = {
    ("pm25", "24h", 1): [("0.0", "9.0", 0, 50), ("9.1", "35.4", 51, 100),
                         ("35.5", "55.4", 101, 150), ("55.5", "125.4", 151, 200),
                         ("125.5", "225.4", 201, 300), ("225.5", "325.4", 301, 500)],
    ("pm10", "24h", 0): [("0", "54", 0, 50), ("55", "154", 51, 100), ("155", "254", 101, 150),
                         ("255", "354", 151, 200), ("355", "424", 201, 300),
                         ("425", "604", 301, 500)],
    ("o3", "8h", 3): [("0.000", "0.054", 0, 50), ("0.055", "0.070", 51, 100),
                      ("0.071", "0.085", 101, 150), ("0.086", "0.105", 151, 200),
                      ("0.106", "0.200", 201, 300)],
    ("o3", "1h", 3): [("0.125", "0.164", 101, 150), ("0.165", "0.204", 151, 200),
                      ("0.205", "0.404", 201, 300), ("0.405", "0.604", 301, 500)],
    ("co", "8h", 1): [("0.0", "4.4", 0, 50), ("4.5", "9.4", 51, 100), ("9.5", "12.4", 101, 150),
                      ("12.5", "15.4", 151, 200), ("15.5", "30.4", 201, 300),
                      ("30.5", "50.4", 301, 500)],
    ("so2", "1h", 0): [("0", "35", 0, 50), ("36", "75", 51, 100), ("76", "185", 101, 150),
                       ("186", "304", 151, 200)],
    ("so2", "24h", 0): [("305", "604", 201, 300), ("605", "1004", 301, 500)],
    ("no2", "1h", 0): [("0", "53", 0, 50), ("54", "100", 51, 100), ("101", "360", 101, 150),
                       ("361", "649", 151, 200), ("650", "1249", 201, 300),
                       ("1250", "2049", 301, 500)],
}
# Before 2024-05-06: other PM2.5 rows and the Hazardous band split at 400.
US2018 = dict(US2024)
US2018[("pm25", "24h", 1)] = [
    ("0.0", "12.0", 0, 50), ("12.1", "35.4", 51, 100), ("35.5", "55.4", 101, 150),
    ("55.5", "150.4", 151, 200), ("150.5", "250.4", 201, 300), ("250.5", "350.4", 301, 400),
    ("350.5", "500.4", 401, 500)]
US2018[("pm10", "24h", 0)] = US2024[("pm10", "24h", 0)][:-1] + [
    ("425", "504", 301, 400), ("505", "604", 401, 500)]
US2018[("o3", "1h", 3)] = US2024[("o3", "1h", 3)][:-1] + [
    ("0.405", "0.504", 301, 400), ("0.505", "0.604", 401, 500)]
US2018[("co", "8h", 1)] = US2024[("co", "8h", 1)][:-1] + [
    ("30.5", "40.4", 301, 400), ("40.5", "50.4", 401, 500)]
US2018[("so2", "24h", 0)] = [("305", "604", 201, 300), ("605", "804", 301, 400),
                             ("805", "1004", 401, 500)]
US2018[("no2", "1h", 0)] = US2024[("no2", "1h", 0)][:-1] + [
    ("1250", "1649", 301, 400), ("1650", "2049", 401, 500)]

NATIVE = {"pm25": "ug/m3", "pm10": "ug/m3", "o3": "ppm", "co": "ppm", "so2": "ppb", "no2": "ppb"}


def _half_up(x: F) -> int:
    return math.floor(x + F(1, 2))


def _cases(table: dict):
    for (pol, avg, dec), rows in table.items():
        step = F(1, 10 ** dec)
        for lo_s, hi_s, ilo, ihi in rows:
            lo, hi = F(lo_s), F(hi_s)

            def idx(c, lo=lo, hi=hi, ilo=ilo, ihi=ihi):
                return _half_up(F(ihi - ilo) / (hi - lo) * (c - lo) + ilo)
            mid = ((lo + hi) / 2 / step).__floor__() * step
            for c, what in ((lo, "low"), (hi, "high"), (lo + step, "just above low"),
                            (mid, "middle")):
                yield pol, avg, c, idx(c), f"{pol}/{avg} {lo_s}-{hi_s} {what}"


@pytest.mark.parametrize(("std", "table"), [("US_EPA_2024", US2024), ("US_EPA_2018", US2018)])
def test_every_breakpoint_edge(std, table):
    cases = list(_cases(table))
    assert len(cases) > 150
    for pol, avg, c, expected, label in cases:
        got = iaqi(std, pol, float(c), avg, unit=NATIVE[pol])
        assert got == expected, (std, label, float(c), got, expected)


@pytest.mark.parametrize(("c", "expected"), [
    # domain-facts 1.3 test vectors (truncate, then round)
    (5.0, 28), (9.0, 50), (9.1, 51), (12.0, 56), (35.9, 102), (40.0, 112), (100.0, 182),
    (250.0, 350)])
def test_pm25_vectors_2024(c, expected):
    assert iaqi("US_EPA_2024", "pm25", c) == expected


def test_truncation_not_rounding():
    assert iaqi("US_EPA_2024", "pm25", 9.09) == 50      # 9.0, not 9.1
    assert iaqi("US_EPA_2024", "pm25", 35.49) == 100
    assert iaqi("US_EPA_2024", "pm10", 54.9) == 50
    assert iaqi("US_EPA_2024", "o3", 0.0789, "8h", unit="ppm") == 126  # 0.078
    assert sub_index("US_EPA_2024", "o3", 0.0789, "8h", unit="ppm").used == 0.078


def test_index_rounds_half_up():
    # TAD example: 0.078 ppm -> 125.5 -> 126; 0.072 ppm -> 104.5 -> 105 (not banker's 104)
    assert iaqi("US_EPA_2024", "o3", 0.078, "8h", unit="ppm") == 126
    assert iaqi("US_EPA_2024", "o3", 0.072, "8h", unit="ppm") == 105
    assert iaqi("US_EPA_2024", "o3", 0.074, "8h", unit="ppm") == 112


def test_tad_multi_pollutant_example():
    r = aqi("US_EPA_2024", {"o3": 0.078, "pm25": 35.9, "co": 8.4},
            units_by_key={"o3": "ppm", "co": "ppm"})
    assert r.aqi == 126 and r.primary_pollutants == ("o3",)
    assert r.category.code == "unhealthy_sensitive" and r.colour == "#FF7E00"


def test_unit_conversion_at_25c():
    assert MOLAR_VOLUME_L_25C == 24.45
    # 1 ppb in ug/m3 (1 ppm CO in mg/m3) at 25 degC, the usual published factors
    assert factor("o3", "ppb", "ug/m3") == pytest.approx(1.963, abs=0.001)
    assert factor("no2", "ppb", "ug/m3") == pytest.approx(1.882, abs=0.001)
    assert factor("so2", "ppb", "ug/m3") == pytest.approx(2.620, abs=0.001)
    assert factor("co", "ppm", "mg/m3") == pytest.approx(1.1456, abs=0.0005)
    assert convert("o3", 137.4, "ug/m3", "ppm") == pytest.approx(0.0700, abs=0.0001)
    # 150 ug/m3 O3 = 0.07641 ppm -> truncated 0.076 -> 118.5 -> 119
    s = sub_index("US_EPA_2024", "o3", 150, "8h")
    assert s.used == 0.076 and s.value == 119 and s.unit == "ppm"
    # 188.2 ug/m3 NO2 = 100.02 ppb -> 100 -> AQI 100; 10.3 mg/m3 CO = 8.99 ppm -> 8.9
    assert iaqi("US_EPA_2024", "no2", 188.2) == 100
    assert sub_index("US_EPA_2024", "co", 10.3).used == 8.9


def test_ozone_one_hour_and_eight_hour():
    assert iaqi("US_EPA_2024", "o3", 0.201, "8h", unit="ppm") is None   # 8-h stops at 300
    assert iaqi("US_EPA_2024", "o3", 0.124, "1h", unit="ppm") is None   # 1-h starts at 101
    r = aqi("US_EPA_2024", {"o3_8h": 0.201, "o3_1h": 0.405}, units_by_key={
        "o3_8h": "ppm", "o3_1h": "ppm"})
    assert r.aqi == 301 and r.category.code == "hazardous"
    r = aqi("US_EPA_2024", {"o3_8h": 0.090, "o3_1h": 0.130}, units_by_key={
        "o3_8h": "ppm", "o3_1h": "ppm"})
    assert r.pollutant_indices["o3"] == max(
        iaqi("US_EPA_2024", "o3", 0.090, "8h", unit="ppm"),
        iaqi("US_EPA_2024", "o3", 0.130, "1h", unit="ppm"))


def test_so2_one_hour_overflow():
    u = {"so2_1h": "ppb", "so2_24h": "ppb"}
    assert iaqi("US_EPA_2024", "so2", 305, "1h", unit="ppb") is None
    assert iaqi("US_EPA_2024", "so2", 304, "24h", unit="ppb") is None
    r = aqi("US_EPA_2024", {"so2_1h": 305}, units_by_key=u)
    assert r.aqi == 200 and r.pollutant_indices["so2"] == 200
    r = aqi("US_EPA_2024", {"so2_1h": 400, "so2_24h": 200}, units_by_key=u)
    assert r.aqi == 200
    r = aqi("US_EPA_2024", {"so2_1h": 500, "so2_24h": 400}, units_by_key=u)
    assert r.aqi == 232  # 99/299 * 95 + 201 = 232.45


def test_beyond_the_index():
    s = sub_index("US_EPA_2024", "pm25", 325.4)
    assert s.value == 500 and not s.above_scale
    s = sub_index("US_EPA_2024", "pm25", 400.0)   # 2024: the Hazardous line continues
    assert s.value == 649 and s.above_scale
    r = aqi("US_EPA_2024", {"pm25": 400.0})
    assert r.aqi == 649 and r.category.code == "hazardous" and r.above_scale
    s = sub_index("US_EPA_2018", "pm25", 600.0)   # before: capped, 'beyond the AQI'
    assert s.value == 500 and s.above_scale


@pytest.mark.parametrize(("pm25", "code"), [
    (9.0, "good"), (9.1, "moderate"), (35.4, "moderate"), (35.5, "unhealthy_sensitive"),
    (55.4, "unhealthy_sensitive"), (55.5, "unhealthy"), (125.4, "unhealthy"),
    (125.5, "very_unhealthy"), (225.4, "very_unhealthy"), (225.5, "hazardous")])
def test_category_boundaries(pm25, code):
    assert aqi("US_EPA_2024", {"pm25": pm25}).category.code == code


def test_us_date_switch():
    assert standard_for("USA", date(2024, 5, 5)) == "US_EPA_2018"
    assert standard_for("USA", date(2024, 5, 6)) == "US_EPA_2024"
    assert aqi("USA", {"pm25": 12.0}, on_date=date(2024, 5, 5)).aqi == 50
    assert aqi("USA", {"pm25": 12.0}, on_date=date(2024, 5, 6)).aqi == 56
    assert aqi("USA", {"pm25": 1.0}, on_date=date(2024, 5, 6)).category.hex == "#00E400"
