"""The exchange routes on a real server (downloads, uploads, the access policy through them) and
the four CLI commands, run as `ecobridge` runs them."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from serving import serve
from typer.testing import CliRunner

from ecobridge.biodiversity.camtrap import import_camtrap_dp
from ecobridge.cli import _register, app
from ecobridge.errors import EcobridgeError
from ecobridge.governance.tokens import create_token
from ecobridge.store import open_store

from .conftest import build_world


# A loaded CI machine can take longer than httpx's 5 s default to build an archive.
def _get(url: str, **kwargs) -> httpx.Response:
    return httpx.get(url, timeout=120, **kwargs)


def _post(url: str, **kwargs) -> httpx.Response:
    return httpx.post(url, timeout=120, **kwargs)


def _token(store, user: str) -> dict:
    return {"Authorization": f"Bearer {create_token(store, user=user, days=1)['token']}"}


def test_downloads_and_uploads_over_http(settings, store, world, shared_data):
    example = shared_data / "camtrap-dp-example"
    import_camtrap_dp(store, example, dataset="tiger-traps")
    partner, owner = _token(store, "aigerim"), _token(store, "li")
    outsider = _token(store, "bat")
    with serve(settings, store) as base:
        api = f"{base}/api/v1/datasets"
        # hidden is missing: anonymous and outsiders get 404, like a dataset that is not there
        for headers in ({}, outsider):
            for kind in ("dwca", "camtrap-dp"):
                assert _get(f"{api}/tiger-traps/{kind}", headers=headers).status_code == 404
        assert _get(f"{api}/no-such-thing/dwca").status_code == 404
        got = _get(f"{api}/tiger-traps/dwca", headers=partner)
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        assert "tiger-traps-dwca.zip" in got.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(got.content)) as z:
            assert set(z.namelist()) == {"meta.xml", "eml.xml", "occurrence.csv",
                                         "multimedia.csv"}
            assert "generalised" in z.read("eml.xml").decode()
        package = _get(f"{api}/tiger-traps/camtrap-dp", headers=partner)
        assert package.status_code == 200
        with zipfile.ZipFile(io.BytesIO(package.content)) as z:
            assert json.loads(z.read("datapackage.json"))["name"] == "tiger-traps"

        # uploads: only the owner's publishers; a refused upload adds nothing
        archive = (shared_data / "dwca" / "camtrap-dp-example-dwca.zip").read_bytes()
        files = {"file": ("mica.zip", archive, "application/zip")}
        assert _post(f"{api}/open-records/dwca", files=files).status_code == 401
        assert _post(f"{api}/open-records/dwca", files=files,
                          headers=partner).status_code == 403
        done = _post(f"{api}/open-records/dwca", files=files, headers=owner)
        assert done.status_code == 201, done.text
        body = done.json()
        assert body["rows_in"] == body["rows_accepted"] == 29 + 390
        assert body["file"] == "mica.zip"
        again = _post(f"{api}/open-records/dwca", files=files, headers=owner).json()
        assert again["rows_inserted"] == 0
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as z:
            for name in ("datapackage.json", "deployments.csv", "media.csv",
                         "observations.csv"):
                z.write(example / name, f"mica/{name}")
        posted = _post(f"{api}/open-records/camtrap-dp", headers=owner,
                            files={"file": ("mica.zip", zipped.getvalue())})
        assert posted.status_code == 201, posted.text
        assert posted.json()["rows_inserted"] == 4 + 423 + 549
        broken = _post(f"{api}/open-records/camtrap-dp", headers=owner,
                            files={"file": ("x.zip", b"not a zip")})
        assert broken.status_code == 422
        assert broken.headers["content-type"].startswith("application/problem+json")
    audited = store.rows("SELECT username, kind FROM audit_events")
    assert ("aigerim", "dwca") in audited and ("aigerim", "camtrap-dp") in audited


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOBRIDGE_HOME", str(tmp_path / "home"))
    _register()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        if isinstance(result.exception, EcobridgeError):
            result.exit_code = result.exception.exit_code  # what cli.main turns it into
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return run


def test_cli_commands(cli, tmp_path, shared_data):
    from ecobridge.config import Settings

    store = open_store(Settings(home=tmp_path / "home"))
    try:
        build_world(store)
    finally:
        store.close()
    dwca = shared_data / "dwca" / "plazi-draposa-taxon-core-dwca.zip"
    out = cli("import-dwca", str(dwca), "--dataset", "open-records").output
    assert "done" in out and "metadata.xml" in out and "taxa.txt" in out
    cli("import-dwca", str(dwca), "--dataset", "secret-traps", "--as", "bat", code=3)
    package = shared_data / "camtrap-dp-example"
    out = cli("import-camtrap-dp", str(package), "--dataset", "tiger-traps").output
    assert "inserted 976" in out.replace(",", "")
    cli("export-dwca", "--dataset", "tiger-traps", str(tmp_path / "o.zip"))
    cli("export-camtrap-dp", "--dataset", "tiger-traps", str(tmp_path / "c.zip"), "--as",
        "aigerim")
    with zipfile.ZipFile(tmp_path / "c.zip") as z:
        assert "generalised" in json.loads(z.read("datapackage.json"))["description"]
    with zipfile.ZipFile(tmp_path / "o.zip") as z:  # the operator sees precise positions
        assert "generalised" not in z.read("eml.xml").decode()
    cli("export-camtrap-dp", "--dataset", "tiger-traps", str(tmp_path / "x.zip"), "--as",
        "bat", code=3)
    assert not (tmp_path / "x.zip").exists()
    cli("import-camtrap-dp", str(dwca), "--dataset", "open-records", code=2)
