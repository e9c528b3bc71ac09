"""Why a row was rejected: a stable code, its parameters, and the English text made from them.
An archive import's warnings (of the whole file, not of a row) are made the same way.

Every ingest path (observations, stations, areas, Darwin Core Archives, SensorThings writes)
builds its reasons here, and the quarantine keeps all three: `reason` (the English text, which
the API and the CLI show as before), `reason_code` and `reason_params`. The web pages translate
the code's template (catalogue domain `ingest`) and fill in the parameters as data, so a reader
in Chinese or Russian reads the reason in their language while file, field and value names stay
as they are in the file. Codes are stored: never rename or reuse one, add a new one instead.

Templates use %(name)s, or %(name)r for a value shown quoted as Python quotes it (the text the
API always gave). A parameter may itself be a reason ({"code": ..., "params": ...}), translated
in turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _(message: str) -> str:
    """Marks a template for the catalogues (tests/web/test_ingest_reasons.py checks them)."""
    return message


REASONS: dict[str, str] = {
    # observations: the (station, variable, unit) of a row
    "missing-station": _("missing station"),
    "missing-variable": _("missing variable"),
    "missing-unit": _("missing unit"),
    "unknown-property": _("unknown observed property %(property)r"),
    "unknown-station": _("unknown station %(station)r"),
    "unknown-station-no-coordinates": _(
        "unknown station %(station)r (some of its rows have no lat/lon)"),
    "unknown-station-moving": _("unknown station %(station)r (its rows give different lat/lon)"),
    "unknown-station-out-of-range": _("unknown station %(station)r (lat/lon out of range)"),
    "unit-for-property": _("%(problem)s (%(property)s)"),
    # units (monitoring/units.py), alone or inside "unit-for-property" / "sta-member"
    "unit-none": _("no unit given"),
    "unit-unknown": _("unknown unit %(unit)r"),
    "unit-not-convertible": _("unit %(unit)r cannot be converted to %(canonical)r"),
    "unit-mixing-ratio": _("unit %(unit)r is a gas mixing ratio; it converts to %(canonical)r "
                           "only for a gas with a known molar mass"),
    # observations: time and value
    "time-missing": _("missing time"),
    "time-no-offset": _("time has no UTC offset and no time zone is declared for the file"),
    "time-invalid": _("not a valid time"),
    "value-not-number": _("value is not a number"),
    "duplicate-observation": _("duplicate of row %(row)s (same station, variable and time)"),
    # stations and areas
    "missing-station-code": _("missing station code"),
    "duplicate-row": _("duplicate of row %(row)s"),
    "missing-coordinate": _("missing %(field)s"),
    "coordinate-not-number": _("%(field)s is not a number"),
    "coordinate-out-of-range": _("%(field)s outside -%(limit)s..%(limit)s"),
    "missing-area-code": _("missing area code"),
    "area-kind": _("kind must be one of %(kinds)s"),
    "missing-geometry": _("missing geometry"),
    "not-polygon": _("not a polygon"),
    # Darwin Core Archives
    "dwca-short-row": _("the row has %(fields)s fields; %(meta)s maps %(mapped)s"),
    "dwca-orphan": _("no accepted core row has this id"),
    "dwca-core-id-empty": _("the core id is empty"),
    "dwca-core-id-duplicate": _("duplicate core id; first at row %(row)s"),
    "dwca-required": _("%(term)s is required"),
    "dwca-occurrence-id-duplicate": _("duplicate %(term)s; first at row %(row)s"),
    "dwca-basis-of-record": _("%(term)s must be one of %(values)s"),
    "dwca-latitude": _("not a latitude in -90..90"),
    "dwca-longitude": _("not a longitude in -180..180"),
    "dwca-coordinates-together": _("%(latitude)s and %(longitude)s come together"),
    "dwca-individual-count": _("not a whole number of at least 0"),
    "dwca-uncertainty": _("not a positive number of metres"),
    "dwca-event-date": _("not an ISO 8601 date, date-time or interval"),
    "dwca-occurrence-status": _("%(term)s must be %(present)s or %(absent)s"),
    # Darwin Core positions given only as text (biodiversity/verbatim.py)
    "verbatim-unreadable": _("%(field)s %(value)r is not a latitude and longitude in a form "
                             "this importer reads"),
    "verbatim-order-unknown": _("%(field)s %(value)r has no hemisphere letters, and no "
                                "%(system)s says how it is written"),
    "verbatim-hemisphere": _("%(field)s %(value)r: the hemisphere letters must name one "
                             "latitude (N or S) and one longitude (E or W)"),
    "verbatim-sign-and-hemisphere": _("%(field)s %(value)r has both a sign and a hemisphere "
                                      "letter"),
    "verbatim-minutes-seconds": _("%(field)s %(value)r: minutes and seconds must be below 60"),
    "verbatim-latitude-range": _("%(field)s %(value)r: the latitude is outside -90..90"),
    "verbatim-longitude-range": _("%(field)s %(value)r: the longitude is outside -180..180"),
    "verbatim-system": _("%(field)s %(value)r is not a coordinate system this importer reads "
                         "(%(systems)s)"),
    "verbatim-system-mismatch": _("%(field)s %(value)r is not written in %(system)s"),
    # SensorThings writes (a request's member, then the problem)
    "sta-member": _("%(member)s: %(problem)s"),
    "sta-same-time": _("%(member)s: the request holds another observation of this Datastream "
                       "at the same time (%(first)s)"),
    "sta-required": _("is required"),
    "sta-json-object": _("expected a JSON object"),
    "sta-time-type": _("expected an ISO 8601 time such as %(example)s"),
    "sta-time-interval": _("%(value)r is a time interval; observations are stored at an instant"),
    "sta-time-invalid": _("%(value)r is not an ISO 8601 time"),
    "sta-time-no-offset": _("%(value)r has no UTC offset (add %(z)s or %(offset)s)"),
    "sta-not-number": _("%(value)r is not a number"),
    "sta-number-type": _("expected a number (only numeric results are stored)"),
    "sta-not-finite": _("expected a finite number"),
    "sta-unit-code": _("expected a unit code such as %(example)s"),
    "sta-row-length": _("expected a list of %(n)s values"),
    # what an archive import says of the whole file, not of a row (ingest_runs.message in
    # English, ingest_runs.warning_codes as codes): Darwin Core Archives (file names and the
    # name EML are parameters, so they stay as they are in every language)...
    "dwca-metadata-missing": _("%(meta)s names the metadata file %(file)r, which the archive "
                               "does not hold"),
    "dwca-metadata-instead": _("%(meta)s names the metadata file %(file)r, which the archive "
                               "does not hold; read %(found)s instead"),
    "dwca-no-metadata": _("the archive names no metadata (%(eml)s) file"),
    "dwca-simple": _("no %(meta)s: read %(file)s as simple Darwin Core, terms from its header"),
    # ...and Camtrap DP packages
    "camtrap-resource-skipped": _("resource %(name)r is not a Camtrap DP table: not imported"),
    "camtrap-occurrences-derived": _("%(n)s occurrences derived from event-level animal "
                                     "observations"),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)([sr])|%%")


@dataclass(frozen=True)
class Reason:
    """A rejection reason: its code and parameters (JSON values, or nested reasons)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in REASONS:
            raise KeyError(f"no rejection reason {self.code!r} in REASONS")
        missing = set(placeholders(REASONS[self.code])) - set(self.params)
        if missing:
            raise KeyError(f"reason {self.code!r} needs {sorted(missing)}")

    @property
    def text(self) -> str:
        """The English text, as the API, the CLI and the `reason` column give it."""
        return fill(self.code, self.params, lambda template: template, _plain)

    def as_dict(self) -> dict:
        return {"code": self.code, "params": {k: _stored(v) for k, v in self.params.items()}}

    def params_json(self) -> str:
        return json.dumps(self.as_dict()["params"], ensure_ascii=False, default=str)

    def __str__(self) -> str:
        return self.text


def reason(code: str, **params: Any) -> Reason:
    return Reason(code, params)


def placeholders(template: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(template) if m.group(1)]


def _stored(value: Any) -> Any:
    return value.as_dict() if isinstance(value, Reason) else value


def _plain(value: Any, conversion: str) -> str:
    return repr(value) if conversion == "r" else str(value)


def fill(code: str, params: dict, translate: Callable[[str], str],
         show: Callable[[Any, str], str], literal: Callable[[str], str] = lambda s: s) -> str:
    """The template of `code` passed through `translate`, its literal text through `literal`
    and each parameter through `show(value, conversion)`; nested reasons are filled the same
    way. The English text is fill(code, params, identity, _plain)."""
    out, at = [], 0
    template = translate(REASONS[code])
    for m in PLACEHOLDER.finditer(template):
        out.append(literal(template[at:m.start()]))
        at = m.end()
        if m.group(0) == "%%":
            out.append(literal("%"))
            continue
        value = params.get(m.group(1))
        if isinstance(value, Reason):
            value = value.as_dict()
        if isinstance(value, dict) and value.get("code") in REASONS:
            out.append(fill(value["code"], value.get("params") or {}, translate, show, literal))
        else:
            out.append(show(value, m.group(2)))
    out.append(literal(template[at:]))
    return "".join(out)


def is_stored_reason(code: Any, params: Any) -> bool:
    """A stored (code, params) pair this version can fill; older rows have neither."""
    return (isinstance(code, str) and code in REASONS and isinstance(params, dict)
            and set(placeholders(REASONS[code])) <= set(params))
