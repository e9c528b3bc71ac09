"""build_demo(store): fill a store with the demo deployment.

Generated series are written as files (Parquet for the big ones) into a build folder next to the
store and loaded through the real ingest path, so the demo exercises what data providers use.
Every organisation and dataset is created with is_demo, and every station carries demo=true.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecobridge.biodiversity import service as bio
from ecobridge.catalog.service import create_dataset
from ecobridge.demo import agencies, air, areas, camtrap_example, energy, glaciers, wildlife
from ecobridge.errors import Conflict
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import SYSTEM

# progress(step description, steps done, steps in all)
Progress = Callable[[str, int, int], None]
SEED = 2024

STEPS = ("organisations and datasets", "demo user accounts", "alert rules", "air-quality networks",
         "glacier mass balance", "wind and solar generation", "camera traps",
         "Camtrap DP example", "protected areas", "country boundaries")


def build_folder(store) -> Path:
    return Path(store.path).parent / "demo-build"


def demo_state(store) -> str:
    """'absent', 'complete' or 'partial': whether the store already holds the demo."""
    expected = [d["slug"] for d in agencies.datasets()]
    marks = ", ".join("?" for _ in expected)
    found = store.scalar(f"SELECT count(*) FROM datasets WHERE is_demo AND slug IN ({marks})",
                         expected)
    if found == 0:
        return "absent"
    # The boundaries are loaded last: with them in place, the build ran to its end.
    done = store.scalar("SELECT count(*) FROM areas a JOIN datasets d ON d.id = a.dataset_id"
                        " WHERE d.slug = ? AND d.is_demo", ["boundaries"])
    return "complete" if found == len(expected) and done else "partial"


def build_demo(store, *, progress: Progress | None = None, seed: int = SEED) -> dict:
    """Build the demo deployment into an empty store; returns counts of what was made."""
    if demo_state(store) != "absent":
        raise Conflict("this store holds (part of) the demo already; rebuild it from scratch")
    report = progress or (lambda *_: None)
    folder = build_folder(store)
    folder.mkdir(parents=True, exist_ok=True)
    steps: list[Callable[[], None]] = [
        lambda: _catalogue(store),
        lambda: _accounts(store),
        lambda: _alert_rules(store),  # before the air data, so its episodes raise alerts
        lambda: _air(store, folder, seed),
        lambda: _glaciers(store, folder),
        lambda: _energy(store, folder, seed),
        lambda: _camera_traps(store, seed),
        lambda: camtrap_example.load(store),  # the real package, through the importer
        lambda: _protected_areas(store, folder),
        lambda: _boundaries(store, folder),
    ]
    for i, (name, step) in enumerate(zip(STEPS, steps, strict=True)):
        report(name, i, len(STEPS))
        step()
    report("done", len(STEPS), len(STEPS))
    store.checkpoint()
    return demo_counts(store)


def demo_counts(store) -> dict:
    """What the demo holds, by kind of record."""
    demo_ds = "SELECT id FROM datasets WHERE is_demo"
    return {
        "organisations": store.scalar("SELECT count(*) FROM organisations WHERE is_demo"),
        "users": store.scalar("SELECT count(*) FROM users WHERE is_demo"),
        "datasets": store.scalar("SELECT count(*) FROM datasets WHERE is_demo"),
        "stations": store.scalar(f"SELECT count(*) FROM things WHERE dataset_id IN ({demo_ds})"),
        "datastreams": store.scalar(
            "SELECT count(*) FROM datastreams s JOIN things t ON t.id = s.thing_id"
            f" WHERE t.dataset_id IN ({demo_ds})"),
        "observations": store.scalar(
            "SELECT coalesce(sum(s.observation_count), 0) FROM datastreams s"
            f" JOIN things t ON t.id = s.thing_id WHERE t.dataset_id IN ({demo_ds})"),
        "deployments": store.scalar(
            f"SELECT count(*) FROM camtrap_deployments WHERE dataset_id IN ({demo_ds})"),
        "media": store.scalar(
            f"SELECT count(*) FROM camtrap_media WHERE dataset_id IN ({demo_ds})"),
        "detections": store.scalar(
            f"SELECT count(*) FROM camtrap_observations WHERE dataset_id IN ({demo_ds})"),
        "occurrences": store.scalar(
            f"SELECT count(*) FROM occurrences WHERE dataset_id IN ({demo_ds})"),
        "areas": store.scalar(f"SELECT count(*) FROM areas WHERE dataset_id IN ({demo_ds})"),
    }


# -- steps ---------------------------------------------------------------------------------
def _catalogue(store) -> None:
    from ecobridge.governance.policies import add_grant

    for org in agencies.organisations():
        create_organisation(store, is_demo=True, **org)
    builder_keys = ("kind", "grants", "country", "side", "plant")
    for ds in agencies.datasets(datetime.now(UTC)):
        create_dataset(store, is_demo=True,
                       **{k: v for k, v in ds.items() if k not in builder_keys})
        for grant in ds.get("grants", ()):
            add_grant(store, SYSTEM, ds["slug"], **grant)


def _accounts(store) -> None:
    """One user per role of each demo organisation (governance's seeding, shared password)."""
    from ecobridge.governance.demo_accounts import seed_demo_accounts

    seed_demo_accounts(store)


def _alert_rules(store) -> None:
    from ecobridge.alerts.defaults import install_defaults, install_demo_subscriptions

    install_defaults(store)
    install_demo_subscriptions(store)


def _ingest(store, path: Path, dataset: str, kind: str):
    from ecobridge.monitoring.ingest import ingest_file

    return ingest_file(store, path, dataset=dataset, principal=SYSTEM, kind=kind)


def _write_stations(rows: list[dict], path: Path) -> Path:
    """GeoJSON points: unlike CSV cells, properties keep their types (demo stays a boolean)."""
    features = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                 "properties": {k: v for k, v in r.items() if k not in ("lat", "lon")}}
                for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def _write_observations(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path, compression="zstd")
    return path


def _air(store, folder: Path, seed: int) -> None:
    for country in air.countries():
        slug = agencies.air_dataset_slug(country)
        stations = _write_stations(air.stations(country), folder / f"{slug}-stations.geojson")
        _ingest(store, stations, slug, "stations")
        obs = _write_observations(air.generate(country, seed=seed), folder / f"{slug}.parquet")
        _ingest(store, obs, slug, "observations")


def _glaciers(store, folder: Path) -> None:
    slug = "demo-glaciers-wgms"
    _ingest(store, _write_stations(glaciers.stations(), folder / f"{slug}-stations.geojson"),
            slug, "stations")
    _ingest(store, _write_observations(glaciers.observations(), folder / f"{slug}.parquet"),
            slug, "observations")


def _energy(store, folder: Path, seed: int) -> None:
    for slug, plant in (("demo-energy-gwadar-wind", energy.WIND_FARM),
                        ("demo-energy-kyzyl-suu-pv", energy.PV_SCHEME)):
        stations = folder / f"{slug}-stations.geojson"
        _ingest(store, _write_stations([energy.station(plant)], stations), slug, "stations")
        _ingest(store, _write_observations(energy.observations(plant, seed=seed),
                                           folder / f"{slug}.parquet"), slug, "observations")


def _camera_traps(store, seed: int) -> None:
    bio.add_taxa(store, [dict(t) for t in wildlife.TAXA])
    data = wildlife.camera_data(seed=seed)
    for ds in agencies.datasets():
        if ds["kind"] != "camtrap":
            continue
        tables = data[ds["side"]]
        bio.add_deployments(store, dataset=ds["slug"], rows=tables["deployments"])
        bio.add_media(store, dataset=ds["slug"], rows=tables["media"])
        bio.add_detections(store, dataset=ds["slug"], rows=tables["observations"])
        bio.occurrences_from_detections(store, dataset=ds["slug"], properties={"demo": True})


def _protected_areas(store, folder: Path) -> None:
    path = folder / "protected-areas.geojson"
    path.write_text(json.dumps(areas.protected_areas_geojson(), ensure_ascii=False),
                    encoding="utf-8")
    _load_areas(store, path, "demo-protected-areas")


def _boundaries(store, folder: Path) -> None:
    path = folder / "countries.geojson"
    path.write_text(json.dumps(areas.countries_geojson(), ensure_ascii=False), encoding="utf-8")
    _load_areas(store, path, "boundaries")


def _load_areas(store, path: Path, dataset: str) -> None:
    _ingest(store, path, dataset, "areas")
