"""Where the report reads from: the landed Parquet files of a destination, local or on S3.

Both become a ``pyarrow.dataset`` registered in DuckDB, so the SQL never loads a whole stream:
DuckDB pulls only the columns and rows a query needs, batch by batch. Half-written files never
show (they live in the staging folder or were never uploaded), and staging is skipped explicitly.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import pyarrow.dataset as ds
import pyarrow.fs as pafs

from ..delta_merge import storage_options, table_dataset
from ..errors import ReportError
from ..journal import visible_files
from ..storage import STAGING_DIR


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None


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


def delta_options(s3: S3Options) -> dict[str, str]:
    return storage_options(
        s3.endpoint_url, s3.region, s3.access_key_id, s3.secret_access_key, s3.session_token
    )


def stream_dataset(
    filesystem: pafs.FileSystem, base: str, stream: str, s3: S3Options | None = None
) -> ds.Dataset | None:
    """The finished Parquet files of one stream (Hive partitions as columns), or None if absent.

    A Delta table (format delta) is read at its current snapshot; plain Parquet files replaced
    by a finished compaction step are skipped (``journal.visible_files``)."""
    root = f"{base}/{stream}"
    if filesystem.get_file_info(root).type != pafs.FileType.Directory:
        return None
    if filesystem.get_file_info(f"{root}/_delta_log").type == pafs.FileType.Directory:
        is_s3 = isinstance(filesystem, pafs.S3FileSystem)
        uri = f"s3://{root}" if is_s3 else root
        options = delta_options(s3 or S3Options()) if is_s3 else {}
        return table_dataset(uri, options, pafs.SubTreeFileSystem(root, filesystem))
    selector = pafs.FileSelector(root, recursive=True)
    files = [
        info.path
        for info in filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File and STAGING_DIR not in info.path
    ]
    parquet = visible_files(filesystem, base, stream)
    if not parquet:
        if files:
            raise ReportError(
                f"stream {stream!r} in the destination is not Parquet; the report reads format parquet"
            )
        return None
    return ds.dataset(
        parquet,
        filesystem=filesystem,
        format="parquet",
        partitioning=ds.HivePartitioning.discover(infer_dictionary=False),
        partition_base_dir=root,
    )
