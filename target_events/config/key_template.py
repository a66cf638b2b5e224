"""The ``key_template`` setting, checked by rendering it before any data is read.

A template that renders two files to one key overwrites data silently (``{seq!s:.0}`` renders
every sequence number as an empty string; ``{seq}/../data`` collapses every file onto one key), and
one that cannot render (``{unknown}``, a lone ``{``) fails at the first write, after records were
accepted. Both are refused up front: only the known fields, no conversions, no format spec except
an integer one on ``seq``; and sample renderings must be distinct, relative, clean keys below the
destination that no two streams, runs or sequence numbers share.
"""

from __future__ import annotations

import itertools
import re
import string

from .config_checks import fail

FIELDS = ("stream", "partition", "run_id", "seq", "ext")
REQUIRED = ("stream", "run_id", "seq")
# First key segments the target writes itself: a data file there would mix with them.
RESERVED = ("_manifests", "_dead_letter", ".target-events-staging")
_SEQ_SPEC = re.compile(r"0?[1-9]?\d?d?")
_SAMPLE_STREAMS = ("a", "a1", "b", "stream_x")
_SAMPLE_RUNS = ("20250101T000000.000000Z-abcdef", "20250101T000000.000000Z-abcde1")
_SAMPLE_PARTITIONS = ("", "date=2025-01-01", "date=2025-01-02/hour=03", "month=2025-01")
_SAMPLE_SEQS = (1, 2, 10, 11, 99_999, 100_000, 1_000_001)


class KeyProblem(ValueError):
    """A rendered key that is not a clean relative path."""


def check_key(key: str) -> str:
    """``key`` as a clean relative path, or KeyProblem: no absolute, ``..``, ``.`` or empty parts."""
    if "\\" in key or "\x00" in key:
        raise KeyProblem("contains a backslash or NUL")
    if key.startswith("/"):
        raise KeyProblem("is absolute")
    parts = key.split("/")
    if any(p in ("..", ".") for p in parts):
        raise KeyProblem("has a '..' or '.' segment")
    if any(not p for p in parts):
        raise KeyProblem("has an empty segment")
    return key


def _fields(template: str) -> list[tuple[str, str]]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:  # a lone '{' or '}'
        raise fail("key_template", f"is not a valid template ({error})") from None
    fields = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            raise fail(
                "key_template",
                f"unknown field {{{name}}}; use {' '.join('{' + f + '}' for f in FIELDS)}"
                if name
                else "empty field {}; name one of " + " ".join("{" + f + "}" for f in FIELDS),
            )
        if conversion:
            raise fail("key_template", f"conversion !{conversion} on {{{name}}} is not allowed")
        if spec and (name != "seq" or not _SEQ_SPEC.fullmatch(spec)):
            raise fail(
                "key_template",
                f"format spec ':{spec}' on {{{name}}} is not allowed"
                + ("; only a zero-padded width such as {seq:05d}" if name == "seq" else ""),
            )
        fields.append((name, spec or ""))  # parse() gives None only when name is None too
    return fields


def render(template: str, **values: object) -> str:
    return template.format(**values)


def check_template(template: str) -> str:
    """The template, or a one-line setting error naming what makes it unsafe."""
    names = {name for name, _ in _fields(template)}
    for required in REQUIRED:
        if required not in names:
            raise fail("key_template", f"must contain {{{required}}} so file names stay unique")
    seen: dict[str, tuple[object, ...]] = {}
    for partition in _SAMPLE_PARTITIONS:
        for stream, run_id, seq in itertools.product(_SAMPLE_STREAMS, _SAMPLE_RUNS, _SAMPLE_SEQS):
            values = {"stream": stream, "partition": partition, "run_id": run_id, "seq": seq}
            key = render(template, ext="parquet", **values)
            try:
                check_key(key if partition else "/".join(p for p in key.split("/") if p))
            except KeyProblem as problem:
                raise fail("key_template", f"renders {key!r}, which {problem}") from None
            if key.split("/", 1)[0] in RESERVED:
                raise fail("key_template", f"must not start with {key.split('/', 1)[0]}/")
            sample = (stream, run_id, seq)
            other = seen.setdefault(key, sample)
            if other != sample:
                raise fail(
                    "key_template",
                    f"renders {key!r} for two different files ({other} and {sample}): "
                    "one would overwrite the other",
                )
        seen.clear()
    return template
