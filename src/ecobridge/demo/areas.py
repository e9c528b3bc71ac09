"""Protected areas (approximate shapes drawn for the demo) and Natural Earth country boundaries."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data" / "boundaries"
NATURAL_EARTH = DATA / "ne_110m_admin0_countries_geopandas0144.geojson"
NATURAL_EARTH_ATTRIBUTION = (
    "Made with Natural Earth (1:110m Admin 0 Countries v5.1.1, public domain), as converted in "
    "geopandas 0.14.4 (BSD-3-Clause). De facto boundaries; several are disputed."
)

# Outlines traced by hand from published maps, a few kilometres out at best: they place the
# demo's camera traps and alerts, and are labelled approximate everywhere.
PROTECTED_AREAS: tuple[dict, ...] = (
    {
        "code": "CN-NCTLNP",
        "name": {"en": "Northeast China Tiger and Leopard National Park",
                 "zh": "东北虎豹国家公园",
                 "ru": "Национальный парк тигра и леопарда Северо-Восточного Китая"},
        "country": "CHN", "designation": "National Park",
        "ring": [(129.90, 43.10), (130.25, 42.70), (130.50, 42.72), (130.62, 42.95),
                 (130.80, 43.30), (130.92, 43.70), (131.05, 44.10), (130.85, 44.30),
                 (130.45, 44.10), (130.15, 43.80), (129.90, 43.55), (129.90, 43.10)],
    },
    {
        "code": "RU-LOTLNP",
        "name": {"en": "Land of the Leopard National Park", "zh": "豹地国家公园",
                 "ru": "Национальный парк «Земля леопарда»"},
        "country": "RUS", "designation": "National Park",
        "ring": [(130.85, 42.72), (131.05, 42.70), (131.25, 42.88), (131.55, 43.05),
                 (131.65, 43.35), (131.55, 43.65), (131.30, 43.75), (131.15, 43.55),
                 (131.02, 43.20), (130.85, 42.72)],
    },
    {
        "code": "TJ-TNP",
        "name": {"en": "Tajik National Park (Mountains of the Pamirs)",
                 "zh": "塔吉克国家公园（帕米尔山脉）",
                 "ru": "Таджикский национальный парк (горы Памира)"},
        "country": "TJK", "designation": "National Park; UNESCO World Heritage Site",
        "ring": [(71.60, 38.90), (72.30, 39.30), (73.30, 39.40), (73.90, 39.20),
                 (74.00, 38.60), (73.60, 38.10), (72.80, 37.90), (72.10, 38.20),
                 (71.60, 38.50), (71.60, 38.90)],
    },
    {
        "code": "KG-SESNR",
        "name": {"en": "Sarychat-Ertash State Nature Reserve",
                 "zh": "萨雷恰特-埃尔塔什国家自然保护区",
                 "ru": "Сарычат-Эрташский государственный заповедник"},
        "country": "KGZ", "designation": "State Nature Reserve (zapovednik)",
        "ring": [(78.55, 41.90), (78.85, 41.82), (79.25, 41.92), (79.32, 42.08),
                 (78.95, 42.16), (78.60, 42.06), (78.55, 41.90)],
    },
)


def protected_areas_geojson() -> dict:
    """A FeatureCollection of the approximate park outlines, one polygon each."""
    features = []
    for park in PROTECTED_AREAS:
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in park["ring"]]]},
            "properties": {"code": park["code"], "kind": "protected_area",
                           "name": park["name"]["en"], "name_zh": park["name"]["zh"],
                           "name_ru": park["name"]["ru"], "country": park["country"],
                           "designation": park["designation"], "approximate": True,
                           "demo": True},
        })
    return {"type": "FeatureCollection", "features": features}


def park(code: str) -> dict:
    return next(p for p in PROTECTED_AREAS if p["code"] == code)


def natural_earth() -> dict:
    return json.loads(NATURAL_EARTH.read_text(encoding="utf-8"))


def countries_geojson() -> dict:
    """Natural Earth countries as areas: code = ISO 3166-1 alpha-3 (or a name-based code for the
    few without one), kind admin_boundary."""
    features = []
    for f in natural_earth()["features"]:
        p = f["properties"]
        iso = p["iso_a3"]
        code = iso if iso != "-99" else "NE-" + "".join(c for c in p["name"].upper() if c.isalpha())
        features.append({
            "type": "Feature", "geometry": f["geometry"],
            "properties": {"code": code, "kind": "admin_boundary", "name": p["name"],
                           "country": iso if iso != "-99" else None,
                           "designation": "country (Natural Earth 1:110m)",
                           "approximate": False, "continent": p["continent"]},
        })
    return {"type": "FeatureCollection", "features": features}
