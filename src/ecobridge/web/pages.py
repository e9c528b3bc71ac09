"""Server-rendered pages. Each HTML page has a JSON twin, linked with rel="alternate" in the
page's <head> and in a Link header, so what a person reads a program can fetch."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ecobridge import __version__
from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.api.params import LanguageDep
from ecobridge.catalog.api import COUNTS, dataset_record
from ecobridge.catalog.i18n import LANGUAGES
from ecobridge.catalog.service import list_datasets

HERE = Path(__file__).resolve().parent
LANGUAGE_NAMES = {"en": "English", "zh": "中文", "ru": "Русский"}
DOMAIN_NAMES = {
    "air": "Air quality", "water": "Water", "glacier": "Glaciers", "wildlife": "Wildlife",
    "biodiversity": "Biodiversity", "energy": "Energy", "boundaries": "Boundaries",
    "areas": "Protected and key areas", "climate": "Climate",
}

router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
_env.filters["thousands"] = lambda n: f"{int(n or 0):,}"


def render(request: Request, template: str, *, alternate: str, lang: str = "en",
           **context) -> HTMLResponse:
    """A page with its JSON twin advertised in <head> and in the Link header."""
    principal = getattr(request.state, "principal", None)
    html = _env.get_template(template).render(
        request=request, lang=lang, languages=LANGUAGE_NAMES, alternate=alternate,
        user=getattr(principal, "username", None), version=__version__, **context)
    link = f'<{alternate}>; rel="alternate"; type="application/json"'
    return HTMLResponse(html, headers={"Link": link})


def _domain_name(domain: str) -> str:
    return DOMAIN_NAMES.get(domain, domain.replace("_", " ").capitalize())


@router.get("/", response_class=HTMLResponse)
def index(request: Request, store: StoreDep, principal: PrincipalDep,
          lang: LanguageDep) -> HTMLResponse:
    """What the platform is and the datasets this visitor may see, grouped by domain."""
    records = [dataset_record(r, lang) for r in list_datasets(store, principal)]
    groups = [(domain, _domain_name(domain), list(items))
              for domain, items in groupby(records, key=lambda r: r["domain"])]
    totals = {name: sum(r["counts"][name] for r in records) for name in COUNTS}
    return render(request, "index.html", alternate=f"/api/v1/datasets?lang={lang}", lang=lang,
                  groups=groups, totals=totals, dataset_count=len(records),
                  other_languages=[code for code in LANGUAGES if code != lang])
