"""Records the checks refuse, and the one policy (``on_invalid_record``) that decides their fate.

Every route into a sink (raw RECORD chunks, decoded records, BATCH lines) finds its refusals first
and hands them here together, in input order: ``fail`` stops the run at the first, worded with
the stream and its input line; ``skip`` drops them and ``dead_letter`` sets them aside for the
next write, both counted for the run and said once each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from singer_sdk.exceptions import MissingKeyPropertiesError

from ..errors import InputError
from ..run.ledger import RunLedger
from .arrow import InvalidRecord


class MissingKey(InvalidRecord):
    """A record without one of its stream's key properties."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """Stops the run; also the SDK's exception type, which callers and its test suite expect."""


def record_problem(
    record: dict, keys: Sequence[str], check: Callable[[dict], None]
) -> InvalidRecord | None:
    """Why ``record`` cannot land (a key missing or null, a value its schema refuses), or None."""
    try:
        missing = [key for key in keys if key not in record]
        if missing:
            raise MissingKey(f"missing key property {', '.join(map(repr, missing))}")
        nulls = [key for key in keys if record[key] is None]
        if nulls:  # a row no key can find: never merged, never deduplicated, never deleted
            raise MissingKey(f"key property {', '.join(map(repr, nulls))} is null")
        check(record)
    except InvalidRecord as error:
        return error
    return None


@dataclass(frozen=True)
class Refusal:
    """One refused record, as decoded, with its input line and the reason."""

    error: InvalidRecord
    record: dict
    line: int


class Judge:
    """Applies ``on_invalid_record`` to one stream's refusals; holds its dead letters until the
    sink's next write."""

    def __init__(self, stream_name: str, ledger: RunLedger, logger: logging.Logger) -> None:
        self.stream_name = stream_name
        self.ledger = ledger
        self.mode = ledger.settings.on_invalid_record
        self.logger = logger
        self.dead: list[dict] = []

    def refuse(self, refusals: Iterable[Refusal]) -> None:
        """Stop at the first refusal (fail), or drop (skip) or set aside (dead_letter) each."""
        for refusal in refusals:
            message = f"stream '{self.stream_name}', input line {refusal.line}: {refusal.error}"
            if self.mode == "fail":
                failure = MissingKeyError if isinstance(refusal.error, MissingKey) else InputError
                raise failure(message) from refusal.error
            self.ledger.invalid_records += 1
            if self.mode == "dead_letter":
                self.dead.append(
                    {
                        "line": refusal.line,
                        "stream": self.stream_name,
                        "error": str(refusal.error),
                        "record": refusal.record,
                    }
                )
            self.logger.warning("Skipped invalid record (%s): %s", self.mode, message)

    def take_dead(self) -> list[dict]:
        """The dead letters set aside since the last call (the sink writes them)."""
        dead, self.dead = self.dead, []
        return dead
