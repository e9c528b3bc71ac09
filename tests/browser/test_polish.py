"""Issue 5 in a real browser over the demo: the Russian country table fits its box (and scrolls
inside it on a phone), licence codes never break at their hyphens, the legend's numbered circle is
drawn as the map draws one, and a signed-in reader's own country's alerts lead the list."""

from __future__ import annotations

import pytest

from browser.conftest import check_accessibility, sign_in

PHONE, DESKTOP = (390, 844), (1280, 860)


def _home(page, base_url: str, lang: str, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{base_url}/?lang={lang}")
    page.wait_for_selector('#home-map[data-ready="true"]', state="attached", timeout=60_000)
    # below the first screen the tables are laid out when scrolled near (content-visibility)
    page.locator(".by-country").scroll_into_view_if_needed()


def _country_table(page) -> dict:
    return page.evaluate("""() => {
        const wrap = document.querySelector('.by-country .table-wrap');
        const table = wrap.querySelector('table.country-table');
        const section = wrap.closest('section').getBoundingClientRect();
        const box = wrap.getBoundingClientRect();
        return {table: table.scrollWidth, wrap: wrap.clientWidth, wrapLeft: box.left,
                wrapRight: box.right, sectionLeft: section.left, sectionRight: section.right,
                overflow: getComputedStyle(wrap).overflowX,
                columns: table.querySelectorAll('thead th').length};
    }""")


@pytest.mark.parametrize("lang", ["ru", "en", "zh"])
def test_country_table_fits_its_box(page, demo_site, lang):
    _home(page, demo_site.url, lang, DESKTOP)
    box = _country_table(page)
    assert box["columns"] >= 6
    assert box["table"] <= box["wrap"], box  # every column shown, no scrolling needed
    # on a phone the table may be wider than the screen: it scrolls inside its box, which
    # stays within the section
    _home(page, demo_site.url, lang, PHONE)
    box = _country_table(page)
    assert box["wrapLeft"] >= box["sectionLeft"] - 1 and box["wrapRight"] <= box["sectionRight"] + 1
    assert box["wrapRight"] <= PHONE[0]
    assert box["table"] <= box["wrap"] or box["overflow"] in ("auto", "scroll"), box


def _broken_codes(page) -> list[str]:
    """Licence codes and codes in table cells laid out on more than one line."""
    return page.evaluate("""() => [...document.querySelectorAll('.licence, td > code')]
        .filter(el => el.getClientRects().length > 1).map(el => el.textContent)""")


@pytest.mark.parametrize("size", [DESKTOP, PHONE])
def test_licence_codes_stay_whole(page, demo_site, size):
    for lang in ("ru", "en"):
        _home(page, demo_site.url, lang, size)
        page.evaluate("""() => document.querySelectorAll('section.domain')
            .forEach(s => s.style.contentVisibility = 'visible')""")
        codes = page.evaluate("() => document.querySelectorAll('td > code').length")
        assert codes > 5 and _broken_codes(page) == []
        page.goto(f"{demo_site.url}/datasets?lang={lang}")
        assert page.locator(".licence").count() > 5 and _broken_codes(page) == []


def test_legend_draws_the_numbered_circle_as_the_map_does(page, demo_site):
    _home(page, demo_site.url, "en", DESKTOP)
    colours = page.evaluate("""() => {
        const probe = document.createElement('span');
        probe.style.color = getComputedStyle(document.documentElement)
            .getPropertyValue('--eb-map-cluster').trim();
        document.body.appendChild(probe);
        const cluster = getComputedStyle(probe).color;
        probe.remove();
        const swatch = getComputedStyle(document.querySelector('.eb-swatch-cluster'));
        const marker = document.querySelector('#home-map .eb-cluster');
        return {cluster, swatch: swatch.backgroundColor, swatchText: swatch.color,
                count: marker && getComputedStyle(marker).color};
    }""")
    assert colours["swatch"] == colours["cluster"]
    assert colours["swatchText"] == colours["count"] == "rgb(255, 255, 255)"
    legend = page.locator('.eb-map-legend li[data-legend="cluster"]')
    assert "numbered circle" in legend.inner_text()
    check_accessibility(page)


def test_own_countrys_alerts_lead_the_list(page, demo_site):
    sign_in(page, demo_site.url, "demo-chn-air-agency.viewer")
    page.goto(f"{demo_site.url}/alerts?lang=en")
    rows = page.evaluate("""() => [...document.querySelectorAll('table.alerts tbody tr')]
        .map(tr => ({own: tr.hasAttribute('data-own-country'),
                     dataset: tr.querySelector('td.dataset a').getAttribute('href'),
                     id: Number(tr.id.replace('alert-', ''))}))""")
    own = [r for r in rows if r["own"]]
    assert own and rows[:len(own)] == own  # the own country's first, then the rest
    assert {r["dataset"] for r in own} == {"/datasets/demo-air-chn"}
    rest = rows[len(own):]
    assert rest and all(r["dataset"] != "/datasets/demo-air-chn" for r in rest)
    for group in (own, rest):  # each newest first, as before
        assert [r["id"] for r in group] == sorted((r["id"] for r in group), reverse=True)
    assert page.get_by_text("Alerts on data shared from China").is_visible()
    check_accessibility(page)


@pytest.mark.parametrize("lang", ["ru", "en", "zh"])
def test_the_header_fits_a_phone(page, demo_site, lang):
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    for path in ("/", "/datasets", "/alerts"):
        page.goto(f"{demo_site.url}{path}?lang={lang}")
        widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
            screen: window.innerWidth,
            right: Math.max(...[...document.querySelectorAll(
                'header.site nav a, header.site nav button')]
                .map(el => el.getBoundingClientRect().right))})""")
        assert widths["page"] <= widths["screen"] and widths["right"] <= widths["screen"], \
            (path, widths)
