"""Malformed files: each fails whole with a message naming the file, and leaves the data as it
was; a killed ingest leaves the store exactly as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.store import open_store

from .helpers import HEADER, csv_rows, observations, write

DATA_TABLES = ("things", "locations", "thing_locations", "historical_locations", "datastreams",
               "observations", "quarantine", "sensors", "areas")


def snapshot(store) -> dict:
    return {t: store.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in DATA_TABLES}


def refused(store, path, match: str, **kwargs) -> InvalidInput:
    before = snapshot(store)
    with pytest.raises(InvalidInput, match=match) as info:
        ingest_file(store, path, dataset="kz-air", **kwargs)
    assert str(path) in str(info.value)
    assert snapshot(store) == before
    assert store.scalar("SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1") == "failed"
    return info.value


def test_zero_byte_file(store, air, tmp_path):
    refused(store, write(tmp_path / "zero.csv", ""), "empty \\(0 bytes\\)")


def test_header_only_file(store, air, tmp_path):
    refused(store, write(tmp_path / "head.csv", HEADER + "\n"), "no data rows")


def test_blank_file(store, air, tmp_path):
    refused(store, write(tmp_path / "blank.csv", "\n\n"), "no header")


def test_missing_column(store, air, tmp_path):
    path = write(tmp_path / "m.csv", "station,variable,time,unit\nALM1,pm25,2024-01-01T00:00Z,"
                                     "ug/m3\n")
    err = refused(store, path, "missing column 'value'", kind="observations")
    assert err.field == "value"


def test_row_with_too_many_fields(store, air, tmp_path):
    path = csv_rows(tmp_path / "f.csv", ["ALM1,pm25,2024-01-01T00:00Z,1,ug/m3",
                                         "ALM1,pm25,2024-01-01T01:00Z,1,ug/m3,extra"])
    err = refused(store, path, "6 fields, the header 5")
    assert err.row == 2


def test_wrong_encoding_is_refused_then_read_when_declared(store, air, tmp_path):
    # a Cyrillic note in cp1251 is not valid UTF-8
    path = write(tmp_path / "cp1251.csv", HEADER + ",note\n"
                 "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3,Алматы\n", "cp1251")
    refused(store, path, "not UTF-8")
    report = ingest_file(store, path, dataset="kz-air", mapping={"encoding": "cp1251"})
    assert report.rows_inserted == 1


def test_undecodable_declared_encoding(store, air, tmp_path):
    path = write(tmp_path / "u16.csv", HEADER + "\n", "utf-8")
    path.write_bytes(path.read_bytes() + b"ALM1,pm25,2024-01-01T00:00:00Z,1,\xff\xfe\n")
    refused(store, path, "not valid ascii", mapping={"encoding": "ascii"})


def test_parquet_ok_and_truncated(store, air, tmp_path):
    table = pa.table({
        "station": ["ALM1", "ALM1", "ALM2"], "variable": ["pm25", "pm25", "pm10"],
        "time": pa.array([1704067200_000000, 1704070800_000000, 1704067200_000000],
                         pa.timestamp("us", tz="UTC")),
        "value": [1.5, float("nan"), 3.0], "unit": ["ug/m3"] * 3})
    path = tmp_path / "obs.parquet"
    pq.write_table(table, path)
    report = ingest_file(store, path, dataset="kz-air")
    assert (report.rows_in, report.rows_inserted) == (3, 3)
    assert [r[3] for r in observations(store)] == [1.5, None, 3.0]  # NaN stored as missing
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(store, cut, "not a readable Parquet file")


def test_killed_ingest_leaves_the_store_as_it_was(settings, tmp_path):
    """Start `ecobridge ingest` on a big file, kill -9 it mid-file, reopen: nothing changed."""
    from ecobridge.catalog.service import create_dataset
    from ecobridge.governance.organisations import create_organisation

    store = open_store(settings)
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    ingest_file(store, write(tmp_path / "st.csv", "code,name,lat,lon\nS1,S1,43,77\n"
                             "S2,S2,43,77\n"), dataset="kz-air")
    ingest_file(store, csv_rows(tmp_path / "small.csv", ["S1,pm25,2020-01-01T00:00:00Z,1,"
                                                         "ug/m3"]), dataset="kz-air")
    before = snapshot(store)
    runs = store.rows("SELECT * FROM ingest_runs ORDER BY id")
    store.close()

    big = tmp_path / "big.csv"
    store_gen = open_store(settings, migrate=False)  # DuckDB writes the file quickly
    store_gen.cursor().execute(
        "COPY (SELECT 'S' || (1 + i % 2) AS station, 'pm25' AS variable,"
        " strftime(TIMESTAMP '2021-01-01' + to_minutes(i), '%Y-%m-%dT%H:%M:%SZ') AS time,"
        " i % 100 AS value, 'ug/m3' AS unit FROM range(3000000) r(i)) TO ? (HEADER)",
        [str(big)])
    store_gen.close()
    env = dict(os.environ, ECOBRIDGE_HOME=str(settings.home))
    proc = subprocess.Popen([sys.executable, "-c", "from ecobridge.cli import main; main()",
                             "ingest", str(big), "--dataset", "kz-air"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the ingest makes its scratch folder once its transaction is open: wait for it, let the
    # work get going, then kill the process without warning
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list((settings.home / "tmp").glob("ingest-*")):
            break
        time.sleep(0.02)
    time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    store = open_store(settings)
    try:
        assert snapshot(store) == before
        assert store.rows("SELECT * FROM ingest_runs ORDER BY id") == runs
    finally:
        store.close()
