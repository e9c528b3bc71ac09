"""The catalogue, dataset and area pages: search in every language, filters, paging, htmx
fragments, nothing hidden (a hidden dataset's page is the 404 page), generalised positions on
sensitive pages, an area page listing the sites inside it, and no English left in zh and ru."""

from __future__ import annotations

import re

import pytest
from api.areas_data import GENERALISED_TIGER, add_areas  # tests/ is on sys.path
from api.data import SENSITIVE_POINT, build
from fastapi.testclient import TestClient
from governance.world import PRINCIPALS, VISIBLE, build_world

from ecobridge.api.app import create_app
from ecobridge.catalog.service import create_dataset
from ecobridge.config import Settings
from ecobridge.governance import accounts, tokens
from ecobridge.store import open_store
from web.i18n_check import assert_translated


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One world for the module: tests add only users and access requests, named per test."""
    settings = Settings(home=tmp_path_factory.mktemp("home"), memory_limit="1GB", threads=2)
    store = open_store(settings)
    world = build(store)
    areas = add_areas(store, world)
    with TestClient(create_app(settings, store=store)) as client:
        yield client, world, areas, store
    store.close()


def _position(lon_lat: tuple[float, float]) -> str:
    """A point (north-east, as the fixtures' are) as the pages print it, with hemispheres."""
    lon, lat = lon_lat
    return f"{lat:.4f}°\u00a0N, {lon:.4f}°\u00a0E"


@pytest.fixture
def site(shared):
    return shared[:3]


@pytest.fixture
def shared_store(shared):
    return shared[3]


def _member(store, org_id: int, name: str) -> dict:
    accounts.create_user(store, username=name)
    accounts.set_membership(store, user=name, org=org_id, role="viewer")
    return {"Authorization": f"Bearer {tokens.create_token(store, user=name)['token']}"}


def _slugs(html: str) -> list[str]:
    return re.findall(r'<li class="dataset-card" id="dataset-([a-z0-9-]+)"', html)


# -- catalogue ---------------------------------------------------------------------------------
def test_catalogue_lists_visible_datasets_with_links_and_json_twin(site):
    client, _, _ = site
    response = client.get("/datasets", params={"lang": "en"})
    assert response.status_code == 200
    html = response.text
    assert _slugs(html) == ["kz-air", "test-areas", "ru-tigers"]
    assert 'href="/datasets/kz-air"' in html and "Almaty air quality" in html
    assert "Datasets found: 3" in html
    assert "HIDDEN" not in html and "kz-secret" not in html and "ru-embargo" not in html
    assert response.headers["link"].startswith("</api/v1/datasets?lang=en>")


@pytest.mark.parametrize(("query", "found"), [
    ("阿拉木图", ["kz-air"]), ("качество воздуха", ["kz-air"]), ("almaty AIR", ["kz-air"]),
    ("tiger", ["ru-tigers"]), ("Kazhydromet", ["kz-air", "test-areas"]), ("территории",
                                                                          ["test-areas"]),
    ("HIDDEN", []), ("100%", []), ("air_", []),
])
def test_search_finds_titles_in_every_language(site, query, found):
    client, _, _ = site
    html = client.get("/datasets", params={"q": query}).text
    assert _slugs(html) == found
    if not found:
        assert "No dataset matches." in html


@pytest.mark.parametrize(("filters", "found"), [
    ({"domain": "wildlife"}, ["ru-tigers"]), ({"country": "kaz"}, ["kz-air", "test-areas"]),
    ({"owner": "ru-park"}, ["ru-tigers"]), ({"licence": "CC0-1.0"}, ["test-areas"]),
    ({"visibility": "public", "domain": "air"}, ["kz-air"]), ({"visibility": "private"}, []),
])
def test_filters_narrow_the_catalogue(site, filters, found):
    client, _, _ = site
    assert _slugs(client.get("/datasets", params=filters).text) == found


def test_filter_choices_count_visible_datasets_only(site):
    client, _, _ = site
    html = client.get("/datasets", params={"lang": "en"}).text
    select = re.search(r'<select id="filter-visibility".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', select) == ["public"]
    domains = re.search(r'<select id="filter-domain".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', domains) == ["air", "areas", "wildlife"]


def test_htmx_gets_the_results_fragment_and_paging_works(settings, store):
    world = build(store)
    for i in range(25):
        create_dataset(store, slug=f"extra-{i:02d}", owner=world.org_ids["kz"], domain="water",
                       title=f"Extra river {i:02d}", licence="CC-BY-4.0")
    with TestClient(create_app(settings, store=store)) as client:
        _check_paging(client)


def _check_paging(client) -> None:
    fragment = client.get("/datasets", params={"domain": "water"}, headers={"HX-Request": "true"})
    assert not fragment.text.lstrip().startswith("<!doctype")
    assert fragment.text.lstrip().startswith('<div id="results"')
    assert len(_slugs(fragment.text)) == 20 and "page 1 of 2" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    second = client.get("/datasets", params={"domain": "water", "page": 2}).text
    assert _slugs(second) == [f"extra-{i:02d}" for i in range(20, 25)]
    assert 'href="/datasets?domain=water"' in second  # back to page 1, filters kept
    restore = client.get("/datasets", headers={"HX-Request": "true",
                                               "HX-History-Restore-Request": "true"})
    assert restore.text.lstrip().startswith("<!doctype")


def test_bad_query_values_are_refused(site):
    client, _, _ = site
    assert client.get("/datasets", params={"page": 0}).status_code == 422
    assert client.get("/datasets", params={"domain": "a b"}).status_code == 422


# -- the dataset page --------------------------------------------------------------------------
def test_dataset_page_shows_metadata_policy_stations_and_downloads(site):
    client, world, _ = site
    response = client.get("/datasets/kz-air", params={"lang": "en"})
    assert response.status_code == 200
    html = response.text
    assert "<h1 translate=\"no\">Almaty air quality</h1>" in html
    assert "Kazhydromet" in html and 'href="https://spdx.org/licenses/CC-BY-4.0.html"' in html
    assert 'data-visibility="public"' in html and "Everyone, without signing in." in html
    assert "2024-01-01" in html and "2024-01-03" in html  # 50 hourly values from T0
    for thing in ("almaty", "astana"):
        assert f'href="/stations/{world.things[thing]}"' in html
    for stream in ("almaty", "astana"):
        for fmt in ("csv", "parquet"):
            assert f"/api/v1/datastreams/{world.streams[stream]}/observations?f={fmt}" in html
    for href in ("/api/v1/things?dataset=kz-air&amp;f=csv",
                 "/api/v1/things?dataset=kz-air&amp;f=geojson",
                 "/api/v1/datastreams?dataset=kz-air&amp;f=csv"):
        assert href in html
    assert "dwca" not in html  # air data: no Darwin Core export
    assert response.headers["link"].startswith("</api/v1/datasets/kz-air?lang=en>")
    assert 'id="dataset-map"' in html
    assert 'data-map-sites="/api/v1/map/sites?dataset=kz-air&amp;lang=en"' in html


def test_every_download_link_on_the_page_answers(site):
    client, _, _ = site
    html = client.get("/datasets/kz-air").text
    links = set(re.findall(r'href="(/api/v1/[^"]+)"', html))
    assert len(links) >= 7
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link


def test_hidden_and_missing_datasets_are_the_same_404_page(site, shared_store):
    client, world, _ = site
    pages = [client.get(f"/datasets/{slug}", params={"lang": "en"})
             for slug in ("kz-secret", "ru-embargo", "no-such-thing", "Bad_Slug")]
    assert {p.status_code for p in pages} == {404}
    assert all("<h1>Not found</h1>" in p.text and "HIDDEN" not in p.text for p in pages)
    owner = _member(shared_store, world.org_ids["kz"], "kz-owner")
    mine = client.get("/datasets/kz-secret", headers=owner)
    assert mine.status_code == 200 and "Private HIDDEN air" in mine.text


def test_sensitive_dataset_page_shows_generalised_positions_only(site, shared_store):
    client, world, _ = site
    html = client.get("/datasets/ru-tigers", params={"lang": "en"}).text
    assert "Sensitive: locations are generalised." in html
    assert _position(GENERALISED_TIGER) in html
    for value in SENSITIVE_POINT:
        assert f"{value:.3f}" not in html
    owner = _member(shared_store, world.org_ids["ru"], "ru-owner")
    precise = client.get("/datasets/ru-tigers", headers=owner).text
    assert _position(SENSITIVE_POINT) in precise
    assert 'data-precise="true"' in precise and "access-request" not in precise


def test_outsider_can_ask_for_precise_positions(site, shared_store):
    client, world, _ = site
    kz = _member(shared_store, world.org_ids["kz"], "kz-analyst")
    html = client.get("/datasets/ru-tigers", headers=kz, params={"lang": "en"}).text
    assert 'action="/datasets/ru-tigers/access-request"' in html
    empty = client.post("/datasets/ru-tigers/access-request", headers=kz,
                        data={"purpose": "  "}, follow_redirects=False)
    assert empty.status_code == 422 and "Describe what you need" in empty.text
    sent = client.post("/datasets/ru-tigers/access-request", headers=kz,
                       data={"purpose": "Joint tiger census"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].endswith("?requested=1")
    row = shared_store.one("SELECT r.purpose, o.slug FROM access_requests r JOIN organisations o"
                    " ON o.id = r.org_id JOIN datasets d ON d.id = r.dataset_id"
                    " WHERE d.slug = 'ru-tigers'")
    assert row == ("Joint tiger census", "kz-hydromet")
    again = client.post("/datasets/ru-tigers/access-request", headers=kz,
                        data={"purpose": "Again"}, follow_redirects=False)
    assert again.status_code == 409
    # no form for a dataset whose positions are open, nor for anonymous readers
    assert "access-request" not in client.get("/datasets/kz-air", headers=kz).text
    assert 'action="/datasets/ru-tigers/access-request"' not in client.get(
        "/datasets/ru-tigers").text
    hidden = client.post("/datasets/kz-secret/access-request", data={"purpose": "x"},
                         follow_redirects=False)
    assert hidden.status_code == 404


# -- areas -------------------------------------------------------------------------------------
def test_areas_list_and_area_page_with_the_sites_inside(site):
    client, world, areas = site
    listing = client.get("/areas", params={"lang": "en"}).text
    assert f'href="/areas/{areas["steppe"]}"' in listing and "Steppe reserve" in listing
    assert "HIDDEN" not in listing
    page = client.get(f"/areas/{areas['steppe']}", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    assert "The outline of this area is approximate" in html
    assert f'id="site-{world.things["almaty"]}"' in html
    assert f'id="site-{world.things["astana"]}"' not in html and "HIDDEN" not in html
    assert 'href="/datasets/kz-air"' in html  # datasets involved
    assert "49" in re.search(r"Latest values.*?</table>", html, re.S).group(0)
    assert page.headers["link"].startswith(f"</api/v1/areas/{areas['steppe']}/contents")


def test_area_pages_hide_what_the_reader_may_not_see(site):
    client, _, areas = site
    for path in (f"/areas/{areas['secret-park']}", "/areas/424242", "/areas/abc"):
        response = client.get(path, params={"lang": "en"})
        assert response.status_code == 404 and "<h1>Not found</h1>" in response.text
    cell = client.get(f"/areas/{areas['tiger-cell']}").text
    assert _position(GENERALISED_TIGER) in cell
    assert f"{SENSITIVE_POINT[0]:.3f}" not in cell
    assert "Camera 7" not in client.get(f"/areas/{areas['tiger-precise']}").text


def test_areas_filter_by_kind(site):
    client, _, areas = site
    html = client.get("/areas", params={"kind": "protected_area", "q": "cell"}).text
    assert re.findall(r'<tr id="area-(\d+)"', html) == [str(areas["tiger-cell"])]


# -- languages ---------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_pages_are_translated(site, shared_store, lang):
    client, world, areas = site
    kz = _member(shared_store, world.org_ids["kz"], f"kz-reader-{lang}")
    paths = ["/datasets", "/datasets?q=zzzz", "/datasets/kz-air", "/datasets/ru-tigers",
             "/datasets/test-areas", "/areas", f"/areas/{areas['steppe']}",
             f"/areas/{areas['tiger-cell']}", "/datasets/kz-secret"]
    for path in paths:
        response = client.get(path, params={"lang": lang})
        assert f'<html lang="{lang}">' in response.text
        assert_translated(response.text, f"{path} in {lang}")
    form = client.get("/datasets/ru-tigers", params={"lang": lang}, headers=kz).text
    assert "access-request" in form
    assert_translated(form, f"access form in {lang}")


def test_titles_follow_the_readers_language(site):
    client, _, areas = site
    assert "阿拉木图空气质量" in client.get("/datasets", params={"lang": "zh"}).text
    assert "Качество воздуха Алматы" in client.get("/datasets/kz-air", params={"lang": "ru"}).text
    assert "草原保护区" in client.get(f"/areas/{areas['steppe']}", params={"lang": "zh"}).text


# -- the access matrix on the catalogue pages ---------------------------------------------------
def test_every_principal_sees_exactly_the_datasets_it_may(settings, store):
    world = build_world(store)
    with TestClient(create_app(settings, store=store)) as client:
        for principal in PRINCIPALS:
            headers = world.headers(principal)
            listed = set(_slugs(client.get("/datasets", headers=headers).text))
            expected = {ds["slug"] for policy, ds in world.datasets.items()
                        if principal in VISIBLE[policy]}
            assert listed == expected, principal
            for policy, ds in world.datasets.items():
                status = client.get(f"/datasets/{ds['slug']}", headers=headers).status_code
                assert status == (200 if principal in VISIBLE[policy] else 404), \
                    (principal, policy)


def test_area_contents_show_every_principal_only_what_it_may_see(settings, store):
    """One public area over every station of the access world: each principal finds inside it
    exactly the stations of the datasets it may see, and the sensitive one never precisely
    unless it holds precise access."""
    from api.areas_data import add_area, box
    from governance.world import hidden_markers

    world = build_world(store)
    areas_ds = create_dataset(store, slug="world-areas", owner="owner-org", domain="areas",
                              title="World areas", licence="CC0-1.0")
    area = add_area(store, areas_ds, "ALL", {"en": "Everything"}, box(90.0, 20.0, 140.0, 60.0))
    with TestClient(create_app(settings, store=store)) as client:
        for principal in PRINCIPALS:
            headers = world.headers(principal)
            for path in (f"/api/v1/areas/{area}/contents", f"/areas/{area}"):
                text = client.get(path, headers=headers, params={"lang": "en"}).text
                leaked = [m for m in hidden_markers(world, principal) if m in text]
                assert not leaked, (principal, path, leaked)
            body = client.get(f"/api/v1/areas/{area}/contents", headers=headers).json()
            expected = {f"{ds['marker']}-code" for policy, ds in world.datasets.items()
                        if principal in VISIBLE[policy]}
            assert {s["code"] for s in body["sites"]} == expected, principal
