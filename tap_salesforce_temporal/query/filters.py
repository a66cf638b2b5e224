"""Per-object filters (``object_filters``): a safe SOQL condition subset, parsed, never pasted.

A filter is tokenized and parsed into a small AST, checked against the object's describe
(the field exists, is filterable, the literal fits its type), and rendered again by this module
with ``soql.py``'s identifier check and literal escaping. So text a user writes reaches Salesforce
only as validated field names and re-escaped literals: ``Name = 'x'' OR Id != null'`` cannot
become an OR, and anything outside the grammar is an error, not a query.

Grammar (keywords case-insensitive; SOQL forbids mixing AND and OR without parentheses)::

    condition  := unary (AND unary)* | unary (OR unary)*
    unary      := NOT unary | '(' condition ')' | predicate
    predicate  := field op literal | field LIKE string | field [NOT] IN '(' literal, ... ')'
    op         := = | != | <> | < | <= | > | >=
    literal    := 'string' | number | YYYY-MM-DD | YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm)
                  | TRUE | FALSE | NULL
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..discovery.schema import ObjectSchema
from ..errors import SettingError
from .soql import identifier

if TYPE_CHECKING:
    from ..config.settings import Settings

SETTING = "object_filters"


class FilterError(SettingError):
    """A filter that does not parse or does not fit its object: one line naming both."""

    def __init__(self, object_name: str, problem: str) -> None:
        self.problem = f"{object_name}: {problem}"
        super().__init__(f"setting '{SETTING}': {self.problem}")


@dataclass(frozen=True, slots=True)
class Literal:
    kind: str  # string | number | date | datetime | boolean | null
    value: object


@dataclass(frozen=True, slots=True)
class Comparison:
    field: str
    op: str  # = != < <= > >= LIKE
    literal: Literal


@dataclass(frozen=True, slots=True)
class InList:
    field: str
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # AND | OR
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Comparison | InList | BoolOp | Not

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d{1,18}(?:\.\d{1,18})?)(?![\w.])
  | (?P<string>'(?:[^'\\\n\r]|\\[nrtbf"'\\_%])*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z][A-Za-z0-9_]*)
    """,
    # ASCII only: \d would take Arabic-Indic or fullwidth digits, which SOQL does not.
    re.VERBOSE | re.ASCII,
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "TRUE", "FALSE", "NULL"})
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'"}
_OBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
MAX_LENGTH = 4_000
MAX_DEPTH = 20


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    column: int

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "word" and upper in _KEYWORDS else None


def _tokenize(object_name: str, text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if not char.isascii() and (char.isdigit() or char.isspace()):
                kind = "digit" if char.isdigit() else "space"
                raise FilterError(
                    object_name,
                    f"non-ASCII {kind} {text[position]!r} (U+{ord(text[position]):04X}) at column "
                    f"{position + 1}: SOQL takes the digits 0-9 and ASCII spaces only",
                )
            raise FilterError(
                object_name,
                f"unexpected {text[position : position + 20]!r} at column {position + 1}",
            )
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup or "", match.group(), position + 1))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    """The string's value with its escapes decoded, except ``\\\\``, ``\\%`` and ``\\_``, kept as
    written: they mean different things to LIKE and to =, and ``_string`` puts them back as is."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


class _Parser:
    def __init__(self, object_name: str, text: str) -> None:
        self.object_name = object_name
        self.tokens = _tokenize(object_name, text)
        self.position = 0
        self.depth = 0

    def _fail(self, problem: str) -> FilterError:
        return FilterError(self.object_name, problem)

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self, expected: str) -> _Token:
        token = self._peek()
        if token is None:
            raise self._fail(f"expected {expected} at the end of the filter")
        self.position += 1
        return token

    def _unexpected(self, token: _Token, expected: str) -> FilterError:
        return self._fail(f"expected {expected}, got {token.text!r} at column {token.column}")

    def _expect(self, text: str) -> None:
        token = self._next(f"'{text}'")
        if token.text != text:
            raise self._unexpected(token, f"'{text}'")

    def parse(self) -> Condition:
        condition = self._condition()
        trailing = self._peek()
        if trailing is not None:
            raise self._unexpected(trailing, "AND, OR or the end of the filter")
        return condition

    def _condition(self) -> Condition:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(f"nested deeper than {MAX_DEPTH} levels")
        operands = [self._unary()]
        connector: str | None = None
        while (token := self._peek()) is not None and token.keyword in ("AND", "OR"):
            if connector is not None and token.keyword != connector:
                raise self._fail(
                    f"AND and OR mixed without parentheses at column {token.column} (SOQL refuses it)"
                )
            connector = token.keyword
            self.position += 1
            operands.append(self._unary())
        self.depth -= 1
        return operands[0] if connector is None else BoolOp(connector, tuple(operands))

    def _unary(self) -> Condition:
        token = self._next("a condition")
        if token.keyword == "NOT":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self._fail(f"nested deeper than {MAX_DEPTH} levels")
            operand = self._unary()
            self.depth -= 1
            return Not(operand)
        if token.text == "(":
            inner = self._condition()
            self._expect(")")
            return inner
        if token.kind != "word" or token.keyword is not None:
            raise self._unexpected(token, "a field name")
        return self._predicate(token.text)

    def _predicate(self, field: str) -> Condition:
        token = self._next("an operator")
        if token.keyword == "NOT":
            in_token = self._next("IN")
            if in_token.keyword != "IN":
                raise self._unexpected(in_token, "IN")
            return InList(field, self._literal_list(), negated=True)
        if token.keyword == "IN":
            return InList(field, self._literal_list(), negated=False)
        if token.keyword == "LIKE":
            return Comparison(field, "LIKE", self._literal())
        if token.kind != "op":
            raise self._unexpected(token, "an operator")
        return Comparison(field, "!=" if token.text == "<>" else token.text, self._literal())

    def _literal_list(self) -> tuple[Literal, ...]:
        self._expect("(")
        literals = [self._literal()]
        while (token := self._peek()) is not None and token.text == ",":
            self.position += 1
            literals.append(self._literal())
        self._expect(")")
        return tuple(literals)

    def _literal(self) -> Literal:
        token = self._next("a value")
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", token.text)
        try:
            if token.kind == "datetime":
                value = dt.datetime.fromisoformat(token.text.replace("Z", "+00:00"))
                return self._in_range(token, Literal("datetime", value.astimezone(dt.timezone.utc)))
            if token.kind == "date":
                return self._in_range(token, Literal("date", dt.date.fromisoformat(token.text)))
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
            raise self._fail(f"date {token.text!r} at column {token.column} {_OUTSIDE}") from None
        except ValueError:
            raise self._fail(f"invalid date {token.text!r} at column {token.column}") from None
        if token.keyword in ("TRUE", "FALSE"):
            return Literal("boolean", token.keyword == "TRUE")
        if token.keyword == "NULL":
            return Literal("null", None)
        raise self._unexpected(token, "a value ('string', number, date, TRUE, FALSE or NULL)")

    def _in_range(self, token: _Token, literal: Literal) -> Literal:
        """Dates Salesforce accepts in SOQL, as the start_date setting: 1700-01-01 to 4000-12-31."""
        value = literal.value
        day = value.date() if isinstance(value, dt.datetime) else value
        if not isinstance(day, dt.date) or not FIRST_DAY <= day <= LAST_DAY:
            raise self._fail(f"date {token.text!r} at column {token.column} {_OUTSIDE}")
        return literal


_OUTSIDE = "is outside the dates Salesforce accepts (1700-01-01 to 4000-12-31)"
FIRST_DAY = dt.date(1700, 1, 1)
LAST_DAY = dt.date(4000, 12, 31)


def parse(object_name: str, text: str) -> Condition:
    """The filter's AST, or a ``FilterError`` naming the object and what is wrong."""
    if not _OBJECT_NAME.fullmatch(object_name):
        raise FilterError(repr(object_name), "not a Salesforce object name")
    if not text.strip():
        raise FilterError(object_name, "the filter is empty")
    if len(text) > MAX_LENGTH:
        raise FilterError(object_name, f"the filter is longer than {MAX_LENGTH} characters")
    return _Parser(object_name, text).parse()


# -- checking against the describe --
_LITERAL_KINDS = {  # the field's kind -> the literal kind it takes
    "string": "string",
    "integer": "number",
    "number": "number",
    "decimal": "number",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
}
_LITERAL_NAMES = {
    "string": "a 'quoted string'",
    "number": "a number",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date-time (YYYY-MM-DDThh:mm:ssZ)",
    "boolean": "TRUE or FALSE",
}


def checked(condition: Condition, schema: ObjectSchema) -> Condition:
    """The condition with each field named as the describe spells it, after checking that the
    field exists, is filterable, and that each literal and operator fits the field's type."""
    name = schema.name
    if isinstance(condition, BoolOp):
        return BoolOp(condition.op, tuple(checked(c, schema) for c in condition.operands))
    if isinstance(condition, Not):
        return Not(checked(condition.operand, schema))
    fields = {f.name.lower(): f for f in schema.fields}
    info = fields.get(condition.field.lower())
    if info is None:
        if condition.field.lower() in {s.lower() for s in schema.skipped_fields}:
            raise FilterError(name, f"field '{condition.field}' is not filterable")
        raise FilterError(name, f"field '{condition.field}' does not exist")
    if not info.filterable or info.kind == "compound":
        raise FilterError(name, f"field '{info.name}' is not filterable")
    wanted = _LITERAL_KINDS[info.kind]
    if info.sf_type in ("time", "anyType"):
        raise FilterError(
            name, f"field '{info.name}' of type {info.sf_type} cannot be filtered here"
        )
    if isinstance(condition, Comparison):
        if condition.op == "LIKE" and wanted != "string":
            raise FilterError(
                name, f"field '{info.name}' ({info.sf_type}): LIKE needs a text field"
            )
        if wanted == "boolean" and condition.op not in ("=", "!="):
            raise FilterError(name, f"field '{info.name}' (boolean): only = and !=")
    literals = condition.literals if isinstance(condition, InList) else (condition.literal,)
    for literal in literals:
        if literal.kind == "null":
            if isinstance(condition, InList) or condition.op not in ("=", "!="):
                raise FilterError(name, f"field '{info.name}': null only with = or !=")
            continue
        if literal.kind != wanted:
            raise FilterError(
                name,
                f"field '{info.name}' ({info.sf_type}) takes {_LITERAL_NAMES[wanted]}, "
                f"got {literal.kind}",
            )
    if isinstance(condition, Comparison):
        return Comparison(info.name, condition.op, condition.literal)
    return InList(info.name, condition.literals, condition.negated)


# -- rendering --
def render(condition: Condition) -> str:
    """SOQL for the condition: names re-checked, literals re-escaped, every group in parentheses."""
    if isinstance(condition, BoolOp):
        return f" {condition.op} ".join(_grouped(c) for c in condition.operands)
    if isinstance(condition, Not):
        return f"NOT ({render(condition.operand)})"
    if isinstance(condition, InList):
        values = ", ".join(_literal(v) for v in condition.literals)
        return f"{identifier(condition.field)} {'NOT IN' if condition.negated else 'IN'} ({values})"
    return f"{identifier(condition.field)} {condition.op} {_literal(condition.literal)}"


def _grouped(condition: Condition) -> str:
    text = render(condition)
    return f"({text})" if isinstance(condition, BoolOp) else text


def _literal(literal: Literal) -> str:
    value = literal.value
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        millis = f".{value.microsecond // 1000:03d}" if value.microsecond else ""
        return f"{text}{millis}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value is None:
        return "null"
    if literal.kind == "number" and _NUMBER.fullmatch(str(value)):
        return str(value)
    if literal.kind == "string":
        return _string(str(value))
    raise ValueError(f"not a {literal.kind} literal: {value!r}")


_KEPT_ESCAPES = re.compile(r"(?:[^\\]|\\[\\%_])*", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_RE_ESCAPE = {
    "'": "\\'",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    '"': '\\"',
}


def _string(value: str) -> str:
    """A quoted SOQL string. Unlike ``soql.string_literal`` it leaves backslashes alone: the
    parser kept only the pairs ``\\\\``, ``\\%`` and ``\\_`` (a lone backslash does not
    tokenize), so every backslash still opens a valid escape and no quote can close the string."""
    if not _KEPT_ESCAPES.fullmatch(value):
        raise ValueError(f"a string literal with a lone backslash: {value!r}")
    return "'" + "".join(_RE_ESCAPE.get(char, char) for char in value) + "'"


def check_syntax(object_filters: Iterable[tuple[str, str]]) -> None:
    """Raise ``FilterError`` for the first filter that does not parse.

    The tap calls this when it starts, so a typo stops the run before any login; the fields a
    filter names are checked against its object's describe at discovery (``object_filter``).
    """
    for object_name, text in object_filters:
        parse(object_name, text)


def where_clause(object_name: str, text: str, schema: ObjectSchema) -> str:
    """The filter as SOQL for a WHERE clause, enclosed in parentheses, ready to AND with a window."""
    return f"({render(checked(parse(object_name, text), schema))})"


def object_filter(settings: Settings, schema: ObjectSchema) -> tuple[str, ...]:
    """The object stream's ``object_filters`` condition, checked against its describe (or none).

    Only object streams take it: micro_decision_events and the history objects read their own
    sources unfiltered (a filter on Opportunity does not filter OpportunityHistory).
    """
    for object_name, text in settings.object_filters:
        if object_name.lower() == schema.name.lower():
            return (where_clause(schema.name, text, schema),)
    return ()
