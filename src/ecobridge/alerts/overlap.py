"""The evaluation of an ingest, computed on a thread beside the ingest's own work.

Where the time of a large ingest goes: checking the merged rows (QC: numpy, on one core),
appending them and committing them (DuckDB, on all its threads). The evaluation needs the rows'
flags, so it cannot start before QC has given them; and beside the append or the commit it
takes a core from DuckDB, which slows them about as much as it gains (measured). So by default
("qc") it follows QC:

1. the thread starts before the run's first merge sorts its rows (`begin`) and reads on the
   ingest's cursor the rules and the file's datastreams meanwhile;
2. the merge (monitoring.merge._qc_early) hands over its Series before QC, without flags
   (`start`), and checks the rows in passes of whole datastreams; the thread reads the rest
   it needs (stored alerts and rows: `evaluate.prepare`) early in the first pass, and the
   merge touches the cursor again only once these reads are over (`wait_cursor`);
3. it computes the windowed rules' points over each pass's datastreams once QC has settled
   them (`settled`), while the next pass is checked. Their points depend on a datastream's own
   rows, and each rule's running sums go on from one pass to the next, so they are those of
   the whole, to the bit. The rules that need every row (silence: per station), the episodes
   and the new alerts' incidents follow the last pass, beside the append;
4. the ingest writes alerts, events and outbox rows in its own transaction (`finish`): they
   commit with their rows or not at all. A failure of the evaluation leaves the rows to
   commit with the run marked `alerts_pending` and the error (`evaluate_pending` evaluates
   it again: the server at start and with its silence check, `ecobridge alerts evaluate`).

Forced paths, which the tests and the benchmark compare: "sequential" (in the ingest's
transaction, after the append), "append" (on a thread from the append on; a failure fails
the ingest), and "commit" (on a thread from the end of the append, beside the commit; the run
is marked `alerts_pending` in the ingest's transaction and the writes follow in a second one
under the same write lock, clearing the mark: readers may see the rows for a moment before
their alerts, and a process stopped in between leaves the run to `evaluate_pending`).

The outcome is that of the sequential evaluation (`evaluate.evaluate` runs the same prepare and
compute one after the other; tests/alerts/test_overlap.py compares the paths). A run of more
than one merge is evaluated in its transaction from its rows read back after the last.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np

from ecobridge.alerts.episodes import Writes
from ecobridge.alerts.evaluate import (
    Prepared,
    _assemble,
    _load_rules,
    _part,
    _slice,
    _streams,
    compute,
    plan_points,
    prepare,
    ranges_of,
)
from ecobridge.alerts.models import Points
from ecobridge.alerts.rules import Rows, _empty
from ecobridge.alerts.sparse import SPARSE_KINDS, _valid_sums
from ecobridge.monitoring.merge import Series

log = logging.getLogger("ecobridge.alerts")

# None: "qc" (below). "sequential", "append", "commit" or "qc" force one path (the
# tests and the benchmark compare them).
MODE: str | None = None
MODES = ("sequential", "append", "commit", "qc")


def _mode(cur) -> str:
    return MODE or "qc"


class Overlap(list):
    """The merges' Series of one run (a list, for keep_series); the first starts the
    evaluation."""

    computed = 0  # evaluations run on a thread, in this process (tests check the path taken)

    def __init__(self, cur) -> None:
        super().__init__()
        self.cur = cur
        self.mode = _mode(cur)
        self.enabled = self.mode != "sequential"
        self.prepared: Prepared | None = None
        self.no_rules = False
        self.deferred = False  # its writes follow the commit of the run's rows
        self._thread: threading.Thread | None = None
        self._writes: Writes | None = None
        self._error: BaseException | None = None
        self._cpu_prepare = 0.0  # CPU seconds of each part: the benchmark adds them
        self._cpu_thread = 0.0
        self.cpu_write = 0.0
        self._ended = 0.0  # perf_counter when the thread ended, and when finish began
        self._finishing = 0.0
        self.early = self.mode == "qc"  # monitoring.merge: start before its QC (`start`)
        self._settled = 0  # rows of the Series whose flags are final (-1: the merge failed)
        self._news = threading.Condition()
        self._cursor_free = threading.Event()

    def append(self, series: Series) -> None:
        super().append(series)
        if len(self) == 1 and self.enabled:
            self._start(series)

    def _start(self, series: Series) -> None:
        c = time.process_time()
        rules, known = _load_rules(self.cur)
        self.no_rules = not rules
        self.prepared = prepare(self.cur, rules, series.touched, series, known)
        self._cpu_prepare = time.process_time() - c
        if self.prepared is not None and self.mode in ("append", "qc"):
            self._begin()

    # -- the "qc" path: monitoring.merge._qc_early -------------------------------------------
    def begin(self, ds_ids: np.ndarray) -> None:
        """The run's first merge, before it sorts its rows of datastreams `ds_ids`: the
        thread starts reading on the ingest's cursor, which it has until `wait_cursor`."""
        self._thread = threading.Thread(target=self._early, args=(ds_ids.tolist(),),
                                        name="alerts-evaluation", daemon=True)
        self._thread.start()

    def start(self, series: Series) -> None:
        """The merge's Series before its QC, without flags: `settled` gives them pass by
        pass."""
        with self._news:
            super().append(series)
            self._news.notify()

    def settled(self, rows: int) -> None:
        """The Series' first `rows` rows have their final flags (-1: the merge gave up)."""
        with self._news:
            self._settled = rows
            self._news.notify()

    def wait_cursor(self) -> None:
        self._cursor_free.wait()

    def _early(self, ds_ids: list[int]) -> None:
        Overlap.computed += 1
        c = time.thread_time()
        try:
            try:
                rules, known = _load_rules(self.cur)
                self.no_rules = not rules
                # the datastreams of the file: a superset of those the merge will change
                streams = _streams(self.cur, dict.fromkeys(ds_ids)) if rules else {}
                with self._news:
                    while not len(self) and self._settled >= 0:
                        self._news.wait()
                if self._settled < 0:
                    raise RuntimeError("the merge stopped before its QC")
                series = self[0]
                prepared = prepare(self.cur, rules, series.touched, series, known, frame=False,
                                   streams=streams)
            finally:
                self._cursor_free.set()
            if prepared is not None:
                self._writes = self._passes(prepared, series)
                self.prepared = prepared
        except BaseException as exc:  # raised again in the ingest's thread by `finish`
            self._error = exc
        finally:
            self._cpu_thread = time.thread_time() - c
            self._ended = time.perf_counter()

    def _wait(self, after: int) -> int:
        with self._news:
            while self._settled == after:
                self._news.wait()
            if self._settled < 0:
                raise RuntimeError("the merge stopped before its QC ended")
            return self._settled

    def _passes(self, prepared: Prepared, series: Series) -> Writes:
        """The points of the windowed (sparse) rules, per pass of QC: datastreams whose rows
        are settled. Their points depend on a datastream's own rows only, and each rule's
        running sums go on from one pass to the next (sparse._valid_sums), so they are the
        points of the whole. The other rules (silence: per station) wait for every row."""
        plans = prepared.plans
        per_pass = [i for i, p in enumerate(plans) if p.rule.kind in SPARSE_KINDS]
        reads = {i: tuple(sorted(plans[i].read.items())) for i in per_pass}
        arrays = {key: ranges_of(dict(key)) for key in set(reads.values())}
        held, mine, stored = prepared.gathered
        mine = ranges_of(mine)
        found: dict[int, list[Points]] = {i: [] for i in per_pass}
        sums: dict[tuple, float] = {}  # per rows read: the running sum so far
        n, done, lo = len(series.t), 0, -math.inf
        while done < n:
            done = self._wait(done)
            hi = math.inf if done >= n else int(series.ds[done])
            frame = _assemble(held, mine, stored, lo, hi)
            shared: dict[tuple, Rows] = {}
            for i in per_pass:
                plan = plans[i]
                read = _part(arrays[reads[i]], lo, hi)
                if not len(read[0]):
                    continue
                rows = shared.get(reads[i])
                if rows is None:
                    rows = _slice(frame, read)
                    # its own Rows per read: the memo holds sums from this read's own start
                    rows = shared[reads[i]] = Rows(rows.ds, rows.t, rows.v, rows.f,
                                                   dict(rows.memo))
                    rows.memo["sums_from"] = sums.get(reads[i], 0.0)
                found[i].append(plan_points(plan, rows, prepared.streams))
                if plan.rule.kind != "qc_burst" and len(rows):
                    sums[reads[i]] = float(_valid_sums(rows)[1][-1])
            lo = hi
        if len(per_pass) < len(plans):
            prepared.frame = _assemble(*prepared.gathered)
        return compute(prepared, {i: _joined(found[i]) for i in per_pass})

    def _begin(self) -> None:
        self._thread = threading.Thread(target=self._compute, name="alerts-evaluation",
                                        daemon=True)
        self._thread.start()

    def _compute(self) -> None:
        Overlap.computed += 1
        c = time.thread_time()
        try:
            self._writes = compute(self.prepared)
        except BaseException as exc:  # raised again in the ingest's thread by `finish`
            self._error = exc
        finally:
            self._cpu_thread = time.thread_time() - c
            self._ended = time.perf_counter()

    def abandon(self) -> None:
        self.settled(-1)

    def appended(self) -> None:
        """The merge has appended the rows (monitoring.merge): on the "commit" path the
        computation starts now, beside the rest of the ingest and its commit. A run of several
        merges discards it (`finish`), as on the "append" path."""
        if self.mode == "commit" and len(self) == 1 and self.prepared is not None \
                and self._thread is None:
            self._begin()

    def defer(self, cur, run_id: int) -> bool:
        """On the "commit" path, for a run of one merge with something to evaluate: mark the
        run, start the computation (it runs while the ingest commits) and say so."""
        if self.mode != "commit" or len(self) != 1 or self.prepared is None:
            return False
        cur.execute("UPDATE ingest_runs SET alerts_pending = true WHERE id = ?", [run_id])
        self.deferred = True
        if self._thread is None:
            self._begin()
        return True

    def write(self, cur, run_id: int) -> dict | None:
        """After the commit of a deferred run, in the next transaction: write its alerts and
        clear its mark; on failure keep the mark, with the error, for evaluate_pending."""
        c = time.process_time()
        try:
            prepared, writes = self.finish()
            c = time.process_time()  # after the join: the thread's CPU is counted apart
            summary = writes.commit(cur, prepared.streams)
            cur.execute("UPDATE ingest_runs SET alerts_pending = false, alerts_error = NULL"
                        " WHERE id = ?", [run_id])
        except Exception as exc:
            log.warning("alerts of ingest run %s not written (%s: %s); evaluate_pending"
                        " retries", run_id, type(exc).__name__, exc)
            log.debug("the evaluation's error", exc_info=True)
            cur.execute("ROLLBACK")
            cur.execute("BEGIN TRANSACTION")
            cur.execute("UPDATE ingest_runs SET alerts_error = ? WHERE id = ?",
                        [f"{type(exc).__name__}: {exc}"[:2000], run_id])
            summary = None
        finally:
            self.cpu_write = time.process_time() - c
        from ecobridge.alerts.delivery import notify

        notify()
        return summary

    def finish(self) -> tuple[Prepared, Writes] | None:
        """The evaluation's outcome once its thread is done; None when it did not run on
        this run's only Series (several merges, or it was not started)."""
        if self._thread is None:
            return None
        self._finishing = time.perf_counter()
        self._thread.join()
        if len(self) != 1:  # computed on part of the run: the caller evaluates it all
            return None
        if self._error is not None:
            raise self._error
        if self.prepared is None or self._writes is None:  # nothing it could evaluate
            return None
        return self.prepared, self._writes

    def cpu_before(self) -> tuple[float, float]:
        """CPU seconds the evaluation spent before `finish` joined its thread, what a caller
        timing `evaluate_ingest` did not see: preparing (in the ingest's thread, so on its
        path) and on its own thread so far (beside the append)."""
        after = max(0.0, self._ended - self._finishing)  # one thread: CPU <= wall time
        return self._cpu_prepare, max(0.0, self._cpu_thread - after)


def _joined(parts: list[Points]) -> Points:
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    detail: dict[int, dict] = {}
    for p in parts:
        detail.update(p.detail)
    return Points(*(np.concatenate([getattr(p, c) for p in parts])
                    for c in ("key", "t", "value", "limit", "sev")), detail)
