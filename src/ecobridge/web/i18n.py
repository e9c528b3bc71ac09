"""Babel catalogues for the web pages, and the reader's language.

Catalogues live in translations/<lang>/LC_MESSAGES/<domain>.po, one domain per group of pages
(so people working on different pages never edit the same file); all domains of a language are
merged into one Translations. English is the source language: its msgids are the English text.
The .po files are compiled in memory at first use, so nothing generated is kept on disk.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Annotated

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Depends, Request

from ecobridge.languages import LANGUAGES

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"en": "English", "zh": "中文", "ru": "Русский"}
LANG_COOKIE = "ecobridge_lang"


def catalogue_files(lang: str) -> list[Path]:
    return sorted((TRANSLATIONS / lang / "LC_MESSAGES").glob("*.po"))


@cache
def translations(lang: str) -> NullTranslations:
    """Every domain of `lang` merged; English (or an unknown code) translates to itself."""
    merged: Translations | None = None
    for path in catalogue_files(lang):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang, domain=path.stem)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(fp=buffer, domain=path.stem)
        merged = part if merged is None else merged.merge(part)
    return merged or NullTranslations()


def _from_header(header: str) -> str | None:
    """The best of our languages in an Accept-Language header, by q-value then order."""
    ranked = []
    for i, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = code.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else None


def page_language(request: Request) -> str:
    """?lang= (also remembered in a cookie), else the cookie, else Accept-Language, else the
    deployment's default language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    found = _from_header(request.headers.get("accept-language", ""))
    if found:
        return found
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "default_language", "en")


PageLanguageDep = Annotated[str, Depends(page_language)]
