"""YAML mapping files: adapt another file layout to ecobridge's without code (docs/ingest.md).

    kind: observations            # observations | stations | areas
    encoding: cp1251              # read a non-UTF-8 file deliberately
    delimiter: ";"
    decimal: ","
    skip: 2                       # lines before the header
    timezone: Asia/Almaty         # zone of times written without a UTC offset
    time_format: "%d.%m.%Y %H:%M" # strptime format when times are not ISO 8601
    columns: {station: Post, time: Date, value: Conc}   # ecobridge field: column in the file
    constants: {unit: ug/m3}      # a field that has one value for the whole file
    variables: {PM2.5: pm25}      # values of the variable column -> observed property codes
    na_values: ["-999", "NA"]     # values meaning "measured nothing" (stored as missing, flag 9)
    wide:                         # one column per variable; each cell becomes one observation
      columns:
        PM2.5: {variable: pm25, unit: ug/m3}
        NO2: no2                  # unit from `constants` or a unit column
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecobridge.errors import InvalidInput

KINDS = ("observations", "stations", "areas")
_KEYS = {"kind", "encoding", "delimiter", "decimal", "quote", "skip", "timezone", "time_format",
         "columns", "constants", "variables", "na_values", "wide", "layer"}


@dataclass(frozen=True)
class WideColumn:
    variable: str
    unit: str | None = None


@dataclass(frozen=True)
class Mapping:
    kind: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    decimal: str = "."
    quote: str | None = None
    skip: int = 0
    timezone: str | None = None
    time_format: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()
    wide: dict[str, WideColumn] | None = None
    layer: str | None = None
    source: dict = field(default_factory=dict)  # as given, stored with the run

    @property
    def utf8(self) -> bool:
        return self.encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def load_mapping(spec: str | Path | dict | None) -> Mapping:
    """A Mapping from a YAML file or an equivalent dict; None gives the default layout."""
    if spec is None:
        return Mapping()
    name = "mapping"
    if isinstance(spec, str | Path):
        name = str(spec)
        try:
            spec = yaml.safe_load(Path(spec).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise InvalidInput(f"cannot read mapping: {exc.strerror}", file=name) from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"mapping is not valid YAML: {exc}", file=name) from None
    if not isinstance(spec, dict):
        raise InvalidInput("a mapping is a YAML object of settings", file=name)
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise InvalidInput(f"unknown mapping keys {unknown}; known: {sorted(_KEYS)}",
                           file=name, field=unknown[0])
    kind = spec.get("kind")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", file=name, field="kind")
    for key in ("columns", "constants", "variables"):
        if not isinstance(spec.get(key, {}), dict):
            raise InvalidInput(f"{key} must map names to names", file=name, field=key)
    decimal = str(spec.get("decimal", "."))
    if decimal not in (".", ","):
        raise InvalidInput("decimal must be '.' or ','", file=name, field="decimal")
    timezone = spec.get("timezone")
    if timezone is not None:
        check_timezone(str(timezone), file=name)
    return Mapping(
        kind=kind,
        encoding=str(spec.get("encoding", "utf-8")),
        delimiter=_opt_str(spec.get("delimiter")),
        decimal=decimal,
        quote=_opt_str(spec.get("quote")),
        skip=int(spec.get("skip", 0)),
        timezone=_opt_str(timezone),
        time_format=_opt_str(spec.get("time_format")),
        columns={str(k): str(v) for k, v in (spec.get("columns") or {}).items()},
        constants={str(k): str(v) for k, v in (spec.get("constants") or {}).items()},
        variables={str(k): str(v) for k, v in (spec.get("variables") or {}).items()},
        na_values=tuple(str(v) for v in spec.get("na_values") or ()),
        wide=_wide(spec.get("wide"), name),
        layer=_opt_str(spec.get("layer")),
        source=spec,
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _wide(spec: Any, name: str) -> dict[str, WideColumn] | None:
    if spec is None:
        return None
    columns = spec.get("columns") if isinstance(spec, dict) else None
    if not isinstance(columns, dict) or not columns:
        raise InvalidInput("wide.columns must map each value column to a variable",
                           file=name, field="wide")
    out = {}
    for column, target in columns.items():
        if isinstance(target, dict):
            if "variable" not in target:
                raise InvalidInput(f"wide column {column!r} needs a variable", file=name,
                                   field="wide")
            out[str(column)] = WideColumn(str(target["variable"]), _opt_str(target.get("unit")))
        else:
            out[str(column)] = WideColumn(str(target))
    return out


def check_timezone(zone: str, *, file: str | None = None) -> str:
    """An IANA zone name that the database knows, or InvalidInput."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {zone!r} (use an IANA name such as Asia/Almaty)",
                           file=file, field="timezone") from None
    return zone


def pick(row: dict, field: str, mapping: Mapping, aliases: dict[str, tuple[str, ...]]):
    """A field's value from a source row: the mapping's constant, its column, or the first
    non-empty column whose name (any case) is one of the field's aliases."""
    if field in mapping.constants:
        return mapping.constants[field]
    if field in mapping.columns:
        return row.get(mapping.columns[field])
    lowered = {k.lower(): k for k in row}
    for alias in aliases.get(field, (field,)):
        if alias in lowered and row[lowered[alias]] not in (None, ""):
            return row[lowered[alias]]
    return None
