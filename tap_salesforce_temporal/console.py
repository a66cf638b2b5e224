"""The ``tap-salesforce-temporal`` command: the SDK imported with the cyclic GC off, then frozen.

Importing singer-sdk, pyarrow and requests makes ~70k objects that live as long as the process.
Collections part-way through the imports cost ~35 ms of every start-up, and walking those objects
again in later collections and in the interpreter's final passes at exit ~40 ms more: they are
frozen (``gc.freeze``) once imported. Not frozen again at exit: DuckDB's bindings report what the
final collection leaves as leaks.
"""

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
