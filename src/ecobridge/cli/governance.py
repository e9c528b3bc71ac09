"""`ecobridge orgs|users|tokens|datasets|audit|access-requests`: accounts and who sees what.

Commands run as the operator (SYSTEM) unless `--as USER` names an account, whose roles are then
checked exactly as the API checks them.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from ecobridge.cli import app
from ecobridge.errors import InvalidInput
from ecobridge.governance import SYSTEM, accounts, audit, policies, requests, tokens
from ecobridge.governance.organisations import create_organisation

orgs_app = typer.Typer(no_args_is_help=True, help="Organisations (data owners).")
users_app = typer.Typer(no_args_is_help=True, help="Users and their roles in organisations.")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens (shown once, stored hashed).")
datasets_app = typer.Typer(no_args_is_help=True, help="Dataset policies and grants.")
requests_app = typer.Typer(no_args_is_help=True, help="Access requests.")
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(datasets_app, name="datasets")
app.add_typer(requests_app, name="access-requests")

console = Console(soft_wrap=True)
AS = typer.Option(None, "--as", help="Act as this user (checks its roles); default: operator")


@contextmanager
def _store():
    from ecobridge.config import get_settings
    from ecobridge.store import open_store

    store = open_store(get_settings())
    try:
        yield store
    finally:
        store.close()


def _principal(store, username: str | None):
    return SYSTEM if username is None else accounts.principal_for(store, username)


def _when(text: str | None, field: str) -> datetime | None:
    """ISO 8601 date or date-time; a bare date means midnight UTC; 'none' clears."""
    if text is None or text.lower() == "none":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date", field=field) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _table(rows: list[dict], columns: list[str], as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=1))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


JSON = typer.Option(False, "--json", help="Print JSON")


# -- orgs --------------------------------------------------------------------------------------
@orgs_app.command("create")
def orgs_create(slug: str, name: str = typer.Option(..., help="Display name"),
                country: str = typer.Option(..., help="ISO 3166-1 alpha-3"),
                kind: str = typer.Option(None, help="ministry, hydromet, park, institute ...")
                ) -> None:
    with _store() as store:
        org_id = create_organisation(store, slug=slug, name=name, country=country.upper(),
                                     kind=kind)
    print(f"organisation {slug} created (id {org_id})")


@orgs_app.command("list")
def orgs_list(as_json: bool = JSON) -> None:
    from ecobridge.languages import localise

    with _store() as store:
        rows = store.dicts("SELECT id, slug, name, country, kind FROM organisations ORDER BY slug")
    for row in rows:
        row["name"] = localise(row["name"])
    _table(rows, ["id", "slug", "name", "country", "kind"], as_json)


# -- users -------------------------------------------------------------------------------------
@users_app.command("create")
def users_create(username: str,
                 password: str = typer.Option(None, help="Prompted for when omitted on a TTY"),
                 org: str = typer.Option(None, help="Organisation to join"),
                 role: str = typer.Option("viewer", help="admin, publisher, analyst, viewer"),
                 display_name: str = typer.Option("", help="Full name"),
                 platform_admin: bool = typer.Option(False, "--platform-admin",
                                                     help="May see and change everything")
                 ) -> None:
    if password is None and sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store() as store:
        accounts.create_user(store, username=username, password=password,
                             display_name=display_name, is_platform_admin=platform_admin)
        if org:
            accounts.set_membership(store, user=username, org=org, role=role)
    print(f"user {username} created" + (f", {role} of {org}" if org else "")
          + ("" if password else " (no password: token access only)"))


@users_app.command("list")
def users_list(org: str = typer.Option(None), as_json: bool = JSON) -> None:
    with _store() as store:
        rows = accounts.list_users(store, org=org)
    _table(rows, ["username", "display_name", "organisation", "role", "is_platform_admin",
                  "disabled"], as_json)


@users_app.command("role")
def users_role(username: str, org: str, role: str) -> None:
    """Give USERNAME the ROLE (admin, publisher, analyst, viewer) in ORG."""
    with _store() as store:
        accounts.set_membership(store, user=username, org=org, role=role)
    print(f"{username} is {role} of {org}")


@users_app.command("remove")
def users_remove(username: str, org: str) -> None:
    """Take USERNAME out of ORG."""
    with _store() as store:
        accounts.remove_membership(store, user=username, org=org)
    print(f"{username} is no longer a member of {org}")


@users_app.command("password")
def users_password(username: str, password: str = typer.Option(None)) -> None:
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _store() as store:
        accounts.set_password(store, username, password)
    print(f"password of {username} changed")


@users_app.command("disable")
def users_disable(username: str, enable: bool = typer.Option(False, "--enable")) -> None:
    """Disable (or --enable) an account; its tokens and sessions stop at once."""
    with _store() as store:
        accounts.set_disabled(store, username, not enable)
    print(f"{username} {'enabled' if enable else 'disabled'}")


# -- tokens ------------------------------------------------------------------------------------
@tokens_app.command("create")
def tokens_create(username: str, name: str = typer.Option("", help="What the token is for"),
                  days: float = typer.Option(tokens.DEFAULT_DAYS, help="Lifetime in days")
                  ) -> None:
    """Issue a token for USERNAME; it is printed once and cannot be shown again."""
    with _store() as store:
        issued = tokens.create_token(store, user=username, name=name, days=days)
    print(issued["token"])
    print(f"token {issued['id']} ({issued['prefix']}) expires {issued['expires_at']:%Y-%m-%d}; "
          "store it now: it will not be shown again", file=sys.stderr)


@tokens_app.command("list")
def tokens_list(username: str, as_json: bool = JSON) -> None:
    with _store() as store:
        rows = tokens.list_tokens(store, SYSTEM, user=username)
    _table(rows, ["id", "prefix", "name", "created_at", "expires_at", "revoked_at", "active"],
           as_json)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    with _store() as store:
        tokens.revoke_token(store, SYSTEM, token_id)
    print(f"token {token_id} revoked")


# -- datasets ----------------------------------------------------------------------------------
@datasets_app.command("policy")
def datasets_policy(
        dataset: str,
        visibility: str = typer.Option(None, help="public, registered, partners, private"),
        embargo_until: str = typer.Option(None, help="ISO date, or 'none' to lift"),
        sensitive: bool = typer.Option(None, "--sensitive/--not-sensitive"),
        generalise_km: float = typer.Option(None, help="Grid for sensitive coordinates, km"),
        licence: str = typer.Option(None, help="SPDX identifier"),
        as_user: str = AS, as_json: bool = JSON) -> None:
    """Show DATASET's policy, or change it with the options given."""
    changes = {k: v for k, v in {"visibility": visibility, "sensitive": sensitive,
                                 "generalise_km": generalise_km, "licence": licence}.items()
               if v is not None}
    if embargo_until is not None:
        changes["embargo_until"] = _when(embargo_until, "embargo_until")
    with _store() as store:
        who = _principal(store, as_user)
        policy = (policies.set_policy(store, who, dataset, **changes) if changes
                  else policies.get_policy(store, who, dataset))
    if as_json:
        print(json.dumps(policy, default=str, indent=1))
        return
    for key in ("slug", "owner", "visibility", "embargo_until", "sensitive", "generalise_km",
                "licence"):
        print(f"{key:14} {policy[key]}")
    _table(policy["grants"], ["id", "organisation", "country", "precise", "ends_at", "active"])


@datasets_app.command("grant")
def datasets_grant(dataset: str, org: str = typer.Option(None, help="Grantee organisation"),
                   country: str = typer.Option(None, help="Grantee country (all its orgs)"),
                   precise: bool = typer.Option(False, help="Also precise coordinates"),
                   until: str = typer.Option(None, help="End date (ISO)"),
                   as_user: str = AS) -> None:
    """Open DATASET to an organisation or to every organisation of a country."""
    with _store() as store:
        grant = policies.add_grant(store, _principal(store, as_user), dataset, org=org,
                                   country=country.upper() if country else None,
                                   precise=precise, ends_at=_when(until, "until"))
    print(f"grant {grant['id']} on {dataset} to {org or country}"
          + (f" until {grant['ends_at']}" if grant["ends_at"] else ""))


@datasets_app.command("revoke")
def datasets_revoke(dataset: str, grant_id: int, as_user: str = AS) -> None:
    """Remove grant GRANT_ID from DATASET."""
    with _store() as store:
        policies.revoke_grant(store, _principal(store, as_user), dataset, grant_id)
    print(f"grant {grant_id} revoked")


# -- audit -------------------------------------------------------------------------------------
@app.command("audit")
def audit_log(org: str = typer.Option(None, help="Owning organisation"),
              dataset: str = typer.Option(None), limit: int = typer.Option(100),
              as_user: str = AS, as_json: bool = JSON) -> None:
    """Reads of an organisation's datasets by others: who, what, when, how many records."""
    with _store() as store:
        rows = audit.read_audit(store, _principal(store, as_user), org=org, dataset=dataset,
                                limit=limit)
    _table(rows, ["read_at", "username", "reader_organisations", "dataset", "kind",
                  "record_count"], as_json)


# -- access requests ---------------------------------------------------------------------------
@requests_app.command("list")
def requests_list(status: str = typer.Option(None), as_user: str = AS,
                  as_json: bool = JSON) -> None:
    with _store() as store:
        rows = requests.list_requests(store, _principal(store, as_user), status=status)
    _table(rows, ["id", "dataset", "organisation", "requested_by", "purpose", "status",
                  "decided_by", "grant_id"], as_json)


@requests_app.command("create")
def requests_create(dataset: str, purpose: str = typer.Option(...),
                    as_user: str = typer.Option(..., "--as", help="The user asking"),
                    org: str = typer.Option(None, help="For this organisation")) -> None:
    with _store() as store:
        row = requests.create_request(store, _principal(store, as_user), dataset,
                                      purpose=purpose, org=org)
    print(f"access request {row['id']} sent")


@requests_app.command("approve")
def requests_approve(request_id: int, until: str = typer.Option(None, help="Grant end date"),
                     precise: bool = typer.Option(False), note: str = typer.Option(None),
                     as_user: str = AS) -> None:
    with _store() as store:
        row = requests.approve_request(store, _principal(store, as_user), request_id,
                                       ends_at=_when(until, "until"), precise=precise,
                                       note=note)
    print(f"access request {request_id} approved: grant {row['grant_id']}")


@requests_app.command("decline")
def requests_decline(request_id: int, note: str = typer.Option(None),
                     as_user: str = AS) -> None:
    with _store() as store:
        requests.decline_request(store, _principal(store, as_user), request_id, note=note)
    print(f"access request {request_id} declined")
