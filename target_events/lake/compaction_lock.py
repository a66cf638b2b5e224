"""One compaction at a time per Delta table, on local disk and on S3.

delta-rs commits two ``optimize.compact`` runs made from the same snapshot: each removes the
same small files and adds its own compacted copy of their rows, so every row of them is then in
the table twice (measured: 20 rows became 40; 100 orgs finishing together doubled thousands of
rows). A merge racing a compaction is refused by its conflict check either way, so only
compactions need keeping apart; a run that finds the table's lock held skips compaction (the
holder is compacting the same files) and one that comes after loads the compacted snapshot.

- Locally: an exclusive ``flock`` on a file in the table's log folder (ignored by Delta
  readers), released by the kernel when the process ends, however it ends.
- On S3: a lease object at the same key, created only if absent (a conditional put,
  ``If-None-Match: *``, which S3 has honoured since 2024 and delta-rs itself commits by). It
  names its holder and when it runs out (``LEASE_SECONDS``): a holder killed mid-compaction
  leaves it behind, and the first run after it ran out takes it over, by a put conditional on
  the stale lease's ETag, so two runs never both take over one stale lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_FILE = ".target-events-compact.lock"
# Longer than any compaction of one table should take; a lease left by a killed run blocks the
# table's compaction (never its merges) this long.
LEASE_SECONDS = 30 * 60
# What S3 (and S3-compatible stores) answer a conditional put that lost: the object exists
# (412), or another conditional write to the key is in flight (409).
LOST = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


@contextlib.contextmanager
def local_compaction_lock(uri: str) -> Iterator[bool]:
    """True while this process alone may compact the local table at ``uri``."""
    path = Path(uri) / "_delta_log" / LOCK_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # another run is compacting this table now
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def s3_compaction_lease(client: Any, uri: str, *, now: float | None = None) -> Iterator[bool]:
    """True while this run holds the S3 table's compaction lease (``client``: boto3 S3)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/_delta_log/{LOCK_FILE}"
    moment = time.time() if now is None else now
    lease = json.dumps(
        {
            "holder": f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            "expires_at": moment + LEASE_SECONDS,
        }
    ).encode()
    etag = _create(client, bucket, key, lease) or _take_over(client, bucket, key, lease, moment)
    if etag is None:
        yield False
        return
    try:
        yield True
    finally:
        _release(client, bucket, key, etag)


def _code(error: Exception) -> str | None:
    """An S3 error's code and HTTP status, or None for anything but an S3 answer."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return f"{code} {status}"


def _lost(error: Exception) -> bool:
    return bool((found := _code(error)) and set(found.split()) & LOST)


def _create(client: Any, bucket: str, key: str, lease: bytes) -> str | None:
    """The new lease's ETag, or None when a lease is there already."""
    try:
        answer = client.put_object(Bucket=bucket, Key=key, Body=lease, IfNoneMatch="*")
    except Exception as error:
        if _lost(error):
            return None
        raise
    return str(answer["ETag"])


def _take_over(client: Any, bucket: str, key: str, lease: bytes, moment: float) -> str | None:
    """The lease's new ETag when the one there ran out and no other run took it first."""
    try:
        held = client.get_object(Bucket=bucket, Key=key)
    except Exception as error:
        found = _code(error)
        if found and (_lost(error) or "NoSuchKey" in found or "404" in found):
            return None  # released meanwhile: the next run compacts
        raise
    stale_etag = str(held["ETag"])
    try:
        expires_at = float(json.loads(held["Body"].read()).get("expires_at", 0))
    except (ValueError, AttributeError, TypeError):
        expires_at = 0.0  # not a lease this code wrote: treated as run out
    if expires_at > moment:
        return None
    try:
        answer = client.put_object(Bucket=bucket, Key=key, Body=lease, IfMatch=stale_etag)
    except Exception as error:
        if _lost(error):
            return None
        raise
    return str(answer["ETag"])


def _release(client: Any, bucket: str, key: str, etag: str) -> None:
    """Remove the lease only if it is still ours (a conditional delete: a lease that ran out
    may have been taken over by another run meanwhile)."""
    try:
        client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except Exception:  # a lease left behind runs out; the data is committed
        return
