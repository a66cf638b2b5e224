"""Where the report reads from: the landed Parquet files of a destination, local or on S3.

Both become a ``pyarrow.dataset`` registered in DuckDB, so the SQL never loads a whole stream:
DuckDB pulls only the columns and rows a query needs, batch by batch. Half-written files never
show (they live in the staging folder or were never uploaded), and staging is skipped explicitly.
"""

from __future__ import annotations

import pyarrow.dataset as ds
import pyarrow.fs as pafs

from ..errors import ReportError
from ..lake.delta_merge import storage_options, table_dataset
from ..store.filesystems import S3Options
from ..store.journal import visible_files
from ..store.storage import STAGING_DIR


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
