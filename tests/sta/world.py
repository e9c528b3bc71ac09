"""A small SensorThings world in a real store: two organisations, a public dataset, a private
one and a public but sensitive one, with things, locations, datastreams and observations."""

from __future__ import annotations

from ecobridge.config import Settings
from ecobridge.governance.policy import ANONYMOUS, SYSTEM, Principal
from ecobridge.monitoring.sta.access import visibility
from ecobridge.monitoring.sta.path import parse_path
from ecobridge.monitoring.sta.query import parse_query
from ecobridge.store import open_store
from ecobridge.store.sta_sql import compile_query, fetch

ROWS = [
    "INSERT INTO organisations (id, slug, name, country) VALUES"
    " (1, 'kz-hydromet', '{\"en\": \"Kazhydromet\"}', 'KAZ'),"
    " (2, 'ru-park', '{\"en\": \"Land of the Leopard\"}', 'RUS')",
    "INSERT INTO datasets (id, slug, owner_org_id, domain, title, licence, visibility, sensitive,"
    " generalise_km) VALUES"
    " (1, 'air-kz', 1, 'air', '{\"en\": \"Air\"}', 'CC-BY-4.0', 'public', false, 10),"
    " (2, 'tigers', 2, 'wildlife', '{\"en\": \"Tigers\"}', 'CC-BY-4.0', 'private', true, 10),"
    " (3, 'leopards', 2, 'wildlife', '{\"en\": \"Leopards\"}', 'CC-BY-4.0', 'public', true, 10)",
    "INSERT INTO things (id, dataset_id, code, name, description, properties) VALUES"
    " (1, 1, 'ALA', 'Almaty station', 'Sensor Things',"
    "  '{\"country\": \"KAZ\", \"height\": 12, \"owner\": {\"name\": \"Kazhydromet\"}}'),"
    " (2, 1, 'AST', 'Astana station', '  roof  ', '{\"country\": \"KAZ\", \"height\": 3}'),"
    " (3, 2, 'CAM', 'Hidden camera', 'tiger trail', '{\"secret\": \"den\"}'),"
    " (4, 3, 'LEO', 'Leopard trap', 'ridge', NULL)",
    "INSERT INTO locations (id, name, description, geom) VALUES"
    " (1, 'Almaty', 'city', ST_Point(76.9, 43.2)), (2, 'Astana', 'city', ST_Point(71.4, 51.1)),"
    " (3, 'Den', 'secret', ST_Point(131.5, 43.1)), (4, 'Ridge', 'trap', ST_Point(131.123, 43.456)),"
    " (5, 'Spare point', '', ST_Point(8, 54)),"
    " (6, 'Spare line', '', ST_GeomFromText('LINESTRING(5 52, 5 53)'))",
    "INSERT INTO thing_locations VALUES (1, 1), (2, 2), (3, 3), (4, 4)",
    "INSERT INTO historical_locations (id, thing_id, time) VALUES"
    " (1, 1, '2023-12-31T00:00:00Z'), (2, 3, '2023-12-31T00:00:00Z')",
    "INSERT INTO historical_location_locations VALUES (1, 1), (2, 3)",
    "INSERT INTO sensors (id, name, description, metadata) VALUES"
    " (1, 'BAM-1020', 'beta attenuation', 'https://example.org/bam'),"
    " (2, 'Trail camera', 'camera', ''), (3, 'Unused sensor', 'spare', '')",
    "INSERT INTO features_of_interest (id, name, description, geom) VALUES"
    " (1, 'Almaty air', '', ST_Point(76.9, 43.2)), (2, 'Astana air', '', ST_Point(71.4, 51.1)),"
    " (3, 'Den air', '', ST_Point(131.5, 43.1)), (4, 'Spare feature', '', ST_Point(0, 0))",
    "INSERT INTO datastreams (id, thing_id, sensor_id, observed_property_id, name, description,"
    " unit_code, unit_symbol, unit_name, observed_area, phenomenon_time_start,"
    " phenomenon_time_end, result_time_start, result_time_end, properties) VALUES"
    " (1, 1, 1, (SELECT id FROM observed_properties WHERE code = 'pm25'), 'Almaty PM2.5',"
    "  'hourly', 'ug/m3', 'µg/m³', 'microgram per cubic metre',"
    "  ST_GeomFromText('POLYGON((76 43, 78 43, 78 44, 76 44, 76 43))'),"
    "  '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z',"
    "  '2024-01-02T00:00:00Z', '{\"threshold\": 40}'),"
    " (2, 2, 1, (SELECT id FROM observed_properties WHERE code = 'no2'), 'Astana NO2',"
    "  'daily', 'ug/m3', 'µg/m³', 'microgram per cubic metre', NULL,"
    "  '2024-02-01T00:00:00Z', '2024-02-02T00:00:00Z', NULL, NULL, NULL),"
    " (3, 3, 2, (SELECT id FROM observed_properties WHERE code = 'pm25'), 'Den PM2.5', '',"
    "  'ug/m3', 'µg/m³', 'microgram per cubic metre', NULL, NULL, NULL, NULL, NULL, NULL)",
    "INSERT INTO observations (id, datastream_id, phenomenon_time, result_time, result,"
    " quality_flag, parameters, feature_of_interest_id) VALUES"
    " (1, 1, '2024-01-01T00:00:00Z', '2024-01-01T00:05:00Z', 5.0, 1, '{\"method\": \"beta\"}', 1),"
    " (2, 1, '2024-01-01T12:30:15.25Z', NULL, 12.5, 1, NULL, 1),"
    " (3, 1, '2024-01-02T00:00:00Z', NULL, 42.0, 3, '{\"method\": \"optical\"}', 1),"
    " (4, 2, '2024-02-01T00:00:00Z', NULL, 3.5, 1, NULL, 2),"
    " (5, 2, '2024-02-02T00:00:00Z', NULL, NULL, 9, NULL, 2),"
    " (6, 3, '2024-03-01T00:00:00Z', NULL, 99.0, 1, NULL, 3)",
    # what the observation writes keep beside the observations (migration 0006)
    "INSERT INTO feature_datastreams SELECT DISTINCT feature_of_interest_id, datastream_id"
    " FROM observations WHERE feature_of_interest_id IS NOT NULL",
]

PARK_VIEWER = Principal(user_id=7, username="ranger", roles={2: "viewer"},
                        countries=frozenset({"RUS"}))
PRINCIPALS = {"anonymous": ANONYMOUS, "park": PARK_VIEWER, "system": SYSTEM}



def ids(store, path: str, principal=ANONYMOUS, **options: str) -> list[int]:
    """The @iot.id of every entity `path?options` returns, in order."""
    return [r["@iot.id"] for r in rows(store, path, principal, **options)]


def rows(store, path: str, principal=ANONYMOUS, **options: str) -> list[dict]:
    parsed = parse_path(path)
    query = parse_query({f"${k}": v for k, v in options.items()}, parsed.entity_set)
    found, _, _ = fetch(store, compile_query(parsed, query, visibility=visibility(principal)))
    return found


def world_store(tmp_path_factory, name: str):
    """(settings, store): a new deployment in a temporary home holding the world's ROWS."""
    settings = Settings(home=tmp_path_factory.mktemp(name) / "home", memory_limit="1GB",
                        threads=2)
    store = open_store(settings)
    for sql in ROWS:
        store.execute(sql)
    return settings, store
