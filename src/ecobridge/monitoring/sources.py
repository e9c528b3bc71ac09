"""Open a tabular source file (CSV or Parquet) as a DuckDB relation with named fields.

Whole-file problems raise InvalidInput naming the file: a 0-byte file, no header, no data rows, an
undecodable encoding, a row with more fields than the header, a missing required column, a
truncated or otherwise unreadable Parquet file. Row-level problems are left to the caller, which
rejects those rows with a reason.

Column names come from the file, so they are quoted with `ident()` before they enter SQL; values
always travel as `?` parameters.
"""

from __future__ import annotations

import codecs
import csv
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.mapping import Mapping

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp"}


def ident(name: str) -> str:
    """A SQL identifier for a column name read from a file."""
    return '"' + name.replace('"', '""') + '"'


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in GEO_SUFFIXES:
        return suffix.lstrip(".")
    with path.open("rb") as f:
        if f.read(4) == b"PAR1":
            return "parquet"
    return "csv"


def check_file(path: Path, name: str) -> None:
    if not path.is_file():
        raise InvalidInput("no such file", file=name)
    if path.stat().st_size == 0:
        raise InvalidInput("file is empty (0 bytes)", file=name)


@dataclass
class Table:
    """A source file as SQL: `relation` is a FROM item; `columns` maps file column -> type."""

    name: str
    format: str
    relation: str
    params: list
    columns: dict[str, str]
    row_number: str | None = None  # SQL for 1-based file row numbers when not positional
    exprs: dict[str, tuple[str, list]] = field(default_factory=dict)  # field -> (sql, params)
    csv: dict | None = None  # a CSV's path, delimiter, quote and skip, for other readers

    def column_for(self, name: str) -> str | None:
        """The file's column called `name`, matched without regard to case."""
        if name in self.columns:
            return name
        lowered = {c.lower(): c for c in self.columns}
        return lowered.get(name.lower())


def open_table(conn: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, name: str,
               scratch: Path) -> Table:
    fmt = file_format(path)
    if fmt == "parquet":
        return _parquet(conn, path, name)
    if fmt != "csv":
        raise InvalidInput(f"a {fmt} file holds geometries, not a table", file=name)
    return _csv(conn, path, mapping, name, scratch)


def _parquet(conn, path: Path, name: str) -> Table:
    relation = "read_parquet(?, file_row_number = true)"
    try:
        described = conn.execute(f"DESCRIBE SELECT * FROM {relation}", [str(path)]).fetchall()
        rows = conn.execute(f"SELECT count(*) FROM {relation}", [str(path)]).fetchone()[0]
    except duckdb.Error as exc:
        raise InvalidInput(f"not a readable Parquet file (truncated or damaged?): "
                           f"{_first_line(exc)}", file=name) from None
    if rows == 0:
        raise InvalidInput("file has no data rows", file=name)
    columns = {c[0]: c[1] for c in described if c[0] != "file_row_number"}
    return Table(name, "parquet", relation, [str(path)], columns,
                 row_number="file_row_number + 1")


def _csv(conn, path: Path, mapping: Mapping, name: str, scratch: Path) -> Table:
    if not mapping.utf8:
        path = transcode(path, mapping.encoding, name, scratch)
    delimiter = mapping.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    quote = mapping.quote or '"'
    header = read_header(path, name, delimiter, quote, mapping.skip)
    columns = {c: "VARCHAR" for c in header}
    relation = ("read_csv(?, columns = ?, header = true, auto_detect = false, delim = ?, "
                "quote = ?, escape = ?, skip = ?, null_padding = true)")
    params = [str(path), columns, delimiter, quote, quote, mapping.skip]
    # An empty body and bad bytes show up in the first full pass (csv_error), not here: a
    # separate counting pass would read a large file once more.
    return Table(name, "csv", relation, params, columns,
                 csv={"path": str(path), "delimiter": delimiter, "quote": quote,
                      "skip": mapping.skip})


def read_header(path: Path, name: str, delimiter: str, quote: str, skip: int) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            for _ in range(skip):
                f.readline()
            line = f.readline()
    except UnicodeDecodeError:
        raise InvalidInput("the header is not UTF-8; declare the file's `encoding:` in a "
                           "mapping (e.g. cp1251)", file=name, row=0) from None
    if not line.strip():
        raise InvalidInput("file has no header line", file=name)
    header = next(csv.reader([line], delimiter=delimiter, quotechar=quote))
    header = [h.strip() for h in header]
    seen = set()
    for h in header:
        if not h:
            raise InvalidInput("the header has an empty column name", file=name, row=0)
        if h.lower() in seen:
            raise InvalidInput(f"column {h!r} appears twice in the header", file=name, row=0)
        seen.add(h.lower())
    return header


def transcode(path: Path, encoding: str, name: str, scratch: Path) -> Path:
    """Copy a file declared to be in another encoding to UTF-8, in streaming chunks."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}", file=name, field="encoding") from None
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / f"{path.stem}.utf8{path.suffix}"
    line = 1
    try:
        with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                text = decoder.decode(chunk)
                dst.write(text)
                line += text.count("\n")
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        out.unlink(missing_ok=True)
        raise InvalidInput(f"not valid {encoding} near line {line}: {exc.reason}",
                           file=name, field="encoding") from None
    return out


def cleanup(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)


_LINE = re.compile(r"CSV Error on Line: (\d+)")


def csv_error(exc: Exception, name: str) -> InvalidInput:
    text = str(exc)
    m = _LINE.search(text)
    row = int(m.group(1)) - 1 if m else None  # DuckDB counts the header line
    if "unicode" in text.lower() or "utf-8" in text.lower():
        return InvalidInput("not UTF-8 text; declare the file's `encoding:` in a mapping "
                            "(e.g. cp1251)", file=name, row=row)
    m = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if m:
        return InvalidInput(f"the row has {m.group(2)} fields, the header {m.group(1)}",
                            file=name, row=row)
    return InvalidInput(f"unreadable CSV: {_first_line(exc)}", file=name, row=row)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
