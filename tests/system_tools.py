"""Programs outside Python that some tests need (a browser, a PostgreSQL server), found where
they are installed.

`make test` installs them with apt only when it can do so without a password prompt; elsewhere
the tests that need them are skipped with the reason shown by ``-ra``. Under CI (``CI=true``) a
missing program fails the test instead: a green CI must mean every test ran.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Debian/Ubuntu keep the server binaries out of PATH, one directory per major version.
POSTGRES_DIRS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/bin")


def _missing(what: str, hint: str) -> NoReturn:
    message = f"{what} not found ({hint})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run every test", pytrace=False)
    pytest.skip(message)


def browser() -> str:
    """A headless-capable Chromium or Chrome executable, or skip (fail under CI)."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    _missing("a Chromium browser", f"tried {', '.join(BROWSERS)} on PATH; apt-get install chromium")


def postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``postgres``, or skip (fail under CI)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    for pattern in POSTGRES_DIRS:
        candidates += [Path(p) for p in sorted(glob.glob(pattern), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    _missing("a PostgreSQL server", "initdb and postgres; apt-get install postgresql")
