"""Vectorised IAQI against the scalar call in a loop, same run, same inputs.

Prints one JSON line per figure; the figure is a speed ratio against the scalar baseline.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ecobridge.air import iaqi, iaqi_array

N_SCALAR = 20_000
N_ARRAY = 1_000_000


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    rng = np.random.default_rng(1)
    for std, pol, avg in (("CN_HJ633_2026", "pm25", "24h"), ("US_EPA_2024", "o3", "8h"),
                          ("IN_CPCB_2014", "pm10", "24h")):
        values = rng.gamma(2.0, 40.0, N_ARRAY)
        small = values[:N_SCALAR].tolist()
        scalar = _best(lambda s=small, std=std, pol=pol, avg=avg:
                       [iaqi(std, pol, c, avg) for c in s], repeat=1) / N_SCALAR
        vector = _best(lambda v=values, std=std, pol=pol, avg=avg:
                       iaqi_array(std, pol, v, avg)) / N_ARRAY
        print(json.dumps({"figure": f"iaqi_array speed-up, {std} {pol}/{avg}",
                          "baseline": "iaqi() in a Python loop",
                          "ratio": round(scalar / vector, 1),
                          "scalar_us_per_value": round(scalar * 1e6, 2),
                          "array_ns_per_value": round(vector * 1e9, 1)}))


if __name__ == "__main__":
    main()
