"""The OGC API HTML pages in a real browser over the demo: the items map draws the page's own
features, each page passes axe, and a browser's Accept header gets HTML."""

from __future__ import annotations

import pytest

from browser.conftest import check_accessibility


@pytest.mark.parametrize("collection", ["sites", "areas", "occurrences"])
def test_items_page_draws_its_features_and_is_accessible(page, demo_site, collection):
    page.goto(f"{demo_site.url}/ogcapi/collections/{collection}/items?limit=20&lang=en")
    assert page.locator("html").get_attribute("lang") == "en"  # HTML for a browser, no f=
    page.wait_for_selector("#items-map[data-ready='true']")
    rows = page.locator("main table tbody tr").count()
    assert rows == int(page.locator("[data-count='returned']").inner_text())
    check_accessibility(page)


@pytest.mark.parametrize("path", ["/ogcapi", "/ogcapi/collections", "/ogcapi/conformance",
                                  "/ogcapi/collections/areas/queryables"])
def test_pages_are_accessible(page, demo_site, path):
    page.goto(f"{demo_site.url}{path}?lang=zh")
    assert page.locator("html").get_attribute("lang") == "zh"
    check_accessibility(page)


def test_next_link_and_filter_form(page, demo_site):
    page.goto(f"{demo_site.url}/ogcapi/collections/sites/items?limit=5&lang=en")
    first = page.locator("main table tbody th a").first.inner_text()
    page.get_by_role("link", name="Next page").click()
    page.wait_for_load_state()
    assert page.locator("main table tbody th a").first.inner_text() != first
    page.get_by_label("Features per page").fill("3")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert page.locator("main table tbody tr").count() == 3
