"""A Pratt parser for $filter and $orderby expressions, resolving names against the model.

Precedence, loosest first: or, and, not, eq ne, gt ge lt le, add sub, mul div mod, unary minus,
then literals, property paths, function calls and parentheses. `not` takes a whole comparison
(`not name eq 'x'` is `not (name eq 'x')`), which is what people mean and never ambiguous since
`not` of a non-boolean has no meaning.
"""

from __future__ import annotations

import re
from datetime import datetime

from ecobridge.monitoring.sta import ast
from ecobridge.monitoring.sta.lexer import (
    COLON,
    COMMA,
    DATETIME,
    EOF,
    IDENT,
    INTERVAL,
    LP,
    MINUS,
    NUM,
    PREFIXED,
    RP,
    SLASH,
    STR,
    Token,
    error,
    tokenize,
)
from ecobridge.monitoring.sta.model import JSON, entity_set

# function -> (min args, max args)
FUNCTIONS: dict[str, tuple[int, int]] = {
    **{f: (2, 2) for f in ("substringof", "endswith", "startswith", "indexof", "concat")},
    "substring": (2, 3),
    **{f: (1, 1) for f in ("length", "tolower", "toupper", "trim", "round", "floor", "ceiling",
                           "year", "month", "day", "hour", "minute", "second",
                           "fractionalseconds", "date", "time", "totaloffsetminutes",
                           "geo.length")},
    **{f: (0, 0) for f in ("now", "mindatetime", "maxdatetime")},
    **{f: (2, 2) for f in ("geo.distance", "geo.intersects", "st_equals", "st_disjoint",
                           "st_touches", "st_within", "st_overlaps", "st_crosses",
                           "st_intersects", "st_contains")},
    "st_relate": (3, 3),
    # time relations of FROST and the 1.1 drafts, over instants and [start, end) intervals
    **{f: (2, 2) for f in ("before", "after", "meets", "during", "overlaps", "starts",
                           "finishes")},
}

_BINARY = {"or": 1, "and": 2, "eq": 4, "ne": 4, "gt": 5, "ge": 5, "lt": 5, "le": 5, "in": 5,
           "add": 6, "sub": 6, "mul": 7, "div": 7, "mod": 7}
_NOT_POWER = 3        # binds comparisons and tighter, but not and/or
_MINUS_POWER = 8
_MAX_DEPTH = 64
_DURATION = re.compile(
    r"P(?=\d|T\d)(?:(\d{1,6})Y)?(?:(\d{1,6})M)?(?:(\d{1,6})W)?(?:(\d{1,7})D)?"
    r"(?:T(?=\d)(?:(\d{1,9})H)?(?:(\d{1,10})M)?(?:(\d{1,12}(?:\.\d{1,6})?)S)?)?")
_WKT = re.compile(r"\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON"
                  r"|GEOMETRYCOLLECTION)\s*(\(|EMPTY)", re.IGNORECASE)


class Parser:
    def __init__(self, source: str, entity: str, what: str = "$filter"):
        self.source, self.entity, self.what = source, entity, what
        self.tokens = tokenize(source, what)
        self.i = 0
        self.depth = 0
        self.vars: dict[str, str] = {}      # lambda variable -> entity set, while in scope

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.fail(f"expected {kind}, found {self._found()}")
        return self.next()

    def fail(self, message: str, tok: Token | None = None) -> Exception:
        return error(self.source, (tok or self.tok).pos, message, self.what)

    def _found(self) -> str:
        return self.tok.kind if self.tok.kind == EOF else repr(self.tok.text)

    def keyword(self, word: str) -> bool:
        return self.tok.kind == IDENT and self.tok.text == word

    def at_end(self) -> bool:
        return self.tok.kind == EOF

    # -- expressions ---------------------------------------------------------------------------
    def expression(self, rbp: int = 0) -> ast.Expr:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {_MAX_DEPTH} levels")
        left = self.prefix()
        while self.tok.kind == IDENT and _BINARY.get(self.tok.text, 0) > rbp:
            tok = self.next()
            op = tok.text
            right = self.collection() if op == "in" and self.tok.kind == LP else \
                self.expression(_BINARY[op])
            left = ast.Binary(op, left, right, pos=tok.pos)
        self.depth -= 1
        return left

    def prefix(self) -> ast.Expr:
        tok = self.tok
        if tok.kind == MINUS:
            self.next()
            if self.tok.kind == NUM:
                return ast.Literal(ast.NUMBER, -self.next().value)
            return ast.Unary("-", self.expression(_MINUS_POWER), pos=tok.pos)
        if self.keyword("not"):
            self.next()
            return ast.Unary("not", self.expression(_NOT_POWER), pos=tok.pos)
        if tok.kind == LP:
            self.next()
            inner = self.expression()
            self.expect(RP)
            return inner
        if tok.kind == NUM:
            return ast.Literal(ast.NUMBER, self.next().value)
        if tok.kind == STR:
            return ast.Literal(ast.STRING, self.next().value)
        if tok.kind == DATETIME:
            return ast.Literal(ast.DATETIME, self.next().value)
        if tok.kind == INTERVAL:
            return ast.Literal(ast.INTERVAL, self.next().value)
        if tok.kind == PREFIXED:
            return self.prefixed(self.next())
        if tok.kind == IDENT:
            return self.name()
        raise self.fail(f"expected a value, a property or a function, found {self._found()}")

    def collection(self) -> ast.Collection:
        """`(a, b, c)` after `in`."""
        self.expect(LP)
        items = [self.expression()]
        while self.tok.kind == COMMA:
            self.next()
            items.append(self.expression())
        self.expect(RP)
        return ast.Collection(tuple(items))

    def lambda_(self, segments: list[Token], op: Token) -> ast.Lambda:
        """Nav/any(v: body), Nav/all(v: body), Nav/any()."""
        source = segments[0].text if segments[0].text in self.vars else None
        current = entity_set(self.vars[source] if source else self.entity)
        nav: list[str] = []
        for tok in segments[1:] if source else segments:
            relation = current.relation(tok.text)
            if relation is None:
                raise self.fail(f"{current.singular} has no navigation link {tok.text!r} "
                                f"before {op.text}()", tok)
            nav.append(tok.text)
            current = entity_set(relation.target)
        if not nav:
            raise self.fail(f"{op.text}() needs a navigation link before it", op)
        self.expect(LP)
        if self.tok.kind == RP and op.text == "any":
            self.next()
            return ast.Lambda("any", tuple(nav), source=source, pos=op.pos)
        var_tok = self.expect(IDENT)
        var = var_tok.text
        if var in self.vars or current.prop(var) or current.relation(var):
            raise self.fail(f"lambda variable {var!r} is already a name here", var_tok)
        self.expect(COLON)
        self.vars[var] = current.name
        try:
            body = self.expression()
        finally:
            del self.vars[var]
        self.expect(RP)
        return ast.Lambda(op.text, tuple(nav), var, body, source, pos=op.pos)

    def prefixed(self, tok: Token) -> ast.Literal:
        kind, text = tok.value
        if kind == "duration":
            if not _DURATION.fullmatch(text):
                raise self.fail(f"bad duration {text!r}: expected ISO 8601 like P1DT2H", tok)
            return ast.Literal(ast.DURATION, text)
        if not _WKT.match(text):
            raise self.fail(f"bad geography {text!r}: expected WKT like POINT(30 10)", tok)
        try:
            import shapely

            shapely.from_wkt(text)
        except Exception:      # shapely raises its own GEOSException family
            raise self.fail(f"bad geography {text!r}: not valid WKT", tok) from None
        return ast.Literal(ast.GEOGRAPHY, text)

    def name(self) -> ast.Expr:
        tok = self.next()
        word = tok.text
        if word in ("true", "false"):
            return ast.Literal(ast.BOOL, word == "true")
        if word == "null":
            return ast.Literal(ast.NULL, None)
        if self.tok.kind == LP:
            return self.call(tok)
        if word in _BINARY or word == "not":
            raise self.fail(f"expected a value before {word!r}", tok)
        segments = [tok]
        while self.tok.kind == SLASH:
            self.next()
            if self.tok.kind != IDENT:
                raise self.fail(f"expected a name after '/', found {self._found()}")
            seg = self.next()
            if seg.text in ("any", "all") and self.tok.kind == LP:
                return self.lambda_(segments, seg)
            segments.append(seg)
        return resolve_path(self, segments)

    def call(self, tok: Token) -> ast.Call:
        name = tok.text.lower()
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {tok.text!r}", tok)
        self.expect(LP)
        args: list[ast.Expr] = []
        if self.tok.kind != RP:
            args.append(self.expression())
            while self.tok.kind == COMMA:
                self.next()
                args.append(self.expression())
        self.expect(RP)
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} or {high}"
            raise self.fail(f"{name}() takes {want} arguments, got {len(args)}", tok)
        return ast.Call(name, tuple(args), pos=tok.pos)


def resolve_path(parser: Parser, segments: list[Token]) -> ast.Property:
    """Walk [var/]Nav/Nav/property[/json/keys] through the model from the parser's entity set
    (or the lambda variable's)."""
    var = segments[0].text if segments[0].text in parser.vars else None
    if var is not None and len(segments) == 1:
        raise parser.fail(f"expected a property after {var!r}", segments[0])
    current = entity_set(parser.vars[var] if var else parser.entity)
    nav: list[str] = []
    i = 1 if var else 0
    while i < len(segments):
        tok = segments[i]
        word = "id" if tok.text == "@iot.id" else tok.text
        relation = current.relation(word)
        if relation is not None:
            nav.append(word)
            current = entity_set(relation.target)
            i += 1
            continue
        if i + 1 < len(segments) and current.prop(f"{word}/{segments[i + 1].text}"):
            word, i = f"{word}/{segments[i + 1].text}", i + 1
        prop = current.prop(word)
        if prop is None:
            raise parser.fail(f"{current.singular} has no property or link {tok.text!r}", tok)
        keys = tuple(t.text for t in segments[i + 1:])
        if keys and (prop.kind != JSON or len(prop.columns) > 1):
            raise parser.fail(f"{current.singular}/{word} has no member {keys[0]!r}",
                              segments[i + 1])
        return ast.Property(tuple(nav), word, keys, pos=segments[0].pos, var=var)
    raise parser.fail(f"expected a property after {'/'.join(nav)}", segments[-1])


def parse_filter(source: str, entity: str, what: str = "$filter") -> ast.Expr:
    """The expression tree of a $filter over `entity` (an entity set name)."""
    parser = Parser(source, entity, what)
    if parser.at_end():
        raise parser.fail("expected an expression")
    expr = parser.expression()
    if not parser.at_end():
        raise parser.fail(f"expected an operator or the end, found {parser._found()}")
    return expr


def parse_orderby(source: str, entity: str) -> tuple[ast.OrderBy, ...]:
    """`expr [asc|desc], ...` for $orderby."""
    parser = Parser(source, entity, "$orderby")
    items: list[ast.OrderBy] = []
    while True:
        expr = parser.expression()
        descending = False
        # frost-sta-client sends "ASC"/"DESC"; OData spells them in lower case
        if parser.tok.kind == IDENT and parser.tok.text.lower() in ("asc", "desc"):
            descending = parser.next().text.lower() == "desc"
        items.append(ast.OrderBy(expr, descending))
        if parser.at_end():
            return tuple(items)
        parser.expect(COMMA)


def duration_parts(text: str) -> tuple[int, int, int]:
    """(months, days, microseconds) of an ISO 8601 duration checked by the parser."""
    m = _DURATION.fullmatch(text)
    if m is None:
        raise ValueError(f"bad duration {text!r}")
    y, mo, w, d, h, mi, s = (g or "0" for g in m.groups())
    micros = round(((int(h) * 60 + int(mi)) * 60 + float(s)) * 1_000_000)
    return int(y) * 12 + int(mo), int(w) * 7 + int(d), micros


def is_datetime(value: object) -> bool:
    return isinstance(value, datetime)
