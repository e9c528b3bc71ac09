"""Observation ingest: rows in = accepted + rejected, reasons, idempotence, corrections, times."""

from __future__ import annotations

import pytest

from ecobridge.errors import Forbidden, InvalidInput
from ecobridge.governance import Principal
from ecobridge.monitoring.ingest import ingest_file, load_report

from .helpers import assert_balanced, csv_rows, observations, rejects

MIXED = [
    "ALM1,pm25,2024-01-01T00:00:00Z,10,ug/m3",        # 1 ok
    "ALM1,pm25,2024-01-01T07:00:00+06:00,11,ug/m3",   # 2 ok, 01:00Z
    "ALM1,pm25,2024-01-01T02:00Z,12,ug/m3",           # 3 ok, no seconds
    "ALM1,pm25,2024-01-01T02:00:00Z,12,ug/m3",        # 4 duplicate of 3
    "ALM9,pm25,2024-01-01T00:00:00Z,1,ug/m3",         # 5 unknown station
    "ALM1,pm25,2024-01-01 03:00,1,ug/m3",             # 6 no offset, no zone
    "ALM1,pm25,2024-02-30T03:00Z,1,ug/m3",            # 7 bad date
    "ALM1,pm25,2024-01-01T04:00Z,abc,ug/m3",          # 8 text in numeric column
    "ALM1,pm25,2024-01-01T05:00Z,,ug/m3",             # 9 missing value: kept, flag 9
    "ALM1,radon,2024-01-01T05:00Z,1,Bq/m3",           # 10 unknown variable
    "ALM1,pm25,2024-01-01T06:00Z,1,furlong",          # 11 incompatible unit
    "ALM1,pm25,2024-01-01T06:00Z,1,blorp",            # 12 unknown unit
    ",pm25,2024-01-01T06:00Z,1,ug/m3",                # 13 missing station
    "ALM1,pm25,,1,ug/m3",                             # 14 missing time
]


def test_every_row_is_accepted_or_rejected_with_a_reason(store, air, tmp_path):
    report = ingest_file(store, csv_rows(tmp_path / "mixed.csv", MIXED), dataset=air)
    assert_balanced(report)
    assert (report.rows_in, report.rows_accepted, report.rows_rejected) == (14, 4, 10)
    got = {row: (field, value, reason) for row, field, value, reason in
           rejects(store, report.run_id)}
    assert got[4] == ("time", "2024-01-01T02:00:00Z",
                      "duplicate of row 3 (same station, variable and time)")
    assert got[5] == ("station", "ALM9", "unknown station 'ALM9'")
    assert got[6][0] == "time" and "no UTC offset" in got[6][2]
    assert got[7] == ("time", "2024-02-30T03:00Z", "not a valid time")
    assert got[8] == ("value", "abc", "value is not a number")
    assert got[10] == ("variable", "radon", "unknown observed property 'radon'")
    assert got[11][0] == "unit" and "cannot be converted" in got[11][2]
    assert got[12] == ("unit", "blorp", "unknown unit 'blorp' (pm25)")
    assert got[13][0:2] == ("station", None)
    assert got[14] == ("time", None, "missing time")
    raw = store.scalar("SELECT raw FROM quarantine WHERE run_id = ? AND row_number = 8",
                       [report.run_id])
    assert '"value":"abc"' in raw.replace(" ", "")
    rows = observations(store)
    assert [r[2] for r in rows] == ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z",
                                    "2024-01-01T02:00:00Z", "2024-01-01T05:00:00Z"]
    assert rows[3][3] is None and rows[3][4] == 9  # missing value stored as missing


def test_same_file_twice_adds_nothing(store, air, tmp_path):
    path = csv_rows(tmp_path / "a.csv", [f"ALM1,pm25,2024-01-01T{h:02d}:00:00Z,{10 + h},ug/m3"
                                         for h in range(24)])
    first = ingest_file(store, path, dataset=air)
    before = store.rows("SELECT * FROM observations ORDER BY id")
    second = ingest_file(store, path, dataset=air)
    assert (first.rows_inserted, second.rows_inserted, second.rows_unchanged) == (24, 0, 24)
    assert store.rows("SELECT * EXCLUDE (ingest_run_id) FROM observations ORDER BY id") == [
        r[:-1] for r in before]
    assert store.scalar("SELECT observation_count FROM datastreams") == 24


def test_corrected_file_updates_values_in_place(store, air, tmp_path):
    rows = [f"ALM1,pm25,2024-01-01T{h:02d}:00:00Z,{10 + h},ug/m3" for h in range(6)]
    ingest_file(store, csv_rows(tmp_path / "a.csv", rows), dataset=air)
    ids = store.rows("SELECT id, phenomenon_time FROM observations ORDER BY phenomenon_time")
    rows[2] = "ALM1,pm25,2024-01-01T02:00:00Z,99,ug/m3"
    rows.append("ALM1,pm25,2024-01-01T06:00:00Z,16,ug/m3")
    report = ingest_file(store, csv_rows(tmp_path / "b.csv", rows), dataset=air)
    assert_balanced(report)
    assert (report.rows_inserted, report.rows_updated, report.rows_unchanged) == (1, 1, 5)
    after = store.rows("SELECT id, phenomenon_time, result, ingest_run_id FROM observations"
                       " ORDER BY phenomenon_time")
    assert [a[:2] for a in after[:6]] == ids  # ids kept
    assert after[2][2] == 99 and after[2][3] == report.run_id
    ds = store.one("SELECT observation_count, last_result, phenomenon_time_end FROM datastreams")
    assert ds[0] == 7 and ds[1] == 16


def test_offsets_and_declared_zone_are_stored_as_utc(store, air, tmp_path):
    rows = ["ALM1,pm25,2024-03-01T12:00:00+05:00,1,ug/m3",
            "ALM1,pm25,2024-03-01T12:00:00-0330,2,ug/m3",
            "ALM1,pm25,2024-03-01 09:00,3,ug/m3",          # naive: Asia/Almaty (+05 in 2024)
            "ALM1,pm25,2024-07-01T00:00:00.5Z,4,ug/m3"]
    report = ingest_file(store, csv_rows(tmp_path / "z.csv", rows), dataset=air,
                         timezone="Asia/Almaty")
    assert report.rows_rejected == 0
    times = store.rows("SELECT result, strftime(phenomenon_time, '%Y-%m-%dT%H:%M:%S.%f')"
                       " FROM observations ORDER BY result")
    assert times == [(1.0, "2024-03-01T07:00:00.000000"), (2.0, "2024-03-01T15:30:00.000000"),
                     (3.0, "2024-03-01T04:00:00.000000"), (4.0, "2024-07-01T00:00:00.500000")]


def test_unknown_timezone_is_refused(store, air, tmp_path):
    path = csv_rows(tmp_path / "z.csv", ["ALM1,pm25,2024-03-01 09:00,3,ug/m3"])
    with pytest.raises(InvalidInput, match="unknown time zone"):
        ingest_file(store, path, dataset=air, timezone="Mars/Olympus")


def test_units_are_converted_to_the_canonical_unit(store, air, tmp_path):
    rows = ["ALM1,co,2024-01-01T00:00:00Z,1500,ug/m3",          # -> 1.5 mg/m3
            "ALM1,air_temperature,2024-01-01T00:00:00Z,32,[degF]",  # -> 0 Cel
            "ALM2,air_temperature,2024-01-01T00:00:00Z,273.15,K",   # -> 0 Cel
            "ALM1,no2,2024-01-01T00:00:00Z,24.45,ppb",              # -> 46.0055 ug/m3
            "ALM1,pm25,2024-01-01T00:00:00Z,0.05,mg/m³",            # -> 50 ug/m3
            "ALM1,pm10,2024-01-01T00:00:00Z,5,ppb",                 # rejected: not a gas
            "ALM1,precipitation,2024-01-01T00:00:00Z,1,in"]         # -> 25.4 mm
    report = ingest_file(store, csv_rows(tmp_path / "u.csv", rows), dataset=air)
    got = {(r[0], r[1]): r[3] for r in observations(store)}
    assert got[("ALM1", "co")] == pytest.approx(1.5)
    assert got[("ALM1", "air_temperature")] == pytest.approx(0.0, abs=1e-9)
    assert got[("ALM2", "air_temperature")] == pytest.approx(0.0, abs=1e-9)
    assert got[("ALM1", "no2")] == pytest.approx(46.0055)
    assert got[("ALM1", "pm25")] == pytest.approx(50.0)
    assert got[("ALM1", "precipitation")] == pytest.approx(25.4)
    [(row, field, value, reason)] = rejects(store, report.run_id)
    assert (row, field, value) == (6, "unit", "ppb") and "mixing ratio" in reason


def test_unknown_station_with_coordinates_is_created(store, air, tmp_path):
    path = tmp_path / "ll.csv"
    csv_rows(path, ["NEW1,pm25,2024-01-01T00:00:00Z,5,ug/m3,43.1,77.1",
                    "NEW1,pm25,2024-01-01T01:00:00Z,6,ug/m3,43.1,77.1",
                    "NEW2,pm25,2024-01-01T00:00:00Z,5,ug/m3,43.1,77.1",
                    "NEW2,pm25,2024-01-01T01:00:00Z,6,ug/m3,43.2,77.1",   # moves: ambiguous
                    "NEW3,pm25,2024-01-01T00:00:00Z,5,ug/m3,,"],
             header="station,variable,time,value,unit,lat,lon")
    report = ingest_file(store, path, dataset=air)
    assert_balanced(report)
    assert report.rows_inserted == 2
    assert store.one("SELECT ST_X(l.geom), ST_Y(l.geom) FROM things t JOIN thing_locations tl"
                     " ON tl.thing_id = t.id JOIN locations l ON l.id = tl.location_id"
                     " WHERE t.code = 'NEW1'") == (77.1, 43.1)
    reasons = [r[3] for r in rejects(store, report.run_id)]
    assert reasons == ["unknown station 'NEW2' (its rows give different lat/lon)"] * 2 + [
        "unknown station 'NEW3' (some of its rows have no lat/lon)"]


def test_datastream_keeps_its_summary(store, air, tmp_path):
    ingest_file(store, csv_rows(tmp_path / "a.csv", [
        "ALM1,pm25,2024-01-01T05:00:00Z,5,ug/m3", "ALM1,pm25,2024-01-01T03:00:00Z,3,ug/m3"]),
        dataset=air)
    ingest_file(store, csv_rows(tmp_path / "b.csv", [
        "ALM1,pm25,2024-01-01T01:00:00Z,1,ug/m3", "ALM1,pm25,2024-01-01T09:00:00Z,9,ug/m3"]),
        dataset=air)
    row = store.one("SELECT observation_count, strftime(phenomenon_time_start, '%H'),"
                    " strftime(phenomenon_time_end, '%H'), strftime(last_phenomenon_time, '%H'),"
                    " last_result, last_quality_flag, unit_code FROM datastreams")
    assert row == (4, "01", "09", "09", 9.0, 1, "ug/m3")
    # observations are appended in (datastream, time) order within each run
    assert [r[0] for r in store.rows("SELECT result FROM observations ORDER BY id")] == [
        3, 5, 1, 9]


def test_a_whole_file_failure_is_recorded_and_changes_no_data(store, air, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("station,variable,time,value\nALM1,pm25,2024-01-01T00:00:00Z,1\n")
    with pytest.raises(InvalidInput, match="missing column 'unit'"):
        ingest_file(store, path, dataset=air)
    run = store.one("SELECT status, message FROM ingest_runs ORDER BY id DESC LIMIT 1")
    assert run[0] == "failed" and "missing column 'unit'" in run[1]
    assert store.scalar("SELECT count(*) FROM observations") == 0


def test_only_publishers_of_the_owner_may_ingest(store, air, tmp_path):
    path = csv_rows(tmp_path / "a.csv", ["ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3"])
    viewer = Principal(user_id=7, username="v", roles={1: "viewer"})
    with pytest.raises(Forbidden):
        ingest_file(store, path, dataset=air, principal=viewer)
    publisher = Principal(user_id=8, username="p", roles={1: "publisher"})
    assert ingest_file(store, path, dataset=air, principal=publisher).rows_inserted == 1


def test_report_loads_with_its_rejects(store, air, tmp_path):
    report = ingest_file(store, csv_rows(tmp_path / "mixed.csv", MIXED), dataset=air)
    loaded = load_report(store, report.run_id, limit=3)
    assert loaded.rows_rejected == 10 and len(loaded.rejects) == 3
    assert [r["row_number"] for r in loaded.rejects] == [4, 5, 6]
    assert loaded.rejects[0]["raw"]["station"] == "ALM1"


def test_row_numbers_hold_across_a_large_file(store, air, tmp_path):
    """Rejects deep in a multi-batch file carry their exact row numbers."""
    bad = {5, 123_457, 299_999}
    lines = []
    for i in range(1, 300_001):
        value = "oops" if i in bad else str(i % 97)
        lines.append(f"ALM{1 + i % 2},pm25,{_iso(i)},{value},ug/m3")
    report = ingest_file(store, csv_rows(tmp_path / "big.csv", lines), dataset=air)
    assert [(r[0], r[2]) for r in rejects(store, report.run_id)] == [
        (i, "oops") for i in sorted(bad)]
    assert report.rows_inserted == 300_000 - len(bad)


def _iso(i: int) -> str:
    import datetime as dt

    t = dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
