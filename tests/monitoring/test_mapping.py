"""YAML mappings: renamed columns, constants, delimiter, decimal comma, encoding, time format,
variable names, missing-value markers and wide tables."""

from __future__ import annotations

import pytest

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.monitoring.mapping import load_mapping

from .helpers import observations, rejects, write

MAPPING = """
encoding: cp1251
delimiter: ";"
decimal: ","
timezone: Asia/Almaty
time_format: "%d.%m.%Y %H:%M"
columns: {station: Пост, time: Дата, value: Значение, variable: Показатель}
constants: {unit: ug/m3}
variables: {PM2.5: pm25, "Диоксид азота": no2}
na_values: ["-999"]
"""


def test_a_mapping_adapts_another_layout(store, air, tmp_path):
    mapping = write(tmp_path / "kz.yaml", MAPPING)
    data = write(tmp_path / "kz.csv", "Пост;Показатель;Дата;Значение\n"
                 "ALM1;PM2.5;01.03.2024 09:00;12,5\n"
                 "ALM1;Диоксид азота;01.03.2024 09:00;40\n"
                 "ALM1;PM2.5;01.03.2024 10:00;-999\n"
                 "ALM1;PM2.5;31.02.2024 10:00;1\n", "cp1251")
    report = ingest_file(store, data, dataset=air, mapping=mapping)
    assert (report.rows_in, report.rows_inserted, report.rows_rejected) == (4, 3, 1)
    assert observations(store) == [
        ("ALM1", "no2", "2024-03-01T04:00:00Z", 40.0, 1),
        ("ALM1", "pm25", "2024-03-01T04:00:00Z", 12.5, 1),
        ("ALM1", "pm25", "2024-03-01T05:00:00Z", None, 9)]
    assert rejects(store, report.run_id) == [(4, "time", "31.02.2024 10:00",
                                              "not a valid time")]
    stored = store.scalar("SELECT mapping FROM ingest_runs WHERE id = ?", [report.run_id])
    assert "Asia/Almaty" in stored


def test_a_wide_table_becomes_long_rows(store, air, tmp_path):
    data = write(tmp_path / "wide.csv", "site,date,PM2.5,NO2 (ppb),T\n"
                 "ALM1,2024-01-01T00:00:00Z,10,24.45,-3.5\n"
                 "ALM2,2024-01-01T00:00:00Z,11,,x\n")
    mapping = {"columns": {"station": "site", "time": "date"},
               "wide": {"columns": {"PM2.5": {"variable": "pm25", "unit": "ug/m3"},
                                    "NO2 (ppb)": {"variable": "no2", "unit": "ppb"},
                                    "T": {"variable": "air_temperature", "unit": "Cel"}}}}
    report = ingest_file(store, data, dataset=air, mapping=mapping)
    # the empty NO2 cell of ALM2 is no observation; its T cell is text
    assert (report.rows_in, report.rows_inserted, report.rows_rejected) == (5, 4, 1)
    got = {(r[0], r[1]): r[3] for r in observations(store)}
    assert got == {("ALM1", "pm25"): 10.0, ("ALM1", "no2"): pytest.approx(46.0055),
                   ("ALM1", "air_temperature"): -3.5, ("ALM2", "pm25"): 11.0}
    [(row, field, value, reason)] = rejects(store, report.run_id)
    assert (row, field, value) == (2, "value", "x")
    raw = store.scalar("SELECT raw FROM quarantine WHERE run_id = ?", [report.run_id])
    assert '"column":"T"' in raw.replace(" ", "") and '"site":"ALM2"' in raw.replace(" ", "")


@pytest.mark.parametrize(("spec", "message"), [
    ({"colums": {}}, "unknown mapping keys"),
    ({"decimal": ";"}, "decimal"),
    ({"kind": "things"}, "kind"),
    ({"timezone": "Nowhere/City"}, "unknown time zone"),
    ({"wide": {"columns": {}}}, "wide.columns"),
])
def test_bad_mappings_are_refused(spec, message):
    with pytest.raises(InvalidInput, match=message):
        load_mapping(spec)


def test_mapped_column_must_exist(store, air, tmp_path):
    data = write(tmp_path / "a.csv", "station,variable,time,value,unit\n"
                 "ALM1,pm25,2024-01-01T00:00Z,1,ug/m3\n")
    with pytest.raises(InvalidInput, match="missing column 'Zeit'"):
        ingest_file(store, data, dataset=air, mapping={"columns": {"time": "Zeit"}})
