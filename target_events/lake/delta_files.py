"""The lake's folders as files: listing and removing tables (staging tables above all), and the
filesystem Arrow reads a table through. Arrow's own filesystems, never delta-rs' Python handler
(released on Arrow's IO threads, it aborted the process at interpreter exit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store.filesystems import S3Options, open_filesystem

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from ..config.settings import Settings


@dataclass(frozen=True)
class LakeFiles:
    settings: Settings

    def children(self, parent: str) -> list[tuple[str, float]]:
        """(name, newest commit time) of each table under ``parent``."""
        import pyarrow.fs as pafs

        filesystem, path = self.filesystem(parent)
        found = []
        for info in filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            if info.type != pafs.FileType.Directory:
                continue
            logs = filesystem.get_file_info(
                pafs.FileSelector(f"{info.path}/_delta_log", allow_not_found=True)
            )
            times = [entry.mtime.timestamp() for entry in logs if entry.mtime is not None]
            found.append((info.base_name, max(times, default=0.0)))
        return found

    def remove_table(self, uri: str) -> None:
        import pyarrow.fs as pafs

        filesystem, path = self.filesystem(uri)
        if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
            filesystem.delete_dir(path)

    def filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        """The filesystem holding ``uri`` and the path in it."""
        import pyarrow.fs as pafs

        if not self.settings.is_s3:
            return pafs.LocalFileSystem(), uri
        return self.s3(), uri.removeprefix("s3://")

    def s3(self) -> pafs.FileSystem:
        filesystem, _ = open_filesystem(
            self.settings.destination,
            S3Options(
                self.settings.s3_endpoint_url,
                self.settings.aws_region,
                self.settings.aws_access_key_id,
                self.settings.aws_secret_access_key,
                self.settings.aws_session_token,
            ),
        )
        return filesystem
