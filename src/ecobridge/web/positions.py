"""Positions as people read them: degrees with their hemisphere, never a bare signed pair
("43.2, 76.9" leaves the reader to guess which is which and where the minus went).

Latitude first, then longitude, in the reader's language: "43.2000° N, 76.9000° E",
"北纬 43.2000°，东经 76.9000°", "43.2000° с. ш., 76.9000° в. д.". Each coordinate is held
together by no-break spaces, so a narrow cell breaks a position only after its comma.
Templates call `position(lat, lon)` and `extent(bbox)` (globals of the page's Jinja environment,
bound to its language in web/render.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ecobridge.web.i18n import translations

NBSP = "\u00a0"


def _(text: str) -> str:
    """Marks interface text for extraction; translated where it is used."""
    return text


# (positive, negative) hemisphere of each axis; zero counts as north and east
LATITUDE = (_("%(value)s° N"), _("%(value)s° S"))
LONGITUDE = (_("%(value)s° E"), _("%(value)s° W"))
PAIR = _("%(latitude)s, %(longitude)s")
RANGE = _("%(south)s – %(north)s, %(west)s – %(east)s")


def _gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def _coordinate(lang: str, value: float, digits: int, axis: tuple[str, str]) -> str:
    rounded = round(float(value), digits)
    # -0.00001 shown to 4 digits is 0.0000: north, not "0.0000° S"
    text = _gettext(lang, axis[1] if rounded < 0 else axis[0])
    return (text % {"value": f"{abs(rounded):.{digits}f}"}).replace(" ", NBSP)


def latitude(lang: str, value: float, digits: int = 4) -> str:
    return _coordinate(lang, value, digits, LATITUDE)


def longitude(lang: str, value: float, digits: int = 4) -> str:
    return _coordinate(lang, value, digits, LONGITUDE)


def position(lang: str, lat: float | None, lon: float | None, digits: int = 4) -> str:
    """"43.2000° N, 76.9000° E" in `lang`; "" without a position."""
    if lat is None or lon is None:
        return ""
    return _gettext(lang, PAIR) % {"latitude": latitude(lang, lat, digits),
                                   "longitude": longitude(lang, lon, digits)}


def extent(lang: str, bbox: Sequence[float] | None, digits: int = 2) -> str:
    """A bounding box [west, south, east, north] as latitude and longitude ranges (a point as
    one position)."""
    if not bbox:
        return ""
    west, south, east, north = bbox
    if west == east and south == north:
        return position(lang, south, west, digits)
    return _gettext(lang, RANGE) % {
        "south": latitude(lang, south, digits), "north": latitude(lang, north, digits),
        "west": longitude(lang, west, digits), "east": longitude(lang, east, digits)}
