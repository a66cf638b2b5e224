"""A throwaway copy of the Meltano project (code, pyproject, meltano.yml): what a fresh clone holds.

Used by the meltano end-to-end test and by ``make bench`` so that neither touches the working
tree's ``.meltano`` state or ``output/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "meltano.yml",
    "tap_salesforce_temporal",
    "target_events",
)


def copy_project(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                destination / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy(source, destination / name)
    return destination
