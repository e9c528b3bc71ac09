"""Alert records: severities, rule kinds and their parameters as data, validated here.

A rule is (kind, params, severity, scope). `check_params` fills every default, so what is stored
is the whole definition and a rule evaluates the same way whatever the code's defaults become.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from ecobridge.errors import InvalidInput

SEVERITIES = ("info", "minor", "moderate", "severe", "extreme")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
# CAP 1.2 <severity>: info maps to Unknown ("severity unknown"), the others one to one.
CAP_SEVERITY = {"info": "Unknown", "minor": "Minor", "moderate": "Moderate",
                "severe": "Severe", "extreme": "Extreme"}
KINDS = ("threshold", "aqi", "rate_of_change", "anomaly", "silence", "qc_burst")
STATUSES = ("open", "acknowledged", "resolved")
EVENT_KINDS = ("opened", "updated", "escalated", "resolved", "reopened", "retracted",
               "acknowledged")
# a subscriber told of an alert is told when it is withdrawn (store migration 0007)
DEFAULT_EVENT_KINDS = ("opened", "escalated", "resolved", "retracted")
HOUR_US = 3_600_000_000
_AVG = re.compile(r"^(\d{1,3})h$")


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    severity: str
    dataset_id: int | None = None
    observed_property: str | None = None
    area_id: int | None = None
    thing_id: int | None = None
    description: str = ""

    @property
    def clear_us(self) -> int:
        """Hysteresis: an alert ends only after this long without the condition."""
        return int(self.params.get("clear_hours", 0) * HOUR_US)


@dataclass
class Points:
    """A rule's evaluation points: key (datastream, or thing for silence), time (UTC us),
    value, the limit it was compared with, and the severity rank (-1: did not fire)."""

    key: Any
    t: Any
    value: Any
    limit: Any
    sev: Any
    detail: dict[int, dict] = field(default_factory=dict)  # per key: what the limit was


def check_severity(value: str, name: str = "severity") -> str:
    if value not in RANK:
        raise InvalidInput(f"{name} must be one of {', '.join(SEVERITIES)}", field=name)
    return value


def _num(params: dict, name: str, default: float, lo: float = 0.0, hi: float = math.inf,
         integer: bool = False) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be a number from {lo:g} to {hi:g}", field=name)
    if integer and int(value) != value:
        raise InvalidInput(f"{name} must be a whole number", field=name)
    return int(value) if integer else float(value)


def window_hours(averaging: str) -> int:
    m = _AVG.match(str(averaging))
    if not m or not 1 <= int(m.group(1)) <= 744:
        raise InvalidInput("averaging must read like '1h', '8h' or '24h'", field="averaging")
    return int(m.group(1))


def _escalate(params: dict, lo: float) -> list[list]:
    steps = params.get("escalate", [])
    if not isinstance(steps, list) or not all(
            isinstance(s, list | tuple) and len(s) == 2 and isinstance(s[0], int | float)
            and s[0] >= lo and s[1] in RANK for s in steps):
        raise InvalidInput("escalate must be a list of [number, severity] pairs",
                           field="escalate")
    return sorted([float(a), b] for a, b in steps)


def check_params(kind: str, params: dict | None) -> dict[str, Any]:
    """The rule's parameters with every default filled in; InvalidInput names the field."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    p = dict(params or {})
    out: dict[str, Any] = {}
    if kind == "threshold":
        out["averaging"] = str(p.get("averaging", "1h"))
        hours = window_hours(out["averaging"])
        limit = p.get("limit")
        if isinstance(limit, str) and limit.lower() in ("national", "who"):
            out["limit"] = limit.lower()
        elif isinstance(limit, int | float) and not isinstance(limit, bool):
            out["limit"] = float(limit)
        else:
            raise InvalidInput("limit must be a number, 'national' or 'who'", field="limit")
        if out["limit"] == "who":
            out["level"] = str(p.get("level", "AQG"))
        elif "level" in p:
            out["level"] = str(p["level"])
        out["min_valid"] = _num(p, "min_valid", math.ceil(0.75 * hours), 1, hours, True)
        out["escalate"] = _escalate(p, 1.0)
        out["clear_hours"] = _num(p, "clear_hours", 6, 0, 720)
    elif kind == "aqi":
        out["standard"] = str(p.get("standard", "national"))
        out["fallback"] = str(p.get("fallback", "USA"))
        out["min_level"] = _aqi_level(p)
        out["min_valid_fraction"] = _num(p, "min_valid_fraction", 0.75, 0.01, 1)
        out["escalate"] = _escalate(p, 1.0)
        out["clear_hours"] = _num(p, "clear_hours", 6, 0, 720)
    elif kind == "rate_of_change":
        out["max_rise"] = _num(p, "max_rise", 100.0, 0)
        out["direction"] = p.get("direction", "up")
        if out["direction"] not in ("up", "down", "both"):
            raise InvalidInput("direction must be up, down or both", field="direction")
        out["max_gap_hours"] = _num(p, "max_gap_hours", 3, 0.001, 720)
        out["clear_hours"] = _num(p, "clear_hours", 3, 0, 720)
    elif kind == "anomaly":
        out["z"] = _num(p, "z", 5.0, 0.5)
        out["days"] = _num(p, "days", 28, 3, 366, True)
        out["min_history"] = _num(p, "min_history", 14, 3, 10_000, True)
        out["min_mad"] = _num(p, "min_mad", 0.1, 0)
        out["clear_hours"] = _num(p, "clear_hours", 3, 0, 720)
    elif kind == "silence":
        out["hours"] = _num(p, "hours", 6, 0.01, 24 * 366)
        out["max_days"] = _num(p, "max_days", 30, 0.1, 3660)
        out["clear_hours"] = 0.0
    else:  # qc_burst
        out["hours"] = _num(p, "hours", 6, 0.01, 24 * 31)
        out["count"] = _num(p, "count", 3, 1, 100_000, True)
        flags = p.get("flags", [3, 4])
        if not isinstance(flags, list) or not flags or not all(f in (3, 4, 9) for f in flags):
            raise InvalidInput("flags must list QARTOD flags among 3, 4 and 9", field="flags")
        out["flags"] = sorted(set(flags))
        out["clear_hours"] = _num(p, "clear_hours", 6, 0, 720)
    unknown = set(p) - set(out) - {"level", "min_category"}
    if unknown:
        raise InvalidInput(f"unknown parameter {sorted(unknown)[0]!r} for a {kind} rule",
                           field=sorted(unknown)[0])
    return out


def _aqi_level(p: dict) -> int:
    """The category level (1-6) from `min_level`, or from a category code of any standard."""
    if "min_level" in p:
        return int(_num(p, "min_level", 4, 1, 6, True))
    code = p.get("min_category", "unhealthy")
    from ecobridge.air.aqi import standards

    for std in standards().values():
        for cat in std.categories:
            if cat.code == code:
                return cat.level
    raise InvalidInput(f"unknown AQI category {code!r}", field="min_category")


class AlertSettings(BaseSettings):
    """Delivery and scheduling knobs, from ECOBRIDGE_ALERTS_* variables."""

    model_config = SettingsConfigDict(env_prefix="ECOBRIDGE_ALERTS_", extra="ignore")

    backoff_base_s: float = 2.0      # first retry delay of a failing receiver ...
    backoff_cap_s: float = 300.0     # ... doubling up to this
    give_up_hours: float = 72.0      # a delivery is retried this long, then marked failed
    timeout_s: float = 10.0          # per HTTP attempt
    poll_s: float = 1.0              # outbox poll when nothing wakes the worker
    parallel: int = 4                # receivers served at once (one request in flight each)
    silence_every_s: float = 300.0   # the silence scheduler's period
    stale_days: float = 7.0          # events on data older than this are not pushed
