"""The typed CSV pass (numpy parses the common time and value shapes, the rest goes through the
SQL) gives every row the same key, time, value and problem code as the SQL pass, and a whole
ingest stores the same observations, flags and rejects either way."""

from __future__ import annotations

import itertools
import random
import struct

import numpy as np
import pyarrow as pa
import pytest

from ecobridge.monitoring.csv_arrow import (
    PART_MAX,
    SPLIT_MIN,
    _cuts,
    parse_times,
    parse_values,
    scan,
    scan_typed,
)
from ecobridge.monitoring.ingest import ingest_file
from ecobridge.monitoring.mapping import load_mapping
from ecobridge.monitoring.observations import Relation, _typed, build_relation, keys_sql, rows_sql
from ecobridge.monitoring.sources import open_table

from .helpers import write
from .test_csv_arrow import TRICKY

EXTRA = [
    'ALM1,pm25,2024-02-29 23:59:59Z,-0,ug/m3',
    'ALM1,pm25,2023-02-29T00:00:00Z,1,ug/m3',
    'ALM1,pm25,2024-01-01T24:00:00Z,2,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00+24:00,3,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00+05:60,4,ug/m3',
    'ALM1,pm25,0999-01-01T00:00:00Z,5,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00.5Z,6,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00-09:30,.5,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00Z,1e3,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00Z,1-2,ug/m3',
    'ALM1,pm25,2024-01-01T00:00:00Z,99999999999999999999999,ug/m3',
    'ALM1,,2024-01-01T00:00:00Z,7,',
    'ALM1,pm25,2024-13-01T00:00:00Z,8,ug/m3',
    'ALM1,pm25,2024-01-01X00:00:00Z,9,ug/m3',
]


def _random_times(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        y = rng.choice([rng.randint(1000, 2999), 2000, 1900, 2024, 999, 3000])
        zone = rng.choice(["Z", "+05:00", "-03:30", "z", "+0500", "",
                           f"{rng.choice('+-')}{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}"])
        out.append(f"{y:04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
                   f"{rng.choice('TT t')}{rng.randint(0, 25):02d}:{rng.randint(0, 60):02d}:"
                   f"{rng.randint(0, 61):02d}{zone}")
    return out


def test_parsed_times_are_those_duckdb_reads(store):
    texts = _random_times(20_000, seed=7)
    for arr in (pa.array(texts), pa.array(texts).dictionary_encode()):
        t, ok = parse_times(arr)
        want = [r[0] for r in store.rows(
            "SELECT epoch_us(TRY_CAST(s AS TIMESTAMPTZ)) FROM unnest(?) WITH ORDINALITY u(s, i)"
            " ORDER BY i", [texts])]
        assert ok.sum() > 2000
        assert [int(x) for x in t[ok]] == [w for w, o in zip(want, ok, strict=True) if o]
        # every parsed shape has an explicit offset, which the SQL requires too
        assert all(texts[i][-1] == "Z" or texts[i][-6] in "+-" for i in np.flatnonzero(ok))


def test_parsed_values_are_bitwise_those_duckdb_reads(store):
    rng = random.Random(11)
    texts = ["".join(p) for n in range(1, 5) for p in itertools.product("01.-9", repeat=n)]
    texts += [f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 12)}f}" for _ in range(5000)]
    texts += ["".join(rng.choice("0123456789") for _ in range(rng.randint(15, 23))) + ".5"
              for _ in range(500)]
    parsed = 0
    for start in range(0, len(texts), 700):  # a failed cast leaves its whole batch to the SQL
        part = texts[start:start + 700]
        v, ok, null = parse_values(pa.array(part))
        want = [r[0] for r in store.rows(
            "SELECT TRY_CAST(trim(s) AS DOUBLE) FROM unnest(?) WITH ORDINALITY u(s, i)"
            " ORDER BY i", [part])]
        for text, got, good, w in zip(part, v, ok, want, strict=True):
            if good:
                parsed += 1
                assert w is not None and struct.pack("d", got) == struct.pack("d", w), text
        assert not null.any()
    assert parsed > 4000


def both(store, tmp_path, text: str, mapping: dict | None = None, zone: str | None = None,
         split_min: int = SPLIT_MIN, part_max: int = PART_MAX, block: int = 300):
    """Per row (station, variable, unit), t, v, code from scan_typed and from scan, read in
    blocks of `block` bytes (small, so even a small file comes in several batches)."""
    path = write(tmp_path / "obs.csv", text)
    spec = load_mapping(mapping)
    cur = store.cursor()
    table = open_table(cur, path, spec, str(path), tmp_path / "scratch")
    rel = build_relation(table, spec)
    typed = _typed(rel, spec)
    assert typed is not None
    rest = Relation("eb_rest", [], {**{f: ("CAST(NULL AS VARCHAR)", []) for f in
                                       ("station", "variable", "unit")},
                                    "time": ("tr", []), "value": ("vr", [])},
                    None, "VARCHAR", "VARCHAR")
    fast = scan_typed(cur, table, typed, rows_sql(rest, spec, zone), block=block,
                      split_min=split_min, part_max=part_max)
    slow = scan(cur, table, rel, keys_sql, lambda r: rows_sql(r, spec, zone), block=block)
    if fast is None or slow is None:
        return fast, slow
    assert len(fast.k) > 1 and len(slow.k) > 1  # several batches, whose keys must merge

    def rows(scanned):
        triple = {r[0]: tuple(r[1:4]) for r in scanned.key_rows}
        count = {tuple(r[1:4]): r[4] for r in scanned.key_rows}
        keys = [triple[int(k)] for k in np.concatenate(scanned.k)]
        return keys, count, [np.concatenate(p) for p in (scanned.t, scanned.v, scanned.code)]

    return rows(fast), rows(slow)


@pytest.mark.parametrize("zone", [None, "Asia/Almaty"])
def test_typed_pass_matches_sql_pass(store, tmp_path, zone):
    lines = TRICKY + EXTRA + [f"ALM{i % 3},pm25,2024-01-01T{i % 24:02d}:00:00+06:00,{i}.25,ug/m3"
                              for i in range(200)]
    fast, slow = both(store, tmp_path, "station,variable,time,value,unit\r\n"
                      + "".join(r + "\r\n" for r in lines * 2), zone=zone)
    assert fast[0] == slow[0] and fast[1] == slow[1]
    assert len(fast[0]) == 2 * len(lines)
    np.testing.assert_array_equal(fast[2][0], slow[2][0])
    np.testing.assert_array_equal(fast[2][2], slow[2][2])
    same = (fast[2][1] == slow[2][1]) | (np.isnan(fast[2][1]) & np.isnan(slow[2][1]))
    assert same[fast[2][2] & 8 == 0].all()  # values of rows not rejected for them


@pytest.mark.parametrize("split_min", [0, SPLIT_MIN])
def test_typed_pass_with_constants_and_other_columns(store, tmp_path, split_min):
    lines = [f"ALM{i % 2};{['pm25', 'no2'][i % 2]};2024-03-0{1 + i % 9}T0{i % 10}:00:00Z;"
             f"{i * 1.5};x{i}" for i in range(60)]
    fast, slow = both(store, tmp_path, "Пост;Показатель;Дата;Значение;note\n"
                      + "\n".join(lines) + "\n",
                      mapping={"delimiter": ";", "constants": {"unit": "ug/m3"},
                               "columns": {"station": "Пост", "variable": "Показатель",
                                           "time": "Дата", "value": "Значение"}},
                      split_min=split_min)
    assert fast[0] == slow[0] and fast[1] == slow[1]
    for f, s in zip(fast[2], slow[2], strict=True):
        np.testing.assert_array_equal(f, s)


GOOD = "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3\n"


@pytest.mark.parametrize("body", [
    "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3\nALM1,pm25,2024-01-01T01:00:00Z,2\n",
    "ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3,extra\n",
    GOOD * 400 + "ALM\xff1,pm25,2024-01-01T01:00:00Z,2,ug/m3\n",  # past the header's read
    GOOD * 400 + "ALM1,pm25,2024-01-01T01:00:00Z,2,\xb5g/m3\n",
])
@pytest.mark.parametrize("split_min", [0, SPLIT_MIN])
def test_irregular_files_are_left_to_read_csv(store, tmp_path, body, split_min):
    path = tmp_path / "obs.csv"
    path.write_bytes(("station,variable,time,value,unit\n" + body).encode("latin-1"))
    spec = load_mapping(None)
    cur = store.cursor()
    table = open_table(cur, path, spec, str(path), tmp_path / "scratch")
    typed = _typed(build_relation(table, spec), spec)
    assert scan_typed(cur, table, typed, ("SELECT 1", []), split_min=split_min) is None


BLOCK = 4096


@pytest.mark.parametrize("part_max", [PART_MAX, 20_000])
def test_parts_parsed_at_once_give_the_rows_in_file_order(store, tmp_path, part_max):
    """A file without quotes is cut at line starts and its parts parsed two at a time; the
    batches come back in file order, exactly as one reader gives them."""
    lines = [f"ST{i % 7},{['pm25', 'no2', 'o3'][i % 3]},2024-0{1 + i % 9}-1{i % 10}T"
             f"{i % 24:02d}:{i % 60:02d}:00{['Z', '+06:00', '-03:30'][i % 3]},"
             f"{['', 'x', '1e3', str(i * 0.5)][i % 4]},ug/m3" for i in range(3001)]
    text = "station,variable,time,value,unit\n" + "\n".join(lines) + "\n"
    path = write(tmp_path / "cut.csv", text)
    cuts = _cuts(str(path), path.stat().st_size, '"', part_max)
    assert cuts and all(path.read_bytes()[c - 1:c] == b"\n" for c in cuts)
    parts = max(2, -(-path.stat().st_size // part_max))  # ~125 kB: 2, or 7 of <= 20 kB
    assert len(cuts) == parts - 1 and (parts > 2) == (part_max < PART_MAX)
    # blocks of 4 kB, not 300 bytes: dozens of batches, not 500 (each one SQL query or more)
    assert path.stat().st_size > 2 * parts * BLOCK  # still several batches in every part
    fast, slow = both(store, tmp_path, text, split_min=0, part_max=part_max, block=BLOCK)
    one, _ = both(store, tmp_path, text, block=BLOCK)
    assert fast[0] == slow[0] == one[0] and fast[1] == slow[1] == one[1]
    for f, o in zip(fast[2], one[2], strict=True):
        np.testing.assert_array_equal(f, o)  # NaN in the same places too
    np.testing.assert_array_equal(fast[2][0], slow[2][0])
    np.testing.assert_array_equal(fast[2][2], slow[2][2])
    assert len(fast[0]) == len(lines) and (fast[2][2] != 0).any() and (fast[2][2] == 0).any()
    # a quote anywhere in the file keeps it whole: a line start may lie inside a quoted value
    path.write_text(text + 'ST1,pm25,2024-01-01T00:00:00Z,1,"ug/m3"\n', encoding="utf-8")
    assert _cuts(str(path), path.stat().st_size, '"', part_max) is None


@pytest.mark.parametrize("typed_mapping", [None, {"timezone": "Asia/Almaty"}])
def test_ingest_stores_the_same_either_way(tmp_path, typed_mapping):
    """Two stores: one ingests through the typed pass, the other through the SQL pass (a
    missing-value marker no row uses makes the file ineligible for the typed pass)."""
    from ecobridge.catalog.service import create_dataset
    from ecobridge.config import Settings
    from ecobridge.governance.organisations import create_organisation
    from ecobridge.store import open_store

    lines = TRICKY + EXTRA
    lines += [f"ALM{i % 2},{['pm25', 'no2', 'co'][i % 3]},2024-01-{1 + i // 24:02d}T"
              f"{i % 24:02d}:00:00Z,{(i * 37) % 400 if i % 50 else 900}.5,"
              f"{['ug/m3', 'ppb', 'mg/m3'][i % 3]}" for i in range(300)]
    lines += lines[-40:]  # duplicates
    path = write(tmp_path / "obs.csv", "station,variable,time,value,unit\n"
                 + "\n".join(lines) + "\n")
    second = write(tmp_path / "more.csv", "station,variable,time,value,unit\n" + "\n".join(
        f"ALM1,pm25,2024-01-0{1 + i // 24}T{i % 24:02d}:00:00Z,{i % 7}.0,ug/m3"
        for i in range(0, 120, 2)) + "\n")
    results = []
    for n, mapping in enumerate((typed_mapping, {**(typed_mapping or {}),
                                                 "na_values": ["never-used"]})):
        store = open_store(Settings(home=tmp_path / f"home{n}", memory_limit="1GB", threads=2))
        try:
            create_organisation(store, slug="kz", name="KZ", country="KAZ")
            create_dataset(store, slug="kz-air", owner="kz", domain="air", title="Air",
                           licence="CC-BY-4.0")
            ingest_file(store, write(tmp_path / "st.csv",
                                     "code,name,lat,lon\nALM1,A1,43.2,76.9\nALM2,A2,43.3,76.8\n"),
                        dataset="kz-air")
            reports = [ingest_file(store, p, dataset="kz-air", mapping=mapping)
                       for p in (path, second, path)]
            results.append((
                [(r.rows_in, r.rows_accepted, r.rows_rejected, r.rows_inserted, r.rows_updated,
                  r.rows_unchanged, r.rows_flagged, r.rows_reflagged) for r in reports],
                store.rows("SELECT datastream_id, epoch_us(phenomenon_time), result,"
                           " quality_flag, qc_tests, id FROM observations ORDER BY id"),
                store.rows("SELECT row_number, field, value, reason, raw FROM quarantine q"
                           " JOIN ingest_runs r ON r.id = q.run_id WHERE r.kind ="
                           " 'observations' ORDER BY q.run_id, row_number, reason")))
        finally:
            store.close()
    assert results[0][0][0][2] > 10 and results[0][0][2][5] > 0  # rejects; the repeat unchanged
    assert results[0] == results[1]
