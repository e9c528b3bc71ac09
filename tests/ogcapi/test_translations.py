"""Every string of the OGC API pages, those of the templates and the collection titles and
descriptions translated at run time, has a Chinese and a Russian translation in ogcapi.po."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ecobridge.api.ogcapi.collections import COLLECTIONS
from ecobridge.web.i18n import TRANSLATIONS

TEMPLATES = (Path(__file__).resolve().parents[2] / "src" / "ecobridge" / "web" / "templates"
             / "ogcapi")


def _msgids() -> set[str]:
    found = {message for _f, _l, message, _c, _x in extract_from_dir(
        TEMPLATES, [("**.html", "jinja2.ext:babel_extract")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}})
        if message}
    for c in COLLECTIONS.values():
        found |= {c.title, c.description}
    return found


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_every_ogcapi_string_is_translated(lang):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "ogcapi.po").open("rb") as fh:
        catalogue = {m.id: m.string for m in read_po(fh, locale=lang) if m.id}
    msgids = _msgids()
    assert len(msgids) > 30
    missing = sorted(m for m in msgids if not catalogue.get(m))
    assert not missing, missing
