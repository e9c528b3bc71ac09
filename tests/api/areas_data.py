"""Areas over the read-API test world (tests/api/data.py), written with parameterised SQL.

- "steppe": a public protected area around Almaty (76.95, 43.25) and the private HIDDEN station
  (70.0, 45.0), but not Astana (71.43, 51.13);
- "tiger-precise": a small box around the tiger camera's precise position and not around the
  centre of its 10 km grid cell, (131.2600, 43.5232), which is what outsiders see;
- "tiger-cell": a small box around that centre and not around the precise position;
- "secret-park": an area of the private dataset: only its owner may see it.
"""

from __future__ import annotations

import json

from ecobridge.catalog.service import create_dataset

GENERALISED_TIGER = (131.26, 43.5232)  # the cell's longitude width from the row's latitude


def box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> str:
    return (f"POLYGON(({min_lon} {min_lat}, {max_lon} {min_lat}, {max_lon} {max_lat},"
            f" {min_lon} {max_lat}, {min_lon} {min_lat}))")


def add_area(store, dataset_id: int, code: str, name: dict, wkt: str, *,
             kind: str = "protected_area", country: str | None = None,
             approximate: bool = False) -> int:
    with store.transaction() as cur:
        return cur.execute(
            "INSERT INTO areas (dataset_id, code, kind, name, country, designation, approximate,"
            " geom) VALUES (?, ?, ?, ?, ?, 'Test reserve', ?, ST_GeomFromText(?)) RETURNING id",
            [dataset_id, code, kind, json.dumps(name, ensure_ascii=False), country, approximate,
             wkt]).fetchone()[0]


def add_areas(store, world) -> dict[str, int]:
    areas_ds = create_dataset(store, slug="test-areas", owner=world.org_ids["kz"],
                              domain="areas", title={"en": "Test areas", "zh": "测试区域",
                                                     "ru": "Тестовые территории"},
                              licence="CC0-1.0")
    return {
        "steppe": add_area(store, areas_ds, "STEPPE",
                           {"en": "Steppe reserve", "zh": "草原保护区", "ru": "Степной заповедник"},
                           box(69.0, 42.0, 78.0, 46.0), country="KAZ", approximate=True),
        "tiger-precise": add_area(store, areas_ds, "TIGER-P", {"en": "Precise box"},
                                  box(131.20, 43.55, 131.27, 43.60), country="RUS"),
        "tiger-cell": add_area(store, areas_ds, "TIGER-C", {"en": "Cell box"},
                               box(131.20, 43.50, 131.27, 43.54), country="RUS"),
        "secret-park": add_area(store, world.datasets["kz-secret"], "HIDDEN-PARK",
                                {"en": "HIDDEN park"}, box(60.0, 40.0, 61.0, 41.0),
                                kind="area_of_interest"),
    }
