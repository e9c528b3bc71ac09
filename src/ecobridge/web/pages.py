"""The home page: what is shared, by whom and where (a map of every visible site), and what needs
attention (open alerts). Like every HTML page it has a JSON twin, linked with rel="alternate" in
the page's <head> and in a Link header, so what a person reads a program can fetch.

The map's sites come from /api/v1/map/sites in one request after the page is drawn (web/maps.py);
the page itself holds only counts, the few most severe open alerts and the sites' extent (so the
map is built at its final view while the sites are on their way).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import groupby
from pathlib import Path

from babel import Locale
from babel.core import get_global
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ecobridge.alerts.models import SEVERITIES
from ecobridge.alerts.views import SEV_LIST, alert_json, alert_sql
from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.catalog.api import COUNTS, dataset_record
from ecobridge.catalog.service import list_datasets
from ecobridge.governance.policy import Principal, record_read
from ecobridge.web.catalog_pages import DOMAINS, boundary_counts
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.maps import sites_extent
from ecobridge.web.render import render, translate

HERE = Path(__file__).resolve().parent
ALERTS_SHOWN = 6


def _(text: str) -> str:
    """Marks interface text for extraction; it is translated where it is shown."""
    return text


SEVERITY_NAMES = {"info": _("Information"), "minor": _("Minor"), "moderate": _("Moderate"),
                  "severe": _("Severe"), "extreme": _("Extreme")}
RULE_KIND_NAMES = {"threshold": _("Limit exceeded"), "aqi": _("Air quality index"),
                   "rate_of_change": _("Sudden change"), "anomaly": _("Unusual values"),
                   "silence": _("Station silent"), "qc_burst": _("Many quality flags")}
VISIBILITY_NAMES = {"public": _("public"), "registered": _("registered users"),
                    "partners": _("partners"), "private": _("private")}

router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def domain_name(domain: str, lang: str) -> str | None:
    """The domain's name in `lang`, or None for a domain without one (show its code)."""
    return translate(lang, DOMAINS[domain]) if domain in DOMAINS else None


def country_name(code: str | None, lang: str) -> str | None:
    """An ISO 3166-1 alpha-3 code's name in `lang` from the CLDR data Babel ships."""
    if not code:
        return None
    alpha2 = (get_global("territory_aliases").get(code.upper()) or [None])[0]
    return Locale.parse(lang).territories.get(alpha2) if alpha2 else None


def _by_country(records: list[dict], lang: str) -> tuple[list[str], list[dict]]:
    """Datasets per provider country and domain, with their sites; most sites first."""
    cells: dict[str, Counter] = defaultdict(Counter)
    sites: Counter = Counter()
    for r in records:
        country = r["owner"]["country"]
        cells[country][r["domain"]] += 1
        sites[country] += r["counts"]["things"] + r["counts"]["deployments"]
    domains = sorted({r["domain"] for r in records})
    rows = [{"code": code, "name": country_name(code, lang), "domains": cells[code],
             "datasets": sum(cells[code].values()), "sites": sites[code]}
            for code in cells]
    rows.sort(key=lambda row: (-row["sites"], -row["datasets"], row["code"]))
    return domains, rows


def open_alerts(store, principal: Principal) -> tuple[dict[str, int], list[dict]]:
    """Open alerts the reader may see: how many of each severity, and the most severe few
    (read through alerts.views, the same predicate and generalisation as the alerts API)."""
    inner, params = alert_sql(principal)
    # one read: the first few in severity order, and each severity's first row carrying
    # its count
    order = (f"list_position({SEV_LIST}, x.severity) DESC, x.last_seen_at DESC, x.id DESC")
    found = store.dicts(
        f"SELECT *, count(*) OVER (PARTITION BY x.severity) AS _count,"
        f" row_number() OVER (ORDER BY {order}) AS _rank,"
        f" row_number() OVER (PARTITION BY x.severity ORDER BY {order}) AS _first"
        f" FROM ({inner}) x WHERE x.status = 'open'"
        f" QUALIFY _rank <= {ALERTS_SHOWN} OR _first = 1 ORDER BY _rank", params)
    counts = {r["severity"]: r["_count"] for r in found if r["_first"] == 1}
    rows = [{k: v for k, v in r.items() if k not in ("_count", "_rank", "_first")}
            for r in found if r["_rank"] <= ALERTS_SHOWN]
    record_read(store, principal, dataset_ids=[r["dataset_id"] for r in rows], kind="alerts",
                count=len(rows))
    return {s: counts.get(s, 0) for s in reversed(SEVERITIES)}, [alert_json(r) for r in rows]


@router.get("/", response_class=HTMLResponse)
def index(request: Request, store: StoreDep, principal: PrincipalDep,
          lang: PageLanguageDep) -> HTMLResponse:
    """What is shared, where and by whom, and the open alerts this visitor may see."""
    records = [dataset_record(r, lang) for r in list_datasets(store, principal)]
    groups = [(domain, domain_name(domain, lang), list(items))
              for domain, items in groupby(records, key=lambda r: r["domain"])]
    totals = {name: sum(r["counts"][name] for r in records) for name in COUNTS}
    # "Areas" are protected and monitored areas: the country outlines are the base map's
    boundaries = boundary_counts(store, principal) if totals["areas"] else {}
    totals["areas"] -= sum(boundaries.values())
    domains, countries = _by_country(records, lang)
    severity_counts, alerts = open_alerts(store, principal)
    mapped = sorted({r["domain"] for r in records
                     if r["counts"]["things"] + r["counts"]["deployments"]})
    return render(
        request, "index.html", alternate=f"/api/v1/datasets?lang={lang}", lang=lang,
        groups=groups, totals=totals, dataset_count=len(records), boundaries=boundaries,
        domains=[(d, domain_name(d, lang)) for d in domains], countries=countries,
        map_legend=[(d, domain_name(d, lang)) for d in mapped],
        map_fit=sites_extent(store, principal) if mapped else None,
        alerts=alerts, severity_counts=severity_counts,
        open_alert_count=sum(severity_counts.values()),
        severity_names={k: translate(lang, v) for k, v in SEVERITY_NAMES.items()},
        rule_kind_names={k: translate(lang, v) for k, v in RULE_KIND_NAMES.items()},
        visibility_names={k: translate(lang, v) for k, v in VISIBILITY_NAMES.items()},
        country_names={r["code"]: r["name"] for r in countries})
