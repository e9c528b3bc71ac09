"""One streaming pass over a long CSV: pyarrow parses, DuckDB classifies each batch in memory.

pyarrow's CSV reader parses text several times faster than DuckDB's `read_csv` on this
deployment's two threads, and a single pass replaces the keys pass and the rows pass that each
parsed the whole file. Each batch is handed to DuckDB as an Arrow scan and run through the same
SQL as the file relation (`keys_sql`, `rows_sql`), so a row gets the same key hash, time, value
and problem code whichever path reads it.

Only regular files take this path. Whatever pyarrow refuses (a row with too many or too few
fields, bytes that are not UTF-8, an unterminated quote) makes `scan` return None before
anything is written, and the caller reads the file the old way, through DuckDB's
`read_csv` with null padding, so those files keep their exact behaviour and messages. A regular
file therefore yields the same rows in the same order as `read_csv` (blank lines skipped by
both), which the quarantine pass (re-reading raw fields by position, only when there are
rejects) relies on.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from ecobridge.monitoring.sources import csv_error

# ~8 MiB of text is ~180,000 rows of a five-column file: few DuckDB queries per file, and
# bounded memory: the threaded reader parses ~20 blocks ahead (~180 MiB held), and a batch's
# strings are dropped once classified.
BLOCK = 1 << 23
SLICE = 1 << 15  # rows
# pyarrow's streaming reader keeps about one core busy: a file this long (and without quote
# characters, so a line start is a row start) is parsed in parts, two readers at once
SPLIT_MIN = 1 << 26
PART_MAX = 1 << 28


@dataclass
class Scanned:
    key_rows: list[tuple]  # as the keys pass returns them
    k: list[np.ndarray]  # per batch, in file order: key hash, time (UTC us), value, problem code
    t: list[np.ndarray]
    v: list[np.ndarray]
    code: list[np.ndarray]
    numbered: bool = False  # k is the index into key_rows (scan_typed), not a hash


def scan(cur, table, rel, keys_sql: Callable, rows_sql: Callable,
         step: Callable[[float], None] = lambda f: None, block: int = BLOCK) -> Scanned | None:
    """Parse `table` (a CSV Table from sources) once; None when pyarrow cannot read it as a
    regular file, so the caller falls back to DuckDB's reader."""
    opts = table.csv
    names = list(table.columns)
    reader_opts = pcsv.ReadOptions(column_names=names, skip_rows=opts["skip"] + 1,
                                   block_size=block, use_threads=True)
    parse_opts = pcsv.ParseOptions(delimiter=opts["delimiter"], quote_char=opts["quote"],
                                   double_quote=True, escape_char=False,
                                   newlines_in_values=True, ignore_empty_lines=True)
    # DuckDB reads an empty field, quoted or not, as NULL: so does this
    convert_opts = pcsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                       strings_can_be_null=True, null_values=[""],
                                       quoted_strings_can_be_null=True)
    batch_rel = replace(rel, sql="eb_batch", params=[])
    k_sql, k_params = keys_sql(batch_rel)
    r_sql, r_params = rows_sql(batch_rel)
    keys: dict[int, list] = {}
    coords = "lat" in rel.fields and "lon" in rel.fields
    out = Scanned([], [], [], [], [])
    source = pa.OSFile(opts["path"])
    reader = None
    try:
        size = max(source.size(), 1)
        reader = pcsv.open_csv(source, read_options=reader_opts, parse_options=parse_opts,
                               convert_options=convert_opts)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            # A Table, not the batch (DuckDB reads a batch as a one-shot stream), found by its
            # variable name (a replacement scan): a view registered inside the ingest's
            # transaction would keep every batch's strings alive until commit. In slices, which
            # DuckDB's threads share (one batch is one thread's work); results keep their order.
            eb_batch = pa.Table.from_batches([batch.slice(i, SLICE)
                                              for i in range(0, batch.num_rows, SLICE)],
                                             schema=batch.schema)
            del batch
            # straight to numpy: results kept for the whole file stay out of Arrow's pool
            res = cur.execute(r_sql, r_params).fetchnumpy()
            k = np.asarray(res["k"], dtype=np.uint64)
            if coords:  # per-key lat/lon extents need every row
                found = cur.execute(k_sql, k_params).fetchall()
            else:  # the keys of the batch's first row of each key, counted by numpy
                uk, first, n = np.unique(k, return_index=True, return_counts=True)
                eb_batch = eb_batch.take(first)
                count = dict(zip(uk.tolist(), n.tolist(), strict=True))
                found = [(r[0], *r[1:4], count[r[0]])
                         for r in cur.execute(k_sql, k_params).fetchall()]
            del eb_batch
            for row in found:
                _add_key(keys, row)
            out.k.append(k)
            out.t.append(np.asarray(res["t"], dtype=np.int64))
            v = res["v"]
            out.v.append(np.ma.filled(v.astype(np.float64), np.nan) if np.ma.isMaskedArray(v)
                         else np.asarray(v, dtype=np.float64))
            out.code.append(np.asarray(res["code"], dtype=np.uint8))
            del res, v
            step(0.7 * min(source.tell() / size, 1.0))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    except duckdb.Error as exc:  # e.g. a mapping's time format DuckDB cannot use
        raise csv_error(exc, table.name) from None
    finally:
        reader = None  # its read-ahead blocks go now, not when the frame is collected
        source.close()
    pa.default_memory_pool().release_unused()
    out.key_rows = [tuple(v) for v in keys.values()]
    return out


def _add_key(keys: dict[int, list], row: tuple) -> None:
    """Merge one batch's (k, station, variable, unit, n[, min lat, max lat, min lon, max lon])
    into the file's, as one GROUP BY over the whole file would give it."""
    have = keys.get(row[0])
    if have is None:
        keys[row[0]] = list(row)
        return
    have[4] += row[4]
    for i, pick in ((5, min), (6, max), (7, min), (8, max)):
        if i < len(row) and row[i] is not None:
            have[i] = row[i] if have[i] is None else pick(have[i], row[i])


# -- the typed pass -------------------------------------------------------------------------
# For a plain long file (columns or constants for the keys, ISO times, '.' decimals, no
# missing-value markers, no coordinates) each batch is classified without SQL: the key columns
# are read dictionary-encoded and numbered by numpy, and the times and values that have one
# strict shape are parsed by numpy and pyarrow. Every other row (another time shape, a value
# pyarrow will not read, a blank) goes through the same SQL as `scan`, so a row gets the same
# time, value and problem code either way (tests/monitoring/test_csv_fast.py compares them).
_DICT = pa.dictionary(pa.int32(), pa.string())
_DIGITS_Z = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)  # YYYY-MM-DDTHH:MM:SS
_VALUE_BYTES = np.zeros(256, dtype=bool)
_VALUE_BYTES[list(b"0123456789.-")] = True
_US = 1_000_000


@dataclass
class Typed:
    """What the typed pass needs of the relation: the column (or constant) of each field."""

    columns: dict[str, str]  # field -> file column, for station/variable/unit/time/value
    constants: dict[str, str]  # field -> constant text, for station/variable/unit


def scan_typed(cur, table, typed: Typed, rest_sql: tuple[str, list],
               step: Callable[[float], None] = lambda f: None,
               block: int = BLOCK, split_min: int = SPLIT_MIN,
               part_max: int = PART_MAX) -> Scanned | None:
    """Like `scan`, with keys numbered 0.. in `key_rows` order instead of hashed (`k` holds
    that number, int32). `rest_sql` classifies the rows numpy does not: SQL over `eb_rest`
    with the columns tr (time) and vr (value) giving t, v and code in order."""
    opts = table.csv
    names = list(table.columns)
    fields = {c: f for f, c in typed.columns.items()}
    # times too: a file repeats each time for every series, so its batches' dictionaries are
    # small and each distinct time is parsed once
    types = {c: (_DICT if fields.get(c) in ("station", "variable", "unit", "time")
                 else pa.string()) for c in names}
    reader_opts = pcsv.ReadOptions(column_names=names, skip_rows=opts["skip"] + 1,
                                   block_size=block, use_threads=True)
    parse_opts = pcsv.ParseOptions(delimiter=opts["delimiter"], quote_char=opts["quote"],
                                   double_quote=True, escape_char=False,
                                   newlines_in_values=True, ignore_empty_lines=True)
    convert_opts = pcsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                       null_values=[""], quoted_strings_can_be_null=True)
    keys: dict[tuple, int] = {}
    counts: list[int] = []
    out = Scanned([], [], [], [], [])

    def open_part(source, first: bool):
        return pcsv.open_csv(source, read_options=reader_opts if first else replace_skip(
            reader_opts), parse_options=parse_opts, convert_options=convert_opts)

    batches = _batches(opts["path"], opts["quote"], open_part, split_min, part_max)
    try:
        for batch, done in batches:
            k = _key_numbers(batch, typed, keys, counts)
            tr = batch.column(typed.columns["time"])
            vr = batch.column(typed.columns["value"])
            del batch
            t, t_ok = parse_times(tr)
            v, v_ok, v_null = parse_values(vr)
            code = np.where(v_null, np.uint8(16), np.uint8(0))  # V_MISSING
            rest = np.flatnonzero(~(t_ok & (v_ok | v_null)))
            if len(rest):
                idx = pa.array(rest)
                eb_rest = pa.table({"tr": tr.take(idx).dictionary_decode(),  # noqa: F841
                                    "vr": vr.take(idx)})
                res = cur.execute(*rest_sql).fetchnumpy()
                t[rest] = np.asarray(res["t"], dtype=np.int64)
                rv = res["v"]
                v[rest] = (np.ma.filled(rv.astype(np.float64), np.nan)
                           if np.ma.isMaskedArray(rv) else np.asarray(rv, dtype=np.float64))
                code[rest] = np.asarray(res["code"], dtype=np.uint8)
                del eb_rest, res, rv
            out.k.append(k)
            out.t.append(t)
            out.v.append(v)
            out.code.append(code)
            del tr, vr
            step(0.7 * min(done, 1.0))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    except duckdb.Error as exc:
        raise csv_error(exc, table.name) from None
    finally:
        batches.close()
    pa.default_memory_pool().release_unused()
    out.key_rows = [(i, *triple, counts[i]) for triple, i in keys.items()]
    out.numbered = True
    return out


def replace_skip(options: pcsv.ReadOptions) -> pcsv.ReadOptions:
    """The read options for a part that starts at a row: no header or leading rows to skip."""
    return pcsv.ReadOptions(column_names=options.column_names, skip_rows=0,
                            block_size=options.block_size, use_threads=options.use_threads)


def _batches(path: str, quote, open_part: Callable, split_min: int,
             part_max: int) -> Iterator:
    """(batch, fraction of the file read) in file order. A long file is cut at line starts into
    parts of at most `part_max` bytes; while one part's batches are used the next part is parsed
    by a second reader, its batches held until their turn (memory bound: about one part).
    Errors reach the caller in file order."""
    size = os.path.getsize(path)
    cuts = _cuts(path, size, quote, part_max) if size >= split_min else None
    if not cuts:
        source = pa.OSFile(path)
        try:
            reader = open_part(source, True)
            for batch in reader:
                yield batch, source.tell() / max(size, 1)
        finally:
            reader = None  # its read-ahead blocks go now, not when the frame is collected
            source.close()
        return
    stop = threading.Event()
    bounds = [0, *cuts, size]
    parts = list(zip(bounds, bounds[1:], strict=False))
    queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in parts]

    def parse(i: int) -> None:
        try:
            with open(path, "rb") as raw:
                raw.seek(parts[i][0])
                source = pa.PythonFile(_Range(raw, parts[i][1] - parts[i][0]), mode="r")
                for batch in open_part(source, i == 0):
                    if stop.is_set():
                        break
                    queues[i].put(batch)
            queues[i].put(None)
        except BaseException as exc:  # handed to the caller, in file order
            queues[i].put(exc)

    def begin(i: int) -> None:
        if i < len(parts):
            threading.Thread(target=parse, args=(i,), name=f"csv-part-{i}", daemon=True).start()

    begin(0)
    begin(1)
    try:
        for i, q in enumerate(queues):
            if i:
                begin(i + 1)  # the part before is used up: the one after starts parsing
            start, end = parts[i]
            read = start
            while (item := q.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                read = min(read + BLOCK, end)  # roughly: a batch is about a block of text
                yield item, read / size
    finally:
        stop.set()


def _cuts(path: str, size: int, quote, part_max: int) -> list[int] | None:
    """Line starts cutting a file without quote characters into at least two parts of at most
    about `part_max` bytes; None for a file with a quote character (a line start could lie
    inside a quoted value) or lines too long to find one."""
    mark = quote.encode() if isinstance(quote, str) and quote else None
    n = max(2, -(-size // max(part_max, 1)))
    cuts: list[int] = []
    with open(path, "rb") as f:
        if mark:
            while chunk := f.read(1 << 24):
                if mark in chunk:
                    return None
        for k in range(1, n):
            at = k * size // n
            f.seek(at)
            j = f.read(1 << 20).find(b"\n")
            if j < 0:
                return None
            if at + j + 1 >= size:
                break
            if not cuts or at + j + 1 > cuts[-1]:
                cuts.append(at + j + 1)
    return cuts or None


class _Range(io.RawIOBase):
    """`length` bytes of an open file from its current position, as a readable stream."""

    def __init__(self, raw, length: int):
        self.raw, self.left = raw, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        if n <= 0:
            return 0
        got = self.raw.readinto(memoryview(buffer)[:n])
        self.left -= got
        return got


def _key_numbers(batch, typed: Typed, keys: dict[tuple, int], counts: list[int]) -> np.ndarray:
    """The file-wide number of each row's (station, variable, unit), from the batch's
    dictionaries: a null is its own entry, as NULL is its own group in SQL."""
    codes, values = [], []
    for name in ("station", "variable", "unit"):
        if name in typed.constants:
            codes.append(np.zeros(batch.num_rows, np.int32))
            values.append([typed.constants[name]])
            continue
        col = batch.column(typed.columns[name])
        words = col.dictionary.to_pylist()
        indices = col.indices.fill_null(len(words)) if col.null_count else col.indices
        codes.append(indices.to_numpy())
        values.append([*words, None])
    (cs, cv, cu), (ws, wv, wu) = codes, values
    size = len(ws) * len(wv) * len(wu)
    wide = np.int32 if size < 1 << 31 else np.int64
    combined = (cs.astype(wide) * len(wv) + cv) * len(wu) + cu
    if size <= 1 << 22:
        n = np.bincount(combined, minlength=size)
        present = np.flatnonzero(n)
        lut = np.zeros(size, np.int32)
        inverse = None
    else:
        present, inverse, n = np.unique(combined, return_inverse=True, return_counts=True)
        n = n.copy()
        lut = None
    numbers = np.empty(len(present), np.int32)
    for j, c in enumerate(present.tolist()):
        rest, u = divmod(c, len(wu))
        s, v = divmod(rest, len(wv))
        triple = (ws[s], wv[v], wu[u])
        i = keys.get(triple)
        if i is None:
            i = keys[triple] = len(counts)
            counts.append(0)
        counts[i] += int(n[c] if inverse is None else n[j])
        numbers[j] = i
    if inverse is None:
        lut[present] = numbers
        return lut[combined]
    return numbers[inverse.ravel()]


def _string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, data bytes, valid) of a string array, without copying."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and n else \
        np.zeros(0, np.uint8)
    valid = (arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count
             else np.ones(n, bool))
    return offsets, data, valid


def parse_times(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """UTC microseconds of the times written exactly `YYYY-MM-DDThh:mm:ss` (T or a space)
    followed by `Z` or `+hh:mm`/`-hh:mm`, years 1000-2999; (t, parsed) with parsed False for
    every other row, which the SQL decides. A dictionary array: each distinct text once."""
    if pa.types.is_dictionary(arr.type):
        t, ok = parse_times(arr.dictionary)
        at = arr.indices.fill_null(len(t)) if arr.null_count else arr.indices
        at = at.to_numpy()
        return np.append(t, 0)[at], np.append(ok, False)[at]
    offsets, data, valid = _string_parts(arr)
    n = len(valid)
    t = np.zeros(n, np.int64)
    ok = np.zeros(n, bool)
    lengths = np.diff(offsets)
    for width in (20, 25):
        rows = np.flatnonzero(valid & (lengths == width))
        if len(rows) == 0:
            continue
        start = offsets[rows]
        if len(rows) == n and start[-1] - start[0] == (n - 1) * width:
            text = data[start[0]:start[0] + n * width].reshape(n, width)  # one view
        else:
            text = data[start[:, None] + np.arange(width)]
        t_w, ok_w = _parse_fixed(text)
        t[rows] = t_w
        ok[rows] = ok_w
    return t, ok


def _calendar() -> tuple[np.ndarray, np.ndarray]:
    """Per (year - 1000) * 13 + month: days from 1970-01-01 to the month's first day and the
    month's length (0 for month 0), proleptic Gregorian, years 1000-2999."""
    years = np.arange(1000, 3000)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    length = np.tile(np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]), (2000, 1))
    length[:, 2] += leap
    y = years - 1
    before_year = y * 365 + y // 4 - y // 100 + y // 400 - 719162  # days 1970-01-01 -> Jan 1
    first = before_year[:, None] + np.concatenate(
        (np.zeros((2000, 1), np.int64), np.cumsum(length, axis=1)[:, :-1]), axis=1)
    first[:, 0] = 0
    return first.ravel().astype(np.int64), length.ravel().astype(np.int64)


_FIRST_DAY, _MONTH_LENGTH = _calendar()
def _parse_fixed(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = text.shape[1]
    d = text - np.uint8(48)  # digits 0..9, anything else wraps above 9
    digits = list(_DIGITS_Z) + ([20, 21, 23, 24] if width == 25 else [])
    ok = (d[:, digits] <= 9).all(axis=1)
    ok &= (text[:, [4, 7, 13, 16]] == np.array([45, 45, 58, 58], np.uint8)).all(axis=1)
    ok &= (text[:, 10] == 84) | (text[:, 10] == 32)
    d16 = d.astype(np.uint16)  # garbage in a field only matters on rows already refused

    def num(*cols: int) -> np.ndarray:
        value = d16[:, cols[0]]
        for c in cols[1:]:
            value = value * np.uint16(10) + d16[:, c]
        return value

    year, month, day = num(0, 1, 2, 3), num(5, 6), num(8, 9)
    hour, minute, second = num(11, 12), num(14, 15), num(17, 18)
    if width == 20:
        ok &= text[:, 19] == 90  # Z
        shift = 0
    else:
        ok &= ((text[:, 19] == 43) | (text[:, 19] == 45)) & (text[:, 22] == 58)
        oh, om = num(20, 21), num(23, 24)
        ok &= (oh <= 23) & (om <= 59)
        shift = np.where(text[:, 19] == 43, 1, -1) * (oh.astype(np.int64) * 3600 + om * 60)
    ok &= (year >= 1000) & (year <= 2999) & (month <= 12)
    at = np.where(ok, (year.astype(np.int32) - 1000) * 13 + month, 0)
    ok &= (day >= 1) & (day <= _MONTH_LENGTH[at]) & (hour <= 23) & (minute <= 59) & (second <= 59)
    # seconds of the day first, in int32; days from the calendar table
    in_day = (hour.astype(np.int32) * 60 + minute) * 60 + second
    seconds = (_FIRST_DAY[at] + (day - 1)) * 86400 + in_day - shift
    return np.where(ok, seconds * _US, 0), ok


def parse_values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, parsed, null): values of digits, '.' and '-' only that pyarrow reads as a finite
    number (exactly as DuckDB's DOUBLE cast reads them: both round correctly); a null is an
    empty field. Rows neither parsed nor null are left to the SQL."""
    offsets, data, valid = _string_parts(arr)
    n = len(valid)
    v = np.full(n, np.nan)
    lengths = np.diff(offsets)
    base = int(offsets[0]) if n else 0
    allowed = _VALUE_BYTES[data[base:int(offsets[-1])]]
    clean = valid & (lengths > 0) & (lengths <= 24)
    if not allowed.all():
        bad = np.concatenate(([0], np.cumsum(~allowed)))
        clean &= bad[offsets[1:] - base] == bad[offsets[:-1] - base]
    null = ~valid
    if not clean.any():
        return v, clean, null
    every = bool(clean[valid].all()) if null.any() else bool(clean.all())
    try:
        if every:
            parsed = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            v[clean] = parsed[clean]
        else:
            v[clean] = pc.cast(arr.filter(pa.array(clean)), pa.float64()).to_numpy(
                zero_copy_only=False)
    except pa.ArrowInvalid:  # e.g. "1-2": the SQL reads the batch's values
        return np.full(n, np.nan), np.zeros(n, bool), null
    ok = clean & np.isfinite(v)
    return v, ok, null
