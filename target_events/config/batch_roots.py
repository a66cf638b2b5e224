"""Which files a BATCH message may make the target read: regular files under allowed roots.

A BATCH message names its files by URI and nothing else: the tap's ``batch_config.storage.root``
never reaches the target (singer-sdk's BATCH message carries ``stream``, ``encoding`` and a
``manifest`` of file URIs), so "the roots the tap announced" cannot be read off the input. Left
open, any line of input could make the target copy any file it can read into the destination (a
one-line JSON file of passwords landed as a record), or read ``/dev/zero`` until the kernel
killed it. So the target decides itself: a file is opened only if it resolves, symlinks and all,
to a regular file under one of ``batch_roots``.

``batch_roots`` unset means the system temp directories (``tempfile.gettempdir()``, ``/tmp``,
``/var/tmp``): where our README, the SDK's examples, our tests and benchmarks put
``batch_config.storage.root``, so ``tap | target`` in BATCH mode works with no new setting, while
home directories, ``/etc``, ``/dev``, ``/proc`` and the project's own config files are out of
reach. Anything else that can write there (another process of the same user) is inside the
default: set ``batch_roots`` to exactly the tap's ``storage.root`` to narrow it, or ``[]`` to read
no BATCH file at all.

The check is made on what the OS opens, not on the string: the path is resolved with
``realpath``, opened without following a last symlink and without blocking (a FIFO would wait for
a writer forever), and the open descriptor is checked again (a regular file, a single hard link,
and on Linux its ``/proc/self/fd`` path still under the root). Every refusal is raised as
``BatchFileProblem``; the reader words it with the stream and input line.
"""

from __future__ import annotations

import os
import stat
import tempfile
import urllib.parse
from collections.abc import Sequence
from typing import BinaryIO

from .config_checks import fail, show

SETTING = "batch_roots"
# Bounds on what one BATCH file may make the target read, decompressed. A line is one record:
# Salesforce's widest text field holds 131,072 characters (at most 512 KiB of UTF-8), so 64 MiB
# leaves room for hundreds of them while keeping a gzip bomb's one endless line out of memory.
# Files are streamed, never held whole: the per-file cap bounds the time and the destination space
# a bomb can take (the tap writes `batch_size` rows per file, at most 10,000,000).
MAX_LINE_BYTES = 64 << 20
MAX_FILE_BYTES = 16 << 30
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class BatchFileProblem(Exception):
    """Why a BATCH file is refused or unreadable, worded from fixed text (never its bytes).

    ``setting`` is True when ``batch_roots`` decides it (where the file is, what kind it is).
    """

    def __init__(self, problem: str, *, setting: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.setting = setting


def default_batch_roots() -> tuple[str, ...]:
    """The system temp directories, where BATCH roots live unless configured (module docstring)."""
    roots: list[str] = []
    for root in (tempfile.gettempdir(), "/tmp", "/var/tmp"):  # noqa: S108 - deliberate defaults
        if os.path.isabs(root) and os.path.normpath(root) not in roots:
            roots.append(os.path.normpath(root))
    return tuple(roots)


def parse_batch_roots(value: object) -> tuple[str, ...]:
    """``batch_roots`` as absolute local paths; None (unset) gives the defaults.

    Local paths or ``file://`` URIs only: the target reads BATCH files from local storage only, so
    an ``s3://`` root would allow nothing it could read. A relative path would depend on the
    directory the target happens to start in, and is refused rather than guessed.
    """
    if value is None:
        return default_batch_roots()
    if not isinstance(value, list | tuple):
        raise fail(SETTING, "expects a list of local directories")
    roots: list[str] = []
    for entry in value:
        if not isinstance(entry, str) or not entry:
            raise fail(SETTING, "expects a list of local directories (non-empty strings)")
        path = entry
        parsed = urllib.parse.urlsplit(entry)
        if parsed.scheme == "s3":
            raise fail(
                SETTING,
                "s3:// roots are not supported: target-events reads BATCH files from local"
                " (file://) storage only",
            )
        if parsed.scheme == "file":
            if parsed.netloc not in ("", "localhost") or parsed.query or parsed.fragment:
                raise fail(SETTING, f"{show(entry)} is not a local file:// URI")
            path = urllib.parse.unquote(parsed.path)
        elif parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a drive letter
            raise fail(SETTING, f"{show(entry)} is not a local directory")
        path = os.path.expanduser(path)
        if "\x00" in path or not os.path.isabs(path):
            raise fail(SETTING, f"{show(entry)} is not an absolute path")
        roots.append(os.path.normpath(path))
    return tuple(roots)


def local_path(uri: str) -> str:
    """The local path a manifest entry names: a ``file://`` URI (its path percent-decoded, as the
    SDK writes it with ``Path.as_uri``) or a plain path (taken as it is)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise BatchFileProblem("names another host: only local files can be read")
        if parsed.query or parsed.fragment:
            raise BatchFileProblem("is not a plain file:// URI (it has a query or fragment)")
        path = urllib.parse.unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise BatchFileProblem("is not local: only file:// batch storage is supported")
    else:
        path = uri
    if not path or "\x00" in path:
        raise BatchFileProblem("is not a file path")
    return path


def open_batch_file(uri: str, roots: Sequence[str]) -> BinaryIO:
    """The file ``uri`` names, opened for reading, if it is a regular file under ``roots``.

    Raises ``BatchFileProblem`` (never reading a byte) when the resolved path is outside every
    root, is not a regular file (a FIFO, a device, a directory), has other hard links (a second
    name for a file that may live outside the roots), or changed between the check and the open.
    """
    allowed = [os.path.realpath(root) for root in roots]
    if not allowed:
        raise BatchFileProblem("is refused: the list of allowed roots is empty", setting=True)
    path = local_path(uri)
    real = os.path.realpath(path)
    if not _under(real, allowed):
        where = "is outside" if real == os.path.abspath(path) else "resolves to a path outside"
        raise BatchFileProblem(f"{where} the allowed roots", setting=True)
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as error:  # missing, no permission, a symlink swapped in (ELOOP)
        raise BatchFileProblem(_os_problem(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BatchFileProblem("is not a regular file", setting=True)
        if info.st_nlink > 1:
            raise BatchFileProblem(
                "has other hard links (a second name for a file that may lie outside the roots)",
                setting=True,
            )
        if not _opened_under(fd, real, info, allowed):
            raise BatchFileProblem("changed while it was being opened", setting=True)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _opened_under(fd: int, real: str, info: os.stat_result, roots: Sequence[str]) -> bool:
    """What the descriptor really is: on Linux the kernel's own path of it; elsewhere, the file
    now at ``real`` must be the one opened (same device and inode)."""
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        try:
            now = os.stat(real, follow_symlinks=False)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)
    return opened.startswith(os.sep) and _under(opened, roots)


def _os_problem(error: OSError) -> str:
    """An OS error in fixed words: its strerror, never the path or anything read."""
    return f"cannot be read: {error.strerror or type(error).__name__}"
