"""frictionless on our Camtrap DP exports, downloaded from the real server: the package validates
against the Camtrap DP 1.0.2 profile and table schemas. The URLs in the package are served from
the upstream copies in ../shared/data by this test's own requests adapter (not the one the
importer uses), with the network unreachable while frictionless runs."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from pathlib import Path

import frictionless
import httpx
import pytest
import requests
from biodiversity.conftest import build_world
from frictionless import Package, system
from requests.adapters import BaseAdapter
from requests.models import Response
from serving import serve

from ecobridge.biodiversity.camtrap import import_camtrap_dp
from ecobridge.governance.tokens import create_token

UPSTREAM = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"


class Upstream(BaseAdapter):
    def __init__(self, files: dict[str, bytes]):
        super().__init__()
        self.files, self.asked = files, []

    def send(self, request, **kwargs):
        self.asked.append(request.url)
        if request.url not in self.files:
            raise requests.ConnectionError(f"not served offline: {request.url}")
        response = Response()
        response.status_code, response.url = 200, request.url
        response.raw = io.BytesIO(self.files[request.url])
        return response

    def close(self) -> None:
        pass


def _session(example: Path) -> tuple[requests.Session, Upstream]:
    names = ("camtrap-dp-profile", "deployments-table-schema", "media-table-schema",
             "observations-table-schema")
    files = {f"{UPSTREAM}{n}.json": (example / f"{n}.json").read_bytes() for n in names}
    files["https://specs.frictionlessdata.io/schemas/data-package.json"] = json.dumps(
        Package.metadata_profile).encode()
    files["http://json.schemastore.org/geojson.json"] = (
        Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json").read_bytes()
    adapter = Upstream(files)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter


def _validate(folder: Path, example: Path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    session, adapter = _session(example)
    with monkeypatch.context() as m:
        m.setattr(socket, "create_connection", refuse)
        m.setattr(socket.socket, "connect", refuse)
        with system.use_context(http_session=session):
            report = Package(str(folder / "datapackage.json")).validate()
    return report, adapter


@pytest.fixture
def exports(settings, store, shared_data, tmp_path):
    build_world(store)
    example = shared_data / "camtrap-dp-example"
    import_camtrap_dp(store, example, dataset="open-records")
    import_camtrap_dp(store, example, dataset="tiger-traps")
    token = create_token(store, user="aigerim", days=1)["token"]
    out = {}
    with serve(settings, store) as base:
        for dataset, headers in (("open-records", {}),
                                 ("tiger-traps", {"Authorization": f"Bearer {token}"})):
            got = httpx.get(f"{base}/api/v1/datasets/{dataset}/camtrap-dp", headers=headers,
                            timeout=120)
            assert got.status_code == 200
            folder = tmp_path / dataset
            with zipfile.ZipFile(io.BytesIO(got.content)) as z:
                z.extractall(folder)
            out[dataset] = folder
    return example, out


@pytest.mark.parametrize("dataset", ["open-records", "tiger-traps"])
def test_frictionless_validates_our_export(exports, monkeypatch, dataset):
    example, folders = exports
    report, adapter = _validate(folders[dataset], example, monkeypatch)
    assert report.valid, report.flatten(["type", "message"])[:5]
    rows = {task.name: task.stats["rows"] for task in report.tasks}
    source = {name: sum(1 for _ in (example / f"{name}.csv").open(encoding="utf-8")) - 1
              for name in ("deployments", "media", "observations")}
    assert rows == source
    assert f"{UPSTREAM}camtrap-dp-profile.json" in adapter.asked  # the profile was applied
    descriptor = json.loads((folders[dataset] / "datapackage.json").read_text("utf-8"))
    assert descriptor["profile"] == f"{UPSTREAM}camtrap-dp-profile.json"
    if dataset == "tiger-traps":  # the partner's copy says it is generalised
        assert "generalised" in descriptor["description"] and descriptor["coordinatePrecision"]


def test_frictionless_catches_a_broken_export(exports, monkeypatch):
    """The same check fails on a damaged copy, so a pass above means something."""
    example, folders = exports
    folder = folders["open-records"]
    text = (folder / "media.csv").read_text("utf-8").splitlines(True)
    text[3] = text[3].replace("image/jpeg", "text/plain")
    (folder / "media.csv").write_text("".join(text), "utf-8")
    report, _ = _validate(folder, example, monkeypatch)
    assert not report.valid
    errors = report.flatten(["rowNumber", "fieldName"])
    assert [4, "fileMediatype"] in errors
