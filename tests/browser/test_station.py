"""The station page in Chromium over the demo: the chart draws two years of hourly PM2.5 with the
national and WHO lines, another variable can be chosen, zooming loads a finer series, the page
switches language, and the CSV link downloads the datastream."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from browser.conftest import ARTIFACTS, check_accessibility

pytestmark = pytest.mark.slow
READY = '#station-chart[data-ready="true"]'


def _station(base: str, code: str) -> tuple[int, dict[str, dict]]:
    things = httpx.get(f"{base}/api/v1/things", params={"dataset": "demo-air-chn"}).json()
    thing = next(t for t in things["items"] if t["code"] == code)
    streams = httpx.get(f"{base}/api/v1/things/{thing['id']}/datastreams").json()["items"]
    return thing["id"], {s["observed_property"]["code"]: s for s in streams}


def _chart(page) -> dict:
    """What ECharts holds: points drawn and the limit lines."""
    return page.evaluate("""() => {
        const chart = echarts.getInstanceByDom(document.getElementById('station-chart'));
        const series = chart.getOption().series[0];
        return {points: series.data.filter(p => p[1] !== '-').length,
                lines: (series.markLine.data || []).map(l => l.yAxis),
                first: series.data[0][0], last: series.data[series.data.length - 1][0]};
    }""")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"station-{name}.png"), full_page=True)


def test_station_chart_variables_zoom_language_download(demo_site, page):
    base = demo_site.url
    thing_id, streams = _station(base, "CHN-BEIJ-01")
    page.goto(f"{base}/stations/{thing_id}?lang=en")
    page.wait_for_selector(READY)
    assert page.locator("h1").inner_text() == "Beijing Dongsi"

    # the overview: two years of hourly values in buckets, with the lines listed on the page
    drawn = _chart(page)
    assert drawn["points"] > 500
    pm25 = streams["pm25"]
    limits = page.locator(f'[data-limits-for="{pm25["id"]}"] [data-mode="hourly"] [data-limit]')
    listed = [float(v) for v in limits.evaluate_all("els => els.map(e => e.dataset.value)")]
    kinds = limits.evaluate_all("els => els.map(e => e.dataset.limit)")
    assert kinds == ["national", "who"] and sorted(drawn["lines"]) == sorted(listed)
    assert page.locator(f'[data-limits-for="{pm25["id"]}"]').is_visible()
    check_accessibility(page)
    _shot(page, "overview")

    # another variable: its own series and its own lines
    no2 = streams["no2"]
    with page.expect_response(re.compile(rf"/api/v1/datastreams/{no2['id']}/series")):
        page.get_by_label("Variable").select_option(str(no2["id"]))
    page.wait_for_selector(f'#station-chart[data-stream="{no2["id"]}"][data-ready="true"]')
    assert page.locator(f'[data-limits-for="{no2["id"]}"]').is_visible()
    assert not page.locator(f'[data-limits-for="{pm25["id"]}"]').is_visible()
    no2_list = page.locator(f'[data-limits-for="{no2["id"]}"] [data-mode="hourly"] [data-limit]')
    no2_lines = no2_list.evaluate_all("els => els.map(e => Number(e.dataset.value))")
    assert sorted(_chart(page)["lines"]) == sorted(no2_lines)

    # zooming with the mouse wheel fetches a finer series for the window shown
    overview = page.evaluate("Number(document.getElementById('station-chart').dataset.fetches)")
    page.locator("#station-chart").scroll_into_view_if_needed()
    box = page.locator("#station-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.45)
    zooms = []
    page.on("response", lambda r: zooms.append(r) if f"/datastreams/{no2['id']}/series" in r.url
            and "start=" in r.url else None)
    for _ in range(12):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(60)
    page.wait_for_timeout(800)  # the chart waits for the wheel to rest before it asks
    page.wait_for_selector('#station-chart[data-window][data-ready="true"]')
    assert zooms, "zooming fetched nothing"
    detail = zooms[-1].json()
    fetches = page.evaluate("Number(document.getElementById('station-chart').dataset.fetches)")
    assert fetches > overview
    whole = httpx.get(f"{base}/api/v1/datastreams/{no2['id']}/series",
                      params={"points": 1000}).json()
    assert detail["bucket_seconds"] < whole["bucket_seconds"]
    assert detail["start"] > whole["start"] and detail["end"] < whole["end"]
    shown = page.evaluate("document.getElementById('station-chart').dataset.window")
    assert shown.split("/")[0][:16] == detail["start"][:16]
    _shot(page, "zoomed")

    # the zoom buttons work from the keyboard, and they too fetch a finer window
    before = detail["bucket_seconds"]
    with page.expect_response(lambda r: "/series" in r.url and "start=" in r.url) as keyed:
        page.get_by_role("button", name="Zoom in").focus()
        page.keyboard.press("Enter")
    assert keyed.value.json()["bucket_seconds"] <= before
    page.wait_for_selector(READY)

    # daily means, to set against the 24-hour limits
    with page.expect_response(lambda r: "/series" in r.url and "interval=86400" in r.url) as days:
        page.get_by_label("Daily means (for the 24-hour limits)").check()
    page.wait_for_selector(READY)
    assert days.value.json()["bucket_seconds"] == 86400
    assert "Means per day" in page.locator("#chart-status").inner_text()
    assert _chart(page)["points"] > 600  # two years of days, a few dropped as incomplete
    daily_lines = page.evaluate("""(id) => JSON.parse(document.getElementById('station-config')
        .textContent).streams.find(s => s.id === id).daily_limits.map(l => l.value)""", no2["id"])
    assert daily_lines and sorted(_chart(page)["lines"]) == sorted(daily_lines)
    assert sorted(daily_lines) != sorted(no2_lines)  # NO2: 24-h limits, not the 1-h one
    listed_daily = page.locator(f'[data-limits-for="{no2["id"]}"] [data-mode="daily"] [data-limit]')
    assert listed_daily.first.is_visible()
    assert sorted(listed_daily.evaluate_all("els => els.map(e => Number(e.dataset.value))")) == \
        sorted(daily_lines)
    _shot(page, "daily")
    with page.expect_response(lambda r: "/series" in r.url and "interval" not in r.url):
        page.get_by_label("Daily means (for the 24-hour limits)").uncheck()
    page.wait_for_selector(READY)

    # the last 7 days: one value per hour
    with page.expect_response(lambda r: "/series" in r.url and "start=" in r.url) as week:
        page.get_by_label("7 days").check()
    page.wait_for_selector(READY)
    assert week.value.json()["observations"] <= 7 * 24
    assert "Every observation is shown" in page.locator("#chart-status").inner_text()

    # another language: the same chart, the page's own text in Chinese
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(re.compile(r"lang=zh"))
    page.wait_for_selector(READY)
    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.locator("#chart-heading").inner_text() == "时间序列"
    check_accessibility(page)
    _shot(page, "zh")

    # the CSV link downloads the whole datastream
    with page.expect_download() as download:
        page.locator(f'#stream-{pm25["id"]} a[data-download="csv"]').click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == pm25["observation_count"]
    assert rows[-1]["phenomenon_time"].startswith(pm25["last_phenomenon_time"][:13])


def test_hidden_station_is_not_found(demo_site, page):
    base = demo_site.url
    private = demo_site.store.scalar(
        "SELECT t.id FROM things t JOIN datasets d ON d.id = t.dataset_id"
        " WHERE d.visibility <> 'public' ORDER BY t.id LIMIT 1")
    if private is None:
        pytest.skip("the demo has no station outside public datasets")
    response = page.goto(f"{base}/stations/{private}?lang=ru")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Станция не найдена"
    check_accessibility(page)
