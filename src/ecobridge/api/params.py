"""Query parameters shared by every router, parsed once: paging, time range, bbox and format.

Each is a FastAPI dependency, so no two endpoints parse `limit`, `cursor`, `start`/`end`,
`datetime`, `bbox` or `f` differently, and each handler receives plain checked values.
(No `from __future__ import annotations` here: FastAPI must see the closures' real annotations.)
The dependencies are `async` though they never await: they only parse, and an async dependency
runs on the event loop where a sync one would cost a hop to the thread pool.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from ecobridge.api.formats import BULK_FORMATS, negotiate
from ecobridge.errors import BadRequest, InvalidInput, NotFound
from ecobridge.languages import LANGUAGES

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# CSV and Parquet are for downloads; a page may be larger, still bounded so memory stays bounded.
MAX_BULK_LIMIT = 1_000_000
# An id that fits both BIGINT and a JSON number without loss.
MAX_ID = 2**53


# -- keyset cursors ----------------------------------------------------------------------------
def encode_cursor(*keys: int) -> str:
    """An opaque token for the last row's sort key; clients pass it back unchanged."""
    raw = json.dumps(list(keys), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, size: int) -> tuple[int, ...]:
    """The sort key in a cursor, or 400 naming the parameter."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        keys = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        keys = None
    if (not isinstance(keys, list) or len(keys) != size
            or not all(type(k) is int and abs(k) < 2**62 for k in keys)):
        raise BadRequest("cursor: not a cursor returned by this endpoint; start again without it",
                         parameter="cursor")
    return tuple(keys)


@dataclass(frozen=True)
class Paging:
    limit: int
    cursor: str | None = None

    def after(self, size: int) -> tuple[int, ...] | None:
        return None if self.cursor is None else decode_cursor(self.cursor, size)


# -- output format -----------------------------------------------------------------------------
def format_param(*allowed: str):
    """A dependency choosing one of `allowed` from `f=` or the Accept header (JSON by default)."""
    choices = "|".join(allowed)

    async def output_format(
        request: Request,
        f: Annotated[str | None, Query(pattern=f"^({choices})$",
                                       description=f"Output format: {', '.join(allowed)}. "
                                       "Overrides the Accept header.")] = None,
    ) -> str:
        return negotiate(f, request.headers.get("accept"), allowed)

    return Depends(output_format)


def _paging(fmt: str, limit: int | None, cursor: str | None, default: int) -> Paging:
    top = MAX_BULK_LIMIT if fmt in BULK_FORMATS else MAX_LIMIT
    if limit is None:
        limit = top if fmt in BULK_FORMATS else default
    if limit > top:
        raise InvalidInput(f"at most {top} rows per page in {fmt}; follow the `next` link "
                           "for more", field="limit")
    return Paging(limit=limit, cursor=cursor)


Limit = Annotated[int | None, Query(ge=1, le=MAX_BULK_LIMIT, description=(
    f"Rows per page: default {DEFAULT_LIMIT} (1000 for observations), at most {MAX_LIMIT} in JSON "
    f"and {MAX_BULK_LIMIT} in CSV or Parquet (whose default is the maximum)."))]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description=(
    "Opaque token from the previous page's `next` link; continues after its last row."))]


def paging_param(fmt_dep, default: int = DEFAULT_LIMIT):
    """Paging whose maximum depends on the format chosen by `fmt_dep` (from `format_param`)."""

    async def paging(fmt: Annotated[str, fmt_dep], limit: Limit = None,
                     cursor: Cursor = None) -> Paging:
        return _paging(fmt, limit, cursor, default)

    return Depends(paging)


# -- language ----------------------------------------------------------------------------------
async def language(
    request: Request,
    lang: Annotated[str | None, Query(pattern=f"^({'|'.join(LANGUAGES)})$", description=(
        "Language of titles and names: en, zh or ru (else from Accept-Language)"))] = None,
) -> str:
    if lang:
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "default_language", "en")


LanguageDep = Annotated[str, Depends(language)]


# -- dataset references ------------------------------------------------------------------------
SLUG_OR_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


def dataset_ref(text: str) -> str | int:
    """Digits are an id, anything else a slug. An id beyond any BIGINT is simply not found
    (passed on as text, the store would fail to convert it)."""
    if not text.isdigit():
        return text
    if len(text) > 15:
        raise NotFound(f"no dataset {text!r}")
    return int(text)


async def dataset_path(
    ref: Annotated[str, Path(pattern=SLUG_OR_ID, description="Dataset id or slug")],
) -> str | int:
    return dataset_ref(ref)


async def dataset_filter(
    dataset: Annotated[str | None, Query(pattern=SLUG_OR_ID,
                                         description="Only this dataset (id or slug)")] = None,
) -> str | int | None:
    return None if dataset is None else dataset_ref(dataset)


DatasetPathDep = Annotated[str | int, Depends(dataset_path)]
DatasetFilterDep = Annotated[str | int | None, Depends(dataset_filter)]


# -- time --------------------------------------------------------------------------------------
def parse_time(text: str, name: str) -> datetime:
    """An ISO 8601 instant with an offset (or Z), or a date taken as midnight UTC; UTC out."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 time such as 2024-01-31T00:00:00Z",
                           field=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} has no UTC offset; add Z or +hh:mm", field=name)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{text!r} is out of range", field=name) from None


@dataclass(frozen=True)
class TimeRange:
    """[start, end): start inclusive, end exclusive, both UTC or open."""

    start: datetime | None = None
    end: datetime | None = None


async def time_range(
    start: Annotated[str | None, Query(max_length=64, description=(
        "First phenomenon time included, ISO 8601 with offset, e.g. 2024-01-01T00:00:00+06:00"
    ))] = None,
    end: Annotated[str | None, Query(max_length=64, description=(
        "First phenomenon time excluded, ISO 8601 with offset"))] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", max_length=130, description=(
        "OGC API style instant or interval `start/end` (`..` for an open end); "
        "instead of start and end"))] = None,
) -> TimeRange:
    if datetime_ is not None:
        if start is not None or end is not None:
            raise InvalidInput("give either datetime or start/end, not both", field="datetime")
        return _interval(datetime_)
    lo = parse_time(start, "start") if start else None
    hi = parse_time(end, "end") if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput("end must be after start (end is exclusive)", field="end")
    return TimeRange(lo, hi)


def _interval(text: str) -> TimeRange:
    if "/" not in text:
        instant = parse_time(text, "datetime")
        if instant == datetime.max.replace(tzinfo=UTC):
            return TimeRange(instant, None)
        return TimeRange(instant, instant + timedelta(microseconds=1))
    first, _, second = text.partition("/")
    lo = None if first in ("", "..") else parse_time(first, "datetime")
    hi = None if second in ("", "..") else parse_time(second, "datetime")
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput("the interval's end must be after its start", field="datetime")
    return TimeRange(lo, hi)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]


# -- bbox --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


async def bbox_param(
    bbox: Annotated[str | None, Query(max_length=200, description=(
        "min_lon,min_lat,max_lon,max_lat in WGS 84 degrees"))] = None,
) -> BBox | None:
    if bbox is None:
        return None
    try:
        values = [float(v) for v in bbox.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(abs(v) <= 180 for v in values):
        raise InvalidInput("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat",
                           field="bbox")
    box = BBox(*values)
    if box.min_lon > box.max_lon or box.min_lat > box.max_lat or abs(box.min_lat) > 90 \
            or abs(box.max_lat) > 90:
        raise InvalidInput("bbox corners must be min_lon,min_lat,max_lon,max_lat with "
                           "latitudes within +-90", field="bbox")
    return box


BBoxDep = Annotated[BBox | None, Depends(bbox_param)]
