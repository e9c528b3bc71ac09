"""Ingest one file into a dataset: observations, stations or area polygons.

    report = ingest_file(store, path, dataset="kz-air", mapping="layout.yaml")

A file is one transaction: its rows, its rejects (quarantine) and its run record commit together,
or nothing does (a crash or kill mid-file leaves the store as it was). A run that fails is then
recorded, in its own transaction, with the reason. Rows in = rows accepted + rows rejected.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from ecobridge.alerts.evaluate import evaluate_ingest, has_rules
from ecobridge.alerts.overlap import Overlap
from ecobridge.catalog.service import resolve_dataset_id
from ecobridge.errors import EcobridgeError, InvalidInput
from ecobridge.governance import SYSTEM, Principal, require_write
from ecobridge.monitoring.mapping import KINDS, Mapping, check_timezone, load_mapping
from ecobridge.monitoring.merge import keep_series
from ecobridge.monitoring.report import Counts, IngestReport, load_report, write_rejects
from ecobridge.monitoring.sources import check_file, cleanup, file_format, open_table

__all__ = ["IngestReport", "ingest_file", "load_report"]

Progress = Callable[[int, int], None]
# fractions of the work done after each phase of an observation file
_PHASES = (0.0, 0.3, 0.7, 1.0)


def ingest_file(store, path: str | Path, *, dataset: str | int, principal: Principal = SYSTEM,
                mapping: str | Path | dict | None = None, timezone: str | None = None,
                kind: str | None = None, progress: Progress | None = None,
                file_name: str | None = None) -> IngestReport:
    """`file_name`: the name the user gave the file, recorded and shown instead of `path`
    (an upload's path is the server's own folder); the CLI leaves it out and keeps its path."""
    path = Path(path)
    name = file_name or str(path)
    dataset_id = resolve_dataset_id(store, dataset)
    require_write(store, principal, dataset_id)
    spec = load_mapping(mapping)
    zone = check_timezone(timezone) if timezone else spec.timezone
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    scratch = store.path.parent / "tmp" / f"ingest-{uuid.uuid4().hex}"
    try:
        check_file(path, name)
        digest = _sha256_meanwhile(path)
        kind = kind or spec.kind or infer_kind(store, path, spec, name)
        with store.transaction() as cur:
            run_id = cur.execute(
                "INSERT INTO ingest_runs (dataset_id, kind, file_name, file_sha256, mapping,"
                " status, user_id) VALUES (?, ?, ?, ?, ?, 'running', ?) RETURNING id",
                [dataset_id, kind, name, "", json.dumps(spec.source) if spec.source else None,
                 principal.user_id]).fetchone()[0]
            scratch.mkdir(parents=True)
            keep = kind == "observations" and has_rules(cur)
            started = Overlap(cur) if keep else None
            with _Ticker(cur, progress, path.stat().st_size) as ticker, \
                    keep_series(run_id, started) if keep else nullcontext([]) as held:
                counts = _dispatch(cur, kind, path, spec, zone, name, dataset_id, run_id,
                                   scratch, ticker.step)
            # alerts on what this run changed, committed with the data (docs/alerts.md); the
            # merged rows are handed over rather than read back, and evaluated while appended
            evaluate_ingest(cur, dataset_id=dataset_id, run_id=run_id, kind=kind,
                            held=held[0] if len(held) == 1 else None, started=started)
            _finish(cur, run_id, counts, digest())
            if started is not None and started.deferred:
                # computed while the rows commit, written just after (alerts.overlap)
                cur.execute("COMMIT")
                cur.execute("BEGIN TRANSACTION")
                started.write(cur, run_id)
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt | SystemExit):
            _record_failure(store, dataset_id, kind or "unknown", name, exc, principal)
        raise
    finally:
        cleanup(scratch)
    return load_report(store, run_id)


def _dispatch(cur, kind: str, path: Path, spec: Mapping, zone: str | None, name: str,
              dataset_id: int, run_id: int, scratch: Path, step) -> Counts:
    if kind == "observations":
        from ecobridge.monitoring.observations import ingest_observations

        table = open_table(cur, path, spec, name, scratch)
        return ingest_observations(cur, dataset_id=dataset_id, run_id=run_id, table=table,
                                   mapping=spec, zone=zone, step=step)
    if kind == "stations":
        from ecobridge.monitoring.stations import ingest_stations, read_rows

        rows = read_rows(cur, path, spec, name, scratch)
        counts, rejects = ingest_stations(cur, dataset_id, rows, spec, name)
    else:
        from ecobridge.catalog.areas import ingest_areas

        if file_format(path) not in ("geojson", "json", "gpkg", "shp"):
            raise InvalidInput("areas come from GeoJSON, GeoPackage or Shapefile", file=name)
        counts, rejects = ingest_areas(cur, dataset_id, path, spec, name)
    write_rejects(cur, run_id, rejects)
    step(1.0)
    return counts


def _finish(cur, run_id: int, c: Counts, digest: str) -> None:
    assert c.rows_in == c.rows_accepted + c.rows_rejected, "rows in != accepted + rejected"
    cur.execute(
        "UPDATE ingest_runs SET status = 'done', finished_at = now(), rows_in = ?,"
        " rows_accepted = ?, rows_rejected = ?, rows_inserted = ?, rows_updated = ?,"
        " rows_unchanged = ?, rows_flagged = ?, rows_reflagged = ?, file_sha256 = ?"
        " WHERE id = ?",
        [c.rows_in, c.rows_accepted, c.rows_rejected, c.rows_inserted, c.rows_updated,
         c.rows_unchanged, c.rows_flagged, c.rows_reflagged, digest, run_id])


def _record_failure(store, dataset_id: int, kind: str, name: str, exc: BaseException,
                    principal: Principal) -> None:
    message = exc.detail if isinstance(exc, EcobridgeError) else f"{type(exc).__name__}: {exc}"
    try:
        with store.transaction() as cur:
            cur.execute(
                "INSERT INTO ingest_runs (dataset_id, kind, file_name, file_sha256, status,"
                " finished_at, message, user_id) VALUES (?, ?, ?, '', 'failed', now(), ?, ?)",
                [dataset_id, kind, name, message[:2000], principal.user_id])
    except Exception:  # the original error matters more than the bookkeeping
        pass


def infer_kind(store, path: Path, spec: Mapping, name: str) -> str:
    """Observations, stations or areas, from the file type, geometry type or columns."""
    fmt = file_format(path)
    if fmt in ("geojson", "json", "gpkg", "shp"):
        import pyogrio

        try:
            info = pyogrio.read_info(path, layer=spec.layer)
        except Exception as exc:
            raise InvalidInput(f"unreadable vector file: {str(exc).splitlines()[0]}",
                               file=name) from None
        geometry = (info.get("geometry_type") or "").lower()
        return "stations" if "point" in geometry else "areas"
    if spec.wide:
        return "observations"
    scratch = store.path.parent / "tmp" / f"infer-{uuid.uuid4().hex}"
    try:
        table = open_table(store.cursor(), path, spec, name, scratch)
    finally:
        cleanup(scratch)
    columns = {c.lower() for c in table.columns} | set(spec.columns) | set(spec.constants)
    if {"value", "time"} <= columns:
        return "observations"
    if columns & {"lat", "latitude"} and columns & {"code", "station", "station_id", "id"}:
        return "stations"
    raise InvalidInput("cannot tell whether the file holds observations or stations; "
                       "pass kind (--kind)", file=name)


def _sha256_meanwhile(path: Path) -> Callable[[], str]:
    """The file's SHA-256, hashed on a thread while the file is ingested (hashlib lets go of
    the GIL on large chunks; the ingest leaves a core idle in its numpy phases): call the
    result for the digest. Recorded with the run's counts, in the same transaction."""
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(_sha256(path)), daemon=True)
    thread.start()

    def digest() -> str:
        thread.join()
        return out[0] if out else _sha256(path)  # the thread failed: the error shows here

    return digest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class _Ticker:
    """Reports progress in bytes of the file: phase boundaries from the pipeline, and DuckDB's
    own progress of the running query in between."""

    def __init__(self, cur, progress: Progress | None, total: int):
        self.cur, self.progress, self.total = cur, progress, max(total, 1)
        self.base, self.next = _PHASES[0], _PHASES[1]
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self) -> _Ticker:
        if self.progress is not None:
            self.cur.execute("SET enable_progress_bar = true")
            self.cur.execute("SET enable_progress_bar_print = false")
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.cur.execute("SET enable_progress_bar = false")

    def step(self, fraction: float) -> None:
        self.base = fraction
        self.next = next((p for p in _PHASES if p > fraction), 1.0)
        self._report(fraction)

    def _report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(int(min(fraction, 1.0) * self.total), self.total)

    def _poll(self) -> None:
        while not self._stop.wait(0.25):
            try:
                pct = self.cur.query_progress()
            except Exception:
                continue
            if pct >= 0:
                self._report(self.base + (self.next - self.base) * pct / 100.0)
