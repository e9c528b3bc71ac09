"""Server-rendered pages. Each HTML page has a JSON twin, linked with rel="alternate" in the
page's <head> and in a Link header, so what a person reads a program can fetch."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.catalog.api import COUNTS, dataset_record
from ecobridge.catalog.service import list_datasets
from ecobridge.web.i18n import PageLanguageDep
from ecobridge.web.render import render

HERE = Path(__file__).resolve().parent
DOMAIN_NAMES = {
    "air": "Air quality", "water": "Water", "glacier": "Glaciers", "wildlife": "Wildlife",
    "biodiversity": "Biodiversity", "energy": "Energy", "boundaries": "Boundaries",
    "areas": "Protected and key areas", "climate": "Climate",
}

router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _domain_name(domain: str) -> str:
    return DOMAIN_NAMES.get(domain, domain.replace("_", " ").capitalize())


@router.get("/", response_class=HTMLResponse)
def index(request: Request, store: StoreDep, principal: PrincipalDep,
          lang: PageLanguageDep) -> HTMLResponse:
    """What the platform is and the datasets this visitor may see, grouped by domain."""
    records = [dataset_record(r, lang) for r in list_datasets(store, principal)]
    groups = [(domain, _domain_name(domain), list(items))
              for domain, items in groupby(records, key=lambda r: r["domain"])]
    totals = {name: sum(r["counts"][name] for r in records) for name in COUNTS}
    return render(request, "index.html", alternate=f"/api/v1/datasets?lang={lang}", lang=lang,
                  groups=groups, totals=totals, dataset_count=len(records))
