"""Deleted records as getDeleted sees them: the Recycle Bin, the delete log, and their reach.

From "sObject Get Deleted" (REST API Developer Guide) and getDeleted() (SOAP API Developer Guide):

- deleted records are written to a delete log that getDeleted reads; results reach back "no
  more than 15 days previous to the day the call is executed (or earlier if an administrator
  has purged the Recycle Bin)";
- earliestDateAvailable is "the timestamp of the last physically deleted object" for the object
  type: a background process purges old delete-log entries, and a startDate before what is left
  answers INVALID_REPLICATION_DATE ("startDate before org replication enabled date", as jsforce
  users quote it, jsforce/jsforce#406);
- deletedDate comes from the record's SystemModstamp.

Rows in the Recycle Bin (IsDeleted) are read from the object's table; rows gone for good (bin
emptied, objects without a Recycle Bin, hard deletes) live here as (id, deletedDate).
"""

from __future__ import annotations

import datetime as dt
import threading

import pyarrow as pa
import pyarrow.compute as pc

from .errors import sf_datetime

RECYCLE_BIN_DAYS = 15


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DeleteLog:
    """Per object, the ids deleted for good with when, and how far back the log still reaches."""

    def __init__(self) -> None:
        self._entries: dict[str, list[tuple[str, dt.datetime]]] = {}
        self._purged_through: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def record(self, object_name: str, ids: list[str], when: dt.datetime) -> None:
        with self._lock:
            self._entries.setdefault(object_name, []).extend((i, when) for i in ids)

    def purge(self, object_name: str, before: dt.datetime) -> int:
        """The background purge: entries deleted before ``before`` leave the log, and
        earliestDateAvailable moves up to ``before``. Returns how many entries left."""
        with self._lock:
            entries = self._entries.get(object_name, [])
            kept = [(i, when) for i, when in entries if when >= before]
            self._entries[object_name] = kept
            self._purged_through[object_name] = max(
                before, self._purged_through.get(object_name, before)
            )
            return len(entries) - len(kept)

    def earliest(self, object_name: str, now: dt.datetime) -> dt.datetime:
        """earliestDateAvailable: 15 days back, or later if the log was purged since."""
        reach = now.replace(second=0, microsecond=0) - dt.timedelta(days=RECYCLE_BIN_DAYS)
        purged = self._purged_through.get(object_name)
        # To the second, as it is written on the wire (``sf_datetime``): a start at the moment
        # the answer names must pass the check, whatever fraction of a second the purge ran at.
        return reach if purged is None else max(reach, purged.replace(microsecond=0))

    def answer(
        self, object_name: str, table: pa.Table, start: dt.datetime, end: dt.datetime
    ) -> dict:
        """getDeleted's body for a window already checked against ``earliest``: rows in the
        Recycle Bin (IsDeleted, deletedDate = SystemModstamp) and rows deleted for good."""
        now = utc_now()
        modstamp = table["SystemModstamp"]
        mask = pc.and_(
            pc.and_(table["IsDeleted"], pc.greater_equal(modstamp, start)), pc.less(modstamp, end)
        )
        hits = table.filter(mask)
        deleted = list(zip(hits["Id"].to_pylist(), hits["SystemModstamp"].to_pylist(), strict=True))
        with self._lock:
            deleted += [
                (i, when) for i, when in self._entries.get(object_name, []) if start <= when < end
            ]
        return {
            "deletedRecords": [
                {"id": record_id, "deletedDate": sf_datetime(when)} for record_id, when in deleted
            ],
            "earliestDateAvailable": sf_datetime(self.earliest(object_name, now)),
            "latestDateCovered": sf_datetime(min(end, now.replace(second=0, microsecond=0))),
        }
