"""frost-sta-client (Fraunhofer IOSB's Python client) writes to a real ecobridge server: deep
insert of a Thing with its Location and Datastream, Observations one by one and as a data array
(CreateObservations), JSON Patch, PUT and DELETE; everything is read back through the plain
REST API under /api/v1 to prove it landed."""

from __future__ import annotations

import frost_sta_client as fsc
import httpx
import pytest
from requests.auth import AuthBase
from serving import serve

from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation

PM25 = "urn:ecobridge:def:observed-property:pm25"


class BearerAuth(fsc.AuthHandler):
    """frost-sta-client knows Basic auth only; its handler hook returns any requests auth."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def add_auth_header(self) -> AuthBase:
        token = self.token

        class _Bearer(AuthBase):
            def __call__(self, request):
                request.headers["Authorization"] = f"Bearer {token}"
                return request

        return _Bearer()


@pytest.fixture
def live(settings, store):
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="KZ air",
                   licence="CC-BY-4.0")
    accounts.create_user(store, username="publisher")
    accounts.set_membership(store, user="publisher", org="kz-hydromet", role="publisher")
    token = tokens.create_token(store, user="publisher")["token"]
    with serve(settings, store) as base:
        service = fsc.SensorThingsService(f"{base}/sta/v1.1", auth_handler=BearerAuth(token))
        yield base, service


def _observations(base: str, ds: int) -> list[dict]:
    r = httpx.get(f"{base}/api/v1/datastreams/{ds}/observations",
                  params={"start": "2024-01-01T00:00:00Z", "limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_frost_client_writes_land_in_the_store(live):
    base, service = live
    location = fsc.Location(name="Almaty", description="city centre",
                            encoding_type="application/geo+json",
                            location={"type": "Point", "coordinates": [76.95, 43.24]})
    datastream = fsc.Datastream(
        name="Almaty PM2.5", description="hourly means",
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                         "OM_Measurement",
        unit_of_measurement=fsc.UnitOfMeasurement(name="microgram per cubic metre",
                                                  symbol="µg/m³", definition="ug/m3"),
        sensor=fsc.Sensor(name="BAM-1020", description="beta attenuation monitor",
                          encoding_type="text/plain", metadata="https://example.org/bam"),
        observed_property=fsc.ObservedProperty(name="PM2.5", definition=PM25,
                                               description="fine particles"))
    thing = fsc.Thing(name="Almaty station", description="roof of the hydromet office",
                      properties={"dataset": "kz-air", "code": "ALA-1"})
    thing.locations = [location]
    thing.datastreams = [datastream]
    service.create(thing)
    assert isinstance(thing.id, int)

    got = httpx.get(f"{base}/api/v1/things/{thing.id}").json()
    assert (got["name"], got["code"], got["dataset"]) == ("Almaty station", "ALA-1", "kz-air")
    streams = httpx.get(f"{base}/api/v1/things/{thing.id}/datastreams").json()["items"]
    assert [(s["name"], s["observed_property"]["code"]) for s in streams] == [
        ("Almaty PM2.5", "pm25")]
    ds = fsc.Datastream(id=streams[0]["id"])

    # one by one
    singles = [fsc.Observation(result=value, phenomenon_time=time, datastream=ds)
               for value, time in ((12.5, "2024-05-01T10:00:00+00:00"),
                                   (14.0, "2024-05-01T11:00:00Z"))]
    for obs in singles:
        service.create(obs)
    assert all(isinstance(o.id, int) for o in singles)

    # as a data array (the client builds `components` from a set: any order)
    dav = fsc.DataArrayValue()
    dav.datastream = ds
    dav.components = {fsc.DataArrayValue.Property.PHENOMENON_TIME,
                      fsc.DataArrayValue.Property.RESULT}
    for hour, value in ((12, 16.5), (13, 18.0), (14, 21.5)):
        dav.add_observation(fsc.Observation(result=value, datastream=ds,
                                            phenomenon_time=f"2024-05-01T{hour}:00:00Z"))
    document = fsc.DataArrayDocument()
    document.add_data_array_value(dav)
    created = service.observations().create(document)
    assert len(created) == 3 and all("/Observations(" in o.self_link for o in created)

    stored = _observations(base, ds.id)
    assert [o["result"] for o in stored] == [12.5, 14.0, 16.5, 18.0, 21.5]
    assert {o["id"] for o in stored} >= {o.id for o in singles}
    summary = httpx.get(f"{base}/api/v1/datastreams/{ds.id}").json()
    assert summary["observation_count"] == 5 and summary["last_result"] == 21.5

    # JSON Patch (the client's patch()), then PUT (the client's update())
    service.patch(singles[1], [{"op": "replace", "path": "/result", "value": 15.0}])
    assert [o["result"] for o in _observations(base, ds.id)][1] == 15.0
    service.patch(thing, [{"op": "replace", "path": "/name", "value": "Almaty centre"}])
    assert httpx.get(f"{base}/api/v1/things/{thing.id}").json()["name"] == "Almaty centre"
    sensor = fsc.Sensor(name="Spare monitor", description="in storage",
                        encoding_type="text/plain", metadata="none",
                        properties={"serial": "A-17"})
    service.create(sensor)
    sensor.description = "installed on the roof"
    service.update(sensor)
    assert service.sensors().find(sensor.id).description == "installed on the roof"

    # DELETE: one Observation, then the Datastream with the rest
    service.delete(singles[0])
    assert [o["result"] for o in _observations(base, ds.id)] == [15.0, 16.5, 18.0, 21.5]
    service.delete(ds)
    assert httpx.get(f"{base}/api/v1/datastreams/{ds.id}").status_code == 404
    assert httpx.get(f"{base}/api/v1/things/{thing.id}/datastreams").json()["items"] == []


def test_frost_client_sees_refusals(live):
    base, service = live
    anonymous = fsc.SensorThingsService(service.url.url)
    with pytest.raises(Exception) as refused:
        anonymous.create(fsc.Thing(name="x", description="y", properties={"dataset": "kz-air"}))
    assert refused.value.response.status_code == 401
    with pytest.raises(Exception) as bad:
        service.create(fsc.Thing(name="no dataset", description="y"))
    assert bad.value.response.status_code == 400
    assert bad.value.response.json()["field"] == "properties.dataset"
    assert httpx.get(f"{base}/api/v1/things").json()["items"] == []
