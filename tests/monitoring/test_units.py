"""Unit conversion: UCUM codes and common spellings, affine temperatures, gases at 25 degC."""

from __future__ import annotations

import pytest

from ecobridge.monitoring.units import UnitError, conversion, is_known, to_pint


@pytest.mark.parametrize(("unit", "canonical", "value", "expected"), [
    ("ug/m3", "ug/m3", 7.0, 7.0),
    ("µg/m³", "ug/m3", 7.0, 7.0),
    ("mg/m3", "ug/m3", 0.5, 500.0),
    ("ug/m3", "mg/m3", 1500.0, 1.5),
    ("[degF]", "Cel", 212.0, 100.0),
    ("K", "Cel", 0.0, -273.15),
    ("Cel", "Cel", 21.5, 21.5),
    ("m w.e.", "mm", -0.4, -400.0),
    ("kW.h", "kW.h", 3.0, 3.0),
    ("MWh", "kW.h", 2.0, 2000.0),
    ("MW", "kW", 1.5, 1500.0),
    ("L/s", "m3/s", 250.0, 0.25),
    ("cm", "m", 12.0, 0.12),
    ("1", "%", 0.5, 50.0),
])
def test_conversions(unit, canonical, value, expected):
    c = conversion(unit, canonical)
    assert value * c.factor + c.offset == pytest.approx(expected)


def test_gas_mixing_ratios_use_the_molar_mass_at_25_degc():
    assert conversion("ppb", "ug/m3", 46.0055).factor == pytest.approx(46.0055 / 24.45)
    assert conversion("ppm", "mg/m3", 28.010).factor == pytest.approx(28.010 / 24.45)
    with pytest.raises(UnitError, match="mixing ratio"):
        conversion("ppb", "ug/m3", None)


@pytest.mark.parametrize(("unit", "message"), [
    ("", "no unit"), ("blorp", "unknown unit"), ("kg", "cannot be converted"),
    ("m/s", "cannot be converted"), ("degC", "cannot be converted")])
def test_unknown_or_incompatible_units_are_refused(unit, message):
    with pytest.raises(UnitError, match=message):
        conversion(unit, "ug/m3")


def test_every_seeded_canonical_unit_is_understood(store):
    units = [u for (u,) in store.rows("SELECT DISTINCT canonical_unit FROM observed_properties")]
    assert units and all(is_known(u) for u in units), [to_pint(u) for u in units]
    codes = {c for (c,) in store.rows("SELECT code FROM observed_properties")}
    assert codes >= {"pm25", "pm10", "no2", "so2", "o3", "co", "air_temperature",
                     "relative_humidity", "precipitation", "mass_balance", "power", "energy",
                     "water_level", "discharge"}
