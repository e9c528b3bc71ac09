"""Limit values: lookups by country and date, exceedances, WHO guidelines and interim targets.
Expected values are typed in here from shared/reference/domain-facts.md and the sources cited in
data/limits.yaml."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

import pytest

from ecobridge.air import exceedances, limit_for, limits, who_attainment, who_guideline
from ecobridge.air.standards import all_limits
from ecobridge.errors import InvalidInput

# GB 3095-2012 Table 1: (pollutant, averaging) -> (grade I, grade II)
GB3095_2012 = {
    ("so2", "annual"): (20, 60), ("so2", "24h"): (50, 150), ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40), ("no2", "24h"): (80, 80), ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4), ("co", "1h"): (10, 10), ("o3", "8h"): (100, 160),
    ("o3", "1h"): (160, 200), ("pm10", "annual"): (40, 70), ("pm10", "24h"): (50, 150),
    ("pm25", "annual"): (15, 35), ("pm25", "24h"): (35, 75),
}
# WHO 2021: (pollutant, averaging) -> (IT-1, IT-2, IT-3, IT-4, AQG); None = not set
WHO = {
    ("pm25", "annual"): (35, 25, 15, 10, 5), ("pm25", "24h"): (75, 50, 37.5, 25, 15),
    ("pm10", "annual"): (70, 50, 30, 20, 15), ("pm10", "24h"): (150, 100, 75, 50, 45),
    ("o3", "peak_season"): (100, 70, None, None, 60), ("o3", "8h"): (160, 120, None, None, 100),
    ("no2", "annual"): (40, 30, 20, None, 10), ("no2", "24h"): (120, 50, None, None, 25),
    ("so2", "24h"): (125, 50, None, None, 40), ("co", "24h"): (7, None, None, None, 4),
}
BEFORE_2026 = date(2025, 6, 1)


@pytest.mark.parametrize(("key", "grades"), GB3095_2012.items())
def test_gb3095_2012(key, grades):
    pol, avg = key
    for level, expected in zip(("grade_1", "grade_2"), grades, strict=True):
        lim = limit_for("CHN", pol, avg, BEFORE_2026, level=level)
        assert lim.value == expected and lim.document == "GB 3095-2012"
        assert lim.clause.startswith("Table 1") and lim.confirmed
    assert limit_for("CHN", pol, avg, BEFORE_2026).value == grades[1]  # grade II by default


def test_china_pm25_2026_phases():
    assert limit_for("CHN", "pm25", "24h", date(2026, 2, 28)).value == 75
    assert limit_for("CHN", "pm25", "24h", date(2026, 3, 1)).value == 60   # phase 1
    assert limit_for("CHN", "pm25", "annual", date(2030, 12, 31)).value == 30
    assert limit_for("CHN", "pm25", "24h", date(2031, 1, 1)).value == 50   # phase 2
    assert limit_for("CHN", "pm25", "annual", date(2031, 1, 1)).value == 25
    assert limit_for("CHN", "pm25", "24h", date(2026, 3, 1), level="grade_1").value == 25
    assert limit_for("CHN", "pm25", "annual", date(2026, 3, 1), level="grade_1").value == 10


def test_china_2026_unknowns_are_absent_or_unconfirmed():
    # New PM10/SO2/NO2 values were not read: no number rather than a wrong one.
    assert limit_for("CHN", "pm10", "24h", date(2026, 6, 1)) is None
    assert limit_for("CHN", "so2", "24h", date(2026, 6, 1)) is None
    co = limit_for("CHN", "co", "24h", date(2026, 6, 1))
    assert co.value == 4 and not co.confirmed and co.status == "R"


def test_india_naaqs_2009():
    d = date(2024, 1, 1)
    expected = {("pm25", "24h"): 60, ("pm25", "annual"): 40, ("pm10", "24h"): 100,
                ("pm10", "annual"): 60, ("so2", "24h"): 80, ("so2", "annual"): 50,
                ("no2", "24h"): 80, ("no2", "annual"): 40, ("o3", "8h"): 100, ("o3", "1h"): 180,
                ("co", "8h"): 2, ("co", "1h"): 4}
    for (pol, avg), v in expected.items():
        assert limit_for("IND", pol, avg, d).value == v, (pol, avg)
    assert limit_for("IND", "so2", "annual", d, level="ecologically_sensitive").value == 20
    assert limit_for("IND", "no2", "annual", d, level="ecologically_sensitive").value == 30


def test_us_naaqs_and_units():
    assert limit_for("USA", "pm25", "annual", date(2024, 5, 5)).value == 12.0
    assert limit_for("USA", "pm25", "annual", date(2024, 5, 6)).value == 9.0
    o3 = limit_for("USA", "o3", "8h", date(2024, 6, 1))
    assert (o3.value, o3.unit, o3.statistic) == (0.070, "ppm", "4th_max_3yr")
    assert o3.value_canonical == pytest.approx(137.4, abs=0.1)       # ug/m3 at 25 degC
    assert limit_for("USA", "no2", "1h", date(2024, 6, 1)).value_canonical == pytest.approx(
        188.2, abs=0.1)
    co = limit_for("USA", "co", "8h", date(2024, 6, 1))
    assert co.value_canonical == pytest.approx(10.3, abs=0.05) and co.allowed_exceedances == 1
    assert limit_for("USA", "so2", "1h", date(2024, 6, 1)).value == 75
    assert limit_for("USA", "pm10", "24h", date(2024, 6, 1)).value == 150
    so2_3h = limit_for("USA", "so2", "3h", date(2024, 6, 1))   # only a secondary standard
    assert so2_3h.level == "secondary" and so2_3h.value == 0.5


def test_russia_sanpin_converted_to_ug():
    d = date(2024, 1, 1)
    assert limit_for("RUS", "pm25", "24h", d).value_canonical == pytest.approx(35)
    assert limit_for("RUS", "pm10", "24h", d).value_canonical == pytest.approx(60)
    assert limit_for("RUS", "pm25", "20min", d).value_canonical == pytest.approx(160)
    assert limit_for("RUS", "co", "24h", d).value_canonical == pytest.approx(3.0)  # mg/m3
    assert limit_for("RUS", "pm25", "24h", date(2020, 1, 1)) is None  # before SanPiN 2021


def test_eu_members_use_eu_limits_and_2030_values():
    assert limit_for("DEU", "pm10", "24h", date(2025, 1, 1)).value == 50
    assert limit_for("HUN", "pm10", "24h", date(2025, 1, 1)).allowed_exceedances == 35
    assert limit_for("GRC", "pm25", "annual", date(2029, 12, 31)).value == 25
    assert limit_for("GRC", "pm25", "annual", date(2030, 1, 1)).value == 10
    assert limit_for("GRC", "no2", "annual", date(2030, 1, 1)).value == 20
    assert limit_for("GRC", "pm10", "24h", date(2030, 1, 1)) is None   # 2030 value unconfirmed
    o3 = limit_for("ITA", "o3", "8h", date(2025, 1, 1))
    assert (o3.level, o3.value, o3.statistic) == ("target", 120, "daily_max")
    assert limit_for("KAZ", "pm25", "24h", date(2025, 1, 1)) is None    # nothing on record


def test_exceedances_are_strict_and_in_canonical_units():
    hits = exceedances("CHN", "pm25", "24h", 75, on_date=BEFORE_2026)
    assert [h.level for h in hits] == ["grade_1"]
    hits = exceedances("CHN", "pm25", "24h", 75.1, on_date=BEFORE_2026)
    assert sorted(h.level for h in hits) == ["grade_1", "grade_2"]
    assert exceedances("USA", "o3", "8h", 0.071, unit="ppm", on_date=date(2024, 6, 1))
    assert not exceedances("USA", "o3", "8h", 0.070, unit="ppm", on_date=date(2024, 6, 1))
    assert exceedances("USA", "o3", "8h", 138, on_date=date(2024, 6, 1))       # ug/m3
    assert not exceedances("RUS", "pm25", "24h", 35, on_date=date(2024, 1, 1))
    assert exceedances("RUS", "pm25", "24h", 36, on_date=date(2024, 1, 1))


@pytest.mark.parametrize(("key", "values"), WHO.items())
def test_who_2021_table(key, values):
    pol, avg = key
    for level, expected in zip(("IT-1", "IT-2", "IT-3", "IT-4", "AQG"), values, strict=True):
        lim = who_guideline(pol, avg, level)
        if expected is None:
            assert lim is None
        else:
            assert lim.value == expected and lim.jurisdiction == "WHO", (key, level)


def test_who_levels_met_and_exceeded():
    assert who_attainment("pm25", "annual", 5) == "AQG"
    assert who_attainment("pm25", "annual", 5.1) == "IT-4"
    assert who_attainment("pm25", "annual", 12) == "IT-3"
    assert who_attainment("pm25", "annual", 36) == "above IT-1"
    assert who_attainment("so2", "24h", 45) == "IT-2"
    assert who_attainment("o3", "1h", 10) is None
    assert [h.level for h in exceedances("WHO", "pm25", "24h", 40)] == ["IT-3", "IT-4", "AQG"]
    assert who_guideline("so2", "24h").value == 40          # not the 50 misprint
    with pytest.raises(InvalidInput):
        who_guideline("pm25", "24h", "IT-5")


def test_every_row_is_sourced_and_unambiguous():
    rows = all_limits()
    assert len(rows) > 100
    for lim in rows:
        assert lim.document and lim.clause and lim.source and lim.unit
        assert lim.status in {"V", "V-sec", "V-impl", "C", "R"}
        assert lim.confirmed == (lim.status != "R")
        assert lim.valid_from is None or lim.valid_to is None or lim.valid_from <= lim.valid_to
    # No two rows of one jurisdiction, pollutant, averaging and level are in force on one day.
    def key(lim):
        return lim.jurisdiction, lim.pollutant, lim.averaging, lim.level
    for k, group in groupby(sorted(rows, key=key), key=key):
        group = list(group)
        edges = {d for lim in group for d in (lim.valid_from, lim.valid_to) if d}
        probes = {date(2000, 1, 1), date(2100, 1, 1)} | edges | {
            d + timedelta(days=1) for d in edges}
        for day in probes:
            assert sum(lim.in_force(day) for lim in group) <= 1, (k, day)


def test_filters_and_validation():
    assert {lim.jurisdiction for lim in limits(pollutant="pm25", averaging="24h")} == {
        "CHN", "IND", "USA", "RUS", "WHO"}   # the EU sets no 24-h PM2.5 limit before 2030
    assert all(lim.confirmed for lim in limits(include_unconfirmed=False))
    with pytest.raises(InvalidInput):
        limits(pollutant="pm2.5")
    with pytest.raises(InvalidInput):
        limit_for("CHN", "pm25", "daily", BEFORE_2026)
