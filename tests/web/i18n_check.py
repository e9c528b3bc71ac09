"""Find interface text left in English on a page rendered in Chinese or Russian.

Interface text is every visible text node and the attributes people read (aria-label, title,
placeholder, alt, button values) outside <script>, <style> and any element marked translate="no".
Data (station names, codes, numbers, units) must sit inside translate="no"; what remains must not
contain a Latin word, apart from the names and codes below that are the same in every language.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Same in every language: names of standards, formats and products, pollutant codes, units.
NEUTRAL = {
    "ecobridge", "api", "json", "csv", "geojson", "parquet", "openapi", "html", "xml", "utc",
    "pm2", "pm10", "no2", "so2", "o3", "co", "aqi", "ogc", "sensorthings", "cap", "sse",
    "dwc", "darwin", "core", "camtrap", "dp", "spdx", "maplibre", "echarts", "natural", "earth",
    "iso", "gb", "hj", "epa", "cpcb", "who", "lttb", "id", "url", "webhook", "hmac", "sha",
    "wgms", "apache", "cc", "by", "mit", "zip", "gpkg", "shp", "yaml", "qartod", "ucum",
    "µg", "mg", "m³", "km", "mm", "kwh", "mwh", "ppb", "ppm",
}
READABLE_ATTRS = ("aria-label", "title", "placeholder", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []   # (tag, skipped)
        self.texts: list[str] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        skip = (tag in ("script", "style", "template", "code", "pre")
                or values.get("translate") == "no")
        if not skip and not self._skipping():
            self.texts += [values[a] for a in READABLE_ATTRS if values.get(a)]
            if tag == "input" and values.get("type") in ("submit", "button") and values.get(
                    "value"):
                self.texts.append(values["value"])
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if data.strip() and not self._skipping():
            self.texts.append(data.strip())


def untranslated(html: str) -> list[str]:
    """Texts of the page that still hold a Latin word that is not a neutral name or code."""
    collector = _Collector()
    collector.feed(html)
    found = []
    for text in collector.texts:
        words = [w for w in WORD.findall(text) if w.lower() not in NEUTRAL and len(w) > 1]
        if words:
            found.append(text)
    return found


def assert_translated(html: str, where: str = "") -> None:
    left = untranslated(html)
    assert not left, f"untranslated text on {where or 'the page'}: {left[:10]}"
