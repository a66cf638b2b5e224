"""BATCH files come only from allowed roots, are read with bounds, and are refused in one line.

A BATCH message may name any file. These tests hand the real ``target-events`` command messages
that name a secrets file, ``/dev/zero``, a FIFO, a symlink or hard link leading out of the allowed
root, a corrupt gzip and an endless line, and check each is refused in one line that names the
stream, the input line and the setting ``batch_roots``, with nothing of the file in the output or
the error, the rows before kept and no STATE passed on after the refused BATCH.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from target_events.errors import InputError
from target_events.ingest.batch_files import BatchFileReader
from tests.helpers import TARGET, TargetRun, run_target, singer_lines, write_json

SCHEMA = {
    "type": "SCHEMA",
    "stream": "hist",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "password": {"type": ["string", "null"]},
            "client_secret": {"type": ["string", "null"]},
            "n": {"type": ["integer", "null"]},
        }
    },
    "key_properties": ["Id"],
}
PASSWORD = "hunter2-PASSWORD-value"
CLIENT_SECRET = "cs-CLIENT-SECRET-value"
SECRETS = {"Id": "stolen", "password": PASSWORD, "client_secret": CLIENT_SECRET}
PARQUET = {"format": "parquet", "compression": "none"}
JSONL = {"format": "jsonl", "compression": "none"}
JSONL_GZ = {"format": "jsonl", "compression": "gzip"}
# The BATCH message is input line 4 of every run below.
BATCH_LINE = 4
# Address space for a target run: the target alone needs ~1 GB of it (Arrow, threads); a reader
# that grows without bound hits this instead of the machine's memory.
ADDRESS_SPACE = 3 << 30


def _lines(uri: str, encoding: dict) -> str:
    return singer_lines(
        SCHEMA,
        {"type": "RECORD", "stream": "hist", "record": {"Id": "before", "n": 1}},
        {"type": "STATE", "value": {"at": "before"}},
        {"type": "BATCH", "stream": "hist", "encoding": encoding, "manifest": [uri]},
        {"type": "STATE", "value": {"at": "after"}},
    )


def _run_bounded(tmp_path: Path, config: dict, stdin: str, timeout: float = 60) -> TargetRun:
    """The target with a cap on its address space and a timeout: a reader that reads without
    end fails the test instead of exhausting the machine (the pre-fix behaviour)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    config_path = write_json(tmp_path / "target-config.json", config)
    done = subprocess.run(
        [TARGET, "--config", str(config_path)],
        input=stdin.encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit,  # the test process starts no threads of its own
        # Address space reserved per thread (malloc arenas, Arrow's pool sized by the cores)
        # would otherwise grow with the machine and could hit the cap before any reading.
        env={**os.environ, "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "2"},
    )
    return TargetRun(done.returncode, done.stdout.decode(), done.stderr.decode(errors="replace"))


def _landed(out: Path) -> list[dict]:
    files = sorted((out / "hist").glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


def _assert_refused(run: TargetRun, out: Path, *phrases: str, setting: bool = True) -> str:
    """One line naming stream and input line (and the setting, where it decides); the rows
    before kept; no later STATE; nothing of the secrets anywhere."""
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"target-events: stream 'hist', input line {BATCH_LINE}: BATCH file "), (
        last
    )
    assert ("(setting 'batch_roots')" in last) is setting, last
    for phrase in phrases:
        assert phrase in last, last
    for secret in (PASSWORD, CLIENT_SECRET):
        assert secret not in run.stderr
        assert secret not in run.stdout
    assert {"at": "after"} not in run.states
    landed = [row["Id"] for row in _landed(out)]
    if setting:  # refused before a byte of it was read
        assert landed == ["before"], "the rows before are kept, none of the file"
    else:  # rows of a file under a root, read before its corrupt part, land at least once
        assert "before" in landed
    return last


def _secrets_file(path: Path) -> Path:
    path.write_text(json.dumps(SECRETS) + "\n")
    return path


@pytest.mark.parametrize(
    "maps", [{}, {"stream_maps": {"hist": {"n": None}}}], ids=["sink", "mapped"]
)
def test_given_a_secrets_file_outside_the_configured_roots_then_it_is_refused_and_nothing_lands(
    tmp_path: Path, maps: dict
) -> None:
    """Both ways a BATCH file is read: straight into the sink, and record by record through a
    stream map (target.py's mapped path)."""
    roots = tmp_path / "batches"
    roots.mkdir()
    secret = _secrets_file(tmp_path / "secrets.json")
    out = tmp_path / "out"
    run = run_target(
        tmp_path,
        {"destination": str(out), "batch_roots": [str(roots)], **maps},
        _lines(secret.as_uri(), JSONL),
    )
    _assert_refused(run, out, secret.as_uri(), "outside the allowed roots")


def test_given_default_roots_then_a_file_outside_the_temp_directories_is_refused(
    tmp_path: Path,
) -> None:
    """No ``batch_roots``: only the system temp directories are readable (this test file, in
    the repository, is not)."""
    here = Path(__file__).resolve()
    if here.is_relative_to(Path(tempfile.gettempdir()).resolve()):
        pytest.skip("the repository is under the temp directory")
    out = tmp_path / "out"
    run = run_target(tmp_path, {"destination": str(out)}, _lines(here.as_uri(), JSONL))
    _assert_refused(run, out, "outside the allowed roots")


@pytest.mark.parametrize("encoding", [JSONL, JSONL_GZ, PARQUET], ids=["jsonl", "gzip", "parquet"])
def test_given_dev_zero_then_it_is_refused_at_once_without_reading(
    tmp_path: Path, encoding: dict
) -> None:
    """Outside the default roots, and not a regular file even where ``/dev`` is allowed."""
    for roots in ({}, {"batch_roots": ["/dev"]}):
        out = tmp_path / f"out-{len(roots)}"
        started = time.monotonic()
        run = _run_bounded(
            tmp_path, {"destination": str(out), **roots}, _lines("file:///dev/zero", encoding)
        )
        assert time.monotonic() - started < 30
        phrase = "not a regular file" if roots else "outside the allowed roots"
        _assert_refused(run, out, "file:///dev/zero", phrase)


def test_given_a_fifo_under_the_root_then_it_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "batch.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    run = _run_bounded(
        tmp_path, {"destination": str(out)}, _lines(fifo.as_uri(), JSONL), timeout=30
    )
    _assert_refused(run, out, fifo.as_uri(), "not a regular file")


@pytest.mark.parametrize("link", ["symlink", "hardlink", "symlinked directory"])
def test_given_a_link_inside_the_root_to_a_file_outside_then_it_is_refused(
    tmp_path: Path, link: str
) -> None:
    """The path the OS opens is judged, not the string: a link's target must be under a root."""
    root = tmp_path / "batches"
    root.mkdir()
    secret = _secrets_file(tmp_path / "secrets.json")
    if link == "symlink":
        path = root / "batch-1.jsonl"
        path.symlink_to(secret)
    elif link == "hardlink":
        path = root / "batch-1.jsonl"
        os.link(secret, path)
    else:
        (root / "sub").symlink_to(tmp_path, target_is_directory=True)
        path = root / "sub" / "secrets.json"
    out = tmp_path / "out"
    run = run_target(
        tmp_path,
        {"destination": str(out), "batch_roots": [str(root)]},
        _lines(path.as_uri(), JSONL),
    )
    phrase = "other hard links" if link == "hardlink" else "outside the allowed roots"
    _assert_refused(run, out, phrase)


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("not gzip", "not a gzip file"),
        ("gzip cut short", "gzip data cut short"),
        ("gzip corrupt", "corrupt gzip data"),
        ("not utf-8", "line 1 cannot be read: not UTF-8"),
        ("not json", "line 1 cannot be read: not a JSON object"),
    ],
)
def test_given_a_corrupt_batch_file_then_the_error_quotes_nothing_of_it(
    tmp_path: Path, kind: str, phrase: str
) -> None:
    body = (json.dumps(SECRETS) + "\n").encode()
    encoding = JSONL_GZ
    if kind == "gzip cut short":
        body = gzip.compress(body * 50)[:-30]
    elif kind == "gzip corrupt":
        packed = bytearray(gzip.compress(body * 50))
        packed[20:40] = b"\xff" * 20
        body = bytes(packed)
    elif kind == "not utf-8":
        body, encoding = b'{"password": "' + PASSWORD.encode() + b'\xff"}\n', JSONL
    elif kind == "not json":
        body, encoding = f'{{"password": "{PASSWORD}", nope\n'.encode(), JSONL
    path = tmp_path / "batch-1.jsonl"
    path.write_bytes(body)
    out = tmp_path / "out"
    run = run_target(tmp_path, {"destination": str(out)}, _lines(path.as_uri(), encoding))
    last = _assert_refused(run, out, path.as_uri(), phrase, setting=False)
    for fragment in ('{"', "b'", "password", "\\x"):
        assert fragment not in last, last


def test_given_a_line_longer_than_the_cap_then_it_is_refused_without_holding_it(
    tmp_path: Path,
) -> None:
    """A gzip bomb of one endless line (65 MiB of one byte, ~65 kB packed): refused at the
    per-line cap, memory bounded."""
    path = tmp_path / "batch-1.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        block = b"a" * (1 << 20)
        for _ in range(65):
            handle.write(block)
    out = tmp_path / "out"
    run = _run_bounded(tmp_path, {"destination": str(out)}, _lines(path.as_uri(), JSONL_GZ))
    _assert_refused(
        run, out, path.as_uri(), "line 1 cannot be read: longer than 67108864 bytes", setting=False
    )


def test_given_a_file_over_the_per_file_cap_then_reading_stops_there(tmp_path: Path) -> None:
    """The cap on decompressed bytes per file, lowered to test it (the default is 16 GiB)."""
    jsonl = tmp_path / "batch-1.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        for i in range(2_000):
            handle.write(json.dumps({"Id": f"r{i}", "n": i}) + "\n")
    parquet = tmp_path / "batch-2.parquet"
    pq.write_table(
        pa.table({"Id": [f"r{i}" for i in range(2_000)], "n": list(range(2_000))}), parquet
    )
    reader = BatchFileReader(
        "hist", None, ("Id",), 500, roots=(str(tmp_path),), max_file_bytes=10_000
    )
    with pytest.raises(InputError, match=r"cannot be read: more than 10000 bytes decompressed$"):
        list(reader.jsonl_records(jsonl.as_uri(), "gzip"))
    with pytest.raises(InputError, match=r"cannot be read: more than 10000 bytes decompressed$"):
        list(reader.records(parquet.as_uri(), "parquet", None))


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("batch-1.parquet", PARQUET),
        ("batch-1.gz.parquet", {"format": "parquet", "compression": "gzip"}),
        ("batch-1.jsonl", JSONL),
        ("batch-1.json.gz", JSONL_GZ),
    ],
)
def test_given_a_file_under_a_configured_root_then_it_lands(
    tmp_path: Path, name: str, encoding: dict
) -> None:
    """A configured root, reached through a symlinked directory (the root is resolved too)."""
    real = tmp_path / "real-batches"
    (real / "run-1").mkdir(parents=True)
    (tmp_path / "batches").symlink_to(real, target_is_directory=True)
    rows = [{"Id": f"r{i}", "n": i} for i in range(1_000)]
    path = real / "run-1" / name
    if encoding["format"] == "parquet":
        pq.write_table(
            pa.Table.from_pylist(rows),
            path,
            compression="gzip" if encoding["compression"] == "gzip" else "none",
        )
    else:
        opener = gzip.open if encoding["compression"] == "gzip" else open
        with opener(path, "wt") as handle:  # type: ignore[operator]
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    out = tmp_path / "out"
    run = run_target(
        tmp_path,
        {"destination": str(out), "batch_roots": [str(tmp_path / "batches")]},
        _lines((tmp_path / "batches" / "run-1" / name).as_uri(), encoding),
    )
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"at": "after"}
    assert sorted(row["Id"] for row in _landed(out)) == sorted(["before", *(r["Id"] for r in rows)])


@pytest.mark.parametrize(
    ("roots", "problem"),
    [
        (["relative/batches"], "setting 'batch_roots': 'relative/batches' is not an absolute path"),
        (["s3://bucket/batches"], "setting 'batch_roots': s3:// roots are not supported"),
        ("/tmp", "setting 'batch_roots'"),
    ],
)
def test_given_a_batch_roots_setting_that_cannot_work_then_one_line_names_it(
    tmp_path: Path, roots: object, problem: str
) -> None:
    run = run_target(tmp_path, {"destination": str(tmp_path / "out"), "batch_roots": roots}, "")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"target-events: {problem}"), last
