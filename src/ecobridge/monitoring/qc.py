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
             configs: list[QcConfig]) -> tuple[np.ndarray, np.ndarray]:
    """Flags and failed-test bits for rows sorted by (group, t_us); configs[group] applies."""
    n = len(values)
    flags = np.full(n, MISSING, dtype=np.uint8)
    tests = np.zeros(n, dtype=np.uint16)
    table = {name: np.array([getattr(c, name) for c in configs], dtype=np.float64)
             for name in QcConfig.__dataclass_fields__}
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    begin = 0
    while begin < n:
        # cut at the first group start at or after begin + CHUNK
        k = np.searchsorted(starts, begin + CHUNK)
        end = int(starts[k]) if k < len(starts) else n
        part = slice(begin, end)
        _evaluate(group[part], t_us[part], values[part], table, flags[part], tests[part])
        begin = end
    return flags, tests


def _evaluate(group: np.ndarray, t_us: np.ndarray, values: np.ndarray, table: dict,
              flags: np.ndarray, tests: np.ndarray) -> None:
    present = np.flatnonzero(np.isfinite(values))
    if len(present) == 0:
        return
    g = group[present]
    t = t_us[present]
    x = values[present]
    cfg = {name: column[g] for name, column in table.items()}

    first = np.empty(len(g), dtype=bool)
    first[0] = True
    first[1:] = g[1:] != g[:-1]
    last = np.empty(len(g), dtype=bool)
    last[-1] = True
    last[:-1] = first[1:]
    prev_x = np.concatenate(([np.nan], x[:-1]))
    next_x = np.concatenate((x[1:], [np.nan]))
    prev_t = np.concatenate(([0], t[:-1]))

    rank = np.zeros(len(g), dtype=np.uint8)
    bits = np.zeros(len(g), dtype=np.uint16)

    def record(test_rank: np.ndarray, bit: int) -> None:
        np.maximum(rank, test_rank.astype(np.uint8), out=rank)
        bits[test_rank >= 2] |= bit

    with np.errstate(invalid="ignore", divide="ignore"):
        # gross range
        on = ~np.isnan(cfg["fail_lo"]) | ~np.isnan(cfg["suspect_lo"])
        out_fail = (x < cfg["fail_lo"]) | (x > cfg["fail_hi"])
        out_suspect = (x < cfg["suspect_lo"]) | (x > cfg["suspect_hi"])
        record(np.where(on, np.where(out_fail, 3, np.where(out_suspect, 2, 1)), 0), GROSS_RANGE)

        # spike
        on = (~np.isnan(cfg["spike_suspect"]) | ~np.isnan(cfg["spike_fail"])) & ~first & ~last
        spike = np.abs(x - (prev_x + next_x) / 2.0)
        test = np.where(spike > cfg["spike_fail"], 3, np.where(spike > cfg["spike_suspect"], 2, 1))
        record(np.where(on, test, 0), SPIKE)

        # rate of change
        on = ~np.isnan(cfg["roc_threshold"]) & ~first
        rate = np.abs(x - prev_x) / ((t - prev_t) / 1e6)
        record(np.where(on, np.where(rate > cfg["roc_threshold"], 2, 1), 0), RATE_OF_CHANGE)

        # flat line: time since the last change larger than the tolerance
        on = ~np.isnan(cfg["flat_suspect_s"]) | ~np.isnan(cfg["flat_fail_s"])
        change = first | (np.abs(x - prev_x) > cfg["flat_tolerance"])
        last_change = np.maximum.accumulate(np.where(change, np.arange(len(g)), 0))
        still = (t - t[last_change]) / 1e6
        test = np.where(still >= cfg["flat_fail_s"], 3,
                        np.where(still >= cfg["flat_suspect_s"], 2, 1))
        record(np.where(on, test, 0), FLAT_LINE)

    flags[present] = _RANK_TO_FLAG[rank]
    tests[present] = bits


def describe(tests: int) -> list[str]:
    """Names of the tests in a qc_tests bit set."""
    return [name for bit, name in TEST_NAMES.items() if tests & bit]
