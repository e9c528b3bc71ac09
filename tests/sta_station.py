"""A PM2.5 station made through SensorThings over HTTP (one Thing, its Location and Datastream),
for tests that need a real station on a served app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

PM25 = "urn:ecobridge:def:observed-property:pm25"


def post_station(base: str, headers: dict, *, name: str, dataset: str,
                 coordinates: list[float]) -> tuple[int, int]:
    """(thing id, datastream id) of a new station with one PM2.5 Datastream."""
    body = {"name": name, "description": "roof", "properties": {"dataset": dataset},
            "Locations": [{"name": name, "description": "city",
                           "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": coordinates}}],
            "Datastreams": [{
                "name": "PM2.5", "description": "hourly",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                                   "OM_Measurement",
                "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "µg/m³",
                                      "definition": "ug/m3"},
                "Sensor": {"name": f"BAM {name}", "description": "beta attenuation",
                           "encodingType": "text/plain", "metadata": "https://example.org/bam"},
                "ObservedProperty": {"name": "PM2.5", "definition": PM25, "description": ""}}]}
    made = httpx.post(f"{base}/sta/v1.1/Things", json=body, headers=headers)
    assert made.status_code == 201, made.text
    location = made.headers["location"]
    thing = int(location[location.rindex("(") + 1:-1])
    streams = httpx.get(f"{base}/sta/v1.1/Things({thing})/Datastreams", headers=headers).json()
    return thing, streams["value"][0]["@iot.id"]


def post_loud_station(base: str, headers: dict, *, name: str, dataset: str,
                      lon: float = 76.9) -> tuple[int, int]:
    """A station (at `lon`, 43.2) whose last three hours (3 to 5 hours ago) hold 180 µg/m³ of
    PM2.5: above the limit of the alert tests' rules."""
    thing, stream = post_station(base, headers, name=name, dataset=dataset,
                                 coordinates=[lon, 43.2])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    loud = [[(now - timedelta(hours=h)).isoformat(), 180.0] for h in (5, 4, 3)]
    sent = httpx.post(f"{base}/sta/v1.1/CreateObservations", headers=headers,
                      json=[{"Datastream": {"@iot.id": stream},
                             "components": ["phenomenonTime", "result"], "dataArray": loud}])
    assert sent.status_code == 201, sent.text
    return thing, stream
