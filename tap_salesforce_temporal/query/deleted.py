"""getDeleted (``/sobjects/X/deleted/``): the hard deletes of a window, as Salesforce allows.

Three rules of the resource shape the request (REST "sObject Get Deleted", SOAP "getDeleted()"):
results reach back 15 days at most, and less once Salesforce's background process purges the
delete log, after which a start before what is left answers INVALID_REPLICATION_DATE; the window
is read in whole minutes (seconds are ignored) and must span more than one; and
``earliestDateAvailable`` in each answer says how far back the log still reaches.

A purged log used to fail the run, and every later run from the same bookmark, for good. Here
the refusal is answered by asking a one-minute window at the end for ``earliestDateAvailable``,
then reading from there, with one warning naming what cannot be seen: deletes between the
window's start and that date (``reconcile_deletes`` finds them by comparing keys).
"""

from __future__ import annotations

import datetime as dt
import logging

from ..connection.client import SalesforceClient
from ..errors import SalesforceApiError

# More than one minute, in whole minutes: a shorter window is widened backwards (a delete read
# twice becomes the same tombstone twice, which every target merges as one).
SHORTEST_WINDOW = dt.timedelta(minutes=1, seconds=1)
PURGED = "INVALID_REPLICATION_DATE"


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


def deleted_records(
    client: SalesforceClient,
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    logger: logging.Logger,
) -> list[dict]:
    """The ``deletedRecords`` entries (``id``, ``deletedDate``) of ``[start, end)``."""
    start = min(start, end - SHORTEST_WINDOW)

    def ask(since: dt.datetime) -> dict:
        return client.get_json(
            f"/sobjects/{name}/deleted/",
            params={"start": since.isoformat(), "end": end.isoformat()},
            context=f"{name} getDeleted",
        )

    try:
        return list(ask(start).get("deletedRecords", []))
    except SalesforceApiError as error:
        if error.error_code != PURGED:
            raise
    try:
        probe = ask(end - SHORTEST_WINDOW)
    except SalesforceApiError as error:
        if error.error_code != PURGED:
            raise
        logger.warning(
            "%s: getDeleted reaches back less than a minute (Salesforce purged its delete log);"
            " hard deletes from %s on cannot be read (reconcile_deletes finds them)",
            name,
            start.isoformat(),
        )
        return []
    # Whole minutes, rounded up: Salesforce reads the window by the minute, and a start a
    # fraction of a second before what is left is refused again.
    reported = _when(probe["earliestDateAvailable"])
    floor = reported.replace(second=0, microsecond=0)
    available = floor if floor == reported else floor + dt.timedelta(minutes=1)
    logger.warning(
        "%s: getDeleted reaches back only to %s (Salesforce purged its delete log); hard deletes"
        " from %s to then cannot be read (reconcile_deletes finds them)",
        name,
        available.isoformat(),
        start.isoformat(),
    )
    if available >= end - SHORTEST_WINDOW:
        return list(probe.get("deletedRecords", []))
    return list(ask(available).get("deletedRecords", []))
