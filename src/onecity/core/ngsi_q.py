"""The NGSI-LD query language (ETSI GS CIM 009 §4.9) for `q`, parsed and evaluated against
entities in normalized form. Pure: no I/O.

Supported: `;` (AND, binds tighter) and `|` (OR), parentheses; a bare attribute (it exists);
==, !=, >, >=, <, <= against numbers, quoted strings, unquoted words, booleans and date-times;
ranges `a..b` and lists `a,b,c` with == and !=; `~=` and `!~=` with a regular expression from
a safe subset (see `safe_pattern`). Attribute paths: `attr.sub` names a sub-attribute (or a
timestamp such as `observedAt`), `attr[member]` (repeatable, or `[a.b]`) a member of the value.
A value that is a list matches when any of its members does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_TERMS = 32
MAX_DEPTH = 8
MAX_PATTERN = 200
# More than this many unbounded repetitions in one pattern can take polynomial time of high
# degree on a long id; real id patterns (`^urn:ngsi-ld:Device:.*`) need one or two.
MAX_UNBOUNDED = 2
MAX_QUANTIFIERS = 8
_COUNTED = re.compile(r"\{(\d+|\d*,\d*)\}")  # {m}, {m,n}, {m,}, {,n}


class QueryError(ValueError):
    """The query is not valid NGSI-LD (answered 400 BadRequestData)."""


class TooComplex(ValueError):
    """Valid, but more than this server evaluates (answered 403 TooComplexQuery)."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?")
_MISSING = object()


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


@dataclass(frozen=True)
class Term:
    path: tuple[str, ...]
    members: tuple[str, ...]
    op: str | None = None
    value: Any = None  # a scalar, a tuple (list), a Range, or a compiled pattern


@dataclass(frozen=True)
class Both:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Either:
    parts: tuple[Node, ...]


Node = Term | Both | Either


def safe_pattern(raw: str) -> re.Pattern[str]:
    """A regular expression that cannot backtrack catastrophically: bounded length; no
    back-references or look-arounds; no repeated group that itself repeats or alternates
    (`(a+)+`, `(a|a)*`); at most MAX_QUANTIFIERS repetitions of which MAX_UNBOUNDED unbounded
    (`a?a?a?…aaa` and `.*a.*b.*c` are exponential or polynomial of high degree)."""
    if not raw or len(raw) > MAX_PATTERN:
        raise QueryError(f"a pattern must have 1 to {MAX_PATTERN} characters")
    if re.search(r"\\[1-9]|\(\?P=|\(\?<?[=!]|\\g", raw):
        raise QueryError("back-references and look-arounds are not allowed in a pattern")
    groups: list[bool] = []  # per open group: does it repeat or alternate inside?
    total = unbounded = i = 0
    after_group_risky = after_quantifier = False
    while i < len(raw):
        c, risky, modifier = raw[i], after_group_risky, after_quantifier
        after_group_risky = after_quantifier = False
        counted = _COUNTED.match(raw, i) if c == "{" else None
        if c == "\\":
            i += 2
            continue
        if c == "[":
            end = raw.find("]", i + 2)
            i = len(raw) if end < 0 else end + 1
            continue
        if c == "(":
            groups.append(False)
            i += 2 if raw.startswith("(?", i) else 1  # (?: (?i) (?P<name>: not a repetition
            continue
        if c == ")" and groups:
            after_group_risky = groups.pop()
        elif c in "*+?" and modifier:
            pass  # lazy *? or possessive *+: the same repetition
        elif c in "*+?" or counted:
            total += 1
            upper = counted.group(1).partition(",")[2] if counted else "0"
            if c in "*+" or (counted and "," in counted.group(1) and int(upper or 10**6) > 16):
                unbounded += 1
            if risky and c != "?":
                raise QueryError("a repeated group may not itself repeat or alternate")
            if groups:
                groups[-1] = True
            after_quantifier = True
            if counted:
                i = counted.end()
                continue
        elif c == "|" and groups:
            groups[-1] = True
        i += 1
    if total > MAX_QUANTIFIERS or unbounded > MAX_UNBOUNDED:
        raise QueryError(
            f"at most {MAX_QUANTIFIERS} repetitions in a pattern, {MAX_UNBOUNDED} of them "
            "unbounded (* + {n,})"
        )
    try:
        return re.compile(raw)
    except (re.error, OverflowError, RecursionError) as e:
        raise QueryError(f"not a valid regular expression: {e}") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i, self.terms = text, 0, 0

    def parse(self) -> Node:
        node = self.either(0)
        if self.i != len(self.s):
            raise QueryError(f"unexpected '{self.s[self.i]}' at position {self.i}")
        return node

    def either(self, depth: int) -> Node:
        parts = [self.both(depth)]
        while self.peek("|"):
            self.i += 1
            parts.append(self.both(depth))
        return parts[0] if len(parts) == 1 else Either(tuple(parts))

    def both(self, depth: int) -> Node:
        parts = [self.factor(depth)]
        while self.peek(";"):
            self.i += 1
            parts.append(self.factor(depth))
        return parts[0] if len(parts) == 1 else Both(tuple(parts))

    def factor(self, depth: int) -> Node:
        if self.peek("("):
            if depth >= MAX_DEPTH:
                raise TooComplex(f"q nests parentheses deeper than {MAX_DEPTH}")
            self.i += 1
            node = self.either(depth + 1)
            if not self.peek(")"):
                raise QueryError(f"a '(' is not closed (position {self.i})")
            self.i += 1
            return node
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise TooComplex(f"q has more than {MAX_TERMS} terms")
        return self.term()

    def peek(self, c: str) -> bool:
        return self.s.startswith(c, self.i)

    def name(self) -> str:
        m = _NAME.match(self.s, self.i)
        if not m:
            raise QueryError(f"an attribute name was expected at position {self.i}")
        self.i = m.end()
        return m.group()

    def term(self) -> Term:
        path = [self.name()]
        while self.peek("."):
            self.i += 1
            path.append(self.name())
        members: list[str] = []
        while self.peek("["):
            self.i += 1
            members.append(self.name())
            while self.peek("."):
                self.i += 1
                members.append(self.name())
            if not self.peek("]"):
                raise QueryError(f"a ']' was expected at position {self.i}")
            self.i += 1
        op = next((o for o in _OPS if self.peek(o)), None)
        if op is None:
            return Term(tuple(path), tuple(members))
        self.i += len(op)
        raw = self.raw_value(regex=op in ("~=", "!~="))
        return Term(tuple(path), tuple(members), op, _value(op, raw))

    def raw_value(self, *, regex: bool) -> str:
        start, depth, quoted = self.i, 0, False
        while self.i < len(self.s):
            c = self.s[self.i]
            if quoted:
                if c == "\\":
                    self.i += 1
                elif c == '"':
                    quoted = False
            elif c == '"' and not regex:
                quoted = True
            elif c == "(" and regex:
                depth += 1
            elif c == ")" and depth:
                depth -= 1
            elif c in ";)" or (c == "|" and not depth):
                break
            self.i += 1
        if quoted:
            raise QueryError("a quoted string is not closed")
        if self.i == start:
            raise QueryError(f"a value was expected at position {start}")
        return self.s[start : self.i]


def _split_list(raw: str) -> list[str]:
    out, cur, quoted, i = [], "", False, 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and quoted and i + 1 < len(raw):
            cur += raw[i : i + 2]
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur)
    return out


def _scalar(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if '"' in raw:
        raise QueryError(f"a badly quoted value: {raw}")
    if raw in ("true", "false"):
        return raw == "true"
    if _NUMBER.fullmatch(raw):
        return float(raw)
    if _DATE.fullmatch(raw):
        when = _datetime(raw)
        if when is None:
            raise QueryError(f"not a valid date-time: {raw}")
        return when
    if not raw:
        raise QueryError("an empty value")
    return raw


def _value(op: str, raw: str) -> Any:
    if op in ("~=", "!~="):
        return safe_pattern(raw)
    items = _split_list(raw)
    if len(items) > 1:
        if op not in ("==", "!="):
            raise QueryError(f"a list of values needs == or !=, not {op}")
        return tuple(_scalar(x) for x in items)
    if ".." in raw and not raw.startswith('"'):
        low, _, high = raw.partition("..")
        if op not in ("==", "!="):
            raise QueryError(f"a range needs == or !=, not {op}")
        return Range(_scalar(low), _scalar(high))
    return _scalar(raw)


def parse(text: str) -> Node:
    """The query `text` as a tree; QueryError when it is not valid, TooComplex when too big."""
    if not text:
        raise QueryError("q is empty")
    return _Parser(text).parse()


def _datetime(v: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _target(entity: dict[str, Any], path: tuple[str, ...], members: tuple[str, ...]) -> Any:
    node: Any = entity.get(path[0], _MISSING)
    for sub in path[1:]:
        node = node.get(sub, _MISSING) if isinstance(node, dict) else _MISSING
    if node is _MISSING:
        return _MISSING
    if isinstance(node, dict) and "type" in node:
        kind = node["type"]
        key = {"Relationship": "object", "LanguageProperty": "languageMap"}.get(kind, "value")
        node = node.get(key, _MISSING)
    if isinstance(node, dict) and node.get("@type") == "DateTime":
        node = node.get("@value", _MISSING)
    for m in members:
        node = node.get(m, _MISSING) if isinstance(node, dict) else _MISSING
    return node


def _order(v: Any, lit: Any) -> tuple[Any, Any] | None:
    """v and the literal as two values of one comparable kind, or None when they are not."""
    if isinstance(v, bool) or isinstance(lit, bool):
        return (v, lit) if isinstance(v, bool) and isinstance(lit, bool) else None
    if isinstance(lit, float):
        return (float(v), lit) if isinstance(v, int | float) else None
    if isinstance(lit, datetime):
        when = _datetime(v) if isinstance(v, str) else None
        return (when, lit) if when is not None else None
    return (v, lit) if isinstance(v, str) else None


def _equal(v: Any, lit: Any) -> bool:
    if isinstance(lit, tuple):
        return any(_equal(v, x) for x in lit)
    if isinstance(lit, Range):
        low, high = _order(v, lit.low), _order(v, lit.high)
        return bool(low and high and low[1] <= low[0] and high[0] <= high[1])
    pair = _order(v, lit)
    return pair is not None and pair[0] == pair[1]


def _compare(op: str, v: Any, lit: Any) -> bool:
    if op == "==":
        return _equal(v, lit)
    if op == "~=":
        return isinstance(v, str) and lit.search(v) is not None
    if op == "!~=":
        return isinstance(v, str) and lit.search(v) is None
    pair = _order(v, lit)
    if pair is None or isinstance(lit, bool):
        return False
    a, b = pair
    return bool({">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op])


def matches(entity: dict[str, Any], node: Node) -> bool:
    """Whether the normalized entity satisfies the query."""
    if isinstance(node, Both):
        return all(matches(entity, p) for p in node.parts)
    if isinstance(node, Either):
        return any(matches(entity, p) for p in node.parts)
    v = _target(entity, node.path, node.members)
    if v is _MISSING or v is None:
        return False
    if node.op is None:
        return True
    values = v if isinstance(v, list) else [v]
    if node.op == "!=":
        return not any(_equal(x, node.value) for x in values)
    return any(_compare(node.op, x, node.value) for x in values)
