"""The streamed CSV pass (pyarrow parses, DuckDB classifies each batch) gives exactly what the
keys and rows passes over DuckDB's own `read_csv` give, and steps aside for irregular files."""

from __future__ import annotations

import numpy as np
import pytest

from ecobridge.monitoring.csv_arrow import scan
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.monitoring.mapping import load_mapping
from ecobridge.monitoring.observations import build_relation, keys_sql, rows_sql
from ecobridge.monitoring.sources import open_table

from .helpers import rejects, write

TRICKY = [
    'ALM1,pm25,2024-01-01T00:00:00Z,1.5,ug/m3',
    '"ALM1",pm25,2024-01-01T01:00:00+06:00," 2 ",ug/m3',
    'ALM1,pm25,2024-01-01T02:00+0600,NA,ug/m3',
    'ALM2,pm10,2024-01-01 03:00,3,ug/m3',
    'ALM2,pm10,,4,ug/m3',
    'ALM2,pm10,2024-01-01T05:00:00Z,,ug/m3',
    'ALM2,pm10,2024-01-01T06:00:00Z,"",ug/m3',
    'ALM2,pm10,yesterday,6,ug/m3',
    'ALM2,no2,2024-01-01T07:00:00Z,abc,ppb',
    '"Station, ""quoted""",no2,2024-01-01T07:00:00Z,7,ppb',
    'Алматы-3,co,2024-01-01T08:00:00Z,inf,mg/m3',
    ',co,2024-01-01T09:00:00Z,9,',
    'AST1,o3,2024-01-01T10:00:00z,-999,ug/m3',
    'AST1,o3,2024-01-01T11:00:00-03,nan,ug/m3',
]


def both(store, tmp_path, text: str, mapping: dict | None = None, zone: str | None = None):
    """(streamed, from read_csv): key rows sorted, and rows as (k, t, v, code) arrays."""
    path = write(tmp_path / "obs.csv", text)
    spec = load_mapping(mapping)
    cur = store.cursor()
    table = open_table(cur, path, spec, str(path), tmp_path / "scratch")
    rel = build_relation(table, spec)
    got = scan(cur, table, rel, keys_sql, lambda r: rows_sql(r, spec, zone), block=200)
    if got is None:
        return None, None
    sql, params = keys_sql(rel)
    want_keys = sorted(cur.execute(sql, params).fetchall(), key=repr)
    sql, params = rows_sql(rel, spec, zone)
    want = cur.execute(sql, params).fetchall()
    got_rows = [np.concatenate([np.asarray(a)
                                for a in parts]) for parts in (got.k, got.t, got.v, got.code)]
    assert len(got.k) > 1  # a small block: several batches, whose keys must merge
    want_rows = [np.array([r[i] if r[i] is not None else np.nan for r in want])
                 for i in range(4)]
    return (sorted(got.key_rows, key=repr), got_rows), (want_keys, want_rows)


@pytest.mark.parametrize("mapping,zone", [
    (None, None),
    ({"na_values": ["NA", "-999"]}, None),
    ({"na_values": ["NA"]}, "Asia/Almaty"),
    ({"decimal": ","}, None),
])
def test_stream_matches_read_csv(store, tmp_path, mapping, zone):
    header = "station,variable,time,value,unit\r\n"
    got, want = both(store, tmp_path, header + "".join(r + "\r\n" for r in TRICKY * 3), mapping,
                     zone)
    assert got is not None
    assert got[0] == want[0]
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(g.astype(w.dtype), w)


def test_stream_matches_read_csv_with_coordinates(store, tmp_path):
    rows = [f"NEW{i % 3},pm25,2024-01-0{1 + i % 9}T00:00:00Z,{i},ug/m3,{40 + i % 2},"
            f"{70 if i % 5 else ''}" for i in range(40)]
    got, want = both(store, tmp_path, "station,variable,time,value,unit,lat,lon\n"
                     + "\n".join(rows) + "\n")
    assert got[0] == want[0]
    assert all(len(k) == 9 for k in got[0])


@pytest.mark.parametrize("body", [
    "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3\nALM1,pm25,2024-01-01T01:00:00Z,2\n",
    "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3,extra\n",
])
def test_irregular_files_are_left_to_read_csv(store, tmp_path, body):
    got, _ = both(store, tmp_path, "station,variable,time,value,unit\n" + body)
    assert got is None


def test_blank_lines_are_skipped_as_read_csv_skips_them(store, tmp_path):
    body = "\n".join(TRICKY[:5]) + "\n\n\n" + "\n".join(TRICKY[5:]) + "\n"
    got, want = both(store, tmp_path, "station,variable,time,value,unit\n" + body)
    assert got[0] == want[0]
    assert len(want[1][0]) == len(TRICKY)
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(g.astype(w.dtype), w)


def test_a_short_row_is_still_rejected_by_number(store, air, tmp_path):
    lines = [f"ALM1,pm25,2024-01-01T{h:02d}:00:00Z,{h},ug/m3" for h in range(20)]
    lines[13] = "ALM1,pm25,2024-01-01T13:00:00Z,13"
    path = write(tmp_path / "short.csv", "station,variable,time,value,unit\n"
                 + "\n".join(lines) + "\n")
    report = ingest_file(store, path, dataset=air)
    assert [(r[0], r[1]) for r in rejects(store, report.run_id)] == [(14, "unit")]
    assert report.rows_inserted == 19
