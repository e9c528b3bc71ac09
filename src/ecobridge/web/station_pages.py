"""The station page: what a station is, its datastreams with their latest values, the latest AQI,
and a zoomable chart of each variable set against the national limits and the WHO guideline.

Everything is read through the monitoring and catalogue services, so the access policy applies
(a hidden station is the same 404 as a missing one, a sensitive one shows its generalised
position) and reads are audited. The chart (static/js/chart.js) draws what
/api/v1/datastreams/{id}/series returns, downsampled in the database. Limit values come from
air.standards: for each variable the national limit of the station's country and the WHO 2021
guideline at the shortest averaging period on record, in force on the date of the last
observation, each labelled with its document and averaging period. `?f=json` is the JSON twin.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from babel import Locale
from babel.core import get_global
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from ecobridge.air import standards
from ecobridge.air.aqi import aqi as air_quality_index
from ecobridge.air.aqi import completeness, get_standard, standard_for
from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.formats import json_response
from ecobridge.api.params import MAX_ID
from ecobridge.catalog.service import get_dataset
from ecobridge.errors import InvalidInput, NotFound
from ecobridge.governance.policy import Principal
from ecobridge.languages import localise
from ecobridge.monitoring import series
from ecobridge.monitoring import service as monitoring
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.render import render, translate

router = APIRouter(include_in_schema=False)

MAX_STREAMS = 200
# Averaging periods that a chart of hourly values can be set against, best match first.
SHORT_PERIODS = ("1h", "20min", "24h", "8h")
PERIOD_HOURS = {"1h": 1, "8h": 8, "24h": 24}
OVERVIEW_POINTS = 1000  # buckets of the chart's first view (preloaded by the page)
AQI_NAMES = {"CN_HJ633_2012": "HJ 633-2012", "CN_HJ633_2026": "HJ 633-2026",
             "US_EPA_2024": "US EPA 2024", "US_EPA_2018": "US EPA 2018",
             "IN_CPCB_2014": "CPCB 2014"}


def _(message: str) -> str:
    """Marks English text for extraction; it is translated where it is shown."""
    return message


PERIODS = {"20min": _("20-minute maximum"), "1h": _("1-hour mean"), "3h": _("3-hour mean"),
           "8h": _("8-hour mean"), "24h": _("24-hour mean"), "annual": _("annual mean"),
           "peak_season": _("peak-season mean")}
LEVELS = {"grade_1": _("Grade I"), "grade_2": _("Grade II"), "primary": _("primary standard"),
          "secondary": _("secondary standard"), "pdk": _("maximum permissible concentration"),
          "limit": _("limit value"), "target": _("target value"),
          "general": _("residential and industrial areas"),
          "ecologically_sensitive": _("ecologically sensitive areas"),
          "AQG": _("air quality guideline"), "IT-1": _("interim target 1"),
          "IT-2": _("interim target 2"), "IT-3": _("interim target 3"),
          "IT-4": _("interim target 4")}
WHO_DOCUMENT = _("WHO guidelines 2021")
# Reader's names of the observed properties the platform knows (others keep their stored name).
PROPERTY_NAMES = {"no2": _("Nitrogen dioxide"), "so2": _("Sulphur dioxide"), "o3": _("Ozone"),
                  "co": _("Carbon monoxide"), "mass_balance": _("Glacier annual mass balance"),
                  "power": _("Active power output")}


def _label(lang: str, table: dict[str, str], code: str) -> str:
    return translate(lang, table[code]) if code in table else code


# -- limit values ------------------------------------------------------------------------------
def _line(lang: str, lim: standards.Limit, kind: str, unit_symbol: str) -> dict:
    document = translate(lang, WHO_DOCUMENT) if kind == "who" else lim.document
    period = _label(lang, PERIODS, lim.averaging)
    note = "" if lim.averaging == "1h" else translate(
        lang, "The chart shows hourly values; this limit applies to the %(period)s, so an hour "
        "above it is not an exceedance by itself.", period=period)
    return {"kind": kind, "value": lim.value_canonical, "document": document,
            "level": _label(lang, LEVELS, lim.level), "averaging": lim.averaging,
            "period": period, "statistic": lim.statistic, "unit": unit_symbol, "note": note,
            "label": f"{document} · {_label(lang, LEVELS, lim.level)} · {period}"}


def limit_lines(lang: str, country: str | None, pollutant: str, unit_code: str,
                unit_symbol: str, on_date: date | None,
                periods: tuple[str, ...] = SHORT_PERIODS) -> list[dict]:
    """The national limit (if the country has one on record) and the WHO guideline for a chart
    of hourly values of `pollutant`: each at the first of `periods` on record (by default the
    shortest averaging period; ("24h",) for a chart of daily means)."""
    if pollutant not in standards.POLLUTANTS:
        return []
    out = []
    for kind, jurisdiction in (("national", country), ("who", "WHO")):
        if not jurisdiction:
            continue
        for period in periods:
            lim = standards.limit_for(jurisdiction, pollutant, period, on_date)
            if lim is not None and lim.canonical_unit == unit_code:
                out.append(_line(lang, lim, kind, unit_symbol))
                break
    return out


def all_limits(lang: str, country: str | None, pollutant: str, unit_code: str,
               unit_symbol: str, on_date: date | None) -> list[dict]:
    """Every limit of the country's usual level and the WHO guideline level for `pollutant`,
    all averaging periods, for the table under the chart."""
    if pollutant not in standards.POLLUTANTS:
        return []
    out = []
    for kind, jurisdiction in (("national", country), ("who", "WHO")):
        if not jurisdiction:
            continue
        for period in standards.AVERAGING:
            lim = standards.limit_for(jurisdiction, pollutant, period, on_date)
            if lim is not None and lim.canonical_unit == unit_code:
                out.append(_line(lang, lim, kind, unit_symbol))
    return out


# -- latest AQI --------------------------------------------------------------------------------
def latest_aqi(store, principal: Principal, country: str | None, streams: list[dict],
               lang: str) -> dict | None:
    """The AQI of the country's standard (China, India, US) from the last hours of data: each
    pollutant averaged over its standard's default period (24 h, 8 h or 1 h) ending at the
    latest observation, when at least three quarters of those hours hold a valid value."""
    if country not in ("CHN", "IND", "USA"):
        return None
    latest = {s["observed_property"]["code"]: s for s in streams
              if s["observed_property"]["code"] in standards.POLLUTANTS
              and s["last_phenomenon_time"] is not None}
    if not latest:
        return None
    end = max(s["last_phenomenon_time"] for s in latest.values())
    standard = get_standard(standard_for(country, end.date()))
    periods = {code: standard.defaults.get(code) for code in latest}
    hours = {code: PERIOD_HOURS[p] for code, p in periods.items() if p in PERIOD_HOURS}
    means = series.recent_means(store, principal, {latest[c]["id"]: timedelta(hours=h)
                                                   for c, h in hours.items()}, end)
    values: dict[str, float] = {}
    for code, h in hours.items():
        mean, count = means.get(latest[code]["id"], (math.nan, 0))
        if count >= math.ceil(0.75 * h):
            values[f"{code}_{periods[code]}"] = mean
    if not values:
        return None
    try:
        result = air_quality_index(standard.id, values)
    except InvalidInput:
        return None
    if result.aqi is None or result.category is None:
        return None
    return {"standard": standard.id, "name": AQI_NAMES.get(standard.id, standard.id),
            "title": standard.title, "value": result.aqi,
            "category": result.category.name(lang), "colour": result.category.hex,
            "primary": list(result.primary_pollutants), "time": end,
            "inputs": {k: round(v, 2) for k, v in values.items()}}


# -- the page ----------------------------------------------------------------------------------
def _country(thing: dict, dataset: dict) -> str | None:
    props = thing.get("properties") or {}
    code = props.get("country") if isinstance(props, dict) else None
    if isinstance(code, str) and len(code) == 3 and code.isalpha():
        return code.upper()
    return dataset.get("owner_country")


def _stream(lang: str, stream: dict, country: str | None) -> dict:
    prop, unit = stream["observed_property"], stream["unit_of_measurement"]
    last = stream["last_phenomenon_time"]
    on_date = last.date() if last else None
    base = f"/api/v1/datastreams/{stream['id']}"
    return {
        "id": stream["id"], "code": prop["code"],
        "name": _label(lang, PROPERTY_NAMES, prop["code"]) if prop["code"] in PROPERTY_NAMES
        else prop["name"] or prop["code"],
        "air": prop["code"] in standards.POLLUTANTS,
        "unit": unit["symbol"] or unit["definition"], "unit_code": unit["definition"],
        "count": stream["observation_count"], "first": stream["phenomenon_time_start"],
        "last": last, "last_result": stream["last_result"],
        "last_flag": stream["last_quality_flag"],
        "series": f"{base}/series", "csv": f"{base}/observations?f=csv",
        "parquet": f"{base}/observations?f=parquet", "api": base,
        "limits": limit_lines(lang, country, prop["code"], unit["definition"],
                              unit["symbol"] or unit["definition"], on_date),
        "daily_limits": limit_lines(lang, country, prop["code"], unit["definition"],
                                    unit["symbol"] or unit["definition"], on_date, ("24h",)),
        "all_limits": all_limits(lang, country, prop["code"], unit["definition"],
                                 unit["symbol"] or unit["definition"], on_date),
    }


def station_context(store, principal: Principal, thing_id: int, lang: str) -> dict:
    """What the page and its JSON twin show; NotFound for a hidden or unknown station."""
    thing = monitoring.get_thing(store, principal, thing_id)
    dataset = get_dataset(store, principal, thing["dataset_id"])
    country = _country(thing, dataset)
    raw = monitoring.list_datastreams(store, principal, thing_id=thing_id,
                                      limit=MAX_STREAMS).items
    streams = [_stream(lang, s, country) for s in raw]
    point = thing["location"] or {}
    lon, lat = (point.get("coordinates") or [None, None])[:2] \
        if point.get("type") == "Point" else (None, None)
    return {
        "thing": {"id": thing["id"], "code": thing["code"], "name": thing["name"],
                  "description": thing["description"], "longitude": lon, "latitude": lat,
                  "location_generalised": thing["location_generalised"],
                  "properties": thing["properties"]},
        "dataset": {"id": dataset["id"], "slug": dataset["slug"],
                    "title": localise(dataset["title"], lang), "licence": dataset["licence"],
                    "owner": localise(dataset["owner_name"], lang),
                    "owner_country": dataset["owner_country"],
                    "generalise_km": dataset["generalise_km"]},
        "country": country,
        "jurisdiction": standards.jurisdiction_of(country) if country else None,
        "datastreams": streams,
        "aqi": latest_aqi(store, principal, country, raw, lang),
    }


def _chart_config(lang: str, context: dict) -> dict[str, Any]:
    """What chart.js needs: the streams with their series URL and limit lines, and its texts."""
    texts = {
        "values": translate(lang, "Values"), "mean": translate(lang, "Mean per interval"),
        "loading": translate(lang, "Loading the series…"),
        "failed": translate(lang, "The series could not be loaded."),
        "empty": translate(lang, "No values in this time range."),
        "resolution_raw": translate(lang, "Every observation is shown."),
        "resolution": translate(lang, "Each interval of %(width)s is drawn through its first, "
                                "lowest, highest and last value."),
        "chart": translate(lang, "Chart of %(variable)s at %(station)s"),
        "daily": translate(lang, "Daily mean"),
        "daily_status": translate(lang, "Means per day (UTC); days with fewer than %(hours)s "
                                  "hourly values are left out. Compare them with the 24-hour "
                                  "limits."),
    }
    return {
        "lang": lang, "station": context["thing"]["name"], "text": texts,
        "overview_points": OVERVIEW_POINTS,
        "daily_min_hours": daily_min_hours(context["country"]),
        "streams": [{k: s[k] for k in ("id", "code", "name", "unit", "series", "csv", "limits",
                                         "daily_limits")}
                    | {"first": s["first"].isoformat() if s["first"] else None,
                       "last": s["last"].isoformat() if s["last"] else None}
                    for s in context["datastreams"]],
    }


def daily_min_hours(country: str | None) -> int:
    """Valid hours a day needs for its 24-hour mean: the country's rule where one is on record
    (China 20, US 18, India 16), else 18 (three quarters)."""
    try:
        return int(completeness(country or "")["24h"]["min_hours"])
    except (InvalidInput, KeyError):
        return 18


def _preload(context: dict) -> str | None:
    """The URL of the chart's first request, fetched while the scripts load."""
    streams = context["datastreams"]
    return f"{streams[0]['series']}?points={OVERVIEW_POINTS}" if streams else None


def number(value: float | None) -> str:
    """A measured value with as many decimals as such values carry."""
    if value is None or not math.isfinite(value):
        return "–"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


@cache
def country_name(code: str | None, lang: str) -> str:
    """A country's name in the reader's language (CLDR via Babel), from its alpha-3 code."""
    if not code:
        return ""
    alpha2 = (get_global("territory_aliases").get(code.upper()) or [None])[0]
    return (Locale.parse(lang).territories.get(alpha2) if alpha2 else None) or code


@router.get("/stations/{thing_id}", response_class=HTMLResponse)
def station_page(request: Request, store: StoreDep, principal: PrincipalDep,
                 lang: PageLanguageDep, thing_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                 f: Annotated[str, Query(pattern="^(html|json)$")] = "html") -> Response:
    """One station: metadata, datastreams and latest values, AQI, chart and downloads."""
    try:
        context = station_context(store, principal, thing_id, lang)
    except NotFound:
        if f == "json":
            raise
        return render(request, "station.html", lang=lang, status=404, missing=True)
    if f == "json":
        return json_response(context)
    return render(request, "station.html", lang=lang,
                  alternate=f"/stations/{thing_id}?f=json&lang={lang}", missing=False,
                  config=_chart_config(lang, context), number=number, when=when,
                  preload=_preload(context),
                  country_name=lambda code: country_name(code, lang), **context)
