"""Camtrap DP import and export with the real example package: offline validation against the
vendored profiles (1.0, 1.0.1, 1.0.2), counts and values against the package's own CSV files
(read here with the csv module), a broken copy refused with resource, row and field, a second
import adding nothing, and an export that validates and imports again to the same counts."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from ecobridge.biodiversity.camtrap import export_camtrap_dp, import_camtrap_dp
from ecobridge.biodiversity.camtrap_profile import DATA, validate
from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import location_sql

FILES = ("datapackage.json", "deployments.csv", "media.csv", "observations.csv")


@pytest.fixture
def example(shared_data) -> Path:
    return shared_data / "camtrap-dp-example"


@pytest.fixture
def offline(monkeypatch):
    """No connection can be opened from here on: validation must use the vendored files."""
    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _rows(folder: Path, name: str) -> list[dict]:
    with (folder / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _copy(example: Path, folder: Path, version: str | None = None) -> Path:
    folder.mkdir()
    for name in FILES:
        shutil.copy(example / name, folder / name)
    if version:
        text = (folder / "datapackage.json").read_text(encoding="utf-8")
        (folder / "datapackage.json").write_text(
            text.replace("/camtrap-dp/1.0.2/", f"/camtrap-dp/{version}/"), encoding="utf-8")
    return folder


def test_vendored_profiles_are_the_upstream_files(example):
    for name in ("camtrap-dp-profile.json", "deployments-table-schema.json",
                             "media-table-schema.json", "observations-table-schema.json"):
        assert (DATA / "1.0.2" / name).read_bytes() == (example / name).read_bytes()
        assert (DATA / "1.0.1" / name).read_bytes() == (
            example / "schemas-1.0.1" / name).read_bytes()
    assert "MIT" in (DATA / "LICENSE").read_text()


def test_import_the_real_example_offline(store, example, world, offline):
    deployments = _rows(example, "deployments.csv")
    media = _rows(example, "media.csv")
    observations = _rows(example, "observations.csv")
    assert (len(deployments), len(media), len(observations)) == (4, 423, 549)
    report = import_camtrap_dp(store, example, dataset="tiger-traps", principal=world.owner)
    assert report.status == "done" and report.kind == "camtrap-dp"
    assert report.rows_in == report.rows_accepted == report.rows_inserted == 4 + 423 + 549
    assert report.rows_rejected == 0
    counts = {t: store.scalar(f"SELECT count(*) FROM camtrap_{t}")
              for t in ("deployments", "media", "observations")}
    assert counts == {"deployments": 4, "media": 423, "observations": 549}
    # values: times with their offsets end up as the same instants in UTC
    stored = {r["deployment_id"]: r for r in store.dicts("SELECT * FROM camtrap_deployments")}
    for d in deployments:
        got = stored[d["deploymentID"]]
        assert got["deployment_start"] == datetime.fromisoformat(d["deploymentStart"])
        assert (got["latitude"], got["longitude"]) == (float(d["latitude"]),
                                                       float(d["longitude"]))
        assert got["camera_tilt"] == int(d["cameraTilt"])
        assert got["tags"] == (d["deploymentTags"] or None)
    detections = {r["observation_id"]: r for r in store.dicts(
        "SELECT * FROM camtrap_observations")}
    for o in observations:
        got = detections[o["observationID"]]
        assert got["event_start"] == datetime.fromisoformat(o["eventStart"])
        assert got["scientific_name"] == (o["scientificName"] or None)
        assert got["bbox_x"] == (float(o["bboxX"]) if o["bboxX"] else None)
    # one occurrence per event-level animal observation, as camtrapdp::write_dwc makes them
    events = {o["observationID"] for o in observations
              if o["observationLevel"] == "event" and o["observationType"] == "animal"}
    occurrences = store.dicts("SELECT occurrence_id, taxon_id, decimal_latitude FROM"
                              " occurrences")
    assert {o["occurrence_id"] for o in occurrences} == events
    assert all(o["taxon_id"] is not None for o in occurrences)
    descriptor = json.loads((example / "datapackage.json").read_text(encoding="utf-8"))
    fox = next(t for t in descriptor["taxonomic"] if t["scientificName"] == "Vulpes vulpes")
    names = json.loads(store.scalar("SELECT vernacular_names FROM taxa WHERE"
                                    " scientific_name = 'Vulpes vulpes'"))
    assert names["en"] == fox["vernacularNames"]["eng"]
    assert "individuals" in report.message  # the extra resource is named, not dropped silently

    again = import_camtrap_dp(store, example, dataset="tiger-traps", principal=world.owner)
    assert (again.rows_inserted, again.rows_unchanged) == (0, report.rows_in)
    assert store.scalar("SELECT count(*) FROM camtrap_observations") == 549
    assert store.scalar("SELECT count(*) FROM occurrences") == len(events)


@pytest.mark.parametrize("version", ["1.0", "1.0.1"])
def test_older_versions_validate_against_their_profiles(store, example, tmp_path, world,
                                                        offline, version):
    folder = _copy(example, tmp_path / "pkg", version)
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert validate(folder, descriptor, "pkg") == version
    report = import_camtrap_dp(store, folder, dataset="open-records")
    assert report.rows_inserted == 4 + 423 + 549
    assert store.scalar("SELECT version FROM camtrap_packages") == version


def test_a_bad_value_is_refused_naming_resource_row_and_field(store, example, tmp_path, world,
                                                              offline):
    folder = _copy(example, tmp_path / "broken")
    lines = (folder / "observations.csv").read_text(encoding="utf-8").splitlines(True)
    lines[5] = lines[5].replace(",media,animal,", ",media,dragon,", 1)
    (folder / "observations.csv").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_camtrap_dp(store, folder, dataset="open-records")
    error = caught.value
    assert (error.row, error.field) == (5, "observationType")  # data row 5 = line 6
    assert error.file.endswith("observations.csv")
    assert "resource observations" in error.detail and "dragon" in error.detail
    assert error.extra["errors"][0]["resource"] == "observations"
    assert store.scalar("SELECT count(*) FROM camtrap_deployments") == 0
    assert store.one("SELECT status, kind FROM ingest_runs") == ("failed", "camtrap-dp")


def test_descriptor_errors_and_unknown_versions(store, example, tmp_path, world, offline):
    folder = _copy(example, tmp_path / "noproject")
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    del descriptor["project"]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    with pytest.raises(InvalidInput, match="project"):
        import_camtrap_dp(store, folder, dataset="open-records")
    with pytest.raises(InvalidInput, match="not Camtrap DP"):
        import_camtrap_dp(store, _copy(example, tmp_path / "v2", "2.0"),
                          dataset="open-records")
    descriptor = json.loads((example / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"][0]["path"] = "../../etc/passwd"
    escape = _copy(example, tmp_path / "escape")
    (escape / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a file inside the package"):
        import_camtrap_dp(store, escape, dataset="open-records")


def _unzip(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(folder)
    return folder


def test_export_validates_and_round_trips(store, example, tmp_path, world, offline):
    import_camtrap_dp(store, example, dataset="open-records")
    data = export_camtrap_dp(store, world.anonymous, "open-records")
    folder = _unzip(data, tmp_path / "export")
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert validate(folder, descriptor, "export") == "1.0.2"
    assert descriptor["licenses"][0] == {"name": "CC-BY-4.0", "scope": "data"}
    source = json.loads((example / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["project"] == source["project"]
    assert {t["scientificName"] for t in descriptor["taxonomic"]} == {
        o["scientificName"] for o in _rows(example, "observations.csv") if o["scientificName"]}
    for name in ("deployments.csv", "media.csv", "observations.csv"):
        assert len(_rows(folder, name)) == len(_rows(example, name))
    exported = {d["deploymentID"]: d for d in _rows(folder, "deployments.csv")}
    for d in _rows(example, "deployments.csv"):  # not sensitive: precise for everyone
        assert float(exported[d["deploymentID"]]["latitude"]) == float(d["latitude"])
        assert exported[d["deploymentID"]]["locationName"] == d["locationName"]

    report = import_camtrap_dp(store, tmp_path / "export", dataset="secret-traps")
    assert report.rows_inserted == 4 + 423 + 549
    counts = store.rows("SELECT dataset_id, count(*) FROM camtrap_observations GROUP BY 1"
                        " ORDER BY 1")
    assert [n for _, n in counts] == [549, 549]
    assert store.rows("SELECT dataset_id, count(*) FROM occurrences GROUP BY 1 ORDER BY 1")[0][1] \
        == store.rows("SELECT dataset_id, count(*) FROM occurrences GROUP BY 1 ORDER BY 1")[1][1]


def test_sensitive_export_is_generalised_for_those_without_precise_access(
        store, example, tmp_path, world, offline):
    import_camtrap_dp(store, example, dataset="tiger-traps", principal=world.owner)
    precise = _rows(_unzip(export_camtrap_dp(store, world.precise, "tiger-traps"),
                           tmp_path / "precise"), "deployments.csv")
    folder = _unzip(export_camtrap_dp(store, world.partner, "tiger-traps"), tmp_path / "coarse")
    coarse = {d["deploymentID"]: d for d in _rows(folder, "deployments.csv")}
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert validate(folder, descriptor, "coarse") == "1.0.2"
    assert "generalised" in descriptor["description"]
    assert descriptor["coordinatePrecision"] == round(10 / 111.32, 3)
    loc, params = location_sql(world.partner, "c.geom", "d")
    grid = {r[0]: r[1:] for r in store.rows(
        f"SELECT c.deployment_id, ST_Y({loc}), ST_X({loc}) FROM camtrap_deployments c"
        " JOIN datasets d ON d.id = c.dataset_id", [*params, *params])}
    for d in precise:
        c = coarse[d["deploymentID"]]
        assert (float(c["latitude"]), float(c["longitude"])) != (float(d["latitude"]),
                                                                 float(d["longitude"]))
        assert float(c["latitude"]) == pytest.approx(grid[d["deploymentID"]][0], abs=1e-5)
        assert c["locationName"] == "" and int(c["coordinateUncertainty"]) >= 7000
        assert d["latitude"] not in json.dumps(descriptor)  # nor in the bbox
    # nobody outside the grants learns the dataset exists; every read is audited
    with pytest.raises(NotFound):
        export_camtrap_dp(store, world.outsider, "tiger-traps")
    audited = store.rows("SELECT username, kind, record_count FROM audit_events"
                         " ORDER BY id")
    assert ("aigerim", "camtrap-dp", 4 + 423 + 549) in audited
    assert all(user != "li" for user, _, _ in audited)  # the owner's own reads are not
