"""Each shard's Singer STATE, one JSON file per org and shard, on S3 or in a local folder.

The file holds the last STATE the target acknowledged (written after the rows it covers), so a
shard killed part-way resumes where its rows stopped landing, and a retried task starts from
what the failed attempt landed. Meltano's S3 state backend keeps the same thing per
``--state-id-suffix``; this store lets the flow run without a Meltano project.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class StateStore:
    """``url``: ``s3://bucket/prefix`` or a local folder. ``s3``: boto3 client options
    (``endpoint_url``, ``region_name``, ``aws_access_key_id``, ``aws_secret_access_key``)."""

    url: str
    s3: Mapping[str, str] = field(default_factory=dict)

    def key(self, org: str, shard: str) -> str:
        return f"{org}/{shard}.json"

    def get(self, org: str, shard: str) -> dict | None:
        """The shard's last acknowledged STATE, or None before its first run."""
        text = self._read(self.key(org, shard))
        return None if text is None else json.loads(text)

    def put(self, org: str, shard: str, state: Mapping[str, Any]) -> None:
        self._write(self.key(org, shard), json.dumps(state, sort_keys=True))

    def start_state(
        self, org: str, shard: str, streams: Iterable[str], others: Iterable[str]
    ) -> dict:
        """The STATE a shard starts from: its own file, plus bookmarks of its streams found in
        the org's other shard files (a new plan moved a stream to this shard: it resumes too)."""
        own = self.get(org, shard) or {}
        bookmarks = dict(own.get("bookmarks", {}))
        wanted = set(streams) - set(bookmarks)
        for other in others:
            if not wanted:
                break
            found = (self.get(org, other) or {}).get("bookmarks", {})
            for stream in wanted & set(found):
                bookmarks[stream] = found[stream]
            wanted -= set(found)
        return {**own, "bookmarks": bookmarks} if bookmarks else own

    # -- storage --
    def _read(self, key: str) -> str | None:
        parsed = urlparse(self.url)
        if parsed.scheme == "s3":
            try:
                body = self._client().get_object(Bucket=parsed.netloc, Key=self._s3_key(key))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return body["Body"].read().decode()
        path = Path(self.url) / key
        return path.read_text() if path.exists() else None

    def _write(self, key: str, text: str) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme == "s3":
            self._client().put_object(
                Bucket=parsed.netloc, Key=self._s3_key(key), Body=text.encode()
            )
            return
        path = Path(self.url) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(text)
        partial.replace(path)  # a reader sees the old file or the new one, never half

    def _s3_key(self, key: str) -> str:
        prefix = urlparse(self.url).path.strip("/")
        return f"{prefix}/{key}" if prefix else key

    def _client(self) -> Any:
        return boto3.client("s3", **dict(self.s3))
