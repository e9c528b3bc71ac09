"""The evaluation of an ingest, started while the ingest appends its rows.

A large ingest spends much of its time in DuckDB appending the merged rows, and DuckDB lets go
of the GIL meanwhile. So the merge hands its rows over before that append (monitoring.merge.
keep_series, with an `Overlap` as the list they are kept in) and, on the first, the evaluation:

1. reads on the ingest's cursor, at once, all it needs from the store (rules, datastreams,
   stored alerts, stored rows the merge does not hold: `evaluate.prepare`). The append changes
   none of it: it adds the run's own rows, which the merge holds, and the other statements of
   the ingest before the evaluation (datastream summaries, quarantine) are not read by it;
2. computes points and episodes on a thread (`evaluate.compute`: numpy and Python, no store)
   while the append runs;
3. writes alerts, events and outbox rows when the ingest calls `evaluate_ingest`, after the
   append, on the ingest's cursor, in its transaction: alerts commit with the rows they are
   about or not at all, and a failed ingest leaves none (a thread whose ingest failed only
   computed).

The outcome is that of the sequential evaluation (`evaluate.evaluate` runs the same prepare and
compute one after the other; tests/alerts/test_overlap.py compares both). A run of more than
one merge falls back to reading its rows back after the last.
"""

from __future__ import annotations

import os
import threading
import time

from ecobridge.alerts.episodes import Writes
from ecobridge.alerts.evaluate import Prepared, _load_rules, compute, prepare
from ecobridge.monitoring.merge import Series

# None: on a thread only where a core is left beside DuckDB's own threads, which append on all
# they have: on a 2-core machine with threads=2 the thread only competes with the append (two
# quiet benchmark runs: 14-15 % wall overhead threaded, 10-16 % after the append, for ~20 % more
# CPU on the thread). True or False force one path (the tests and the benchmark compare them).
ENABLED: bool | None = None


def _wanted(cur) -> bool:
    if ENABLED is not None:
        return ENABLED
    threads = int(cur.execute("SELECT current_setting('threads')").fetchone()[0])
    return (os.cpu_count() or 1) > threads


class Overlap(list):
    """The merges' Series of one run (a list, for keep_series); the first starts the
    evaluation."""

    computed = 0  # evaluations run on a thread, in this process (tests check the path taken)

    def __init__(self, cur) -> None:
        super().__init__()
        self.cur = cur
        self.enabled = _wanted(cur)
        self.prepared: Prepared | None = None
        self.no_rules = False
        self._thread: threading.Thread | None = None
        self._writes: Writes | None = None
        self._error: BaseException | None = None
        self._cpu_prepare = 0.0  # CPU seconds before evaluate_ingest: the benchmark adds them
        self._cpu_thread = 0.0
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
        if self.prepared is not None:
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
