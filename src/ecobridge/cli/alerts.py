"""`ecobridge rules|alerts|subscriptions`: alert rules, triage and subscriptions.

Commands run as the operator (SYSTEM) unless `--as USER` names an account, whose rights are
then checked as the API checks them. They open the store, so they run while the server is
stopped; with the server running, use the HTTP API.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecobridge.cli import app
from ecobridge.cli.governance import AS, JSON, _principal, _store, _table
from ecobridge.errors import EcobridgeError, InvalidInput

rules_app = typer.Typer(no_args_is_help=True, help="Alert rules.")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: list, acknowledge, resolve.")
subs_app = typer.Typer(no_args_is_help=True, help="Alert subscriptions (webhooks, feeds).")
app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
app.add_typer(subs_app, name="subscriptions")


def _json_arg(text: str | None, field: str) -> dict | None:
    if text is None:
        return None
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput("not JSON", field=field) from None
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field=field)
    return value


@rules_app.command("list")
def rules_list(as_json: bool = JSON, as_user: str = AS) -> None:
    from ecobridge.alerts import service

    with _store() as store:
        rows = service.list_rules(store, _principal(store, as_user))
    for row in rows:
        row["params"] = json.dumps(row["params"])
    _table(rows, ["id", "name", "kind", "severity", "dataset", "observed_property", "area",
                  "station", "params"], as_json)


@rules_app.command("add")
def rules_add(name: str,
              kind: str = typer.Option(..., help="threshold, aqi, rate_of_change, anomaly, "
                                                 "silence, qc_burst"),
              params: str = typer.Option(None, help="Parameters as JSON, or @file.json"),
              severity: str = typer.Option("moderate", help="info, minor, moderate, severe, "
                                                            "extreme"),
              dataset: str = typer.Option(None, help="Scope: dataset slug"),
              observed_property: str = typer.Option(None, "--property", help="Scope: variable"),
              area: str = typer.Option(None, help="Scope: area code"),
              station: str = typer.Option(None, help="Scope: station code"),
              description: str = typer.Option("", help="What the rule is for"),
              evaluate: bool = typer.Option(False, "--evaluate",
                                            help="Evaluate the new rule on the stored data"),
              as_user: str = AS) -> None:
    """Add a rule. It applies to data ingested from now on; --evaluate also runs it on the
    data already stored."""
    from ecobridge.alerts import service
    from ecobridge.alerts.evaluate import evaluate_all

    with _store() as store:
        rule = service.create_rule(store, _principal(store, as_user), name=name, kind=kind,
                                   params=_json_arg(params, "params"), severity=severity,
                                   dataset=dataset, observed_property=observed_property,
                                   area=area, station=station, description=description)
        print(f"rule {rule['name']} added (id {rule['id']}): {json.dumps(rule['params'])}")
        if evaluate:
            with store.transaction() as cur:
                summary = evaluate_all(cur, [rule["id"]])
            print(f"evaluated: {summary}")


@rules_app.command("remove")
def rules_remove(rule: str = typer.Argument(..., help="Rule id or name"),
                 as_user: str = AS) -> None:
    from ecobridge.alerts import service

    with _store() as store:
        service.delete_rule(store, _principal(store, as_user), rule)
    print(f"rule {rule} removed")


@alerts_app.command("list")
def alerts_list(status: str = typer.Option(None, help="open, acknowledged, resolved"),
                min_severity: str = typer.Option(None, help="info ... extreme"),
                dataset: str = typer.Option(None, help="Dataset slug"),
                incident: int = typer.Option(None, help="Incident id"),
                limit: int = typer.Option(50, help="At most this many, newest first"),
                as_json: bool = JSON, as_user: str = AS) -> None:
    from ecobridge.alerts import service

    with _store() as store:
        rows = service.list_alerts(store, _principal(store, as_user), status=status,
                                   min_severity=min_severity, dataset=dataset,
                                   incident=incident, limit=limit)
    if as_json:
        _table(rows, [], True)
        return
    for row in rows:
        row["station"] = row["station"]["code"]
        row["rule"] = row["rule"]["name"]
    _table(rows, ["id", "status", "severity", "rule", "dataset", "station",
                  "observed_property", "started_at", "ended_at", "peak_value", "incident_id"])


@alerts_app.command("ack")
def alerts_ack(alert_id: int, note: str = typer.Option(None, help="A note for the record"),
               as_user: str = AS) -> None:
    from ecobridge.alerts import service

    with _store() as store:
        alert = service.acknowledge(store, _principal(store, as_user), alert_id, note)
    print(f"alert {alert_id} {alert['status']}")


@alerts_app.command("resolve")
def alerts_resolve(alert_id: int, note: str = typer.Option(None, help="A note for the record"),
                   as_user: str = AS) -> None:
    from ecobridge.alerts import service

    with _store() as store:
        alert = service.resolve(store, _principal(store, as_user), alert_id, note)
    print(f"alert {alert_id} {alert['status']}")


@alerts_app.command("evaluate")
def alerts_evaluate(rule: list[int] = typer.Option(None, help="Only these rule ids"),
                    silence: bool = typer.Option(True, help="Also check silent stations now")
                    ) -> None:
    """Evaluate rules over all stored data (a manual full run). A rule that cannot be
    evaluated is named (exit code 1); the others are evaluated all the same."""
    from ecobridge.alerts.evaluate import evaluate_all, recover
    from ecobridge.alerts.scheduler import check_silence

    with _store() as store:
        pending = recover(store)
        if pending:
            print(f"pending ingest runs evaluated: {', '.join(map(str, pending))}")
        try:
            with store.transaction() as cur:
                summary = evaluate_all(cur, rule or None)
            broken: list[str] = []
        except EcobridgeError:
            raise
        except Exception:
            broken, good = _broken_rules(store, rule or None)
            with store.transaction() as cur:
                summary = evaluate_all(cur, good) if good else {}
        print(f"evaluated: {summary}")
        if silence:
            print(f"silence: {check_silence(store)}")
        if broken:
            raise EcobridgeError("; ".join(broken) + ". Fix or remove these rules"
                                 " (ecobridge rules remove ID): the ingests evaluate every rule"
                                 " and leave their runs pending while one cannot be evaluated")


class _Probe(Exception):
    """Rolls a probe's transaction back."""


def _broken_rules(store, rule_ids: list[int] | None) -> tuple[list[str], list[int]]:
    """Which rules cannot be evaluated, each tried alone and rolled back: their descriptions
    (id, name, error), and the ids of the others."""
    from ecobridge.alerts.evaluate import evaluate_all, load_rules

    broken, good = [], []
    for r in load_rules(store.cursor(), rule_ids):
        try:
            with store.transaction() as cur:
                evaluate_all(cur, [r.id])
                raise _Probe
        except _Probe:
            good.append(r.id)
        except Exception as exc:
            broken.append(f"rule {r.id} {r.name!r} cannot be evaluated"
                          f" ({type(exc).__name__}: {exc})")
    return broken, good


@subs_app.command("list")
def subs_list(as_json: bool = JSON, as_user: str = AS) -> None:
    from ecobridge.alerts import service
    from ecobridge.governance import SYSTEM

    with _store() as store:
        principal = _principal(store, as_user) if as_user else SYSTEM
        rows = service.list_subscriptions(store, principal)
    _table(rows, ["id", "owner", "name", "dataset", "observed_property", "min_severity", "url",
                  "cooldown_s", "pending", "delivered", "failures"], as_json)


@subs_app.command("add")
def subs_add(as_user: str = typer.Option(..., "--as", help="The subscribing user"),
             name: str = typer.Option("", help="A name"),
             area: str = typer.Option(None, help="Area code, or a GeoJSON polygon file (@f)"),
             dataset: str = typer.Option(None, help="Dataset slug"),
             observed_property: str = typer.Option(None, "--property", help="Variable"),
             min_severity: str = typer.Option("minor", help="info ... extreme"),
             url: str = typer.Option(None, help="Webhook URL (none: feeds only)"),
             secret: str = typer.Option(None, help="HMAC secret (default: generated)"),
             cooldown: int = typer.Option(3600, help="Seconds between pushes per incident")
             ) -> None:
    from ecobridge.alerts import service

    area_value: dict | str | None = area
    if area and area.startswith("@"):
        area_value = _json_arg(area, "area")
    with _store() as store:
        sub = service.create_subscription(
            store, _principal(store, as_user), name=name, area=area_value, dataset=dataset,
            observed_property=observed_property, min_severity=min_severity, url=url,
            secret=secret, cooldown_s=cooldown)
    print(f"subscription {sub['id']} added" + (f"; webhook secret: {sub['secret']}"
                                                 if sub.get("secret") else ""))


@subs_app.command("remove")
def subs_remove(sub_id: int, as_user: str = AS) -> None:
    from ecobridge.alerts import service
    from ecobridge.governance import SYSTEM

    with _store() as store:
        principal = _principal(store, as_user) if as_user else SYSTEM
        service.delete_subscription(store, principal, sub_id)
    print(f"subscription {sub_id} removed")
