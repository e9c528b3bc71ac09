"""Benchmark: the web UI over the demo deployment, in headless Chromium (Debian's, via Playwright).

    .venv/bin/python benchmarks/web_ui.py [--repeat 5]

Builds the demo once into benchmarks/out/web_demo/ (`ecobridge demo`), serves it with
`ecobridge serve` in a child process on 127.0.0.1, then measures in the same run:
  1. the baseline: a page with no map or chart (/login) loaded until its `load` event;
  2. the home page until its map has drawn every demo site (the map container gets
     data-ready="true" once the sites layer has rendered);
     The map's base map is the server's PNG tiles (a raster layer), its view comes with the
     page and the protected areas are drawn after the sites;
  3. a station page until its chart has drawn two years of hourly data (data-ready="true" on
     the chart container);
  4. the server's resident memory (VmRSS of the server process) after all of it.
Each page is loaded `--repeat` times in a fresh browser context (nothing cached); the median is
reported, with its ratio to the baseline's median, and the medians of the page's own breakdown
from its navigation start: the HTML's first byte (ttfb), DOMContentLoaded (dcl) and the moment
the map or chart turned data-ready (ready). Targets: home and station chart under 1 s,
server memory under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "web_demo"
CLI = [sys.executable, "-c", "from ecobridge.cli import main; main()"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _station(base: str) -> int:
    """An air-quality station of the demo with the longest PM2.5 series."""
    streams = httpx.get(f"{base}/api/v1/datastreams", params={"limit": 1000}).json()["items"]
    pm25 = [s for s in streams if s.get("observed_property") in ("pm25", "PM2.5")] or streams
    best = max(pm25, key=lambda s: s.get("observation_count") or 0)
    return best["thing_id"]


# In the page: when data-ready turned "true", in ms since the navigation started.
READY_MARK = """new MutationObserver(() => {
  if (!window.__ebReady && document.querySelector("[data-ready='true']")) {
    window.__ebReady = performance.now();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-ready"]});"""
BREAKDOWN = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd,
          ready: window.__ebReady || null};
}"""


def _timed(browser, url: str, ready: str | None) -> tuple[float, dict]:
    """Seconds from goto to the ready selector (or `load`), and the page's own breakdown in
    seconds from its navigation start: first byte of the HTML, DOMContentLoaded, data ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(READY_MARK)
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    if ready:
        page.wait_for_selector(ready, state="attached", timeout=30_000)
    seconds = time.perf_counter() - started
    marks = {k: v / 1000 for k, v in page.evaluate(BREAKDOWN).items() if v is not None}
    context.close()
    return seconds, marks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "ECOBRIDGE_HOME": str(OUT)}
    subprocess.run([*CLI, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    server = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        from playwright.sync_api import sync_playwright

        station = _station(base)
        pages = {"baseline_login": (f"{base}/login?lang=en", None),
                 "home_map_drawn": (f"{base}/?lang=en", "[data-ready='true']"),
                 "station_chart_drawn": (f"{base}/stations/{station}?lang=en",
                                         "[data-ready='true']")}
        times: dict[str, list[float]] = {k: [] for k in pages}
        marks: dict[str, list[dict]] = {k: [] for k in pages}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        headless=True, args=CHROMIUM_ARGS)
            for url, ready in pages.values():  # warm the server's caches once
                _timed(browser, url, ready)
            for _ in range(args.repeat):
                for name, (url, ready) in pages.items():
                    seconds, breakdown = _timed(browser, url, ready)
                    times[name].append(seconds)
                    marks[name].append(breakdown)
            browser.close()
        base_median = statistics.median(times["baseline_login"])
        for name, values in times.items():
            median = statistics.median(values)
            # medians of the in-page breakdown: HTML first byte, DOMContentLoaded, data drawn
            parts = {f"{key}_median_s": round(statistics.median(found), 3)
                     for key in ("ttfb", "dcl", "ready")
                     if (found := [m[key] for m in marks[name] if key in m])}
            print(json.dumps({"figure": f"web_{name}", "median_s": round(median, 3),
                              "max_s": round(max(values), 3), "runs": len(values),
                              "ratio_to_baseline": round(median / base_median, 2), **parts,
                              **({"target": "< 1 s"} if name != "baseline_login" else {}),
                              **({"station": station} if name.startswith("station") else {})}))
        print(json.dumps({"figure": "web_server_rss", "mib": round(_rss_mib(server.pid), 1),
                          "target": "< 1024 MiB"}))
        # the machine may be shared: the figures above mean little without it
        print(json.dumps({"figure": "load_average", "1_5_15_min": os.getloadavg()}))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
