"""A property test over Singer message orders (issue #25): whatever the order of SCHEMA, RECORD
(with or without ``version``), STATE and ACTIVATE_VERSION, the tombstone kind, the key shape, the
re-sent older copies and the flush size, the Delta table equals a model computed here, and the
Parquet files hold every record sent.

The model applies the messages one at a time, the way the README states the rules; the target
applies them in batches (a merge per flush, full-table versions staged apart). Agreement over
hundreds of generated streams is the evidence that batching never changes the answer.

- A keyed row replaces its key's row unless both carry a stamp and the stored one is newer (equal
  stamps: the later delivery wins). A tombstone deletes on the same condition and is remembered;
  a live row older than its key's newest remembered deletion never comes back. A tombstone with
  only ``_sdc_deleted_at`` takes that time as its stamp. Keyless rows are appended.
- A RECORD's version is its own ``version``, else the last ACTIVATE_VERSION the run saw. Rows of
  a version go to that version's staging table (kept across runs); ACTIVATE_VERSION v makes the
  table exactly version v's rows, at once when some are staged, else at the end of the run, and
  rows of v that follow an activation are owed to the table at the end of the run too.

``LAKE_ORDER_EXAMPLES`` sets the number of examples (``make soak`` runs more).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.dataset as pads
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_events.target import TargetEvents

EXAMPLES = int(os.environ.get("LAKE_ORDER_EXAMPLES", "200"))
STAMP = "2024-01-01T00:00:{:02d}Z"
STREAM = "Thing"
KEYS = {"single": ["Id"], "composite": ["object_name", "field_name"], "keyless": []}
KEY_VALUES = [("a", "x"), ("a", "y"), ("b", "x")]


@dataclass(frozen=True)
class Send:
    """One RECORD: ``kind`` live, ``is_deleted`` (IsDeleted true) or ``deleted_at`` (only
    ``_sdc_deleted_at``, no stamp); ``seq`` makes every row's payload unique."""

    key: int
    tick: int
    kind: str
    version: int | None
    seq: int


@dataclass(frozen=True)
class Activate:
    version: int


@dataclass(frozen=True)
class State:
    seq: int


Message = Send | Activate | State


@dataclass(frozen=True)
class Case:
    shape: str  # a key of KEYS
    stamped: bool  # the stream has SystemModstamp (its replication key)
    runs: list[list[Message]]
    batch_rows: int

    @property
    def keys(self) -> list[str]:
        return KEYS[self.shape]


# -- generating cases --
@st.composite
def cases(draw: st.DrawFn) -> Case:
    shape = draw(st.sampled_from(list(KEYS)))
    stamped = shape != "keyless" and draw(st.booleans())
    kinds = ["live"] if shape == "keyless" else ["live", "live", "is_deleted", "deleted_at"]
    seq = iter(range(10_000))
    runs = []
    for _ in range(draw(st.integers(1, 2))):
        run: list[Message] = []
        for _ in range(draw(st.integers(1, 9))):
            what = draw(st.sampled_from(["send", "send", "send", "state", "activate"]))
            if what == "state":
                run.append(State(next(seq)))
            elif what == "activate":
                run.append(Activate(draw(st.sampled_from([1, 2]))))
            else:
                run.append(
                    Send(
                        key=draw(st.integers(0, len(KEY_VALUES) - 1)),
                        tick=draw(st.integers(1, 5)),
                        kind=draw(st.sampled_from(kinds)),
                        version=draw(st.sampled_from([None, None, 1, 2])),
                        seq=next(seq),
                    )
                )
        runs.append(run)
    return Case(shape, stamped, runs, draw(st.integers(1, 4)))


# -- the Singer lines of a case --
def _schema(case: Case) -> dict:
    properties: dict = {
        "Id": {"type": ["string", "null"]},
        "object_name": {"type": ["string", "null"]},
        "field_name": {"type": ["string", "null"]},
        "Name": {"type": ["string", "null"]},
        "IsDeleted": {"type": ["boolean", "null"]},
        "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
    }
    if case.stamped:
        properties["SystemModstamp"] = {"type": ["string", "null"], "format": "date-time"}
    message = {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": {"type": "object", "properties": properties},
        "key_properties": case.keys,
    }
    if case.stamped:
        message["bookmark_properties"] = ["SystemModstamp"]
    return message


def _key_columns(send: Send) -> dict:
    first, second = KEY_VALUES[send.key]
    return {"Id": f"{first}{second}", "object_name": first, "field_name": second}


def _row(case: Case, send: Send) -> dict:
    row = {**_key_columns(send), "Name": f"n{send.seq}"}
    if send.kind == "deleted_at":
        row["_sdc_deleted_at"] = STAMP.format(send.tick)
        row["Name"] = None
        return row  # no stamp, no IsDeleted: what the SDK sends for a hard delete
    row["IsDeleted"] = send.kind == "is_deleted"
    if case.stamped:
        row["SystemModstamp"] = STAMP.format(send.tick)
    return row


def _lines(case: Case, run: list[Message]) -> str:
    messages: list[dict] = [_schema(case)]
    for message in run:
        if isinstance(message, State):
            messages.append({"type": "STATE", "value": {"bookmarks": {STREAM: message.seq}}})
        elif isinstance(message, Activate):
            messages.append(
                {"type": "ACTIVATE_VERSION", "stream": STREAM, "version": message.version}
            )
        else:
            record = {"type": "RECORD", "stream": STREAM, "record": _row(case, message)}
            if message.version is not None:
                record["version"] = message.version
            messages.append(record)
    return "".join(json.dumps(m) + "\n" for m in messages)


# -- the model --
@dataclass
class Lake:
    """What the Delta lake of one stream must hold: the table, each version's staging table,
    and the newest deletion per key. Rows are (key, tick, name); keyless tables are lists."""

    case: Case
    table: dict | list = field(default_factory=dict)
    staging: dict[int, dict | list] = field(default_factory=dict)
    deleted: dict[tuple, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.table = self._empty()

    def _empty(self) -> dict | list:
        return [] if self.case.shape == "keyless" else {}

    def apply(self, into: dict | list, send: Send) -> None:
        """One row into ``into`` by the merge rule (see the module doc)."""
        name = None if send.kind == "deleted_at" else f"n{send.seq}"
        if isinstance(into, list):
            into.append((None, send.tick if self.case.stamped else None, name))
            return
        key = tuple(_key_columns(send)[k] for k in self.case.keys)
        tick = send.tick if self.case.stamped or send.kind == "deleted_at" else None
        stored = into.get(key)
        newer = stored is None or tick is None or stored[1] is None or tick >= stored[1]
        if send.kind == "live":
            if tick is not None and key in self.deleted and tick < self.deleted[key]:
                return
            if newer:
                into[key] = (key, tick, name)
            return
        if stored is not None and newer:
            del into[key]
        if self.case.stamped:
            self.deleted[key] = max(self.deleted.get(key, tick), tick)

    def run(self, messages: list[Message]) -> None:
        implied: int | None = None
        activated: int | None = None
        owed: int | None = None
        for message in messages:
            if isinstance(message, Activate):
                implied = activated = message.version
                owed = None
                if message.version in self.staging:
                    self.table = _copy(self.staging[message.version])
                else:
                    owed = message.version
            elif isinstance(message, Send):
                version = message.version if message.version is not None else implied
                if version is None:
                    self.apply(self.table, message)
                    continue
                staged = self.staging.setdefault(version, self._empty())
                self.apply(staged, message)
                if activated == version and owed is None:
                    owed = version
        if owed is not None:
            self.table = _copy(self.staging.get(owed, self._empty()))


def _copy(rows: dict | list) -> dict | list:
    return list(rows) if isinstance(rows, list) else dict(rows)


# -- reading back --
def _tick(value: object) -> int | None:
    return None if value is None else int(value.second)  # type: ignore[attr-defined]


def _delta_rows(path: Path, case: Case) -> list[tuple]:
    if not DeltaTable.is_deltatable(str(path)):
        return []
    rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    stamp = "SystemModstamp" if case.stamped else None
    found = []
    for row in rows:
        key = tuple(row[k] for k in case.keys) if case.keys else None
        tick = _tick(row.get(stamp)) if stamp else None
        if tick is None and row.get("_sdc_deleted_at") is not None:
            tick = _tick(row["_sdc_deleted_at"])
        found.append((key, tick, row["Name"]))
    return sorted(found, key=repr)


def _expected(table: dict | list) -> list[tuple]:
    rows = table if isinstance(table, list) else list(table.values())
    return sorted(rows, key=repr)


def _run(config: dict, lines: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TargetEvents(config=config).listen(file_input=io.TextIOWrapper(io.BytesIO(lines.encode())))
    return out.getvalue().splitlines()


def _last_state(run: list[Message]) -> dict | None:
    states = [m for m in run if isinstance(m, State)]
    return {"bookmarks": {STREAM: states[-1].seq}} if states else None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="LAKE_ORDER_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_given_any_message_order_then_delta_equals_the_model_and_parquet_holds_every_record(
    tmp_path_factory, case: Case
) -> None:
    root = tmp_path_factory.mktemp("lake")
    lake = Lake(case)
    sent = 0
    for run in case.runs:
        lines = _lines(case, run)
        base = {"qa_mode": "off", "max_batch_rows": case.batch_rows}
        delta_states = _run({**base, "destination": str(root / "delta"), "format": "delta"}, lines)
        parquet_states = _run({**base, "destination": str(root / "pq"), "format": "parquet"}, lines)
        lake.run(run)
        sent += sum(isinstance(m, Send) for m in run)
        # STATE comes out exactly as it went in, once the run is done.
        want = _last_state(run)
        for states in (delta_states, parquet_states):
            assert (json.loads(states[-1]) if states else None) == want
        assert _delta_rows(root / "delta" / STREAM, case) == _expected(lake.table), case
        files = pads.dataset(str(root / "pq" / STREAM)) if sent else None
        assert (files.count_rows() if files else 0) == sent, case
