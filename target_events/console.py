"""The ``target-events`` command, started as the tap's is (``tap_salesforce_temporal.console``):
imports with the cyclic GC off, then the import-time objects frozen; ~75 ms of every run."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from .cli import main as run
    finally:
        gc.freeze()
        gc.enable()
    run()
