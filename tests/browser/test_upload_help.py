"""The upload page in a real browser over the demo: its help follows the chosen dataset (a
camera-trap dataset takes a Camtrap DP package, an areas dataset polygons, an air dataset
observations), in Chinese and Russian, and the page passes axe-core."""

from __future__ import annotations

import pytest
from web.i18n_check import assert_translated

from browser.conftest import check_accessibility, sign_in

ADMIN = "platform.admin"  # may publish to every demo dataset


def _shown(page) -> list[str]:
    return page.eval_on_selector_all(
        "#takes-help [data-takes]", "ps => ps.filter(p => !p.hidden).map(p => p.dataset.takes)")


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_the_upload_help_follows_the_chosen_dataset(page, demo_site, lang):
    sign_in(page, demo_site.url, ADMIN)
    page.goto(f"{demo_site.url}/upload?lang={lang}&dataset=demo-air-chn")
    assert _shown(page) == ["observations"]
    assert_translated(page.content(), f"/upload in {lang}")
    check_accessibility(page)
    select = page.locator("select[name=dataset]")
    for slug, takes in (("demo-camtrap-cn-nctlnp", "camtrap"),
                        ("demo-protected-areas", "areas"), ("demo-air-chn", "observations")):
        select.select_option(slug)
        assert _shown(page) == [takes]
        assert page.locator(f'#takes-help [data-takes="{takes}"]').is_visible()
    select.select_option("demo-camtrap-cn-nctlnp")
    assert "Camtrap DP" in page.locator('#takes-help [data-takes="camtrap"]').inner_text()
