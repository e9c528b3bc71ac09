"""The array form of the sub-index agrees with the scalar form, value by value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecobridge.air import iaqi, iaqi_array
from ecobridge.air.aqi import standards

PAIRS = [(sid, pol, avg) for sid, std in sorted(standards().items())
         for (pol, avg) in sorted(std.tables)]


def _same(a, b) -> bool:
    if b is None:
        return math.isnan(a)
    return a == pytest.approx(b, abs=1e-9)


@pytest.mark.parametrize(("sid", "pol", "avg"), PAIRS)
def test_array_matches_scalar_on_a_grid(sid, pol, avg):
    top = {"co": 80.0, "o3": 2500.0, "so2": 4000.0, "no2": 5000.0, "nh3": 2500.0}.get(pol, 900.0)
    grid = np.concatenate([np.linspace(0, top, 301), [-1.0, np.nan, np.inf]])
    arr = iaqi_array(sid, pol, grid, avg)
    for c, a in zip(grid, arr, strict=True):
        assert _same(a, iaqi(sid, pol, float(c), avg)), (sid, pol, avg, c)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PAIRS), st.lists(st.floats(min_value=0, max_value=3000,
                                                  allow_nan=False), min_size=1, max_size=20))
def test_array_matches_scalar_random(pair, values):
    sid, pol, avg = pair
    arr = iaqi_array(sid, pol, values, avg)
    assert arr.shape == (len(values),)
    for c, a in zip(values, arr, strict=True):
        assert _same(a, iaqi(sid, pol, c, avg))


def test_array_units_and_missing():
    ppm = np.array([0.078, 0.072, np.nan])
    out = iaqi_array("US_EPA_2024", "o3", ppm, "8h", unit="ppm")
    assert out[0] == 126 and out[1] == 105 and math.isnan(out[2])
    out = iaqi_array("CN_HJ633_2026", "pm25", [60, 75, 700])
    assert out.tolist() == [100, 114, 500]
