"""HTTP router: rules, alerts (list, acknowledge, resolve), incidents, subscriptions, the CAP 1.2
feed and the server-sent-events stream. Handlers wire parameters to alerts.service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from ecobridge.alerts import cap, service, sse
from ecobridge.alerts.models import SEVERITIES
from ecobridge.api.deps import PrincipalDep, StoreDep, UserDep

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Id = Annotated[int, Path(ge=1, le=2**62)]
Severity = Literal["info", "minor", "moderate", "severe", "extreme"]
Slug = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["threshold", "aqi", "rate_of_change", "anomaly", "silence", "qc_burst"]
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="Kind parameters; see docs/alerts.md")
    severity: Severity = "moderate"
    dataset: str | None = Field(default=None, description="Scope: dataset slug or id")
    observed_property: str | None = Field(default=None, max_length=64)
    area: str | None = Field(default=None, description="Scope: area code or id")
    station: str | None = Field(default=None, description="Scope: station code or id")
    description: str = Field(default="", max_length=2000)


class SubscriptionIn(BaseModel):
    name: str = Field(default="", max_length=200)
    area: dict[str, Any] | str | None = Field(
        default=None, description="GeoJSON Polygon/MultiPolygon (or Feature), or an area code")
    dataset: str | None = None
    observed_property: str | None = Field(default=None, max_length=64)
    min_severity: Severity = "minor"
    url: str | None = Field(default=None, max_length=2000,
                            description="Webhook; none: use the feeds with ?subscription=")
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    cooldown_s: int = Field(default=3600, ge=0, le=604800)
    kinds: list[str] | None = None


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


@router.get("/rules")
def list_rules(store: StoreDep, principal: PrincipalDep) -> list[dict]:
    """Rules on data the caller may see (and rules not scoped to a dataset)."""
    return service.list_rules(store, principal)


@router.post("/rules", status_code=201)
def add_rule(store: StoreDep, principal: UserDep, rule: RuleIn) -> dict:
    """Add a rule: platform admins any; publishers and admins of a dataset's owner, scoped to
    that dataset. Kinds: threshold, aqi, rate_of_change, anomaly, silence, qc_burst."""
    return service.create_rule(store, principal, **rule.model_dump())


@router.get("/rules/{rule_id}")
def get_rule(store: StoreDep, principal: PrincipalDep, rule_id: Id) -> dict:
    return service.get_rule(store, principal, rule_id)


@router.delete("/rules/{rule_id}", status_code=204)
def remove_rule(store: StoreDep, principal: UserDep, rule_id: Id) -> Response:
    service.delete_rule(store, principal, rule_id)
    return Response(status_code=204)


@router.get("/alerts")
def list_alerts(store: StoreDep, principal: PrincipalDep,
                status: Literal["open", "acknowledged", "resolved"] | None = None,
                min_severity: Severity | None = None, dataset: Slug = None,
                incident: Annotated[int | None, Query(ge=1)] = None,
                rule: Annotated[int | None, Query(ge=1)] = None,
                subscription: Annotated[int | None, Query(ge=1)] = None,
                since: datetime | None = None,
                before_id: Annotated[int | None, Query(ge=1)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """Alerts on data the caller may see, newest first; `before_id` pages back."""
    items = service.list_alerts(store, principal, status=status, min_severity=min_severity,
                                dataset=dataset, incident=incident, rule=rule,
                                subscription=subscription, since=since, after_id=before_id,
                                limit=limit)
    return {"items": items, "count": len(items),
            "next_before_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/alerts.cap")
def cap_feed(request: Request, store: StoreDep, principal: PrincipalDep,
             status: Literal["open", "acknowledged", "resolved"] | None = None,
             min_severity: Severity | None = None, dataset: Slug = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """The alerts as an Atom feed of CAP 1.2 messages (application/atom+xml)."""
    items = service.list_alerts(store, principal, status=status, min_severity=min_severity,
                                dataset=dataset, limit=limit)
    return Response(cap.feed(items, str(request.base_url).rstrip("/")),
                    media_type="application/atom+xml")


@router.get("/alerts/stream")
async def stream(request: Request, store: StoreDep, principal: PrincipalDep,
                 last_event_id: Annotated[str | None, Header()] = None,
                 after: Annotated[int | None, Query(ge=0)] = None,
                 subscription: Annotated[int | None, Query(ge=1)] = None,
                 timeout: Annotated[float, Query(gt=0, le=3600)] = 300) -> StreamingResponse:
    """Server-sent events: every alert event the caller may see, from `after` (or the
    Last-Event-ID header) on, else from now. Heartbeat comments keep proxies open; the stream
    ends after `timeout` seconds and clients reconnect with Last-Event-ID."""
    start = sse.start_id(store, last_event_id, after)
    if subscription is not None:
        service.get_subscription(store, principal, subscription)
    return StreamingResponse(
        sse.events(request, store, principal, start, timeout=timeout, subscription=subscription),
        media_type="text/event-stream", headers={"Cache-Control": "no-cache",
                                                 "X-Accel-Buffering": "no"})


@router.get("/alerts/{alert_id}")
def get_alert(store: StoreDep, principal: PrincipalDep, alert_id: Id) -> dict:
    return service.get_alert(store, principal, alert_id)


@router.get("/alerts/{alert_id}/cap")
def get_alert_cap(request: Request, store: StoreDep, principal: PrincipalDep,
                  alert_id: Id) -> Response:
    """One alert as a CAP 1.2 message (application/cap+xml)."""
    alert = service.get_alert(store, principal, alert_id)
    return Response(cap.message(alert, str(request.base_url).rstrip("/")),
                    media_type="application/cap+xml")


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(store: StoreDep, principal: UserDep, alert_id: Id,
                body: Annotated[Note | None, Body()] = None) -> dict:
    return service.acknowledge(store, principal, alert_id, body.note if body else None)


@router.post("/alerts/{alert_id}/resolve")
def resolve(store: StoreDep, principal: UserDep, alert_id: Id,
            body: Annotated[Note | None, Body()] = None) -> dict:
    return service.resolve(store, principal, alert_id, body.note if body else None)


@router.get("/incidents")
def list_incidents(store: StoreDep, principal: PrincipalDep,
                   status: Literal["open", "resolved"] | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """Incidents built from the alerts the caller may see."""
    items = service.list_incidents(store, principal, status=status, limit=limit)
    return {"items": items, "count": len(items)}


@router.get("/incidents/{incident_id}")
def get_incident(store: StoreDep, principal: PrincipalDep, incident_id: Id) -> dict:
    return service.get_incident(store, principal, incident_id)


@router.get("/subscriptions")
def list_subscriptions(store: StoreDep, principal: UserDep) -> list[dict]:
    """The caller's subscriptions (all of them for a platform admin)."""
    return service.list_subscriptions(store, principal)


@router.post("/subscriptions", status_code=201)
def add_subscription(store: StoreDep, principal: UserDep, sub: SubscriptionIn) -> dict:
    """Subscribe to alerts by area, dataset, variable and minimum severity. The answer holds
    the webhook `secret` once; deliveries carry X-Ecobridge-Signature (HMAC-SHA256)."""
    return service.create_subscription(store, principal, **sub.model_dump())


@router.get("/subscriptions/{sub_id}")
def get_subscription(store: StoreDep, principal: UserDep, sub_id: Id) -> dict:
    return service.get_subscription(store, principal, sub_id)


@router.delete("/subscriptions/{sub_id}", status_code=204)
def remove_subscription(store: StoreDep, principal: UserDep, sub_id: Id) -> Response:
    service.delete_subscription(store, principal, sub_id)
    return Response(status_code=204)


__all__ = ["SEVERITIES", "router"]
