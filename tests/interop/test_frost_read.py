"""frost-sta-client (Fraunhofer IOSB's Python client) reads from a real ecobridge server on
127.0.0.1: lists, filters, expands, counts, finds one entity and follows @iot.nextLink over many
pages of observations with its own iterator. The store holds the SensorThings test world (a
public, a private and a public-but-sensitive dataset) plus a long series on one datastream."""

from __future__ import annotations

import frost_sta_client as fsc
import httpx
import pytest
from serving import serve
from sta.world import world_store

SERIES = 437          # observations added to datastream 1: several pages at $top=50


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings, store = world_store(tmp_path_factory, "frost-read")
    store.execute(
        "INSERT INTO observations (id, datastream_id, phenomenon_time, result, quality_flag)"
        " SELECT 100 + i, 1, TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_hours(i), i * 0.5, 1"
        " FROM range(?) r(i)", [SERIES])
    try:
        with serve(settings, store) as base:
            yield base, fsc.SensorThingsService(f"{base}/sta/v1.1")
    finally:
        store.close()


def _all_ids(base: str, path: str) -> list[int]:
    """Every @iot.id of a collection, straight over HTTP, following nextLinks."""
    url, found = f"{base}/sta/v1.1/{path}", []
    while url:
        body = httpx.get(url).json()
        found += [e["@iot.id"] for e in body["value"]]
        url = body.get("@iot.nextLink")
    return found


def test_list_things_with_count(live):
    base, service = live
    things = service.things().query().count().list()
    names = sorted(t.name for t in things)
    # the private dataset's "Hidden camera" is not there for an anonymous reader
    assert names == ["Almaty station", "Astana station", "Leopard trap"]
    assert things.count == 3
    assert sorted(t.id for t in things) == sorted(_all_ids(base, "Things"))


def test_filter_datastreams(live):
    _, service = live
    streams = service.datastreams().query().filter("startswith(name, 'Almaty')").list()
    assert [(d.id, d.name) for d in streams] == [(1, "Almaty PM2.5")]
    assert streams.get(0).unit_of_measurement.symbol == "µg/m³"
    by_thing = service.datastreams().query().filter("Thing/properties/height lt 5").list()
    assert [d.name for d in by_thing] == ["Astana NO2"]
    nothing = service.datastreams().query().filter("Thing/name eq 'Hidden camera'").list()
    assert [d.id for d in nothing] == []


def test_expand_and_find(live):
    _, service = live
    things = service.things().query().filter("id eq 1").expand(
        "Locations,Datastreams($select=name,unitOfMeasurement)").list()
    (thing,) = list(things)
    assert [loc.name for loc in thing.locations] == ["Almaty"]
    assert thing.locations.get(0).location["coordinates"] == [76.9, 43.2]
    assert [d.name for d in thing.datastreams] == ["Almaty PM2.5"]
    found = service.things().find(2)
    assert (found.id, found.name) == (2, "Astana station")
    with pytest.raises(Exception, match="404|Not Found|not found"):
        service.things().find(3)             # hidden: the same as missing


def test_observations_page_through_the_iterator(live):
    base, service = live
    stream = service.datastreams().find(1)
    pages = stream.get_observations().query().top(50).count().orderby(
        "phenomenonTime", "ASC").list()
    assert pages.count == SERIES + 3
    seen = [o.id for o in pages]          # the iterator GETs every @iot.nextLink verbatim
    assert len(seen) == SERIES + 3 and len(set(seen)) == len(seen)
    assert seen == [1, 2, 3, *range(100, 100 + SERIES)]
    # the same rows as walking the links by hand, and the links are absolute
    first = httpx.get(f"{base}/sta/v1.1/Datastreams(1)/Observations",
                      params={"$top": "50"}).json()
    assert first["@iot.nextLink"].startswith(f"{base}/sta/v1.1/Datastreams(1)/Observations?")
    assert _all_ids(base, "Datastreams(1)/Observations?$top=50") == seen


def test_filtered_observations_and_count(live):
    _, service = live
    big = service.observations().query().filter(
        "Datastream/id eq 1 and result ge 200").count().top(10).list()
    assert big.count == sum(1 for i in range(SERIES) if i * 0.5 >= 200)
    assert all(o.result >= 200 for o in big)
