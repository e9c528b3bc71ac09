"""Every interface string has a Chinese and a Russian translation, and pages in those languages
show no English interface text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from ecobridge.api.app import create_app
from ecobridge.web.i18n import catalogue_files
from web.i18n_check import assert_translated, untranslated

WEB = Path(__file__).resolve().parents[2] / "src" / "ecobridge" / "web"
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _msgids() -> dict[str, str]:
    found = {}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
            WEB, METHODS, options_map=OPTIONS, keywords={"_": None, "translate": (2,)}):
        if isinstance(message, tuple):  # ngettext: singular and plural
            for m in message:
                found[m] = f"{filename}:{lineno}"
        elif message:
            found[message] = f"{filename}:{lineno}"
    return found


def _catalogue(lang: str) -> dict[str, str]:
    merged = {}
    for path in catalogue_files(lang):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=lang):
                if message.id and not message.fuzzy:
                    merged[message.id] = message.string
    return merged


def test_strings_are_extracted_from_templates_and_code():
    msgids = _msgids()
    assert "Sign in" in msgids and "Wrong username or password." in msgids


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_every_interface_string_is_translated(lang):
    catalogue = _catalogue(lang)
    missing = [f"{where}: {msgid!r}" for msgid, where in _msgids().items()
               if not catalogue.get(msgid)]
    assert not missing, f"{len(missing)} strings without a {lang} translation:\n" + "\n".join(
        missing[:40])


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_translations_keep_their_placeholders(lang):
    wrong = [msgid for msgid, text in _catalogue(lang).items()
             if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text or ""))]
    assert not wrong, f"{lang} translations that drop or add placeholders: {wrong}"


def test_the_check_finds_english_left_on_a_page():
    page = ('<main><h1>Каталог</h1><p>Stations <span translate="no">Almaty</span></p>'
            '<script>var x = "English";</script><button aria-label="Close">×</button></main>')
    assert untranslated(page) == ["Stations", "Close"]


@pytest.mark.parametrize("lang", ["zh", "ru"])
@pytest.mark.parametrize("path", ["/login"])
def test_pages_show_no_english_interface_text(settings, store, lang, path):
    with TestClient(create_app(settings, store=store)) as client:
        response = client.get(path, params={"lang": lang})
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert_translated(response.text, f"{path} in {lang}")
