"""A destination as an Arrow filesystem: a local folder, or an S3 bucket reached with the
configured credentials and endpoint.

Below the three parts that open one: the Delta tables' files (``delta_files``), compaction and
the report, so none of them imports another to reach its destination.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs

from ..errors import ReportError


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Options:
        """The S3 settings of a target config file (the report and compaction read one)."""
        return cls(
            endpoint_url=config.get("s3_endpoint_url"),
            region=config.get("aws_region"),
            access_key_id=config.get("aws_access_key_id"),
            secret_access_key=config.get("aws_secret_access_key"),
            session_token=config.get("aws_session_token"),
        )


def open_filesystem(destination: str, s3: S3Options) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the base path inside it for ``destination``."""
    if not destination.startswith("s3://"):
        local = pafs.LocalFileSystem()
        base = destination.rstrip("/") or "/"
        if local.get_file_info(base).type != pafs.FileType.Directory:
            raise ReportError(f"destination {destination!r} is not a directory")
        return local, base
    options: dict[str, object] = {
        "region": s3.region or "us-east-1",
        "access_key": s3.access_key_id,
        "secret_key": s3.secret_access_key,
        "session_token": s3.session_token,
    }
    if s3.endpoint_url:
        parsed = urllib.parse.urlsplit(s3.endpoint_url)
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "https")
    filesystem = pafs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})
    return filesystem, destination.removeprefix("s3://").rstrip("/")
