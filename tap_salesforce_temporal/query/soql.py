"""A safe SOQL builder: identifiers are validated, literals are formatted, never interpolated raw.

Names come from describe calls, catalogs and settings; a name that is not a plain Salesforce API
name is refused, so no catalog edit can smuggle a clause into a query.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import TapError

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79})?")


def identifier(name: str, *, what: str = "field") -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise TapError(f"refusing {what} name {name!r}: not a Salesforce API name")
    return name


def datetime_literal(value: dt.datetime) -> str:
    """SOQL dateTime literal (unquoted, UTC, whole seconds as the docs define the format)."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def string_literal(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    )
    return f"'{escaped}'"


def enclosed(condition: str) -> bool:
    """True when one pair of parentheses encloses the whole condition (quoted text skipped),
    so ``(a OR b)`` is not wrapped again while ``(a) OR (b)`` is."""
    if not (condition.startswith("(") and condition.endswith(")")):
        return False
    depth, quoted, escaped = 0, False, False
    for position, char in enumerate(condition):
        if quoted:
            escaped, quoted = (not escaped and char == "\\"), quoted and (escaped or char != "'")
            continue
        if char == "'":
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and position < len(condition) - 1:
                return False
    return depth == 0


@dataclass(frozen=True)
class Select:
    object_name: str
    fields: Sequence[str]
    where: list[str] = field(default_factory=list)
    order_by: Sequence[str] = ()
    limit: int | None = None

    def with_range(self, key: str, start: dt.datetime | None, end: dt.datetime | None) -> Select:
        """Add ``start <= key < end``: half-open, so adjacent windows neither overlap nor miss a row."""
        where = list(self.where)
        if start is not None:
            where.append(f"{identifier(key)} >= {datetime_literal(start)}")
        if end is not None:
            where.append(f"{identifier(key)} < {datetime_literal(end)}")
        return Select(self.object_name, self.fields, where, self.order_by, self.limit)

    def soql(self) -> str:
        columns = ", ".join(identifier(f) for f in self.fields) if self.fields else "COUNT()"
        text = f"SELECT {columns} FROM {identifier(self.object_name, what='object')}"  # noqa: S608 - identifiers validated above
        if self.where:
            text += " WHERE " + " AND ".join(
                f"({c})" if " OR " in c and not enclosed(c) else c for c in self.where
            )
        if self.order_by and self.fields:
            text += " ORDER BY " + ", ".join(f"{identifier(f)} ASC" for f in self.order_by)
        if self.limit is not None:
            text += f" LIMIT {int(self.limit)}"
        return text

    def count(self) -> Select:
        return Select(self.object_name, (), self.where)
