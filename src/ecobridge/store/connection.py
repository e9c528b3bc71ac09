"""Connection to the deployment's DuckDB file: extensions from wheels, one writer, many readers."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ecobridge.errors import StoreLocked

EXTENSIONS = ("spatial", "fts")


class _AbsentModules(importlib.abc.MetaPathFinder):
    """Fails imports of optional modules that are not installed, without searching sys.path.

    DuckDB's client tries `import pandas` on every query with parameters, and pyarrow tries
    `import dateutil` when it converts some Python values; a failed import is not remembered,
    so without these modules each try searched every sys.path entry: about 18 searches per API
    read, more time than the read's own query. Only modules absent at start are listed, so
    nothing installed is ever hidden.
    """

    def __init__(self, names: frozenset[str]):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _skip_absent_optional_modules() -> None:
    if any(isinstance(f, _AbsentModules) for f in sys.meta_path):
        return
    absent = frozenset(n for n in ("pandas", "dateutil") if importlib.util.find_spec(n) is None)
    if absent:
        sys.meta_path.insert(0, _AbsentModules(absent))


_skip_absent_optional_modules()


def int_array(values) -> str:
    """Integers as one DuckDB list literal, for a `?::BIGINT[]` parameter.

    DuckDB's client converts a Python list parameter element by element (about 20 us each, an
    attempted pandas import among it), so a list of 600 ids cost more than the query; one
    string parameter costs next to nothing. The values are formatted here as integers, so the
    parameter can hold nothing else.
    """
    return "[" + ",".join(str(int(v)) for v in values) + "]"


def extension_directory() -> Path:
    """Where the duckdb-ext-* wheels put their binaries; DuckDB never downloads from elsewhere."""
    import duckdb_ext  # namespace package installed by duckdb-ext-spatial / duckdb-ext-fts

    return Path(next(iter(duckdb_ext.__path__))) / "extensions"


def connect(path: Path | str, *, read_only: bool = False, memory_limit: str = "1GB",
            threads: int = 2, temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    config = {
        "extension_directory": str(extension_directory()),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": memory_limit,
        "threads": threads,
    }
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    try:
        conn = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreLocked(
                f"{path} is in use by another ecobridge process (is `ecobridge serve` running?); "
                "stop it, or send the work through its HTTP API"
            ) from None
        raise
    for name in EXTENSIONS:
        conn.execute(f"LOAD {name}")
    conn.execute("SET TimeZone = 'UTC'")
    # a statement past 2 s would draw DuckDB's progress bar on stdout, into CLI output and logs
    conn.execute("SET enable_progress_bar = false")
    return conn


class Store:
    """A deployment's database. Reads run on per-thread cursors; writes take one lock."""

    def __init__(self, path: Path | str, *, read_only: bool = False, memory_limit: str = "1GB",
                 threads: int = 2):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = None if str(path) == ":memory:" else self.path.parent / "tmp"
        self._conn = connect(path, read_only=read_only, memory_limit=memory_limit,
                             threads=threads, temp_directory=temp)
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self.read_only = read_only
        # Caches of the services over this store (governance's token principals and dataset
        # owners), each cleared by the writes that change what it holds. One process writes
        # the file, so a cache cleared by that process's writes is never stale.
        self.memo: dict[str, dict] = {}

    # -- reads -------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            self._local.cursor = cur
        return cur

    def rows(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict | None = None) -> tuple | None:
        # fetched whole: a result left half-read keeps its snapshot open, and DuckDB then
        # refuses to re-insert a unique key another transaction has deleted since
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def dicts(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict]:
        cur = self.cursor().execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def arrow(self, sql: str, params: Sequence[Any] | dict | None = None) -> pa.Table:
        return self.cursor().execute(sql, params or []).fetch_arrow_table()

    # -- writes ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One writer at a time; everything inside commits together or not at all."""
        with self._write_lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> None:
        with self.transaction() as cur:
            cur.execute(sql, params or [])

    def checkpoint(self) -> None:
        with self._write_lock:
            self._conn.execute("CHECKPOINT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(settings=None, *, migrate: bool = True, read_only: bool = False) -> Store:
    """Open the deployment's store under settings.home, applying migrations."""
    from ecobridge.config import get_settings
    from ecobridge.store.migrations import apply_migrations

    settings = settings or get_settings()
    store = Store(settings.database_path, read_only=read_only,
                  memory_limit=settings.memory_limit, threads=settings.threads)
    if migrate and not read_only:
        apply_migrations(store)
    return store
