"""Bounds on one HTTP exchange: a total deadline (connect to the last body byte) and a size cap.

requests' ``timeout`` bounds each socket read, not the exchange: an org or a proxy that sends a
byte every few seconds never trips it, and an unattended run hangs for ever. Every read from a
connection made by ``BoundedSession`` waits at most what is left of the calling thread's
``deadline`` (headers, then the body, streamed or not). A body is read in chunks and refused once
it passes its cap, decompressed bytes counted: a 6 MB gzip answer that inflates to 6 GB stops
at the cap instead of taking the machine's memory.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import AnswerTooLarge

MIB = 1024 * 1024
# The largest JSON answer the tap reads whole: a REST query page holds at most 2,000 records
# (Sforce-Query-Options batchSize), and a record with a full 131,072-character long text area is
# ~128 KiB; pages selecting two or more long text fields come at most 200 records at a time.
MAX_ANSWER_BYTES = 256 * MIB
# A compressed body is read this much at a time: even a decoder that inflates a whole read at
# once (urllib3 before 2.6) then holds at most ~1,000 times this (deflate's ratio limit).
_COMPRESSED_CHUNK = 64 * 1024
_PLAIN_CHUNK = 4 * MIB

_local = threading.local()


class DeadlineExceeded(requests.exceptions.Timeout):
    """The exchange did not complete within its deadline (retried like any timeout)."""


class Deadline:
    """When the current exchange must be over (``time.monotonic`` seconds)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Reads on this thread end by ``seconds`` from now; nested, the earlier deadline holds."""
    outer: Deadline | None = getattr(_local, "deadline", None)
    mine = Deadline(seconds)
    current = outer if outer is not None and outer.at <= mine.at else mine
    _local.deadline = current
    try:
        yield current
    finally:
        _local.deadline = outer


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each waiting at most the time left before the thread's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        current: Deadline | None = getattr(_local, "deadline", None)
        if current is None:
            return self._raw.readinto(buffer)
        left = current.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline exceeded")
        per_read = self._sock.gettimeout()
        self._sock.settimeout(left if per_read is None else min(per_read, left))
        try:
            return self._raw.readinto(buffer)
        finally:
            self._sock.settimeout(per_read)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _Socket:
    """What ``http.client.HTTPResponse`` asks of its socket: a file to read from."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self.sock))


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        # typeshed asks for a socket.socket; HTTPResponse only calls sock.makefile("rb").
        super().__init__(cast("socket.socket", _Socket(sock)), *args, **kwargs)


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """An adapter whose connections read under the thread's deadline (direct or through an
    HTTP proxy; a SOCKS proxy keeps its own connections and only the per-read timeout)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class BoundedSession(requests.Session):
    """A session whose every exchange ends within ``seconds`` and whose bodies read whole
    (``stream=False``, the login's included) stop at ``MAX_ANSWER_BYTES``."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        stream = kwargs.get("stream")
        kwargs["stream"] = True
        with deadline(self.seconds) as current:
            try:
                response = super().send(request, **kwargs)
                if not stream:
                    preload(response, MAX_ANSWER_BYTES)
            except requests.RequestException as error:
                if current.expired:
                    raise DeadlineExceeded(
                        f"no complete answer within {current.seconds:g}s"
                    ) from error
                raise
        return response


def read_capped(response: requests.Response, limit: int) -> bytes:
    """The body of a ``stream=True`` response, decompressed, refused past ``limit`` bytes."""
    declared = response.headers.get("Content-Length", "")
    encoded = bool(response.headers.get("Content-Encoding"))
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise AnswerTooLarge(limit)
    # A plain body of a declared length is read in one call (the common Bulk page: chunked
    # reads and their join cost ~1 s per GB); a compressed or unannounced one chunk by chunk.
    whole = declared.isdigit() and not encoded
    chunk = _COMPRESSED_CHUNK if encoded else _PLAIN_CHUNK
    parts: list[bytes] = []
    total = 0
    try:
        if whole:
            return response.raw.read(decode_content=True)
        while data := response.raw.read(chunk, decode_content=True):
            total += len(data)
            if total > limit:
                response.close()
                raise AnswerTooLarge(limit)
            parts.append(data)
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from error
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from error
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ConnectionError(error) from error
    return b"".join(parts)


def preload(response: requests.Response, limit: int) -> None:
    """Read a ``stream=True`` response's body under ``limit`` so that ``.content`` and
    ``.json()`` work as for ``stream=False`` (requests offers no public way to set it)."""
    response._content = read_capped(response, limit)
    response._content_consumed = True
