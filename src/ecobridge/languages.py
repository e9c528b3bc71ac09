"""One resolver for text stored per language, with a fallback chain."""

from __future__ import annotations

import json

LANGUAGES = ("en", "zh", "ru")
FALLBACK = ("en", "ru", "zh")


def localise(value, lang: str = "en") -> str:
    """Pick `lang` from a {"en": ..., "zh": ..., "ru": ...} value, falling back in a fixed order."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if not isinstance(value, dict):
        return str(value)
    for code in (lang, *FALLBACK):
        if value.get(code):
            return value[code]
    return next((v for v in value.values() if v), "")


def as_json(value: str | dict) -> str:
    """Store plain text as English, or a per-language dict as it is."""
    return json.dumps(value if isinstance(value, dict) else {"en": value}, ensure_ascii=False)
