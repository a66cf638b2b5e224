"""The journal of plain-Parquet compactions, as readers apply it (see ``compact`` for the protocol).

A reader lists a stream's ``*.parquet`` files and skips those replaced by a journal record whose
merged file exists: the merged file appears by one atomic rename, so a reader sees either the
replaced files or the merged one, never both and never neither.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs

from .storage import STAGING_DIR

JOURNAL = "_compactions"
PENDING = ".pending"


def list_files(filesystem: pafs.FileSystem, base: str, folder: str) -> list[pafs.FileInfo]:
    root = f"{base}/{folder}"
    if filesystem.get_file_info(root).type != pafs.FileType.Directory:
        return []
    infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    return [i for i in infos if i.type == pafs.FileType.File and STAGING_DIR not in i.path]


def relative(base: str, path: str) -> str:
    return path[len(base) + 1 :]


def records(filesystem: pafs.FileSystem, base: str, stream: str) -> list[tuple[str, dict]]:
    """In-flight journal records of a stream (decided, not yet finished)."""
    out = []
    for info in list_files(filesystem, base, f"{JOURNAL}/{stream}"):
        if info.path.endswith(".json"):
            with filesystem.open_input_stream(info.path) as handle:
                out.append((info.path, json.loads(handle.read())))
    return out


def visible_files(filesystem: pafs.FileSystem, base: str, stream: str) -> list[str]:
    """The Parquet files a reader should read: a file replaced by a compaction whose merged
    file exists is skipped, so the switch is the one atomic rename of step 3."""
    files = {
        i.path
        for i in list_files(filesystem, base, stream)
        if i.path.endswith(".parquet") and "/_delta_log/" not in i.path
    }
    for _, record in records(filesystem, base, stream):
        if f"{base}/{record['merged']}" in files:
            files -= {f"{base}/{key}" for key in record["replaces"]}
    return sorted(files)
