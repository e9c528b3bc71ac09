"""The alerts page over the demo shows first what needs attention: the open alerts, with every
status one choice away; datasets named by their titles; and a signed-in reader's header on one
line at 1280 px, the username cut short on screen but whole for screen readers."""

from __future__ import annotations

import re

import pytest
from web.i18n_check import assert_translated

from browser.conftest import check_accessibility, sign_in

ADMIN = "demo-chn-air-agency.admin"


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_signed_in_header_stays_on_one_line(page, demo_site, lang):
    sign_in(page, demo_site.url, ADMIN)
    page.goto(f"{demo_site.url}/alerts?lang={lang}")
    assert page.viewport_size["width"] == 1280
    box = page.evaluate("""() => {
        const parts = [...document.querySelectorAll('header.site > *')]
            .map(el => el.getBoundingClientRect());
        const link = document.querySelector('header.site nav a').getBoundingClientRect();
        const who = document.querySelector('header.site .sign-out .who');
        return {top: Math.min(...parts.map(r => r.top)),
                bottom: Math.max(...parts.map(r => r.bottom)), line: link.height,
                cut: who.scrollWidth > who.clientWidth};
    }""")
    # brand, main nav and languages side by side: no taller than one line of the brand's size
    assert box["bottom"] - box["top"] < 1.6 * box["line"], box
    assert box["cut"], "the username fits: the test no longer shows the cut"
    # the whole name is in the button's accessible name (Chromium puts spaces around the
    # cut inline block) and in the title of its text
    button = page.get_by_role("button", name=re.compile(r"\(\s*" + re.escape(ADMIN) + r"\s*\)$"))
    assert button.count() == 1 and button.is_visible()
    assert button.locator(".who").get_attribute("title") == ADMIN
    if lang != "en":
        assert_translated(page.content(), f"/alerts signed in, {lang}")
    check_accessibility(page)


def test_the_page_opens_on_open_alerts_and_lists_all_on_request(page, demo_site):
    page.goto(f"{demo_site.url}/alerts?lang=en")
    statuses = page.locator("table.alerts tbody td.alert-status").evaluate_all(
        "cells => cells.map(c => c.dataset.status)")
    assert statuses and set(statuses) == {"open"}, set(statuses)
    assert page.locator("form.filters select[name=status]").input_value() == "open"
    # datasets by title, the slug only in the link
    link = page.locator("table.alerts tbody td.dataset a").first
    slug = link.get_attribute("href").removeprefix("/datasets/")
    title = demo_site.store.scalar("SELECT title FROM datasets WHERE slug = ?", [slug])
    assert slug and link.inner_text() != slug and link.inner_text() in title
    page.locator("form.filters select[name=status]").select_option("all")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=all"))
    assert page.locator("form.filters select[name=status]").input_value() == "all"
    statuses = set(page.locator("table.alerts tbody td.alert-status").evaluate_all(
        "cells => cells.map(c => c.dataset.status)"))
    assert "resolved" in statuses, statuses
    # a silent station's alert names no observed property
    silent = page.locator("table.alerts tbody th[scope=row] .muted",
                          has_text="Station silent")
    assert silent.count() > 0
    assert not [t for t in silent.all_inner_texts() if "PM2.5" in t]
    check_accessibility(page)


def test_map_markers_keep_the_map_style_on_the_alerts_page(page, demo_site):
    """The page's button style (solid green) must not reach the map's marker buttons, which lie
    transparent over their circles (it once drew green pills over the clusters)."""
    page.goto(f"{demo_site.url}/alerts?lang=en&status=all")
    page.wait_for_selector(".maplibregl-map[data-ready='true']", timeout=30_000)
    markers = page.locator(".maplibregl-map .eb-marker.eb-cluster, .maplibregl-map .eb-site")
    assert markers.count() > 0
    backgrounds = set(markers.evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)"))
    assert backgrounds == {"rgba(0, 0, 0, 0)"}, backgrounds
    # the page's own buttons keep theirs
    filter_button = page.get_by_role("button", name="Filter")
    assert filter_button.evaluate("e => getComputedStyle(e).backgroundColor") != \
        "rgba(0, 0, 0, 0)"
