"""Hostile bodies for the fault switches ``slow_body``, ``gzip_bomb`` and ``huge_body``.

What an org, a proxy or a man in the middle can do to an extractor that trusts the wire: answer
its headers, then trickle the body a byte at a time; send a few MB of gzip that inflate to GBs;
stream a body that never ends. Each stops when the client hangs up.
"""

from __future__ import annotations

import functools
import gzip
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from .faults import Faults

_MEMBER_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


@functools.cache
def _gzip_member() -> bytes:
    """64 MiB of spaces as one gzip member (~64 KB): members concatenate into one gzip body."""
    return gzip.compress(b" " * _MEMBER_BYTES, compresslevel=9)


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to ``inflated`` bytes (rounded up to 64 MiB): 6 GiB in ~6 MB."""
    return _gzip_member() * max(1, -(-inflated // _MEMBER_BYTES))


def send(
    handler: BaseHTTPRequestHandler,
    faults: Faults,
    kind: str,
    status: int,
    body: bytes,
    headers: dict[str, str],
) -> None:
    """Answer ``status`` with ``headers`` and the hostile body ``kind`` instead of ``body``,
    shaped by the org's fault switches."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.close_connection = True
    try:
        if kind == "slow_body":
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.flush()
            for index in range(len(body)):
                handler.wfile.write(body[index : index + 1])
                handler.wfile.flush()
                time.sleep(faults.slow_body_seconds)
        elif kind == "gzip_bomb":
            payload = gzip_bomb(faults.gzip_bomb_bytes)
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        else:  # huge_body: chunked, so no Content-Length warns the client
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b" " * _CHUNK
            frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
            for _ in range(max(1, faults.huge_body_bytes // _CHUNK)):
                handler.wfile.write(frame)
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up, as it should
