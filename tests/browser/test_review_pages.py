"""What the review of the running demo found, with a reader's eyes, in a real browser: pages in
Chinese and Russian that still showed English paragraphs and property names, alert times and
thresholds without their time zone and unit, and an organisation page that named organisations
by their slugs and said nothing when nobody had asked for access."""

from __future__ import annotations

import re

import pytest
from web.i18n_check import assert_translated

from browser.conftest import check_accessibility, sign_in

SCRIPT = {"zh": re.compile(r"[\u4e00-\u9fff]"), "ru": re.compile(r"[\u0400-\u04ff]")}
# The reader's names of the air dataset's gases, as the station page names them.
GASES = {"zh": {"二氧化氮", "二氧化硫", "臭氧", "一氧化碳"},
         "ru": {"Диоксид азота", "Диоксид серы", "Озон", "Оксид углерода"}}


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_catalogue_describes_every_dataset_in_the_reader_language(page, demo_site, lang):
    page.goto(f"{demo_site.url}/datasets?lang={lang}")
    cards = page.locator("li.dataset-card")
    assert cards.count() >= 10
    for i in range(cards.count()):
        card = cards.nth(i)
        slug = card.get_attribute("data-slug")
        description = card.locator("p.description")
        assert description.count() == 1, f"{slug}: no description"
        assert SCRIPT[lang].search(description.inner_text()), \
            f"{slug}: description not in {lang}: {description.inner_text()[:80]}"
    assert_translated(page.content(), f"/datasets?lang={lang}")


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_dataset_page_names_the_properties_in_the_reader_language(page, demo_site, lang):
    page.goto(f"{demo_site.url}/datasets/demo-air-chn?lang={lang}")
    names = set(page.locator("#props-heading + .table-wrap tbody th").all_inner_texts())
    assert GASES[lang] <= names, names
    assert "Nitrogen dioxide" not in page.locator("main").inner_text()
    assert SCRIPT[lang].search(page.locator("p.lead").inner_text())
    streams = page.locator("table.stations ul.streams li").all_inner_texts()
    assert any(text.startswith(tuple(GASES[lang])) for text in streams), streams[:3]
    assert_translated(page.content(), f"/datasets/demo-air-chn?lang={lang}")
    check_accessibility(page)


def test_alert_times_name_their_zone_and_thresholds_their_unit(page, demo_site):
    page.goto(f"{demo_site.url}/alerts?lang=en")
    headings = page.locator("table.alerts thead th").all_inner_texts()
    assert "Since (UTC)" in headings, headings
    assert "Period (UTC)" in page.locator("table.incidents thead th").all_inner_texts()
    times = page.locator("table.alerts tbody time[datetime]")
    assert times.count() > 0
    assert re.search(r"(\+00:00|Z)$", times.first.get_attribute("datetime"))
    peaks = page.locator("table.alerts tbody td.num").evaluate_all("""cells => cells
        .filter(c => c.querySelector('div.muted'))
        .map(c => [c.firstElementChild.textContent.trim(),
                   c.querySelector('div.muted span').textContent.trim()])""")
    assert peaks, "no alert with a threshold in the demo"
    for peak, threshold in peaks:
        unit = peak.split(" ", 1)[1]
        assert threshold.endswith(" " + unit), (peak, threshold)
    check_accessibility(page)


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_alerts_page_is_translated(page, demo_site, lang):
    page.goto(f"{demo_site.url}/alerts?lang={lang}")
    assert_translated(page.content(), f"/alerts?lang={lang}")


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_organisation_page_names_organisations_and_says_when_nobody_asked(page, demo_site,
                                                                          lang):
    sign_in(page, demo_site.url, "demo-cn-tiger-leopard-park.admin")
    page.goto(f"{demo_site.url}/org?lang={lang}")
    article = page.locator("#dataset-demo-camtrap-cn-nctlnp")
    grantee = article.locator("table.grants tbody th").first.inner_text()
    # the Russian park by its name (in the reader's language), its slug only as a small aside
    names = {"en": "Land of the Leopard", "zh": "豹地国家公园", "ru": "Земля леопарда"}
    assert names[lang] in grantee, grantee
    owner = article.locator("dl.policy div", has_text=re.compile("Owner|所有者|Владелец"))
    assert "demo-cn-tiger-leopard-park" not in owner.inner_text()
    if page.locator("table.requests").count() == 0:
        assert page.locator("#no-requests-to-decide").is_visible()
    if lang != "en":
        assert_translated(page.content(), f"/org?lang={lang}")
    check_accessibility(page)


@pytest.mark.parametrize(("collection", "lang"), [("sites", "en"), ("areas", "zh"),
                                                  ("sites", "ru")])
def test_an_ogc_feature_page_leads_to_the_same_thing_on_the_site(page, demo_site, collection,
                                                                 lang):
    page.goto(f"{demo_site.url}/ogcapi/collections/{collection}/items?f=html&limit=3&lang={lang}")
    page.locator("table tbody th a").first.click()
    name = page.locator("dt:text-is('name') + dd").inner_text()
    dataset = page.locator("dt:text-is('dataset') + dd").inner_text()
    if lang != "en":
        assert_translated(page.content(), f"{collection} feature ({lang})")
    check_accessibility(page)
    links = page.locator("p.links a")
    assert links.count() == 2
    feature = page.url.split("?")[0].rsplit("/", 1)[1]
    links.first.click()
    page_of = {"sites": "stations", "areas": "areas"}[collection]
    assert page.url.split("?")[0].endswith(f"/{page_of}/{feature}")
    if collection == "sites":  # station names are data, the same in every language
        assert page.locator("h1").inner_text() == name
    page.go_back()
    links.last.click()
    assert page.url.split("?")[0].endswith(f"/datasets/{dataset}")


@pytest.mark.parametrize(("dataset", "daily"), [("demo-air-chn", True),
                                                ("demo-glaciers-wgms", False),
                                                ("demo-energy-gwadar-wind", False)])
def test_daily_means_are_offered_only_where_daily_limits_exist(page, demo_site, dataset, daily):
    page.goto(f"{demo_site.url}/datasets/{dataset}?lang=en")
    page.locator("table.stations tbody th a").first.click()
    page.wait_for_selector("#station-chart[data-ready='true']")
    assert page.locator("#chart-daily").count() == (1 if daily else 0)
    if daily:  # the chart still switches to daily means where it is offered
        page.locator("#chart-daily").check()
        page.wait_for_selector("#station-chart[data-ready='true']")


def test_a_glacier_page_names_the_country_it_lies_in(page, demo_site):
    """Khakel lies in the Caucasus: Russia, not Kyrgyzstan where the glacier centre sits."""
    page.goto(f"{demo_site.url}/datasets/demo-glaciers-wgms?lang=ru")
    page.locator("table.stations tbody th a", has_text="Khakel").click()
    country = page.locator("dt", has_text="Страна").locator("xpath=following-sibling::dd")
    assert country.locator("abbr.country").inner_text() == "RUS"
    assert "Россия" in country.inner_text()
