"""Each run's own staging folder, and the one durable way to create folders.

Two runs writing to one destination must not share temporary space: the first to finish used to
delete the staging folder under the other. Each run now owns ``<staging>/<run_id>/`` and holds an
exclusive ``flock`` on a lock file inside it for as long as it lives. A folder whose lock can be
taken belongs to a run that died (a SIGKILL leaves its temporary files behind): any later run
removes it at start. Locks die with their process, so no run can be mistaken for a dead one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = ".lock"
# A folder without a lock file is a run caught between mkdir and flock, or of an older version.
LOCKLESS_GRACE_SECONDS = 3600
# A run's folder while it is being made: ``.<run_id>.init``, renamed once its lock is held.
NASCENT_PREFIX, NASCENT_SUFFIX = ".", ".init"
# Runs ending together each remove the parent once it is empty; one starting meanwhile retries.
PARENT_ATTEMPTS = 20


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files and folders made inside are 0600 and 0700 whatever the umask: delta-rs creates them
    itself with the process umask (0644 and 0755 before). Process-wide, so held only around one
    synchronous write, and the umask the process had is always restored."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> int:
    """Flush a file's contents to disk; its size in bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, each with DIR_MODE, each made durable in its parent.

    ``Path.mkdir(parents=True, mode=...)`` gives the mode to the last folder only (the others get
    the umask's), and a new folder is durable only once its parent's entry is fsynced.
    """
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask
        fsync_dir(folder.parent)


class RunStaging:
    """``parent/<run_id>/``: temporary files of one run, locked while the run lives."""

    def __init__(self, parent: Path, run_id: str) -> None:
        self.parent = parent
        self.path = parent / run_id
        # Built under a hidden name and renamed once locked; a cleaner leaves a nascent folder
        # alone until it is old (it is unlocked between its lock file's creation and the flock).
        nascent = parent / f"{NASCENT_PREFIX}{run_id}{NASCENT_SUFFIX}"
        for attempt in range(PARENT_ATTEMPTS):  # another run may remove the empty parent meanwhile
            try:
                make_dirs(parent)
                remove_stale(parent)
                nascent.mkdir(mode=DIR_MODE)
                break
            except FileNotFoundError:
                if attempt == PARENT_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        self._lock: int | None = os.open(nascent / LOCK_NAME, os.O_CREAT | os.O_RDWR, FILE_MODE)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(nascent, self.path)

    def new_temp_path(self, suffix: str) -> Path:
        return self.path / f"{uuid.uuid4().hex}{suffix}.tmp"

    def close(self) -> None:
        """Remove this run's folder (and the parent when no other run uses it)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        with contextlib.suppress(OSError):
            self.parent.rmdir()  # fails while another run's folder is in it: as it should


def remove_stale(parent: Path) -> None:
    """Delete the folders (and loose temp files) of runs that died in ``parent``."""
    for entry in list(parent.iterdir()):
        if not entry.is_dir() or entry.is_symlink():
            if entry.name.endswith(".tmp"):  # the layout before per-run folders
                _remove_if_old(entry)
            continue
        if entry.name.startswith(NASCENT_PREFIX) and entry.name.endswith(NASCENT_SUFFIX):
            # A run making its folder: its lock file may exist before it holds the lock, and
            # taking that lock here would remove the folder under it (seen with 100 targets).
            _remove_if_old(entry)
            continue
        try:
            fd = os.open(entry / LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:
            _remove_if_old(entry)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run holds it
        else:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


def _remove_if_old(entry: Path) -> None:
    with contextlib.suppress(OSError):
        if time.time() - entry.lstat().st_mtime > LOCKLESS_GRACE_SECONDS:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()


def local_scratch_parent() -> Path:
    """Where runs without a local destination (S3) stage files: a folder of this user in /tmp.

    One fixed name (not ``mkdtemp``) so a later run finds and removes what a killed run left; it
    must be a real folder owned by this user, else (someone planted it) a private fresh one.
    """
    path = Path(tempfile.gettempdir()) / f"target-events-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)
    info = path.lstat()
    if path.is_symlink() or not path.is_dir() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return Path(tempfile.mkdtemp(prefix="target-events-"))
    return path
