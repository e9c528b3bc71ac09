"""PATCH/PUT and DELETE per entity set (Observations have their own path in obs_writes).

An updater takes (writer, id, body, replace) inside the request's transaction, after the owner
check. A deleter takes (cursor, id), removes what depends on the entity in that transaction and
returns the (sql, params) statements that remove the rest, each committed on its own (None
when the first transaction did it all): see writes.py for why DuckDB needs two.
"""

from __future__ import annotations

import json
from typing import Any

from ecobridge.errors import Conflict
from ecobridge.monitoring.properties import load_properties
from ecobridge.monitoring.sta import obs_writes
from ecobridge.monitoring.sta import write_input as inp

# JSON member -> (column, kind, default for PUT). Kinds: name (required text), text, json,
# geometry (with the entity's encodingType), time, metadata.
_COLUMNS: dict[str, dict[str, tuple[str, str, Any]]] = {
    "Things": {"name": ("name", "name", None), "description": ("description", "text", ""),
               "properties": ("properties", "json", None)},
    "Locations": {"name": ("name", "name", None), "description": ("description", "text", ""),
                  "encodingType": ("encoding_type", "text", "application/geo+json"),
                  "location": ("geom", "geometry", None),
                  "properties": ("properties", "json", None)},
    "HistoricalLocations": {"time": ("time", "time", None)},
    "Sensors": {"name": ("name", "name", None), "description": ("description", "text", ""),
                "encodingType": ("encoding_type", "text", "text/plain"),
                "metadata": ("metadata", "metadata", ""),
                "properties": ("properties", "json", None)},
    "ObservedProperties": {"name": ("name", "name", None),
                           "definition": ("definition", "text", ""),
                           "description": ("description", "text", ""),
                           "properties": ("properties", "json", None)},
    "Datastreams": {"name": ("name", "name", None), "description": ("description", "text", ""),
                    "observedArea": ("observed_area", "geometry", None),
                    "properties": ("properties", "json", None)},
    "FeaturesOfInterest": {"name": ("name", "name", None),
                           "description": ("description", "text", ""),
                           "encodingType": ("encoding_type", "text", "application/geo+json"),
                           "feature": ("geom", "geometry", None),
                           "properties": ("properties", "json", None)},
}
_LINKS = {
    "Things": {"Locations"},
    "Locations": {"Things"},
    "HistoricalLocations": {"Locations"},
    "Sensors": set(),
    "ObservedProperties": set(),
    "Datastreams": {"Thing", "Sensor", "ObservedProperty", "unitOfMeasurement",
                    "observationType", "phenomenonTime", "resultTime"},
    "FeaturesOfInterest": set(),
}


def _set_columns(w, es: str, entity_id: int, body: dict, replace: bool) -> None:
    columns = _COLUMNS[es]
    inp.check_keys(body, set(columns) | _LINKS[es], "")
    sets, params = [], []
    encoding = body.get("encodingType")
    for member, (column, kind, default) in columns.items():
        if member not in body and not replace:
            continue
        value = body.get(member)
        if kind == "name":
            value = inp.text(value, member, required=True)
        elif kind == "text":
            value = inp.text(value, member, default=default)
        elif kind == "json":
            value = inp.json_object(value, member)
        elif kind == "time":
            value = inp.instant(value, member, required=True)
        elif kind == "metadata":
            if value is not None and not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False)
            value = value or default
        elif kind == "geometry":
            if value is None and es == "Datastreams":
                sets.append(f"{column} = NULL")
                continue
            value = inp.geometry(value, encoding if es != "Datastreams" else None, member)
            sets.append(f"{column} = ST_GeomFromText(?)")
            params.append(value)
            continue
        sets.append(f"{column} = ?")
        params.append(value)
    if sets:
        w.cur.execute(f"UPDATE {_table(es)} SET {', '.join(sets)} WHERE id = ?",
                      [*params, entity_id])


def _table(es: str) -> str:
    from ecobridge.monitoring.sta.model import entity_set

    return entity_set(es).table


def update_thing(w, thing_id: int, body: dict, replace: bool) -> None:
    props = body.get("properties")
    if isinstance(props, dict) and props.get("dataset") is not None:
        ref = props["dataset"]
        current = w.cur.execute("SELECT d.id, d.slug FROM things t JOIN datasets d"
                                " ON d.id = t.dataset_id WHERE t.id = ?", [thing_id]).fetchone()
        if str(ref) not in (str(current[0]), current[1]):
            raise inp.bad("properties.dataset", "a Thing cannot move to another dataset")
    _set_columns(w, "Things", thing_id, body, replace)
    if body.get("Locations") is not None:
        from ecobridge.monitoring.sta.writes import create_location, set_locations

        ids = []
        for i, item in enumerate(inp.entity_list(body["Locations"], "Locations")):
            ref = inp.link_id(item, f"Locations[{i}]")
            if ref is None:
                ref = create_location(w, item, f"Locations[{i}]", linked=True)
            else:
                w.must_see("Locations", ref, f"Locations[{i}]")
            ids.append(ref)
        set_locations(w.cur, thing_id, ids)


def update_location(w, location_id: int, body: dict, replace: bool) -> None:
    _set_columns(w, "Locations", location_id, body, replace)
    if body.get("Things") is not None:
        from ecobridge.monitoring.sta.writes import set_locations

        for i, item in enumerate(inp.entity_list(body["Things"], "Things")):
            ref = inp.link_id(item, f"Things[{i}]")
            if ref is None:
                raise inp.bad(f"Things[{i}]", "link an existing Thing with @iot.id")
            w.thing_for_write(ref, f"Things[{i}]")
            set_locations(w.cur, ref, [location_id])


def update_historical_location(w, hist_id: int, body: dict, replace: bool) -> None:
    _set_columns(w, "HistoricalLocations", hist_id, body, replace)
    if body.get("Locations") is not None:
        ids = []
        for i, item in enumerate(inp.entity_list(body["Locations"], "Locations")):
            ref = inp.link_id(item, f"Locations[{i}]")
            if ref is None:
                raise inp.bad(f"Locations[{i}]", "link an existing Location with @iot.id")
            w.must_see("Locations", ref, f"Locations[{i}]")
            ids.append(ref)
        w.cur.execute("DELETE FROM historical_location_locations"
                      " WHERE historical_location_id = ?", [hist_id])
        for ref in dict.fromkeys(ids):
            w.cur.execute("INSERT INTO historical_location_locations VALUES (?, ?)",
                          [hist_id, ref])


def update_datastream(w, ds_id: int, body: dict, replace: bool) -> None:
    _set_columns(w, "Datastreams", ds_id, body, replace)
    thing_id, prop_id, count = w.cur.execute(
        "SELECT thing_id, observed_property_id, observation_count FROM datastreams"
        " WHERE id = ?", [ds_id]).fetchone()
    if "observationType" in body or replace:
        obs_type = inp.text(body.get("observationType"), "observationType",
                            default=inp.MEASUREMENT)
        if obs_type not in inp.OBSERVATION_TYPES:
            raise inp.bad("observationType",
                          f"only numeric results are stored: use {inp.MEASUREMENT}")
        w.cur.execute("UPDATE datastreams SET observation_type = ? WHERE id = ?", [obs_type, ds_id])
    if body.get("Thing") is not None:
        ref = inp.link_id(body["Thing"], "Thing")
        if ref is None:
            raise inp.bad("Thing", "link an existing Thing with @iot.id")
        w.thing_for_write(ref, "Thing")
        thing_id = ref
    if body.get("ObservedProperty") is not None:
        ref = inp.link_id(body["ObservedProperty"], "ObservedProperty")
        if ref is None:
            raise inp.bad("ObservedProperty", "link an existing ObservedProperty with @iot.id")
        w.must_see("ObservedProperties", ref, "ObservedProperty")
        if ref != prop_id and count:
            raise inp.bad("ObservedProperty", "the Datastream holds Observations of its "
                                              "ObservedProperty; create a new Datastream")
        prop_id = ref
    prop = next(p for p in load_properties(w.cur).values() if p.id == prop_id)
    inp.check_unit(body.get("unitOfMeasurement"), prop, "unitOfMeasurement")
    if w.cur.execute("SELECT 1 FROM datastreams WHERE thing_id = ? AND observed_property_id = ?"
                     " AND id <> ?", [thing_id, prop_id, ds_id]).fetchone():
        raise Conflict(f"the Thing already has a Datastream of {prop.code}",
                       field="ObservedProperty")
    sensor = None
    if body.get("Sensor") is not None:
        sensor = inp.link_id(body["Sensor"], "Sensor")
        if sensor is None:
            raise inp.bad("Sensor", "link an existing Sensor with @iot.id")
        w.must_see("Sensors", sensor, "Sensor")
    w.cur.execute(
        "UPDATE datastreams SET thing_id = ?, observed_property_id = ?,"
        " sensor_id = coalesce(?, sensor_id), unit_code = ?, unit_symbol = ?, unit_name = ?"
        " WHERE id = ?", [thing_id, prop_id, sensor, prop.canonical_unit, prop.unit_symbol,
                          prop.unit_name, ds_id])


def _simple(es: str):
    def update(w, entity_id: int, body: dict, replace: bool) -> None:
        _set_columns(w, es, entity_id, body, replace)
    return update


UPDATERS = {
    "Things": update_thing,
    "Locations": update_location,
    "HistoricalLocations": update_historical_location,
    "Sensors": _simple("Sensors"),
    "ObservedProperties": _simple("ObservedProperties"),
    "Datastreams": update_datastream,
    "FeaturesOfInterest": _simple("FeaturesOfInterest"),
}


# -- deletes ----------------------------------------------------------------------------------
_THING_STREAMS = "datastream_id IN (SELECT id FROM datastreams WHERE thing_id = ?)"


def delete_observation(cur, obs_id: int) -> None:
    obs_writes.delete_observations(cur, "id = ?", [obs_id])


def delete_datastream(cur, ds_id: int) -> None:
    cur.execute("DELETE FROM observations WHERE datastream_id = ?", [ds_id])
    cur.execute("DELETE FROM datastreams WHERE id = ?", [ds_id])


def delete_thing(cur, thing_id: int) -> list[tuple[str, list]]:
    cur.execute(f"DELETE FROM observations WHERE {_THING_STREAMS}", [thing_id])
    cur.execute("DELETE FROM datastreams WHERE thing_id = ?", [thing_id])
    cur.execute("DELETE FROM thing_locations WHERE thing_id = ?", [thing_id])
    cur.execute("DELETE FROM historical_location_locations WHERE historical_location_id IN"
                " (SELECT id FROM historical_locations WHERE thing_id = ?)", [thing_id])
    return [("DELETE FROM historical_locations WHERE thing_id = ?", [thing_id]),
            ("DELETE FROM things WHERE id = ?", [thing_id])]


def delete_location(cur, location_id: int) -> list[tuple[str, list]]:
    cur.execute("DELETE FROM thing_locations WHERE location_id = ?", [location_id])
    history = [r[0] for r in cur.execute(
        "SELECT historical_location_id FROM historical_location_locations"
        " WHERE location_id = ?", [location_id]).fetchall()]
    cur.execute("DELETE FROM historical_location_locations WHERE location_id = ?", [location_id])
    # HistoricalLocations left without any Location go with it (in the second commit)
    return [("DELETE FROM historical_locations WHERE id IN (SELECT unnest(CAST(? AS BIGINT[])))"
             " AND id NOT IN (SELECT historical_location_id FROM historical_location_locations)",
             [history]),
            ("DELETE FROM locations WHERE id = ?", [location_id])]


def delete_historical_location(cur, hist_id: int) -> list[tuple[str, list]]:
    cur.execute("DELETE FROM historical_location_locations WHERE historical_location_id = ?",
                [hist_id])
    return [("DELETE FROM historical_locations WHERE id = ?", [hist_id])]


def delete_sensor(cur, sensor_id: int) -> list[tuple[str, list]]:
    cur.execute("DELETE FROM observations WHERE datastream_id IN"
                " (SELECT id FROM datastreams WHERE sensor_id = ?)", [sensor_id])
    cur.execute("DELETE FROM datastreams WHERE sensor_id = ?", [sensor_id])
    return [("DELETE FROM sensors WHERE id = ?", [sensor_id])]


def delete_observed_property(cur, prop_id: int) -> list[tuple[str, list]]:
    cur.execute("DELETE FROM observations WHERE datastream_id IN"
                " (SELECT id FROM datastreams WHERE observed_property_id = ?)", [prop_id])
    cur.execute("DELETE FROM datastreams WHERE observed_property_id = ?", [prop_id])
    return [("DELETE FROM observed_properties WHERE id = ?", [prop_id])]


def delete_feature(cur, feature_id: int) -> None:
    obs_writes.delete_observations(cur, "feature_of_interest_id = ?", [feature_id])
    cur.execute("DELETE FROM features_of_interest WHERE id = ?", [feature_id])


DELETERS = {
    "Things": delete_thing,
    "Locations": delete_location,
    "HistoricalLocations": delete_historical_location,
    "Sensors": delete_sensor,
    "ObservedProperties": delete_observed_property,
    "Datastreams": delete_datastream,
    "Observations": delete_observation,
    "FeaturesOfInterest": delete_feature,
}
