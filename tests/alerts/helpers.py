"""Helpers for alert tests: a small world, hourly series written as CSV, alert snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecobridge.catalog.service import create_dataset
from ecobridge.governance import accounts, tokens
from ecobridge.governance.organisations import create_organisation
from ecobridge.monitoring.ingest import ingest_file

T0 = datetime(2025, 1, 1, tzinfo=UTC)
# code, name, lat, lon, country (the station's own country decides the national limit)
STATIONS = (("BJ1", "Beijing 1", 39.93, 116.42, "CHN"), ("BJ2", "Beijing 2", 39.99, 116.29,
            "CHN"), ("MSK", "Moscow 1", 55.73, 37.57, "RUS"))


def world(store, tmp_path: Path, *, slug: str = "air", visibility: str = "public",
          sensitive: bool = False) -> str:
    """An organisation, a dataset and three stations (two in China, one in Russia)."""
    if store.one("SELECT 1 FROM organisations WHERE slug = 'agency'") is None:
        create_organisation(store, slug="agency", name="Agency", country="CHN")
    create_dataset(store, slug=slug, owner="agency", domain="air", title="Air",
                   licence="CC-BY-4.0", visibility=visibility, sensitive=sensitive)
    lines = ["code,name,lat,lon,country"] + [",".join(map(str, s)) for s in STATIONS]
    path = tmp_path / f"{slug}-stations.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_file(store, path, dataset=slug, kind="stations")
    return slug


def user(store, name: str, org: str | None = None, role: str = "analyst") -> str:
    """A user (with a role in `org`) and its API token."""
    accounts.create_user(store, username=name, password="a long password 123")
    if org:
        accounts.set_membership(store, user=name, org=org, role=role)
    return tokens.create_token(store, user=name)["token"]


def series_csv(path: Path, series: dict[tuple[str, str], list], *, start: datetime = T0,
               step: timedelta = timedelta(hours=1), unit: str = "ug/m3") -> Path:
    """Long CSV of hourly series: {(station, variable): [value or None, ...]}; None skips."""
    lines = ["station,variable,time,value,unit"]
    for (station, variable), values in series.items():
        for i, v in enumerate(values):
            if v is None:
                continue
            t = (start + i * step).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(f"{station},{variable},{t},{v},{unit}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(store, path: Path, dataset: str = "air"):
    return ingest_file(store, path, dataset=dataset, kind="observations")


def snapshot(store) -> list[tuple]:
    """Alerts as comparable tuples (no ids, no wall-clock times)."""
    return store.rows(
        "SELECT r.name, t.code, a.observed_property, a.status, a.resolution, a.severity,"
        " strftime(a.started_at, '%Y-%m-%dT%H:%M'), strftime(a.last_seen_at, '%Y-%m-%dT%H:%M'),"
        " strftime(a.ended_at, '%Y-%m-%dT%H:%M'), a.points, round(a.peak_value, 6),"
        " round(a.last_value, 6), round(a.threshold, 6)"
        " FROM alerts a JOIN alert_rules r ON r.id = a.rule_id JOIN things t ON t.id = a.thing_id"
        " WHERE a.resolution IS DISTINCT FROM 'retracted' ORDER BY ALL")
