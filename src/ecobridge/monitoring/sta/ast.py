"""The abstract syntax of SensorThings paths and query options: frozen dataclasses, no SQL.

`to_text` prints an expression back in $filter syntax with every operation parenthesised, so
parse(to_text(tree)) == tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Literal kinds
STRING, NUMBER, BOOL, NULL, DATETIME, DURATION, INTERVAL, GEOGRAPHY = (
    "string", "number", "bool", "null", "datetime", "duration", "interval", "geography")

LOGICAL = ("and", "or")
COMPARISON = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC = ("add", "sub", "mul", "div", "mod")


@dataclass(frozen=True)
class Literal:
    kind: str
    # str for string/duration/geography (WKT), int|float, bool, None, datetime,
    # or a (datetime, datetime) pair for an interval
    value: Any


@dataclass(frozen=True)
class Property:
    """A property reached from the current entity, e.g. Datastream/Thing/properties/owner:
    nav=("Datastream", "Thing"), name="properties", json=("owner",)."""

    nav: tuple[str, ...]
    name: str
    json: tuple[str, ...] = ()
    # offset in the option text, for error messages; not part of equality
    pos: int | None = field(default=None, compare=False)
    var: str | None = None         # d/Thing/name inside `any(d: ...)`: the path starts at d


@dataclass(frozen=True)
class Unary:
    op: str                        # "not" or "-"
    operand: Expr
    pos: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Binary:
    op: str                        # LOGICAL, COMPARISON or ARITHMETIC
    left: Expr
    right: Expr
    pos: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Call:
    name: str                      # lower case, e.g. "geo.distance", "st_within"
    args: tuple[Expr, ...]
    pos: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Collection:
    """The right side of `in`: (a, b, c)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Lambda:
    """`Datastreams/any(d: d/name eq 'x')`, `all(...)`, or `any()` (is there any link).
    The links in `nav` start at the current entity, or at the variable `source`."""

    op: str                        # "any" or "all"
    nav: tuple[str, ...]
    var: str | None = None
    body: Expr | None = None
    source: str | None = None
    pos: int | None = field(default=None, compare=False)


Expr = Literal | Property | Unary | Binary | Call | Collection | Lambda


@dataclass(frozen=True)
class OrderBy:
    expr: Expr
    descending: bool = False


@dataclass(frozen=True)
class Expand:
    """One navigation link to expand, with the options that apply to the expanded set."""

    relation: str
    query: Query


@dataclass(frozen=True)
class Query:
    """System query options for one entity set (the top level, or one level of $expand)."""

    entity_set: str
    filter: Expr | None = None
    select: tuple[str, ...] | None = None      # property and navigation names; None = all
    expand: tuple[Expand, ...] = ()
    orderby: tuple[OrderBy, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    result_format: str | None = None           # "dataArray" or None


@dataclass(frozen=True)
class Segment:
    """One step of a resource path: an entity set (first step) or a navigation link."""

    name: str                      # Things, or a relation name such as Datastream
    entity_set: str                # the entity set the step lands in
    id: int | None = None
    many: bool = True              # False for a to-one navigation link


@dataclass(frozen=True)
class ResourcePath:
    segments: tuple[Segment, ...] = ()         # empty for the service root
    prop: str | None = None                    # /Observations(1)/result
    json: tuple[str, ...] = ()                 # /Things(1)/properties/owner
    ref: bool = False                          # .../$ref
    value: bool = False                        # .../$value

    @property
    def entity_set(self) -> str | None:
        return self.segments[-1].entity_set if self.segments else None

    @property
    def is_collection(self) -> bool:
        """True when the path names a set of entities rather than one entity or a property."""
        last = self.segments[-1] if self.segments else None
        return bool(last and last.many and last.id is None and self.prop is None)


def _literal_text(lit: Literal) -> str:
    v = lit.value
    if lit.kind == STRING:
        return "'" + v.replace("'", "''") + "'"
    if lit.kind == NUMBER:
        return repr(v) if isinstance(v, float) else str(v)
    if lit.kind == BOOL:
        return "true" if v else "false"
    if lit.kind == NULL:
        return "null"
    if lit.kind == DATETIME:
        return _iso(v)
    if lit.kind == INTERVAL:
        return f"{_iso(v[0])}/{_iso(v[1])}"
    if lit.kind == DURATION:
        return f"duration'{v}'"
    if lit.kind == GEOGRAPHY:
        return f"geography'{v}'"
    raise ValueError(f"unknown literal kind {lit.kind}")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def to_text(expr: Expr) -> str:
    """$filter text for an expression; parses back to an equal tree."""
    if isinstance(expr, Literal):
        return _literal_text(expr)
    if isinstance(expr, Property):
        return "/".join((*((expr.var,) if expr.var else ()), *expr.nav, expr.name, *expr.json))
    if isinstance(expr, Collection):
        return f"({', '.join(to_text(i) for i in expr.items)})"
    if isinstance(expr, Lambda):
        head = "/".join((*((expr.source,) if expr.source else ()), *expr.nav))
        inner = f"{expr.var}: {to_text(expr.body)}" if expr.body is not None else ""
        return f"{head}/{expr.op}({inner})"
    if isinstance(expr, Unary):
        inner = to_text(expr.operand)
        # "-(5)", not "-5": the parser folds a minus written straight before a number
        return f"(not {inner})" if expr.op == "not" else f"(-({inner}))"
    if isinstance(expr, Binary):
        return f"({to_text(expr.left)} {expr.op} {to_text(expr.right)})"
    if isinstance(expr, Call):
        return f"{expr.name}({', '.join(to_text(a) for a in expr.args)})"
    raise TypeError(f"not an expression: {expr!r}")
