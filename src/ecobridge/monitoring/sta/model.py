"""The SensorThings 1.1 data model as data: entity sets, their properties and navigation links.

Parsers resolve every name in a path or query option against these tables, and the SQL compiler
(store/sta_sql.py) takes table and column names only from here, so no name a client sends ever
reaches SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Property kinds. "interval" is a [start, end) pair of columns; "json" is a JSON object that
# paths may navigate into (properties/key).
ID, STRING, NUMBER, TIME, INTERVAL, GEOMETRY, JSON = (
    "id", "string", "number", "time", "interval", "geometry", "json")


@dataclass(frozen=True)
class Prop:
    name: str                      # JSON name, e.g. "unitOfMeasurement/symbol"
    kind: str
    columns: tuple[str, ...]       # one column; two for an interval (start, end)
    # Composite members (unitOfMeasurement/name) are filterable but printed inside their parent.
    parent: str | None = None


@dataclass(frozen=True)
class Relation:
    """A navigation link from a source set to a target set.

    The link lives in a bridge row whose `source_col` holds the source id and `target_col` the
    target id. The bridge is the target row itself ("target": a foreign key on the target), the
    source row itself ("source": a foreign key on the source) or a row of a link table.
    """

    name: str
    target: str
    many: bool
    bridge: str                    # "target", "source" or a link table name
    source_col: str
    target_col: str


@dataclass(frozen=True)
class EntitySet:
    name: str                      # Things
    singular: str                  # Thing
    table: str
    props: tuple[Prop, ...]
    relations: tuple[Relation, ...] = field(default=())

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.name == name), None)

    @property
    def printed_props(self) -> tuple[Prop, ...]:
        """Properties as they appear in a JSON entity (composites not split)."""
        return tuple(p for p in self.props if p.parent is None and p.name != "id")


def _p(name: str, kind: str, *columns: str, parent: str | None = None) -> Prop:
    return Prop(name, kind, columns or (name,), parent)


_ID = _p("id", ID, "id")


def _many(name: str, target: str, fk: str) -> Relation:
    return Relation(name, target, True, "target", fk, "id")


def _one(name: str, target: str, fk: str) -> Relation:
    return Relation(name, target, False, "source", "id", fk)


def _link(name: str, target: str, table: str, source_col: str, target_col: str) -> Relation:
    return Relation(name, target, True, table, source_col, target_col)


ENTITY_SETS: dict[str, EntitySet] = {s.name: s for s in (
    EntitySet("Things", "Thing", "things", (
        _ID, _p("name", STRING), _p("description", STRING), _p("properties", JSON),
    ), (
        _link("Locations", "Locations", "thing_locations", "thing_id", "location_id"),
        _many("HistoricalLocations", "HistoricalLocations", "thing_id"),
        _many("Datastreams", "Datastreams", "thing_id"),
    )),
    EntitySet("Locations", "Location", "locations", (
        _ID, _p("name", STRING), _p("description", STRING),
        _p("encodingType", STRING, "encoding_type"), _p("location", GEOMETRY, "geom"),
        _p("properties", JSON),
    ), (
        _link("Things", "Things", "thing_locations", "location_id", "thing_id"),
        _link("HistoricalLocations", "HistoricalLocations", "historical_location_locations",
              "location_id", "historical_location_id"),
    )),
    EntitySet("HistoricalLocations", "HistoricalLocation", "historical_locations", (
        _ID, _p("time", TIME, "time"),
    ), (
        _one("Thing", "Things", "thing_id"),
        _link("Locations", "Locations", "historical_location_locations",
              "historical_location_id", "location_id"),
    )),
    EntitySet("Sensors", "Sensor", "sensors", (
        _ID, _p("name", STRING), _p("description", STRING),
        _p("encodingType", STRING, "encoding_type"), _p("metadata", STRING),
        _p("properties", JSON),
    ), (
        _many("Datastreams", "Datastreams", "sensor_id"),
    )),
    EntitySet("ObservedProperties", "ObservedProperty", "observed_properties", (
        _ID, _p("name", STRING), _p("definition", STRING), _p("description", STRING),
        _p("properties", JSON),
    ), (
        _many("Datastreams", "Datastreams", "observed_property_id"),
    )),
    EntitySet("Datastreams", "Datastream", "datastreams", (
        _ID, _p("name", STRING), _p("description", STRING),
        _p("observationType", STRING, "observation_type"),
        _p("unitOfMeasurement", JSON, "unit_name", "unit_symbol", "unit_code"),
        _p("unitOfMeasurement/name", STRING, "unit_name", parent="unitOfMeasurement"),
        _p("unitOfMeasurement/symbol", STRING, "unit_symbol", parent="unitOfMeasurement"),
        _p("unitOfMeasurement/definition", STRING, "unit_code", parent="unitOfMeasurement"),
        _p("observedArea", GEOMETRY, "observed_area"),
        _p("phenomenonTime", INTERVAL, "phenomenon_time_start", "phenomenon_time_end"),
        _p("resultTime", INTERVAL, "result_time_start", "result_time_end"),
        _p("properties", JSON),
    ), (
        _one("Thing", "Things", "thing_id"),
        _one("Sensor", "Sensors", "sensor_id"),
        _one("ObservedProperty", "ObservedProperties", "observed_property_id"),
        _many("Observations", "Observations", "datastream_id"),
    )),
    EntitySet("Observations", "Observation", "observations", (
        _ID, _p("phenomenonTime", TIME, "phenomenon_time"),
        _p("resultTime", TIME, "result_time"), _p("result", NUMBER),
        _p("resultQuality", NUMBER, "quality_flag"), _p("parameters", JSON),
    ), (
        _one("Datastream", "Datastreams", "datastream_id"),
        _one("FeatureOfInterest", "FeaturesOfInterest", "feature_of_interest_id"),
    )),
    EntitySet("FeaturesOfInterest", "FeatureOfInterest", "features_of_interest", (
        _ID, _p("name", STRING), _p("description", STRING),
        _p("encodingType", STRING, "encoding_type"), _p("feature", GEOMETRY, "geom"),
        _p("properties", JSON),
    ), (
        _many("Observations", "Observations", "feature_of_interest_id"),
    )),
)}


def entity_set(name: str) -> EntitySet:
    """The entity set called `name`; KeyError for anything else (callers turn it into 404/400)."""
    return ENTITY_SETS[name]
