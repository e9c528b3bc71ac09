"""Datasets and organisations: counts, languages, and nothing hidden."""

from __future__ import annotations

import io

import pyarrow.csv as pacsv


def test_datasets_list_visible_only_with_counts(client, world):
    body = client.get("/api/v1/datasets").json()
    assert [d["slug"] for d in body["items"]] == ["kz-air", "ru-tigers"]
    kz = body["items"][0]
    assert kz["counts"] == {"things": 2, "datastreams": 2, "observations": 55,
                            "occurrences": 0, "deployments": 0, "areas": 0}
    assert kz["owner"] == {"slug": "kz-hydromet", "name": "Kazhydromet", "country": "KAZ"}
    assert kz["licence"] == "CC-BY-4.0" and kz["visibility"] == "public"
    assert "HIDDEN" not in client.get("/api/v1/datasets").text


def test_dataset_titles_follow_the_language(client, world):
    ru = client.get("/api/v1/datasets/kz-air", params={"lang": "ru"}).json()
    assert ru["title"] == "Качество воздуха Алматы" and ru["owner"]["name"] == "Казгидромет"
    zh = client.get("/api/v1/datasets/kz-air", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.json()["title"] == "阿拉木图空气质量"
    assert zh.json()["title_i18n"]["en"] == "Almaty air quality"
    fallback = client.get("/api/v1/datasets/ru-tigers", params={"lang": "zh"}).json()
    assert fallback["title"] == "Tiger camera traps"


def test_dataset_by_id_or_slug_and_hidden_is_404(client, world):
    by_id = client.get(f"/api/v1/datasets/{world.datasets['kz-air']}").json()
    assert by_id["slug"] == "kz-air"
    for slug in ("kz-secret", "ru-embargo", "no-such-dataset"):
        response = client.get(f"/api/v1/datasets/{slug}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/datasets/{world.datasets['kz-secret']}").status_code == 404


def test_datasets_csv(client, world):
    table = pacsv.read_csv(io.BytesIO(client.get("/api/v1/datasets?f=csv").content))
    assert table["slug"].to_pylist() == ["kz-air", "ru-tigers"]
    assert table["observations"].to_pylist() == [55, 0]


def test_organisations_reveal_only_visible_dataset_counts(client, store, world):
    from ecobridge.governance.organisations import create_organisation

    create_organisation(store, slug="secretive", name="Only private data", country="MNG")
    body = client.get("/api/v1/organisations").json()
    assert [(o["slug"], o["datasets"]) for o in body["items"]] == [("kz-hydromet", 1),
                                                                   ("ru-park", 1)]


def test_huge_numeric_dataset_refs_are_404_not_500(client, world):
    huge = "9" * 20
    for url in (f"/api/v1/datasets/{huge}", f"/api/v1/things?dataset={huge}",
                f"/api/v1/datastreams?dataset={huge}"):
        assert client.get(url).status_code == 404, url
