"""biodiversity.service writers: bulk inserts from Arrow or dicts, checked, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from ecobridge.biodiversity import service as bio
from ecobridge.catalog.service import create_dataset
from ecobridge.errors import Conflict, Forbidden, InvalidInput
from ecobridge.governance.organisations import create_organisation
from ecobridge.governance.policy import Principal

T0 = datetime(2024, 10, 1, tzinfo=UTC)


@pytest.fixture
def dataset(store) -> str:
    create_organisation(store, slug="park", name="A park", country="RUS")
    create_dataset(store, slug="traps", owner="park", domain="wildlife", title="Traps",
                   licence="CC0-1.0")
    bio.add_taxa(store, [{"scientific_name": "Panthera pardus orientalis",
                          "vernacular_names": {"en": "Amur leopard", "ru": "леопард"}}])
    bio.add_deployments(store, dataset="traps", rows=[
        {"deployment_id": "D1", "latitude": 43.1, "longitude": 131.4, "country": "RUS",
         "deployment_start": T0, "deployment_end": T0 + timedelta(days=30),
         "coordinate_uncertainty": 30, "location_name": "ridge"},
    ])
    return "traps"


def _detection(**over) -> dict:
    row = {"observation_id": "O1", "deployment_id": "D1", "event_id": "E1",
           "event_start": T0 + timedelta(days=2), "event_end": T0 + timedelta(days=2, seconds=9),
           "observation_level": "event", "observation_type": "animal",
           "scientific_name": "Panthera pardus orientalis", "count": 1, "individual_id": "L-1"}
    return row | over


def test_deployment_gets_a_point_geometry(store, dataset):
    assert store.one("SELECT ST_X(geom), ST_Y(geom) FROM camtrap_deployments") == (131.4, 43.1)


def test_media_detections_and_derived_occurrences(store, dataset):
    media = pa.table({"media_id": ["M1", "M2"], "deployment_id": ["D1", "D1"],
                      "timestamp": pa.array([T0 + timedelta(days=2)] * 2,
                                            pa.timestamp("s", tz="UTC")),
                      "file_path": ["media/M1.jpg", "media/M2.jpg"], "file_public": [False] * 2,
                      "file_mediatype": ["image/jpeg"] * 2})
    assert bio.add_media(store, dataset=dataset, rows=media) == 2
    assert bio.add_detections(store, dataset=dataset, rows=[
        _detection(), _detection(observation_id="O2", observation_type="blank",
                                 scientific_name=None, count=None, individual_id=None)]) == 2
    assert bio.occurrences_from_detections(store, dataset=dataset, properties={"demo": True}) == 1
    occ = store.dicts("SELECT * FROM occurrences")[0]
    assert occ["occurrence_id"] == "O1" and occ["country_code"] == "RU"
    assert occ["basis_of_record"] == "MachineObservation" and occ["organism_id"] == "L-1"
    assert (occ["decimal_latitude"], occ["decimal_longitude"]) == (43.1, 131.4)
    assert occ["taxon_id"] == store.scalar("SELECT id FROM taxa")
    assert store.scalar("SELECT properties->>'$.demo' FROM occurrences") == "true"
    # derived once: a second call adds nothing
    assert bio.occurrences_from_detections(store, dataset=dataset) == 0


@pytest.mark.parametrize("over, field", [
    ({"deployment_id": "D9"}, "deployment_id"),
    ({"event_start": T0 - timedelta(days=1), "event_end": T0}, "event_start"),
    ({"event_end": T0}, "event_end"),
    ({"observation_type": "dragon"}, "observation_type"),
    ({"count": 0}, "count"),
    ({"scientific_name": None}, "scientific_name"),
    ({"media_id": "nope"}, "media_id"),
])
def test_bad_detection_is_rejected_naming_row_and_field(store, dataset, over, field):
    rows = [_detection(observation_id="ok"), _detection(observation_id="bad", **over)]
    with pytest.raises(InvalidInput) as err:
        bio.add_detections(store, dataset=dataset, rows=rows)
    assert err.value.field == field and err.value.row == 2
    assert store.scalar("SELECT count(*) FROM camtrap_observations") == 0   # all or nothing


def test_duplicates_and_unknown_columns_are_rejected(store, dataset):
    with pytest.raises(InvalidInput) as err:
        bio.add_detections(store, dataset=dataset, rows=[_detection(), _detection()])
    assert err.value.field == "observation_id" and err.value.row == 2
    with pytest.raises(InvalidInput) as err:
        bio.add_detections(store, dataset=dataset, rows=[_detection(colour="red")])
    assert err.value.field == "colour"
    bio.add_detections(store, dataset=dataset, rows=[_detection()])
    with pytest.raises(Conflict):
        bio.add_detections(store, dataset=dataset, rows=[_detection()])


def test_only_publishers_of_the_owner_write(store, dataset):
    org = store.scalar("SELECT id FROM organisations WHERE slug = 'park'")
    viewer = Principal(user_id=5, username="v", roles={org: "viewer"})
    with pytest.raises(Forbidden):
        bio.add_detections(store, dataset=dataset, rows=[_detection()], principal=viewer)
    publisher = Principal(user_id=6, username="p", roles={org: "publisher"})
    assert bio.add_detections(store, dataset=dataset, rows=[_detection()],
                              principal=publisher) == 1


def test_taxa_are_added_once(store, dataset):
    again = [{"scientific_name": "Panthera pardus orientalis"}, {"scientific_name": "Sus scrofa"}]
    assert bio.add_taxa(store, again) == 1
    names = store.scalar("SELECT vernacular_names->>'$.ru' FROM taxa"
                         " WHERE scientific_name = 'Panthera pardus orientalis'")
    assert names == "леопард"
