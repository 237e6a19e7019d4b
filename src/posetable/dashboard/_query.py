"""Filter expressions and the grid query: sorting and filtering rows with DuckDB.

A filter is a small expression over named columns, for example
``mean_oks < 0.5 and split = 'val'`` or ``fn_50 > 0 or suspect_score >= 0.8``. It is parsed
here into parameterised SQL (values are bound, column names come from a known list), so a
filter can never run arbitrary SQL. Operators: ``= == != <> < <= > >=``, ``contains``
(substring, case-insensitive), ``is null``, ``is not null``, ``in (v1, v2, ...)`` (at most
``MAX_IN_VALUES`` values: a lasso selection is ``sample_id in (...)``), ``has`` (a list
column holds the value: ``classes has 'dog'``, ``vis.left_wrist has 1``), ``not``, ``and``,
``or`` and parentheses. A filter is at most ``MAX_FILTER_LENGTH`` characters and nests ``not`` and
parentheses at most ``MAX_FILTER_DEPTH`` deep (the parser recurses; deeper is refused, not
a ``RecursionError``); numbers must be finite.

Example:
    >>> sql, params = parse_filter("mean_oks < 0.5 and split = 'val'", {"mean_oks", "split"})
    >>> sql, params
    ('("mean_oks" < ? AND "split" = ?)', [0.5, 'val'])
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from posetable.errors import PosetableError

__all__ = ["QueryError", "parse_filter", "quote_identifier"]

MAX_FILTER_LENGTH = 12000  # a lasso of MAX_IN_VALUES ids fits, and a URL under 16 KiB
MAX_FILTER_DEPTH = 32
MAX_IN_VALUES = 1000


class QueryError(PosetableError, ValueError):
    """A query the table cannot answer: unknown column, bad syntax, a number out of range."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_COMPARE = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "is", "null", "contains", "true", "false", "in", "has"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def quote_identifier(name: str) -> str:
    """A DuckDB identifier in double quotes (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _tokens(text: str) -> list[_Token]:
    out = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            raise QueryError(
                f"filter {text!r}: cannot read {stripped[pos:].strip()[:20]!r} at character {pos}; "
                "write conditions like mean_oks < 0.5 and split = 'val'"
            )
        kind = match.lastgroup or "op"
        out.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, columns: Collection[str]) -> None:
        self.text = text
        self.columns = columns
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        self.params: list[Any] = []

    def fail(self, message: str) -> QueryError:
        return QueryError(f"filter {self.text!r}: {message}")

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.pos += 1
            return True
        return False

    def parse(self) -> str:
        if not self.tokens:
            return ""
        sql = self.disjunction()
        token = self.peek()
        if token is not None:
            raise self.fail(f"unexpected {token.text!r} at character {token.at}")
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.word("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.word("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def deeper(self, token: _Token | None) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            at = f" at character {token.at}" if token is not None else ""
            raise self.fail(
                f"'not' and parentheses nest deeper than {MAX_FILTER_DEPTH} levels{at}; "
                "write a flatter filter"
            )

    def negation(self) -> str:
        token = self.peek()
        if self.word("not"):
            self.deeper(token)
            inner = self.negation()
            self.depth -= 1
            return f"(NOT {inner})"
        if token is not None and token.text == "(":
            self.deeper(token)
            self.pos += 1
            inner = self.disjunction()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise self.fail("a '(' is never closed")
            self.pos += 1
            self.depth -= 1
            return inner
        return self.condition()

    def column(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail("expected a column name, got the end of the filter")
        name = token.text
        if token.kind == "string" and name[0] == '"':
            name = name[1:-1].replace('""', '"')
        elif token.kind != "word" or name.lower() in _KEYWORDS:
            raise self.fail(f"expected a column name at character {token.at}, got {token.text!r}")
        if name not in self.columns:
            known = ", ".join(sorted(self.columns))
            raise QueryError(
                f"filter {self.text!r}: unknown column {name!r}; known columns: {known}"
            )
        self.pos += 1
        return quote_identifier(name)

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.fail("expected a value, got the end of the filter")
        self.pos += 1
        if token.kind == "number":
            if re.fullmatch(r"-?\d+", token.text):
                whole = int(token.text)
                if not -(2**63) <= whole < 2**63:
                    raise self.fail(
                        f"the number {token.text[:30]} at character {token.at} is outside the "
                        "64-bit integer range"
                    )
                return whole
            number = float(token.text)
            if not math.isfinite(number):
                raise self.fail(
                    f"the number {token.text[:30]} at character {token.at} is not finite"
                )
            return number
        if token.kind == "string":
            quote = token.text[0]
            return token.text[1:-1].replace(quote * 2, quote)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        raise self.fail(
            f"expected a number, 'text' or true/false at character {token.at}, got {token.text!r}"
        )

    def values(self) -> str:
        """``(v1, v2, ...)`` after ``in``: the placeholders, values bound."""
        opening = self.peek()
        if opening is None or opening.text != "(":
            raise self.fail("expected '(' after 'in', as in sample_id in (3, 5, 8)")
        self.pos += 1
        count = 0
        while True:
            self.params.append(self.value())
            count += 1
            if count > MAX_IN_VALUES:
                raise self.fail(
                    f"'in' takes at most {MAX_IN_VALUES} values; select fewer or use a range"
                )
            token = self.peek()
            if token is not None and token.text == ",":
                self.pos += 1
                continue
            if token is not None and token.text == ")":
                self.pos += 1
                return ", ".join("?" * count)
            raise self.fail("an 'in (' list is never closed: expected ',' or ')'")

    def condition(self) -> str:
        column = self.column()
        if self.word("is"):
            negated = self.word("not")
            if not self.word("null"):
                raise self.fail("expected 'is null' or 'is not null'")
            return f"({column} IS {'NOT ' if negated else ''}NULL)"
        if self.word("contains"):
            self.params.append(str(self.value()))
            return f"(contains(lower(CAST({column} AS VARCHAR)), lower(?)))"
        if self.word("has"):
            self.params.append(self.value())
            return f"list_contains({column}, ?)"
        if self.word("in"):
            return f"{column} IN ({self.values()})"
        token = self.peek()
        if token is None or token.text not in _COMPARE:
            found = "the end" if token is None else repr(token.text)
            raise self.fail(
                "expected an operator (= != < <= > >= contains is in has) after a column, "
                f"got {found}"
            )
        self.pos += 1
        self.params.append(self.value())
        return f"{column} {_COMPARE[token.text]} ?"


def parse_filter(text: str | None, columns: Collection[str]) -> tuple[str, list[Any]]:
    """Parse a filter expression into a SQL condition and its bound parameters.

    Args:
        text: the expression (empty or None: no filter, returns ``("", [])``).
        columns: the column names the filter may use.

    Raises:
        QueryError: unknown column, bad syntax (the message says where).
    """
    if text is None or not text.strip():
        return "", []
    if len(text) > MAX_FILTER_LENGTH:
        raise QueryError(
            f"a filter is at most {MAX_FILTER_LENGTH} characters, got {len(text)}: {text[:40]!r}..."
        )
    parser = _Parser(text, columns)
    sql = parser.parse()
    return sql, parser.params


def referenced_columns(text: str | None, columns: Collection[str]) -> set[str]:
    """The known column names a filter expression mentions (to compute only those)."""
    if text is None or not text.strip():
        return set()
    found = set()
    for token in _tokens(text):
        name = token.text
        if token.kind == "string" and name[0] == '"':
            name = name[1:-1].replace('""', '"')
        elif token.kind != "word":
            continue
        if name in columns:
            found.add(name)
    return found
