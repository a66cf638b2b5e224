"""Where finished files go, atomically: a rename on local disk, a completed upload on S3.

A reader listing the destination sees a file only once it is complete; temporary files live in a
staging folder of the run (local) or never leave the machine (S3) until they are whole. Every file
the target writes (data, dead letters, manifests) goes through ``put``: written to a temporary
path, fsynced, then committed; any OS or S3 failure becomes one ``StorageError`` line and leaves
no temporary file behind.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..config.settings import Settings
from ..errors import StorageError
from .layout import UnsafeKey, refuse_links
from .staging import (
    FILE_MODE,
    RunStaging,
    fsync_dir,
    fsync_file,
    local_scratch_parent,
    make_dirs,
)

STAGING_DIR = ".target-events-staging"


Writer = Callable[[Path], object]


class Storage(Protocol):
    staging: Path

    def put(self, key: str, write: Writer, suffix: str) -> tuple[str, int]: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def close(self) -> None: ...


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _short(path: object, limit: int = 120) -> str:
    """A path or key as an error shows it: a destination (and the keys under it) comes from the
    config and can be kilobytes long, which would push the reason off the end of the one line.
    The middle goes: the start names the place, the end the file."""
    text = str(path)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-half:]}"


class LocalStorage:
    def __init__(self, root: str, run_id: str) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            make_dirs(self.root)
            self._staging = RunStaging(self.root / STAGING_DIR, run_id)
        except OSError as error:
            raise StorageError(
                f"destination '{_short(self.root)}' is not usable: {_os_reason(error)}"
                + (f" ({_short(error.filename)})" if error.filename else "")
            ) from error
        self.staging = self._staging.path

    def put(self, key: str, write: Writer, suffix: str) -> tuple[str, int]:
        """Write, fsync, rename into place, fsync the folder: visible only when whole and durable."""
        final = refuse_links(self.root, key).resolve()
        if self.root not in final.parents:
            raise UnsafeKey(f"object key {_short(key)!r} would leave the destination")
        temp = self._staging.new_temp_path(suffix)
        try:
            write(temp)
            size = fsync_file(temp)
            os.chmod(temp, FILE_MODE)
            make_dirs(final.parent)
            os.replace(temp, final)  # atomic on one filesystem: whole or not at all
            fsync_dir(final.parent)
        except OSError as error:
            raise StorageError(
                f"cannot write {_short(key)} under destination '{_short(self.root)}': "
                f"{_os_reason(error)}"
            ) from error
        finally:
            temp.unlink(missing_ok=True)
        return str(final), size

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
        self._staging.close()


# botocore logs every request's headers at DEBUG, X-Amz-Security-Token included: a session token
# would reach the logs of any run started with LOGLEVEL=DEBUG. These loggers never go below INFO.
AWS_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def _quiet_aws_loggers() -> None:
    for name in AWS_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client from the settings (profile, endpoint, region, keys), retrying with
    backoff; one line naming the setting when boto3 refuses them, never quoting a value."""
    _quiet_aws_loggers()
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = (
            boto3.session.Session(profile_name=settings.aws_profile)
            if settings.aws_profile
            else boto3.session.Session()
        )
    except ProfileNotFound:
        raise StorageError(
            f"setting 'aws_profile': profile {settings.aws_profile!r} is not in the AWS config files"
        ) from None
    try:
        return session.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.aws_region,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            aws_session_token=settings.aws_session_token,
            config=Config(retries={"max_attempts": 8, "mode": "adaptive"}),
        )
    except (BotoCoreError, ValueError) as error:
        # botocore's own config validation: its messages may quote a setting's value.
        raise StorageError(
            f"S3 client settings refused ({type(error).__name__}): check aws_region, "
            "s3_endpoint_url and the AWS credentials"
        ) from None


class S3Storage:
    """One boto3 client per run; multipart above the part size, visible only when completed."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        from boto3.s3.transfer import TransferConfig

        bucket_and_prefix = settings.destination.removeprefix("s3://")
        self.bucket, _, prefix = bucket_and_prefix.partition("/")
        self.prefix = prefix.strip("/")
        self.client = s3_client(settings)
        part = settings.s3_part_size_mb * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
        self.uploads = 0
        self._check_bucket()
        try:
            self._staging = RunStaging(local_scratch_parent(), run_id)
        except OSError as error:
            raise StorageError(
                f"local staging folder is not usable: {_os_reason(error)}"
            ) from error
        self.staging = self._staging.path

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

    def put(self, key: str, write: Writer, suffix: str) -> tuple[str, int]:
        """Write locally, then upload: the object exists only once its upload completed."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        full_key = self._full_key(key)
        temp = self._staging.new_temp_path(suffix)
        try:
            write(temp)
            size = temp.stat().st_size
            self.client.upload_file(str(temp), self.bucket, full_key, Config=self.transfer)
        except OSError as error:
            raise StorageError(
                f"cannot stage {_short(key)} in '{_short(self._staging.path)}': {_os_reason(error)}"
            ) from error
        except (ClientError, BotoCoreError, Boto3Error) as error:
            raise StorageError(
                f"upload of {_short(f's3://{self.bucket}/{full_key}')} failed: {aws_reason(error)}"
            ) from error
        finally:
            temp.unlink(missing_ok=True)
        self.uploads += 1
        return f"s3://{self.bucket}/{full_key}", size

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
                f"listing {_short(f's3://{self.bucket}/{self._full_key(prefix)}')} failed: "
                f"{aws_reason(error)}"
            ) from error
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full_key(key))
            return response["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise StorageError(
                f"reading {_short(f's3://{self.bucket}/{self._full_key(key)}')} failed: "
                f"{aws_reason(error)}"
            ) from error

    def close(self) -> None:
        self._staging.close()


def aws_reason(error: Exception) -> str:
    """One line: the S3 error code and message (boto3's upload errors wrap them in text)."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        reason = f"{info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(": ")
    else:
        found = re.search(r"An error occurred \(([^)]*)\)[^:]*:\s*(.*)", str(error))
        reason = f"{found[1]}: {found[2]}" if found else f"{type(error).__name__}: {error}"
    return " ".join(reason.split())[:300]


def open_storage(settings: Settings, run_id: str) -> Storage:
    if settings.is_s3:
        return S3Storage(settings, run_id)
    return LocalStorage(settings.destination, run_id)
