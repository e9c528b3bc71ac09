"""`ecobridge orgs|users|tokens|datasets|audit|access-requests`, run as the CLI runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ecobridge.cli import _register, app
from ecobridge.config import Settings
from ecobridge.errors import EcobridgeError
from ecobridge.store import open_store

PASSWORD = "a long enough password"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOBRIDGE_HOME", str(tmp_path / "home"))
    _register()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        if isinstance(result.exception, EcobridgeError):
            # what `ecobridge` (cli.main) turns a domain error into
            result.exit_code = result.exception.exit_code
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    return run


@pytest.mark.slow
def test_accounts_tokens_policies_and_audit_from_the_cli(cli, tmp_path):
    cli("orgs", "create", "tiger-park", "--name", "Northeast Tiger Park", "--country", "CHN")
    cli("orgs", "create", "leopard-park", "--name", "Land of the Leopard", "--country", "RUS")
    cli("users", "create", "li", "--password", PASSWORD, "--org", "tiger-park", "--role",
        "admin")
    cli("users", "create", "ivan", "--password", PASSWORD, "--org", "leopard-park", "--role",
        "analyst")
    cli("users", "create", "root", "--password", PASSWORD, "--platform-admin")
    users = json.loads(cli("users", "list", "--json").output)
    assert {(u["username"], u["role"]) for u in users} >= {("li", "admin"), ("ivan", "analyst")}
    assert any(u["username"] == "root" and u["is_platform_admin"] for u in users)

    token = cli("tokens", "create", "ivan", "--name", "laptop", "--days", "1").stdout.strip()
    assert token.startswith("eb_")
    listed = json.loads(cli("tokens", "list", "ivan", "--json").output)
    assert len(listed) == 1 and token not in json.dumps(listed)

    settings = Settings(home=tmp_path / "home")
    store = open_store(settings)
    try:
        from ecobridge.catalog.service import create_dataset

        create_dataset(store, slug="tiger-traps", owner="tiger-park", domain="wildlife",
                       title="Tiger camera traps", licence="CC-BY-4.0", visibility="private",
                       sensitive=True)
    finally:
        store.close()

    # an analyst of another organisation may not change the policy; the owner's admin may
    refused = cli("datasets", "policy", "tiger-traps", "--visibility", "partners", "--as",
                  "ivan", ok=False)
    assert refused.exit_code == 3  # hidden from ivan: not found
    cli("datasets", "policy", "tiger-traps", "--visibility", "partners", "--generalise-km", "20",
        "--embargo-until", "2030-01-01", "--as", "li")
    granted = cli("datasets", "grant", "tiger-traps", "--country", "RUS", "--until",
                  "2099-12-31", "--as", "li")
    assert "grant 1" in granted.output
    policy = json.loads(cli("datasets", "policy", "tiger-traps", "--json", "--as", "li").output)
    assert policy["visibility"] == "partners" and policy["generalise_km"] == 20
    assert policy["grants"][0]["country"] == "RUS"

    request = cli("access-requests", "create", "tiger-traps", "--purpose", "joint patrols",
                  "--as", "ivan", ok=False)
    assert request.exit_code == 0, request.output
    assert cli("access-requests", "approve", "1", "--as", "ivan", ok=False).exit_code == 4
    cli("access-requests", "approve", "1", "--precise", "--as", "li")
    requests = json.loads(cli("access-requests", "list", "--json", "--as", "li").output)
    assert requests[0]["status"] == "approved"

    assert cli("audit", "--as", "ivan", ok=False).exit_code == 4
    assert json.loads(cli("audit", "--json", "--as", "li").output) == []
    cli("datasets", "revoke", "tiger-traps", "1", "--as", "li")
    tokens = json.loads(cli("tokens", "list", "ivan", "--json").output)
    cli("tokens", "revoke", str(tokens[0]["id"]))
    assert json.loads(cli("tokens", "list", "ivan", "--json").output)[0]["active"] is False


def test_cli_refuses_bad_input_with_a_one_line_error(cli):
    bad = cli("orgs", "create", "x-org", "--name", "X", "--country", "XX", ok=False)
    assert bad.exit_code != 0
