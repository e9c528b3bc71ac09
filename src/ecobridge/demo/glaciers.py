"""The real WGMS annual glacier mass-balance series, from the copies under demo/data/glaciers.

One station per glacier at the RGI/WGMS link's centre point; one observation per glacier and
hydrological year, at the end of that year (30 September: all these glaciers are in the northern
hemisphere), in mm water equivalent.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

DATA = Path(__file__).parent / "data" / "glaciers"
ANNUAL = DATA / "wgms_annual_mb_sco_region_combined.csv"
LINKS = DATA / "rgi_wgms_links_20220112_sco_region.csv"
ATTRIBUTION = (
    "WGMS (2021): Fluctuations of Glaciers Database. World Glacier Monitoring Service, Zurich, "
    "Switzerland. https://doi.org/10.5904/wgms-fog-2021-05 (extract via OGGM/oggm-sample-data; "
    "original investigators in the REMARKS of each series)"
)


def station_code(wgms_id: str | int) -> str:
    return f"WGMS-{int(wgms_id)}"


def hydrological_year_end(year: int) -> datetime:
    return datetime(year, 9, 30, tzinfo=UTC)


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# WGMS names the country a glacier lies in by its ISO 3166-1 alpha-2 code; sites carry alpha-3
# in `country`, which pages, the OGC API and alerts read before the owner's country (a glacier in
# the Caucasus is in Russia, whoever shares its series).
ALPHA3 = {"CN": "CHN", "IN": "IND", "KG": "KGZ", "KZ": "KAZ", "NP": "NPL", "PK": "PAK",
          "RU": "RUS", "TJ": "TJK", "UZ": "UZB", "MN": "MNG", "AF": "AFG", "BT": "BTN"}


def stations() -> list[dict]:
    """One row per glacier that has an annual series: code, name, lat, lon, country and WGMS/RGI
    ids."""
    links = {row["WGMS_ID"]: row for row in _read(LINKS)}
    series_ids = {row["WGMS_ID"] for row in _read(ANNUAL)}
    rows = []
    for wgms_id in sorted(series_ids, key=int):
        link = links[wgms_id]
        rows.append({
            "code": station_code(wgms_id), "name": link["NAME"].title(),
            "lat": float(link["CenLat"]), "lon": float(link["CenLon"]),
            "wgms_id": int(wgms_id), "political_unit": link["POLITICAL_UNIT"],
            **({"country": ALPHA3[link["POLITICAL_UNIT"]]}
               if link["POLITICAL_UNIT"] in ALPHA3 else {}),
            "rgi60_id": link["RGI60_ID"], "glims_id": link["GLIMS_ID"],
            "glacier_type": link["GlacierType"], "source": "WGMS FoG 2021-05", "demo": True,
        })
    return rows


def observations() -> pa.Table:
    """Long-format annual balances (station, variable, time, value, unit); empty values skipped."""
    rows = [r for r in _read(ANNUAL) if r["ANNUAL_BALANCE"].strip()]
    return pa.table({
        "station": pa.array([station_code(r["WGMS_ID"]) for r in rows], pa.string()),
        "variable": pa.array(["mass_balance"] * len(rows), pa.string()),
        "time": pa.array([hydrological_year_end(int(r["YEAR"])) for r in rows],
                         pa.timestamp("s", tz="UTC")),
        "value": pa.array([float(r["ANNUAL_BALANCE"]) for r in rows], pa.float64()),
        "unit": pa.array(["mm"] * len(rows), pa.string()),
    })
