"""A parser for the SOQL subset extractors send, with Salesforce's own error codes.

Supported: ``SELECT f1, Rel.f2 | COUNT() FROM Obj [WHERE ...] [ORDER BY f [ASC|DESC] [NULLS
FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` with =, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN, AND, OR, NOT
and parentheses. Anything else is a MALFORMED_QUERY, never a crash.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


class SoqlError(Exception):
    """A query Salesforce would refuse; carries the errorCode it would answer with."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class FieldRef:
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    kind: str  # string | number | boolean | null | datetime | date
    value: object


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= LIKE
    literal: Literal


@dataclass(frozen=True)
class InList:
    field: FieldRef
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


Condition = Comparison | InList | BoolOp | Not


@dataclass(frozen=True)
class OrderKey:
    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    object_name: str
    fields: tuple[FieldRef, ...]  # empty for COUNT()
    where: Condition | None
    order_by: tuple[OrderKey, ...]
    limit: int | None
    offset: int | None

    @property
    def is_count(self) -> bool:
        return not self.fields


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "COUNT",
}  # fmt: skip
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "ident" and upper in _KEYWORDS else None


def _tokenize(soql: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(soql):
        match = _TOKEN.match(soql, position)
        if match is None:
            raise SoqlError(
                "MALFORMED_QUERY", f"unexpected token: '{soql[position : position + 20]}'"
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def parse_datetime_literal(text: str) -> dt.datetime:
    normalized = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", normalized):
        normalized = normalized[:-2] + ":" + normalized[-2:]
    return dt.datetime.fromisoformat(normalized).astimezone(dt.timezone.utc)


class _Parser:
    def __init__(self, soql: str) -> None:
        self.tokens = _tokenize(soql)
        self.position = 0

    # -- token helpers --
    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.position += 1
        return token

    def _accept_keyword(self, *words: str) -> str | None:
        token = self._peek()
        if token is not None and token.keyword in words:
            self.position += 1
            return token.keyword
        return None

    def _accept_punct(self, char: str) -> bool:
        token = self._peek()
        if token is not None and token.text == char:
            self.position += 1
            return True
        return False

    def _expect_keyword(self, word: str) -> None:
        token = self._next()
        if token.keyword != word:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")

    def _expect_punct(self, char: str) -> None:
        token = self._next()
        if token.text != char:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")

    def _field(self) -> FieldRef:
        token = self._next()
        if token.kind != "ident" or token.keyword is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return FieldRef(tuple(token.text.split(".")))

    # -- grammar --
    def parse(self) -> Query:
        self._expect_keyword("SELECT")
        fields: list[FieldRef] = []
        token = self._peek()
        if token is not None and token.keyword == "COUNT":
            self.position += 1
            self._expect_punct("(")
            self._expect_punct(")")
        else:
            fields.append(self._field())
            while self._accept_punct(","):
                fields.append(self._field())
        self._expect_keyword("FROM")
        object_token = self._next()
        if object_token.kind != "ident" or "." in object_token.text:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{object_token.text}'")
        where = self._condition() if self._accept_keyword("WHERE") else None
        order_by: list[OrderKey] = []
        if self._accept_keyword("ORDER"):
            self._expect_keyword("BY")
            order_by.append(self._order_key())
            while self._accept_punct(","):
                order_by.append(self._order_key())
        limit = self._integer() if self._accept_keyword("LIMIT") else None
        offset = self._integer() if self._accept_keyword("OFFSET") else None
        trailing = self._peek()
        if trailing is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{trailing.text}'")
        return Query(object_token.text, tuple(fields), where, tuple(order_by), limit, offset)

    def _integer(self) -> int:
        token = self._next()
        if token.kind != "number" or not token.text.isdigit():
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return int(token.text)

    def _order_key(self) -> OrderKey:
        field = self._field()
        descending = self._accept_keyword("ASC", "DESC") == "DESC"
        nulls_last = descending
        if self._accept_keyword("NULLS"):
            nulls_last = self._accept_keyword("FIRST", "LAST") == "LAST"
        return OrderKey(field, descending, nulls_last)

    def _condition(self) -> Condition:
        """A sequence joined by one connector: SOQL refuses AND and OR mixed without parentheses."""
        operands = [self._unary()]
        connector: str | None = None
        while True:
            token = self._peek()
            if token is None or token.keyword not in ("AND", "OR"):
                break
            word = token.keyword
            if connector is not None and word != connector:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
            connector = word
            self.position += 1
            operands.append(self._unary())
        if connector is None:
            return operands[0]
        return BoolOp(connector, tuple(operands))

    def _unary(self) -> Condition:
        if self._accept_keyword("NOT"):
            return Not(self._unary())
        token = self._peek()
        if token is not None and token.text == "(":
            self.position += 1
            inner = self._condition()
            self._expect_punct(")")
            return inner
        return self._predicate()

    def _predicate(self) -> Condition:
        field = self._field()
        token = self._next()
        if token.keyword == "NOT":
            self._expect_keyword("IN")
            return InList(field, self._literal_list(), negated=True)
        if token.keyword == "IN":
            return InList(field, self._literal_list(), negated=False)
        if token.keyword == "LIKE":
            return Comparison(field, "LIKE", self._literal())
        if token.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        op = "!=" if token.text == "<>" else token.text
        return Comparison(field, op, self._literal())

    def _literal_list(self) -> tuple[Literal, ...]:
        self._expect_punct("(")
        literals = [self._literal()]
        while self._accept_punct(","):
            literals.append(self._literal())
        self._expect_punct(")")
        return tuple(literals)

    def _literal(self) -> Literal:
        token = self._next()
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind == "datetime":
            try:
                return Literal("datetime", parse_datetime_literal(token.text))
            except ValueError as error:
                raise SoqlError("MALFORMED_QUERY", f"invalid date time: {token.text}") from error
        if token.kind == "date":
            try:
                return Literal("date", dt.date.fromisoformat(token.text))
            except ValueError as error:
                raise SoqlError("MALFORMED_QUERY", f"invalid date: {token.text}") from error
        if token.keyword in ("TRUE", "FALSE"):
            return Literal("boolean", token.keyword == "TRUE")
        if token.keyword == "NULL":
            return Literal("null", None)
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")


def parse(soql: str) -> Query:
    """Parse a SOQL statement or raise ``SoqlError`` with Salesforce's errorCode."""
    if not soql or not soql.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>")
    return _Parser(soql).parse()
