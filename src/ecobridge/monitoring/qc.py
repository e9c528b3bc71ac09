"""QARTOD-style quality control over whole columns (numpy), following IOOS `ioos_qc`.

Flags: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing. A row's flag is the worst result
of its tests (fail > suspect > pass > not evaluated); `qc_tests` is a bit set of the tests that
did not pass. Nothing is deleted: flags only inform.

The input is one or more series sorted by (group, time); a group is one datastream. The tests:
- gross range: outside `fail` [lo, hi] fails, outside `suspect` is suspect;
- spike: |x_n - (x_n-1 + x_n+1) / 2| above `suspect` / `fail`; the first and last points of a
  series are not evaluated (they lack a neighbour);
- rate of change: |x_n - x_n-1| / dt above `threshold` (units per second) is suspect;
- flat line: a point is suspect (fail) once the series has stayed within `tolerance` of each
  previous value for `suspect_s` (`fail_s`) seconds or more, so gaps in time count as time.
Missing values (NaN) get flag 9 and are skipped by the neighbour tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GROSS_RANGE, SPIKE, RATE_OF_CHANGE, FLAT_LINE = 1, 2, 4, 8
TEST_NAMES = {GROSS_RANGE: "gross_range", SPIKE: "spike", RATE_OF_CHANGE: "rate_of_change",
              FLAT_LINE: "flat_line"}
PASS, NOT_EVALUATED, SUSPECT, FAIL, MISSING = 1, 2, 3, 4, 9
# severity ranks: 0 not evaluated, 1 pass, 2 suspect, 3 fail
_RANK_TO_FLAG = np.array([NOT_EVALUATED, PASS, SUSPECT, FAIL], dtype=np.uint8)
_NAN = float("nan")


@dataclass(frozen=True)
class QcConfig:
    fail_lo: float = _NAN
    fail_hi: float = _NAN
    suspect_lo: float = _NAN
    suspect_hi: float = _NAN
    spike_suspect: float = _NAN
    spike_fail: float = _NAN
    roc_threshold: float = _NAN
    flat_suspect_s: float = _NAN
    flat_fail_s: float = _NAN
    flat_tolerance: float = 0.0

    @classmethod
    def from_json(cls, value) -> QcConfig:
        """Read the observed property's `qc` JSON (see migration 0002 for the shape)."""
        if value is None:
            return cls()
        cfg = json.loads(value) if isinstance(value, str) else value
        gross = cfg.get("gross_range") or {}
        spike = cfg.get("spike") or {}
        flat = cfg.get("flat_line") or {}
        fail = gross.get("fail") or (_NAN, _NAN)
        suspect = gross.get("suspect") or (_NAN, _NAN)
        return cls(
            fail_lo=_num(fail[0]), fail_hi=_num(fail[1]),
            suspect_lo=_num(suspect[0]), suspect_hi=_num(suspect[1]),
            spike_suspect=_num(spike.get("suspect")), spike_fail=_num(spike.get("fail")),
            roc_threshold=_num((cfg.get("rate_of_change") or {}).get("threshold")),
            flat_suspect_s=_num(flat.get("suspect_s")), flat_fail_s=_num(flat.get("fail_s")),
            flat_tolerance=_num(flat.get("tolerance"), 0.0),
        )

    @property
    def horizon_s(self) -> float:
        """How far back in time a flag can depend on values (the flat-line window)."""
        values = [v for v in (self.flat_suspect_s, self.flat_fail_s) if not np.isnan(v)]
        return max(values, default=0.0)


def _num(value, default: float = _NAN) -> float:
    return default if value is None else float(value)


CHUNK = 1 << 20  # rows per pass, in whole groups, to bound the temporaries' memory


def evaluate(group: np.ndarray, t_us: np.ndarray, values: np.ndarray,
             configs: list[QcConfig], *, chunk: int = CHUNK,
             on_chunk: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Flags and failed-test bits for rows sorted by (group, t_us); configs[group] applies.
    Rows go in passes of about `chunk` rows, cut between groups (a group's flags depend on
    its own rows only, so the cut changes none); `on_chunk(begin, end, flags, tests)` is told
    of each pass's rows once their flags are final (alerts.overlap evaluates them meanwhile)."""
    n = len(values)
    flags = np.full(n, MISSING, dtype=np.uint8)
    tests = np.zeros(n, dtype=np.uint16)
    table = {name: np.array([getattr(c, name) for c in configs], dtype=np.float64)
             for name in QcConfig.__dataclass_fields__}
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    begin = 0
    while begin < n:
        # cut at the first group start at or after begin + chunk
        k = np.searchsorted(starts, begin + chunk)
        end = int(starts[k]) if k < len(starts) else n
        part = slice(begin, end)
        _evaluate(group[part], t_us[part], values[part], table, flags[part], tests[part])
        if on_chunk is not None:
            on_chunk(begin, end, flags, tests)
        begin = end
    return flags, tests


def _evaluate(group: np.ndarray, t_us: np.ndarray, values: np.ndarray, table: dict,
              flags: np.ndarray, tests: np.ndarray) -> None:
    finite = np.isfinite(values)
    every = bool(finite.all())
    present = None if every else np.flatnonzero(finite)
    if present is not None and len(present) == 0:
        return
    g = group if every else group[present]
    t = t_us if every else t_us[present]
    x = values if every else values[present]
    n = len(g)

    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(g[1:], g[:-1], out=first[1:])
    last = np.empty(n, dtype=bool)
    last[-1] = True
    last[:-1] = first[1:]
    prev_x = np.empty(n)
    prev_x[0] = np.nan
    prev_x[1:] = x[:-1]

    rank = np.zeros(n, dtype=np.uint8)
    bits = np.zeros(n, dtype=np.uint16)
    one, two, three = np.uint8(1), np.uint8(2), np.uint8(3)
    # rows come in runs of one group: a group's settings repeated over its run (several times
    # cheaper than indexing a table by every row's group)
    starts = np.flatnonzero(first)
    run_group = g[starts]
    run_length = np.diff(np.append(starts, n))

    def cfg(name: str) -> np.ndarray:
        return np.repeat(table[name][run_group], run_length)

    def on_of(*names: str) -> np.ndarray | None:
        """Per row: does the group's config hold any of these (None: no group does)."""
        held = np.zeros(len(table[names[0]]), bool)
        for name in names:
            held |= ~np.isnan(table[name])
        if not held.any():
            return None
        return np.repeat(held[run_group], run_length)

    def record(on: np.ndarray, test: np.ndarray, bit: int) -> None:
        # rank 0 (not evaluated) where the test is off; flags 2+ set the test's bit
        test = np.where(on, test, np.uint8(0))
        np.maximum(rank, test, out=rank)
        bits[test >= 2] |= bit

    with np.errstate(invalid="ignore", divide="ignore"):
        # gross range
        on = on_of("fail_lo", "suspect_lo")
        if on is not None:
            out_fail = (x < cfg("fail_lo")) | (x > cfg("fail_hi"))
            out_suspect = (x < cfg("suspect_lo")) | (x > cfg("suspect_hi"))
            record(on, np.where(out_fail, three, np.where(out_suspect, two, one)), GROSS_RANGE)
            del out_fail, out_suspect

        # spike
        on = on_of("spike_suspect", "spike_fail")
        if on is not None:
            on &= ~first & ~last
            next_x = np.empty(n)
            next_x[-1] = np.nan
            next_x[:-1] = x[1:]
            spike = np.abs(x - (prev_x + next_x) / 2.0)
            del next_x
            record(on, np.where(spike > cfg("spike_fail"), three,
                                np.where(spike > cfg("spike_suspect"), two, one)), SPIKE)
            del spike

        diff = np.abs(x - prev_x)
        # rate of change
        on = on_of("roc_threshold")
        if on is not None:
            on &= ~first
            prev_t = np.empty(n, np.int64)
            prev_t[0] = 0
            prev_t[1:] = t[:-1]
            rate = diff / ((t - prev_t) / 1e6)
            del prev_t
            record(on, np.where(rate > cfg("roc_threshold"), two, one), RATE_OF_CHANGE)
            del rate

        # flat line: time since the last change larger than the tolerance
        on = on_of("flat_suspect_s", "flat_fail_s")
        if on is not None:
            change = first | (diff > cfg("flat_tolerance"))
            last_change = np.maximum.accumulate(np.where(change, np.arange(n), 0))
            still = (t - t[last_change]) / 1e6
            del change, last_change
            record(on, np.where(still >= cfg("flat_fail_s"), three,
                                np.where(still >= cfg("flat_suspect_s"), two, one)), FLAT_LINE)

    if every:
        flags[:] = _RANK_TO_FLAG[rank]
        tests[:] = bits
    else:
        flags[present] = _RANK_TO_FLAG[rank]
        tests[present] = bits


def describe(tests: int) -> list[str]:
    """Names of the tests in a qc_tests bit set."""
    return [name for bit, name in TEST_NAMES.items() if tests & bit]
