"""Which URLs the tap may send credentials or a session token to.

A URL is judged by the host the HTTP library will really connect to, and only clean URLs pass:
``http://192.0.2.2:18081\\@127.0.0.1`` looks like loopback to ``urllib.parse`` but urllib3 (and so
requests) connects to 192.0.2.2. Rather than out-guess every parser, anything that parsers may
read differently is refused outright: backslashes, userinfo (``@``), whitespace and control
characters, non-ASCII text, queries and fragments. What is left must then parse to the same
scheme, host and port with both ``urllib.parse`` and urllib3, and plain http is allowed only when
that host is loopback.
"""

from __future__ import annotations

import re
import urllib.parse

from urllib3.util import parse_url

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_PATH = re.compile(r"(?:/[A-Za-z0-9._~%-]*)*")


def unclean_reason(url: str) -> str | None:
    """Why ``url`` is not a plain ``scheme://host[:port][/path]`` URL, or None when it is.

    The URL itself is never quoted back: it may carry userinfo (a password).
    """
    if any(not ch.isascii() or not ch.isprintable() or ch.isspace() for ch in url):
        return "contains whitespace, control or non-ASCII characters"
    if "\\" in url:
        return "contains a backslash"
    if "?" in url or "#" in url:
        return "has a query or fragment"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "is not an http(s) URL"
    if "@" in parts.netloc:
        return "contains userinfo ('@'); put credentials in their own settings"
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not _HOST.fullmatch(host or ""):
        return "has no valid host name"
    if not _PATH.fullmatch(parts.path):
        return "has characters a URL path should not have"
    try:
        port = parts.port
        seen_by_urllib3 = parse_url(url)
    except ValueError:  # urllib3's LocationParseError is a ValueError
        return "has an invalid port or host"
    urllib3_host = (seen_by_urllib3.host or "").strip("[]").lower()
    if (seen_by_urllib3.scheme, urllib3_host, seen_by_urllib3.port) != (
        parts.scheme,
        (parts.hostname or "").lower(),
        port,
    ):
        return "is read differently by HTTP libraries"
    return None


def host_of(url: str) -> str:
    """The host urllib3 connects to (lower case, IPv6 without brackets)."""
    return (parse_url(url).host or "").strip("[]").lower()


def is_loopback(url: str) -> bool:
    return host_of(url) in LOOPBACK_HOSTS


def insecure_reason(url: str) -> str | None:
    """Why credentials must not be sent to ``url``, or None when they may."""
    unclean = unclean_reason(url)
    if unclean:
        return unclean
    if urllib.parse.urlsplit(url).scheme != "https" and not is_loopback(url):
        return f"plain http is only allowed for loopback hosts, got '{host_of(url)}'; use https"
    return None
