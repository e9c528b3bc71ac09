"""The evaluation of an ingest, computed on a thread beside the ingest's own work in DuckDB.

A large ingest spends much of its time in DuckDB, which lets go of the GIL meanwhile: appending
the merged rows (on all of DuckDB's threads) and committing them (compressing and writing, on
one). So the merge hands its rows over before the append (monitoring.merge.keep_series, with an
`Overlap` as the list they are kept in) and, on the first, the evaluation:

1. reads on the ingest's cursor, at once, all it needs from the store (rules, datastreams,
   stored alerts, stored rows the merge does not hold: `evaluate.prepare`). The append changes
   none of it: it adds the run's own rows, which the merge holds, and the other statements of
   the ingest before the evaluation (datastream summaries, quarantine) are not read by it;
2. computes points and episodes on a thread (`evaluate.compute`: numpy and Python, no store),
   on one of two paths:
   - "append": while the rows are appended, where a core is left beside DuckDB's threads; the
     writes (3) then go in the ingest's transaction, so alerts commit with their rows or not
     at all, and a failure fails the ingest;
   - "commit": from the end of the append (`appended`) while the rows commit, where no core
     is left during the append (there the thread would only slow the append down: two 2-core
     runs measured it) but one is during the commit, which DuckDB does on one thread. The
     run is marked `alerts_pending` in the ingest's transaction, and the writes follow in a
     second transaction under the same write lock, so no other writer comes in between,
     clearing the mark. A process stopped in
     between, or an evaluation that failed (its error kept in `alerts_error`), leaves the run
     marked: `evaluate.evaluate_pending` evaluates it from its stored rows (the server at
     start and with its silence check, the CLI's `alerts evaluate`). Readers may see the rows
     for a moment before their alerts;
3. writes alerts, events and outbox rows on the ingest's cursor.

The outcome is that of the sequential evaluation (`evaluate.evaluate` runs the same prepare and
compute one after the other; tests/alerts/test_overlap.py compares the three paths). A run of
more than one merge is evaluated in its transaction from its rows read back after the last.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ecobridge.alerts.episodes import Writes
from ecobridge.alerts.evaluate import Prepared, _load_rules, compute, prepare
from ecobridge.monitoring.merge import Series

log = logging.getLogger("ecobridge.alerts")

# None: "append" where a core is left beside DuckDB's threads, else "commit". "sequential",
# "append" or "commit" force one path (the tests and the benchmark compare them).
MODE: str | None = None
MODES = ("sequential", "append", "commit")


def _mode(cur) -> str:
    if MODE is not None:
        return MODE
    threads = int(cur.execute("SELECT current_setting('threads')").fetchone()[0])
    return "append" if (os.cpu_count() or 1) > threads else "commit"


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
        if self.prepared is not None and self.mode == "append":
            self._begin()

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
        return self.prepared, self._writes

    def cpu_before(self) -> tuple[float, float]:
        """CPU seconds the evaluation spent before `finish` joined its thread, what a caller
        timing `evaluate_ingest` did not see: preparing (in the ingest's thread, so on its
        path) and on its own thread so far (beside the append)."""
        after = max(0.0, self._ended - self._finishing)  # one thread: CPU <= wall time
        return self._cpu_prepare, max(0.0, self._cpu_thread - after)
