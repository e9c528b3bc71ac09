"""Positions given only as text: Darwin Core `verbatimCoordinates`, or `verbatimLatitude` +
`verbatimLongitude`, read into decimal degrees when decimalLatitude/decimalLongitude are empty.

    read_position({"verbatimCoordinates": "43°15'30\\"N 76°57'E"})
    -> Position(latitude=43.2583333, longitude=76.95, uncertainty_m=2622, ...)

Older museum and field records (Central Asia, Russia) carry only such text, in degrees,
minutes and seconds with hemisphere letters (N S E W, or с.ш. ю.ш. в.д. з.д.), in decimal
degrees, or in degrees and decimal minutes. The reading is strict, because a wrong position is
worse than none: only a form with one meaning is taken, anything else raises Unreadable with
the field, the value and a reason, and the import rejects the row.

- Hemisphere letters (before or after each number group) or a sign tell the axes apart. Text
  without letters is read as latitude then longitude (the Darwin Core convention) only when
  `verbatimCoordinateSystem` names its form; separate verbatimLatitude/verbatimLongitude say
  the axis by their field.
- Minutes and seconds must be below 60, only the last number of a group may have decimals,
  |latitude| <= 90 and |longitude| <= 180; a sign together with a letter is refused.
- The uncertainty is that of the text's precision, kept conservative: the diagonal of the cell
  one unit of the last written digit wide on each axis, with a degree taken as 111 320 m (its
  length along the equator; the cell only narrows away from it). A whole degree gives
  157 431 m, a whole minute 2 624 m, a tenth of a minute 263 m, a whole second 44 m.
- No datum is transformed: `geodeticDatum` / `verbatimSRS` stay on the record as given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ecobridge.monitoring.reasons import Reason, reason

METRES_PER_DEGREE = 111_320
COORDINATES, LATITUDE, LONGITUDE = "verbatimCoordinates", "verbatimLatitude", "verbatimLongitude"
SYSTEM = "verbatimCoordinateSystem"
# verbatimCoordinateSystem (lower case, single spaces) -> how many numbers a group may have
SYSTEMS = {"decimal degrees": (1,), "degrees decimal minutes": (2,),
           "degrees minutes seconds": (2, 3)}
FORMS = {1: "decimal degrees", 2: "degrees and minutes", 3: "degrees, minutes and seconds"}
UNITS = ("°", "'", '"')

_TYPOGRAPHY = str.maketrans({"′": "'", "’": "'", "‘": "'", "´": "'", "`": "'", "ʹ": "'",
                             "″": '"', "“": '"', "”": '"', "ʺ": '"', "º": "°", "˚": "°",
                             "−": "-", "\u00a0": " "})
_CYRILLIC = ((re.compile(r"с\.?\s*ш\.?", re.I), " N "), (re.compile(r"ю\.?\s*ш\.?", re.I), " S "),
             (re.compile(r"в\.?\s*д\.?", re.I), " E "), (re.compile(r"з\.?\s*д\.?", re.I), " W "))
_TOKEN = re.compile(r"""\s*(?:
      (?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>[°'"])?
    | (?P<hemi>[NSEW])(?![A-Za-z])
    | (?P<sep>[,;/])
    )\s*""", re.X | re.I)


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    uncertainty_m: int      # from the precision of the text
    source: str             # the field(s) read
    form: str               # e.g. "degrees, minutes and seconds"


class Unreadable(ValueError):
    """A verbatim position the importer will not guess at: the field, its value, the reason."""

    def __init__(self, field: str, value: str, why: Reason) -> None:
        super().__init__(why.text)
        self.field, self.value, self.reason = field, value, why


@dataclass(frozen=True)
class _Axis:
    value: float
    step: float             # one unit of the last written digit, in degrees
    count: int              # numbers written: 1 degrees, 2 + minutes, 3 + seconds
    hemisphere: str | None  # N, S, E or W


def read_position(row: Mapping[str, str | None]) -> Position | None:
    """The position of a row's verbatim terms, None when it has none; Unreadable if the text
    is not one this reader takes. Separate verbatimLatitude/verbatimLongitude come first."""
    text = {k: (row.get(k) or "").strip() for k in (COORDINATES, LATITUDE, LONGITUDE, SYSTEM)}
    if not (text[COORDINATES] or text[LATITUDE] or text[LONGITUDE]):
        return None
    counts = _system(text[SYSTEM])
    if text[LATITUDE] or text[LONGITUDE]:
        if not (text[LATITUDE] and text[LONGITUDE]):
            field = LONGITUDE if text[LATITUDE] else LATITUDE
            raise Unreadable(field, "", reason("dwca-coordinates-together", latitude=LATITUDE,
                                               longitude=LONGITUDE))
        lat = _one_axis(LATITUDE, text[LATITUDE], "NS", counts, text[SYSTEM])
        lon = _one_axis(LONGITUDE, text[LONGITUDE], "EW", counts, text[SYSTEM])
        source = f"{LATITUDE} and {LONGITUDE}"
    else:
        lat, lon = _pair(text[COORDINATES], counts, text[SYSTEM])
        source = COORDINATES
    diagonal = METRES_PER_DEGREE * math.hypot(lat.step, lon.step)
    return Position(round(lat.value, 7), round(lon.value, 7), math.ceil(diagonal - 1e-6),
                    source, FORMS[max(lat.count, lon.count)])


def _system(value: str) -> tuple[int, ...] | None:
    if not value:
        return None
    counts = SYSTEMS.get(" ".join(value.lower().replace("_", " ").split()))
    if counts is None:
        raise Unreadable(SYSTEM, value, reason("verbatim-system", field=SYSTEM, value=value,
                                               systems=", ".join(SYSTEMS)))
    return counts


def _tokens(field: str, value: str) -> list[tuple[str, str, str | None]]:
    """(kind, text, unit) with kind num, hemi or sep; Unreadable for anything else."""
    text = value.translate(_TYPOGRAPHY).replace("''", '"')
    for pattern, letter in _CYRILLIC:
        text = pattern.sub(letter, text)
    out, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise Unreadable(field, value, _unreadable(field, value))
        at = m.end()
        kind = m.lastgroup if m.lastgroup != "unit" else "num"
        out.append((kind, m.group(kind).upper(), m.group("unit")))
    return out


def _unreadable(field: str, value: str) -> Reason:
    return reason("verbatim-unreadable", field=field, value=value)


def _pair(value: str, counts: tuple[int, ...] | None, system: str) -> tuple[_Axis, _Axis]:
    """verbatimCoordinates: two groups, told apart by a separator, hemisphere letters,
    degree signs or (for bare numbers) the count verbatimCoordinateSystem gives."""
    field = COORDINATES
    tokens = _tokens(field, value)
    kinds = [k for k, _, _ in tokens]
    hemis = [i for i, k in enumerate(kinds) if k == "hemi"]
    if kinds.count("sep") == 1:
        cut = kinds.index("sep")
        parts = [tokens[:cut], tokens[cut + 1:]]
    elif kinds.count("sep") > 1:
        raise Unreadable(field, value, _unreadable(field, value))
    elif len(hemis) == 2:
        cut = hemis[1] if hemis[0] == 0 else hemis[0] + 1
        parts = [tokens[:cut], tokens[cut:]]
    elif hemis:
        raise Unreadable(field, value, reason("verbatim-hemisphere", field=field, value=value))
    else:
        degrees = [i for i, (k, _, u) in enumerate(tokens) if k == "num" and u == "°" and i > 0]
        bare = all(u is None for _, _, u in tokens)
        if len(degrees) == 1:
            parts = [tokens[:degrees[0]], tokens[degrees[0]:]]
        elif bare and counts is not None and len(tokens) == 2 * max(counts):
            parts = [tokens[:max(counts)], tokens[max(counts):]]
        elif counts is None:
            raise Unreadable(field, value, reason("verbatim-order-unknown", field=field,
                                                  value=value, system=SYSTEM))
        else:
            raise Unreadable(field, value, _unreadable(field, value))
    axes = [_axis(field, value, part) for part in parts]
    letters = [a.hemisphere for a in axes]
    if letters == [None, None]:
        if counts is None:
            raise Unreadable(field, value, reason("verbatim-order-unknown", field=field,
                                                  value=value, system=SYSTEM))
        lat, lon = axes
    elif None in letters or {_kind(x) for x in letters} != {"NS", "EW"}:
        raise Unreadable(field, value, reason("verbatim-hemisphere", field=field, value=value))
    else:
        lat, lon = axes if _kind(letters[0]) == "NS" else axes[::-1]
    for axis, limit in ((lat, 90), (lon, 180)):
        _check(field, value, axis, limit, counts, system)
    return lat, lon


def _one_axis(field: str, value: str, letters: str, counts: tuple[int, ...] | None,
              system: str) -> _Axis:
    tokens = _tokens(field, value)
    if any(k == "sep" for k, _, _ in tokens):
        raise Unreadable(field, value, _unreadable(field, value))
    axis = _axis(field, value, tokens)
    if axis.hemisphere is not None and axis.hemisphere not in letters:
        raise Unreadable(field, value, reason("verbatim-hemisphere", field=field, value=value))
    _check(field, value, axis, 90 if letters == "NS" else 180, counts, system)
    return axis


def _kind(letter: str | None) -> str | None:
    return None if letter is None else ("NS" if letter in "NS" else "EW")


def _axis(field: str, value: str, part: list) -> _Axis:
    """One group: an optional hemisphere letter first or last, then 1-3 numbers whose marks
    (if any) are °, ' and " in that order; only the first may carry a sign and only the
    last decimals."""
    hemisphere = None
    if part and part[0][0] == "hemi":
        hemisphere, part = part[0][1], part[1:]
    elif part and part[-1][0] == "hemi":
        hemisphere, part = part[-1][1], part[:-1]
    numbers = [(text, unit) for kind, text, unit in part if kind == "num"]
    if not 1 <= len(numbers) == len(part) <= 3 or any(
            unit not in (None, UNITS[i]) for i, (_, unit) in enumerate(numbers)) or any(
            text[0] in "+-" for text, _ in numbers[1:]) or any(
            "." in text for text, _ in numbers[:-1]):
        raise Unreadable(field, value, _unreadable(field, value))
    sign = numbers[0][0][0] if numbers[0][0][0] in "+-" else ""
    if sign and hemisphere:
        raise Unreadable(field, value, reason("verbatim-sign-and-hemisphere", field=field,
                                              value=value))
    parts = [float(text.lstrip("+-")) for text, _ in numbers]
    if any(p >= 60 for p in parts[1:]):
        raise Unreadable(field, value, reason("verbatim-minutes-seconds", field=field,
                                              value=value))
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    last = numbers[-1][0]
    decimals = len(last.partition(".")[2])
    step = 10.0 ** -decimals / 60 ** (len(parts) - 1)
    negative = sign == "-" or hemisphere in ("S", "W")
    return _Axis(-degrees if negative else degrees, step, len(parts), hemisphere)


def _check(field: str, value: str, axis: _Axis, limit: int,
           counts: tuple[int, ...] | None, system: str) -> None:
    if abs(axis.value) > limit:
        code = "verbatim-latitude-range" if limit == 90 else "verbatim-longitude-range"
        raise Unreadable(field, value, reason(code, field=field, value=value))
    if counts is not None and axis.count not in counts:
        raise Unreadable(field, value, reason("verbatim-system-mismatch", field=field,
                                              value=value, system=system))


# -- a file's columns --------------------------------------------------------------------------
PROTOCOL = "georeferenceProtocol"


def fill(table: dict[str, list[str | None]]
         ) -> tuple[dict[str, list[str | None]], list[tuple[int, Unreadable]]]:
    """Columns by Darwin Core local name, with decimalLatitude/decimalLongitude (and an empty
    coordinateUncertaintyInMeters) filled from the verbatim terms of the rows that have no
    decimal coordinate at all, and georeferenceProtocol saying so. Returns the new columns
    (the given ones are not changed) and, by row index, the rows whose text is unreadable."""
    if not any(name in table for name in (COORDINATES, LATITUDE, LONGITUDE)):
        return table, []
    n = len(next(iter(table.values())))
    empty = [None] * n
    out = dict(table)
    lat, lon, unc, protocol = (list(table.get(k, empty)) for k in (
        "decimalLatitude", "decimalLongitude", "coordinateUncertaintyInMeters", PROTOCOL))
    problems: list[tuple[int, Unreadable]] = []
    read = 0
    for i in range(n):
        if lat[i] is not None or lon[i] is not None:
            continue
        try:
            found = read_position({k: v[i] for k, v in table.items()
                                   if k in (COORDINATES, LATITUDE, LONGITUDE, SYSTEM)})
        except Unreadable as exc:
            problems.append((i, exc))
            continue
        if found is None:
            continue
        read += 1
        lat[i], lon[i] = repr(found.latitude), repr(found.longitude)
        note = f"decimalLatitude and decimalLongitude read from {found.source} ({found.form})"
        if unc[i] is None:
            unc[i] = str(found.uncertainty_m)
            note += "; coordinateUncertaintyInMeters from the precision of the text"
        protocol[i] = " | ".join(filter(None, [protocol[i], note]))
    if read:
        out.update({"decimalLatitude": lat, "decimalLongitude": lon,
                    "coordinateUncertaintyInMeters": unc, PROTOCOL: protocol})
    return out, problems
