"""Where finished files go, atomically: a rename on local disk, a completed upload on S3.

A reader listing the destination sees a file only once it is complete; temporary files live in a
staging folder (local) or never leave the machine (S3) until they are whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Protocol

from .layout import UnsafeKey
from .settings import Settings

STAGING_DIR = ".target-events-staging"


class StorageError(Exception):
    """The destination refused a write (missing bucket, bad credentials, full disk)."""


class Storage(Protocol):
    staging: Path

    def new_temp_path(self, suffix: str) -> Path: ...
    def commit(self, temp_path: Path, key: str) -> str: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def close(self) -> None: ...


class LocalStorage:
    def __init__(self, root: str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.staging = self.root / STAGING_DIR
        self.staging.mkdir(exist_ok=True, mode=0o700)

    def new_temp_path(self, suffix: str) -> Path:
        return self.staging / f"{uuid.uuid4().hex}{suffix}.tmp"

    def commit(self, temp_path: Path, key: str) -> str:
        final = (self.root / key).resolve()
        if self.root not in final.parents:
            raise UnsafeKey(f"object key {key!r} would leave the destination")
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(temp_path, 0o600)
        os.replace(
            temp_path, final
        )  # atomic on one filesystem: the file appears whole or not at all
        _fsync_dir(final.parent)
        return str(final)

    def list_keys(self, prefix: str) -> list[str]:
        """Keys of finished files under ``prefix`` (staging never shows), sorted."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root)) for path in base.rglob("*") if path.is_file()
        )

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# botocore logs every request's headers at DEBUG, X-Amz-Security-Token included: a session token
# would reach the logs of any run started with LOGLEVEL=DEBUG. These loggers never go below INFO.
AWS_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def _quiet_aws_loggers() -> None:
    for name in AWS_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))


class S3Storage:
    """One boto3 client per run; multipart above the part size, visible only when completed."""

    def __init__(self, settings: Settings) -> None:
        _quiet_aws_loggers()
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        bucket_and_prefix = settings.destination.removeprefix("s3://")
        self.bucket, _, prefix = bucket_and_prefix.partition("/")
        self.prefix = prefix.strip("/")
        session = (
            boto3.session.Session(profile_name=settings.aws_profile)
            if settings.aws_profile
            else boto3.session.Session()
        )
        self.client = session.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.aws_region,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            aws_session_token=settings.aws_session_token,
            config=Config(retries={"max_attempts": 8, "mode": "adaptive"}),
        )
        part = settings.s3_part_size_mb * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
        self.staging = Path(tempfile.mkdtemp(prefix="target-events-"))
        self.uploads = 0
        self._check_bucket()

    def _check_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            raise StorageError(
                f"S3 bucket '{self.bucket}' is not usable ({code}): check destination and credentials"
            ) from error
        except BotoCoreError as error:
            raise StorageError(
                f"S3 bucket '{self.bucket}' is not reachable: {type(error).__name__}"
            ) from error

    def new_temp_path(self, suffix: str) -> Path:
        return self.staging / f"{uuid.uuid4().hex}{suffix}.tmp"

    def commit(self, temp_path: Path, key: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        full_key = self._full_key(key)
        try:
            self.client.upload_file(str(temp_path), self.bucket, full_key, Config=self.transfer)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(
                f"upload of s3://{self.bucket}/{full_key} failed: {error}"
            ) from error
        finally:
            temp_path.unlink(missing_ok=True)
        self.uploads += 1
        return f"s3://{self.bucket}/{full_key}"

    def _full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list_keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._full_key(prefix)
            )
            for page in pages:
                keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as error:
            raise StorageError(
                f"listing s3://{self.bucket}/{self._full_key(prefix)} failed: {error}"
            ) from error
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full_key(key))
            return response["Body"].read()  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as error:
            raise StorageError(
                f"reading s3://{self.bucket}/{self._full_key(key)} failed: {error}"
            ) from error

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def open_storage(settings: Settings) -> Storage:
    return S3Storage(settings) if settings.is_s3 else LocalStorage(settings.destination)
