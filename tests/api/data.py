"""Test data for the read API, written with plain parameterised SQL (not through ingest).

`build(store)` makes two organisations and four datasets: a public air dataset, a private one,
a public sensitive wildlife one (coordinates generalised for outsiders) and an embargoed one.
Each hidden dataset's station code and name carry the marker "HIDDEN" so a leak shows in any
response body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ecobridge.catalog.service import create_dataset
from ecobridge.governance.organisations import create_organisation

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SENSITIVE_POINT = (131.2345, 43.5678)  # a tiger's camera trap, Primorye


@dataclass
class World:
    org_ids: dict[str, int] = field(default_factory=dict)
    datasets: dict[str, int] = field(default_factory=dict)
    things: dict[str, int] = field(default_factory=dict)
    streams: dict[str, int] = field(default_factory=dict)


def add_thing(store, dataset_id: int, code: str, lon: float, lat: float,
              name: str | None = None) -> int:
    with store.transaction() as cur:
        thing = cur.execute(
            "INSERT INTO things (dataset_id, code, name, properties) VALUES (?, ?, ?, ?)"
            " RETURNING id",
            [dataset_id, code, name or f"Station {code}", json.dumps({"code": code})],
        ).fetchone()[0]
        loc = cur.execute("INSERT INTO locations (name, geom) VALUES (?, ST_Point(?, ?))"
                          " RETURNING id", [name or code, lon, lat]).fetchone()[0]
        cur.execute("INSERT INTO thing_locations VALUES (?, ?)", [thing, loc])
    return thing


def add_datastream(store, thing_id: int, prop: str = "pm25") -> int:
    with store.transaction() as cur:
        sensor = cur.execute("INSERT INTO sensors (name) VALUES ('test sensor') RETURNING id"
                             ).fetchone()[0]
        return cur.execute(
            "INSERT INTO datastreams (thing_id, sensor_id, observed_property_id, name, unit_code,"
            " unit_symbol, unit_name) SELECT ?, ?, p.id, ? || ' ' || p.code, p.canonical_unit,"
            " p.unit_symbol, p.unit_name FROM observed_properties p WHERE p.code = ?"
            " RETURNING id", [thing_id, sensor, f"thing {thing_id}", prop]).fetchone()[0]


def add_observations(store, datastream_id: int, times: list[datetime], results: list[float],
                     flags: list[int] | None = None) -> None:
    """Append observations and refresh the datastream's summary columns, as ingest does."""
    flags = flags or [1] * len(times)
    with store.transaction() as cur:
        first = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM observations").fetchone()[0]
        cur.executemany(
            "INSERT INTO observations (id, datastream_id, phenomenon_time, result_time, result,"
            " quality_flag) VALUES (?, ?, ?, ?, ?, ?)",
            [[first + i, datastream_id, t, t + timedelta(minutes=5), r, f]
             for i, (t, r, f) in enumerate(zip(times, results, flags, strict=True))])
        cur.execute(
            "UPDATE datastreams SET observation_count = a.n, phenomenon_time_start = a.lo,"
            " phenomenon_time_end = a.hi, result_time_start = a.rlo, result_time_end = a.rhi,"
            " last_phenomenon_time = a.hi, last_result = a.last_r, last_quality_flag = a.last_f"
            " FROM (SELECT count(*) AS n, min(phenomenon_time) AS lo, max(phenomenon_time) AS hi,"
            "  min(result_time) AS rlo, max(result_time) AS rhi,"
            "  arg_max(result, phenomenon_time) AS last_r,"
            "  arg_max(quality_flag, phenomenon_time) AS last_f"
            "  FROM observations WHERE datastream_id = ?) a WHERE datastreams.id = ?",
            [datastream_id, datastream_id])


def hourly(n: int, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(n)]


def build(store) -> World:
    w = World()
    w.org_ids["kz"] = create_organisation(store, slug="kz-hydromet",
                                          name={"en": "Kazhydromet", "ru": "Казгидромет"},
                                          country="KAZ")
    w.org_ids["ru"] = create_organisation(store, slug="ru-park", name="Land of the Leopard",
                                          country="RUS")
    specs = [
        ("kz-air", "kz", "air", "public", False, None,
         {"en": "Almaty air quality", "ru": "Качество воздуха Алматы", "zh": "阿拉木图空气质量"}),
        ("kz-secret", "kz", "air", "private", False, None, "Private HIDDEN air"),
        ("ru-tigers", "ru", "wildlife", "public", True, None, "Tiger camera traps"),
        ("ru-embargo", "ru", "wildlife", "public", False, datetime.now(UTC) + timedelta(days=365),
         "Embargoed HIDDEN survey"),
    ]
    for slug, org, domain, visibility, sensitive, embargo, title in specs:
        w.datasets[slug] = create_dataset(
            store, slug=slug, owner=w.org_ids[org], domain=domain, title=title,
            licence="CC-BY-4.0", visibility=visibility, sensitive=sensitive,
            embargo_until=embargo, generalise_km=10.0)
    w.things["almaty"] = add_thing(store, w.datasets["kz-air"], "ALA-1", 76.95, 43.25, "Almaty")
    w.things["astana"] = add_thing(store, w.datasets["kz-air"], "AST-1", 71.43, 51.13, "Astana")
    w.things["secret"] = add_thing(store, w.datasets["kz-secret"], "HIDDEN-1", 70.0, 45.0,
                                   "HIDDEN station")
    w.things["tiger"] = add_thing(store, w.datasets["ru-tigers"], "CAM-7", *SENSITIVE_POINT,
                                  "Camera 7")
    w.things["embargo"] = add_thing(store, w.datasets["ru-embargo"], "HIDDEN-2", 132.0, 44.0,
                                    "HIDDEN camera")
    w.streams["almaty"] = add_datastream(store, w.things["almaty"])
    w.streams["astana"] = add_datastream(store, w.things["astana"], "no2")
    w.streams["secret"] = add_datastream(store, w.things["secret"])
    w.streams["embargo"] = add_datastream(store, w.things["embargo"])
    add_observations(store, w.streams["almaty"], hourly(50), [float(i) for i in range(50)],
                     [1] * 45 + [3] * 4 + [4])
    add_observations(store, w.streams["astana"], hourly(5), [10.0, 11.0, 12.0, 13.0, 14.0])
    add_observations(store, w.streams["secret"], hourly(20), [99.0] * 20)
    add_observations(store, w.streams["embargo"], hourly(3), [1.0, 2.0, 3.0])
    return w
