"""Tokens of the $filter / $orderby language (OData 4 as profiled by SensorThings 1.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ecobridge.errors import BadRequest

NUM, STR, DATETIME, INTERVAL, PREFIXED, IDENT, LP, RP, COMMA, SLASH, MINUS, COLON, EOF = (
    "number", "string", "datetime", "interval", "prefixed", "name", "'('", "')'", "','", "'/'",
    "'-'", "':'", "end of input")

_DT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?"
_PATTERNS = [
    (INTERVAL, re.compile(rf"({_DT})/({_DT})")),
    (DATETIME, re.compile(_DT)),
    (NUM, re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")),
    (PREFIXED, re.compile(r"(duration|geography|geometry)'([^']*)'", re.IGNORECASE)),
    (STR, re.compile(r"'((?:[^']|'')*)'")),
    (IDENT, re.compile(r"[A-Za-z_@][A-Za-z0-9_.@]*")),
]
# ':' only separates a lambda variable from its body; times are lexed whole before it is seen
_SINGLE = {"(": LP, ")": RP, ",": COMMA, "/": SLASH, "-": MINUS, ":": COLON}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str          # the source text of the token
    value: object      # decoded value for literals
    pos: int           # 0-based offset in the source


def error(source: str, pos: int, message: str, what: str = "$filter") -> BadRequest:
    near = source[pos:pos + 20]
    return BadRequest(f"{what}: at position {pos}: {message}"
                      + (f" (near {near!r})" if near else ""), position=pos, option=what)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    text = text.replace("z", "Z")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def tokenize(source: str, what: str = "$filter") -> list[Token]:
    tokens: list[Token] = []
    pos, n = 0, len(source)
    while pos < n:
        ch = source[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch in _SINGLE:
            tokens.append(Token(_SINGLE[ch], ch, None, pos))
            pos += 1
            continue
        kind, m = _match(source, pos)
        if m is None:
            if ch == "'":
                raise error(source, pos, "unterminated string literal", what)
            raise error(source, pos, f"unexpected character {ch!r}", what)
        tokens.append(Token(kind, m.group(0), _decode(kind, m, source, pos, what), pos))
        pos = m.end()
    tokens.append(Token(EOF, "", None, n))
    return tokens


def _match(source: str, pos: int) -> tuple[str, re.Match | None]:
    for kind, pattern in _PATTERNS:
        m = pattern.match(source, pos)
        if m:
            return kind, m
    return EOF, None


def _decode(kind: str, m: re.Match, source: str, pos: int, what: str) -> object:
    try:
        if kind == STR:
            return m.group(1).replace("''", "'")
        if kind == NUM:
            text = m.group(0)
            if re.fullmatch(r"\d+", text) and int(text) < 2**63:
                return int(text)
            value = float(text)
            if value in (float("inf"), float("-inf")):
                raise ValueError("number out of range")
            return value
        if kind == DATETIME:
            return parse_datetime(m.group(0))
        if kind == INTERVAL:
            start, end = parse_datetime(m.group(1)), parse_datetime(m.group(2))
            if end < start:
                raise ValueError("interval ends before it starts")
            return (start, end)
        if kind == PREFIXED:
            return (m.group(1).lower(), m.group(2))
    except ValueError as exc:
        raise error(source, pos, f"bad {kind} literal: {exc}", what) from None
    return None
