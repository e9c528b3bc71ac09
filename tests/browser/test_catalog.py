"""The catalogue in a real browser over the demo: search and filter live (htmx), open a dataset,
download its stations as CSV through the page's link, open an area page with its map; each page
checked with axe-core."""

from __future__ import annotations

import csv
import io
import re

from browser.conftest import check_accessibility, sign_in


def _cards(page) -> list[str]:
    return page.locator("li.dataset-card").evaluate_all("els => els.map(e => e.dataset.slug)")


def test_search_and_filter_the_catalogue(page, demo_site):
    page.goto(f"{demo_site.url}/datasets?lang=en")
    everything = _cards(page)
    assert "demo-glaciers-wgms" in everything and len(everything) >= 5
    check_accessibility(page)
    # typing filters live: htmx swaps the results and puts the query in the address bar
    page.get_by_label("Search").fill("glacier")
    page.wait_for_url(re.compile(r"/datasets\?q=glacier"))
    page.wait_for_function("document.querySelectorAll('li.dataset-card').length === 1")
    assert _cards(page) == ["demo-glaciers-wgms"]
    page.get_by_label("Search").fill("")
    page.wait_for_function(
        f"document.querySelectorAll('li.dataset-card').length === {len(everything)}")
    page.get_by_label("Domain").select_option("energy")
    page.wait_for_url(re.compile(r"domain=energy"))
    page.wait_for_function("document.querySelectorAll('li.dataset-card').length === 2")
    assert all(slug.startswith("demo-energy-") for slug in _cards(page))
    # the address is a real page: reloading it shows the same results without htmx
    page.reload()
    assert all(slug.startswith("demo-energy-") for slug in _cards(page))


def test_search_in_chinese_finds_the_chinese_title(page, demo_site):
    page.goto(f"{demo_site.url}/datasets?lang=zh")
    page.get_by_label("搜索").fill("冰川")
    page.wait_for_function("document.querySelectorAll('li.dataset-card').length === 1")
    title = page.locator("li.dataset-card h2").inner_text()
    assert "冰川" in title
    check_accessibility(page)


def test_open_a_dataset_and_download_its_stations_as_csv(page, demo_site):
    page.goto(f"{demo_site.url}/datasets?lang=en&q=glacier")
    page.locator("li.dataset-card h2 a").click()
    page.wait_for_url(re.compile(r"/datasets/demo-glaciers-wgms$"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Glacier mass balance")
    assert page.locator("#stations tbody tr").count() == 69
    page.wait_for_selector("#dataset-map[data-ready='true']")
    check_accessibility(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="Stations · CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert len(rows) == 69 and {r["dataset"] for r in rows} == {"demo-glaciers-wgms"}
    first_station = page.locator("#stations tbody th a").first.inner_text()
    assert first_station in {r["name"] for r in rows}
    assert all(r["longitude"] and r["latitude"] for r in rows)


def test_download_observations_of_one_datastream(page, demo_site):
    page.goto(f"{demo_site.url}/datasets/demo-glaciers-wgms?lang=en")
    with page.expect_download() as info:
        page.locator("#stations ul.streams a", has_text="CSV").first.click()
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith('"id","phenomenon_time"') or lines[0].startswith("id,")
    assert len(lines) > 1


def test_open_an_area_page_with_its_map_and_sites(page, demo_site):
    page.goto(f"{demo_site.url}/areas?lang=en&q=Kazakhstan")
    page.get_by_role("link", name="Kazakhstan").click()
    page.wait_for_url(re.compile(r"/areas/\d+$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Kazakhstan"
    page.wait_for_selector("#area-map[data-ready='true']")
    sites = page.locator("#sites li")
    assert sites.count() >= 1
    assert page.locator("ul.area-datasets a", has_text="Glacier mass balance").count() == 1
    check_accessibility(page)
    sites.first.locator("a").click()
    page.wait_for_url(re.compile(r"/stations/\d+"))


def test_protected_area_page_for_a_park_member(page, demo_site):
    sign_in(page, demo_site.url, "demo-cn-tiger-leopard-park.viewer")
    page.goto(f"{demo_site.url}/areas?lang=en&kind=protected_area")
    page.get_by_role("link", name="Land of the Leopard National Park").click()
    assert page.get_by_role("note").inner_text().startswith("The outline of this area is "
                                                            "approximate")
    page.wait_for_selector("#area-map[data-ready='true']")
    assert page.locator("#deployments tbody tr").count() >= 1
    assert page.locator("#species tbody tr", has_text="Panthera pardus orientalis").count() == 1
    check_accessibility(page)


def test_hidden_dataset_is_a_not_found_page(page, demo_site):
    response = page.goto(f"{demo_site.url}/datasets/demo-camtrap-ru-lotl?lang=en")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
