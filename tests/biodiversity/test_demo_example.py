"""The demo's copy of the real Camtrap DP example: byte-equal to the upstream files, and loaded
through the importer into a public, demo-marked dataset of the regional data office."""

from __future__ import annotations

import json

from ecobridge.demo import agencies, camtrap_example
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import Principal, visible_datasets_sql


def test_copy_is_the_upstream_package(shared_data):
    for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
        assert (camtrap_example.FOLDER / name).read_bytes() == (
            shared_data / "camtrap-dp-example" / name).read_bytes()
    total = sum(p.stat().st_size for p in camtrap_example.FOLDER.iterdir())
    assert total < 5 * 1024 * 1024


def test_demo_loads_the_example(store):
    owner = next(o for o in agencies.organisations() if o["slug"] == camtrap_example.OWNER)
    create_organisation(store, is_demo=True, **owner)
    camtrap_example.load(store)
    ds = store.dicts("SELECT * FROM datasets WHERE slug = ?", [camtrap_example.SLUG])[0]
    assert ds["is_demo"] and ds["licence"] == "CC0-1.0" and "INBO" in ds["attribution"]
    assert set(json.loads(ds["title"])) == {"en", "zh", "ru"}
    counts = [store.scalar(f"SELECT count(*) FROM camtrap_{t} WHERE dataset_id = ?", [ds["id"]])
              for t in ("deployments", "media", "observations")]
    assert counts == [4, 423, 549]
    events = store.scalar("SELECT count(*) FROM camtrap_observations WHERE observation_level ="
                          " 'event' AND observation_type = 'animal'")
    assert store.scalar("SELECT count(*) FROM occurrences WHERE"
                        " CAST(properties->>'$.demo' AS BOOLEAN)") == events > 0
    pred, params = visible_datasets_sql(Principal(), "d")
    assert store.scalar(f"SELECT count(*) FROM datasets d WHERE d.slug = ? AND {pred}",
                        [camtrap_example.SLUG, *params]) == 1
