"""The one Jinja environment per language, and `render`, which every HTML page goes through.

Templates write visible text as {{ _("English text") }} or {% trans %}...{% endtrans %}; values
that come from data (names, numbers, codes) are marked translate="no" so the translation check in
tests/web/i18n_check.py can tell them from interface text.
"""

from __future__ import annotations

import json
from functools import cache, partial
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ecobridge import __version__
from ecobridge.languages import LANGUAGES
from ecobridge.web import positions
from ecobridge.web.i18n import LANG_COOKIE, LANGUAGE_NAMES, page_language, translations

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _thousands(n) -> str:
    return f"{int(n or 0):,}".replace(",", "\u202f")


# How the items of a list are written apart in running text: Chinese enumerates with the
# ideographic enumeration comma, and separates longer items with a full-width semicolon.
LIST_SEPARATORS = {"zh": ("\u3001", "\uff1b")}


def list_separator(lang: str, *, strong: bool = False) -> str:
    """The comma between a list's items (with `strong`, the semicolon) in this language."""
    comma, semicolon = LIST_SEPARATORS.get(lang, (", ", "; "))
    return semicolon if strong else comma


def join_list(lang: str, items) -> str:
    """Words or names as one list in the page's language, e.g. countries in a sentence."""
    return list_separator(lang).join(items)


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.filters["thousands"] = _thousands
    # {{ items|join(list_sep) }}: a list of words in this language (Chinese: 、)
    env.globals["list_sep"] = list_separator(lang)
    env.globals["list_sep_strong"] = list_separator(lang, strong=True)
    env.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False)
    # positions with their hemisphere, in this language (web/positions.py)
    env.globals["position"] = partial(positions.position, lang)
    env.globals["extent"] = partial(positions.extent, lang)
    return env


def translate(lang: str, message: str, **variables) -> str:
    """Translate interface text produced in Python (flash messages, labels built in code)."""
    text = translations(lang).gettext(message)
    return text % variables if variables else text


def _switch_url(request: Request, code: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", code))
    from urllib.parse import urlencode

    return f"{request.url.path}?{urlencode(params)}"


def render(request: Request, template: str, *, lang: str | None = None,
           alternate: str | None = None, status: int = 200, **context) -> HTMLResponse:
    """A page in the reader's language, with its JSON twin (if any) advertised in <head> and in
    the Link header. A ?lang= choice is remembered in a cookie."""
    lang = lang or page_language(request)
    principal = getattr(request.state, "principal", None)
    values = {
        "request": request, "lang": lang, "languages": LANGUAGE_NAMES, "alternate": alternate,
        "user": getattr(principal, "username", None), "principal": principal,
        "csrf_token": getattr(request.state, "csrf_token", None) or "",
        "switch_urls": {code: _switch_url(request, code) for code in LANGUAGES},
        "version": __version__, **context}
    html = environment(lang).get_template(template).render(values)
    headers = {"Content-Language": lang, "Vary": "Accept-Language, Cookie"}
    if alternate:
        headers["Link"] = f'<{alternate}>; rel="alternate"; type="application/json"'
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
