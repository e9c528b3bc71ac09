"""Averages of hourly series that respect data-completeness rules.

Every function takes a regular hourly series (one value per hour, NaN where the hour is missing
or failed QC) and returns NaN wherever too few hours were valid. The minimum counts per regime
(China 20 of 24 hours, India 16, US 18; 6 of 8 hours for 8-h means) are data in data/aqi.yaml
under `completeness`, with their source and status; `*_for` helpers read them.

The same rules are available as DuckDB SQL (`rolling_mean_sql`, `DAILY_MEAN_SQL`) for series that
are still in the store. Those read one datastream; the caller must have checked that the
principal may read it (governance.policy) before running them.
"""

from __future__ import annotations

import numpy as np

from ecobridge.air.aqi import completeness
from ecobridge.errors import InvalidInput


def _as_series(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise InvalidInput("expected a one-dimensional hourly series", field="values")
    return v


def _window_sums(v: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of valid values in the trailing window ending at each index."""
    valid = np.isfinite(v)
    csum = np.concatenate(([0.0], np.cumsum(np.where(valid, v, 0.0))))
    ccnt = np.concatenate(([0], np.cumsum(valid)))
    end = np.arange(1, len(v) + 1)
    start = np.maximum(end - window, 0)
    return csum[end] - csum[start], ccnt[end] - ccnt[start]


def rolling_mean(values, window: int, min_valid: int) -> np.ndarray:
    """Trailing moving mean: result[i] averages values[i-window+1 .. i]; NaN when fewer than
    `min_valid` of those hours are valid (hours before the series start count as missing)."""
    v = _as_series(values)
    _check_window(window, min_valid)
    total, count = _window_sums(v, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_valid, total / count, np.nan)


def forward_mean(values, window: int, min_valid: int) -> np.ndarray:
    """Moving mean of the window that starts at each index (values[i .. i+window-1]); windows
    running past the end of the series count the missing hours as invalid."""
    trailing = rolling_mean(values, window, min_valid)
    out = np.full(len(trailing), np.nan)
    if len(trailing) >= window:
        out[: len(trailing) - window + 1] = trailing[window - 1:]
    # Windows that run past the end still count: compute them from what is there.
    tail = max(len(trailing) - window + 1, 0)
    v = _as_series(values)
    for i in range(tail, len(v)):  # at most window-1 iterations
        seg = v[i:]
        n = int(np.isfinite(seg).sum())
        out[i] = np.nanmean(seg) if n >= min_valid else np.nan
    return out


def block_mean(values, block: int, min_valid: int) -> np.ndarray:
    """Means of consecutive non-overlapping blocks (e.g. 24 hours from local midnight); a
    trailing partial block counts its missing hours as invalid."""
    v = _as_series(values)
    _check_window(block, min_valid)
    n_blocks = -(-len(v) // block)
    padded = np.full(n_blocks * block, np.nan)
    padded[: len(v)] = v
    grid = padded.reshape(n_blocks, block)
    count = np.isfinite(grid).sum(axis=1)
    total = np.nansum(grid, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_valid, total / count, np.nan)


def daily_max_8h(hourly, *, first_start_hour: int, last_start_hour: int, min_hours: int = 6,
                 min_windows: int = 1) -> np.ndarray:
    """Daily maximum of 8-hour running means for a series that starts at local midnight.

    For each day the 8-h windows starting at hours first_start_hour .. last_start_hour are
    considered (China: windows ending 08:00 to 24:00, i.e. starting 0 .. 16; US: starting
    07:00 .. 23:00, running into the next day). A window needs `min_hours` valid hours; a day
    needs `min_windows` valid windows, else NaN.
    """
    v = _as_series(hourly)
    if not 0 <= first_start_hour <= last_start_hour <= 23:
        raise InvalidInput("start hours must satisfy 0 <= first <= last <= 23",
                           field="first_start_hour")
    means = forward_mean(v, 8, min_hours)
    n_days = -(-len(v) // 24)
    starts = np.arange(n_days)[:, None] * 24 + np.arange(first_start_hour, last_start_hour + 1)
    inside = starts < len(v)
    grid = np.where(inside, means[np.minimum(starts, len(v) - 1)], np.nan)
    count = np.isfinite(grid).sum(axis=1)
    with np.errstate(invalid="ignore"):
        best = np.where(count > 0, np.nanmax(np.where(np.isfinite(grid), grid, -np.inf), axis=1),
                        np.nan)
    return np.where(count >= min_windows, best, np.nan)


def daily_mean_for(jurisdiction: str, hourly) -> np.ndarray:
    """24-h means per local day under a jurisdiction's completeness rule."""
    rule = completeness(jurisdiction)["24h"]
    return block_mean(hourly, 24, rule["min_hours"])


def moving_mean_for(jurisdiction: str, hourly, averaging: str = "24h") -> np.ndarray:
    """Trailing 24-h or 8-h moving means (real-time reporting) under a jurisdiction's rule."""
    rules = completeness(jurisdiction)
    if averaging not in rules or "window" not in rules[averaging]:
        raise InvalidInput(f"no {averaging} completeness rule for {jurisdiction}",
                           field="averaging")
    rule = rules[averaging]
    return rolling_mean(hourly, rule["window"], rule["min_hours"])


def daily_max_8h_for(jurisdiction: str, hourly) -> np.ndarray:
    """Daily maximum 8-h O3 under a jurisdiction's window and completeness rules."""
    rule = completeness(jurisdiction)["daily_max_8h"]
    return daily_max_8h(hourly, first_start_hour=rule["first_start_hour"],
                        last_start_hour=rule["last_start_hour"], min_hours=rule["min_hours"],
                        min_windows=rule["min_windows"])


def _check_window(window: int, min_valid: int) -> None:
    if window < 1 or not 0 < min_valid <= window:
        raise InvalidInput(f"need 0 < min_valid <= window, got {min_valid} of {window}",
                           field="min_valid")


# --- the same rules in DuckDB SQL ------------------------------------------------------------

# QARTOD flags 4 (fail) and 9 (missing) never count as valid hours.
_VALID = "result IS NOT NULL AND quality_flag NOT IN (4, 9)"


def rolling_mean_sql(window_hours: int) -> str:
    """Trailing moving mean of one datastream's hourly observations with a completeness rule.

    Parameters, in order: min_valid, datastream_id, start, end (TIMESTAMPTZ). Rows from
    `window_hours` before `start` are read so the first windows are complete; rows are returned
    from `start`. `mean` is NULL where fewer than min_valid hours were valid.
    """
    if not isinstance(window_hours, int) or not 1 <= window_hours <= 24 * 31:
        raise InvalidInput("window_hours must be an integer from 1 to 744", field="window_hours")
    # The window length is an integer checked above, the only thing formatted into the SQL.
    return f"""
WITH src AS (
    SELECT phenomenon_time, result
    FROM observations
    WHERE datastream_id = ?2 AND {_VALID}
      AND phenomenon_time >= CAST(?3 AS TIMESTAMPTZ) - INTERVAL {window_hours - 1} HOUR
      AND phenomenon_time < CAST(?4 AS TIMESTAMPTZ)
), w AS (
    SELECT phenomenon_time,
           count(result) OVER win AS n_valid,
           avg(result) OVER win AS mean_all
    FROM src
    WINDOW win AS (ORDER BY phenomenon_time
                   RANGE BETWEEN INTERVAL {window_hours - 1} HOUR PRECEDING AND CURRENT ROW)
)
SELECT phenomenon_time, n_valid, CASE WHEN n_valid >= ?1 THEN mean_all END AS mean
FROM w
WHERE phenomenon_time >= CAST(?3 AS TIMESTAMPTZ)
ORDER BY phenomenon_time
"""


# Daily means per local calendar day. Parameters: time zone name (e.g. 'Asia/Shanghai'),
# min_valid, datastream_id, start, end. NULL mean where the day had fewer valid hours.
DAILY_MEAN_SQL = f"""
SELECT CAST(timezone(?1, phenomenon_time) AS DATE) AS day,
       count(result) AS n_valid,
       CASE WHEN count(result) >= ?2 THEN avg(result) END AS mean
FROM observations
WHERE datastream_id = ?3 AND {_VALID}
  AND phenomenon_time >= CAST(?4 AS TIMESTAMPTZ) AND phenomenon_time < CAST(?5 AS TIMESTAMPTZ)
GROUP BY day
ORDER BY day
"""
