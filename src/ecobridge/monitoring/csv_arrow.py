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

from collections.abc import Callable
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from ecobridge.monitoring.sources import csv_error

# ~8 MiB of text is ~180,000 rows of a five-column file: few DuckDB queries per file, and
# bounded memory: the threaded reader parses ~20 blocks ahead (~180 MiB held), and a batch's
# strings are dropped once classified.
BLOCK = 1 << 23
SLICE = 1 << 15  # rows


@dataclass
class Scanned:
    key_rows: list[tuple]  # as the keys pass returns them
    k: list[np.ndarray]  # per batch, in file order: key hash, time (UTC us), value, problem code
    t: list[np.ndarray]
    v: list[np.ndarray]
    code: list[np.ndarray]


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
