"""The target's storage driven through real OS errors: one line, non-zero exit, no STATE past
unwritten data, no temporary file left behind.

A full disk and a read-only destination are real: a tiny tmpfs (or a read-only one) mounted in a
private user and mount namespace (``unshare -rm``), so no root is needed and nothing outlives the
test; skipped where user namespaces are off. EEXIST and ENOSPC at the rename/write calls are
injected at the OS boundary in-process (``os.replace``), since a filesystem cannot be told to fail
one call.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import subprocess
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from target_events.store.staging import LOCK_NAME
from target_events.store.storage import STAGING_DIR, LocalStorage, StorageError
from tests.helpers import TARGET, run_target, singer_lines


def _userns_works() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], check=False, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_userns = pytest.mark.skipif(
    not _userns_works(), reason="unshare -rm (user namespaces) unavailable"
)


def _input(n: int, every: int = 5, pad: int = 0) -> str:
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "schema": {"properties": {"Id": {"type": "string"}, "pad": {"type": "string"}}},
        "key_properties": ["Id"],
    }
    messages: list[dict] = [schema]
    for i in range(n):
        record = {"Id": f"e{i}", "pad": os.urandom(pad).hex() if pad else ""}
        messages.append({"type": "RECORD", "stream": "events", "record": record})
        if (i + 1) % every == 0:
            messages.append({"type": "STATE", "value": {"n": i + 1}})
    return singer_lines(*messages)


def _landed_rows(root: Path) -> int:
    return sum(
        pq.read_metadata(p).num_rows for p in root.rglob("*.parquet") if STAGING_DIR not in str(p)
    )


def _leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.name.endswith(".tmp") or STAGING_DIR in str(p)]


def _one_line(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("target-events:") or "| ERROR" in line or "Traceback" in line
    ]


def _run_in_namespace(
    tmp_path: Path, mount: str, config: dict, stdin: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the target with its destination on a fresh mount; return the run and a copy of it."""
    dest, copy = tmp_path / "mnt", tmp_path / "copy"
    dest.mkdir()
    copy.mkdir()
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**config, "destination": str(dest / "out")}))
    script = (
        f'mount -t tmpfs -o {mount} tmpfs "$1" || exit 99; '
        '"$2" --config "$3"; rc=$?; cp -a "$1/." "$4/"; exit $rc'
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", dest, TARGET, config_path, copy],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 99, done.stderr
    return done, copy / "out"


@needs_userns
def test_given_a_disk_that_fills_up_mid_run_then_one_line_and_state_never_passes_written_rows(
    tmp_path: Path,
) -> None:
    run, out = _run_in_namespace(
        tmp_path,
        "size=96k",
        {"max_batch_rows": 5, "format": "jsonl", "write_manifest": False, "qa_mode": "off"},
        _input(200, pad=2000),
    )
    assert run.returncode == 1, run.stderr
    assert _one_line(run.stderr) == [_one_line(run.stderr)[0]]
    assert "No space left on device" in _one_line(run.stderr)[0]
    assert _one_line(run.stderr)[0].startswith("target-events: cannot write events/")
    states = [json.loads(line)["n"] for line in run.stdout.splitlines()]
    landed = sum(len(p.read_text().splitlines()) for p in out.rglob("*.jsonl"))
    assert 0 < landed < 200
    assert states
    assert max(states) <= landed
    assert _leftovers(out) == []


@needs_userns
def test_given_a_read_only_destination_then_one_line_names_it(tmp_path: Path) -> None:
    run, _ = _run_in_namespace(tmp_path, "ro", {}, _input(5))
    assert run.returncode == 1
    assert _one_line(run.stderr) == [
        f"target-events: destination '{tmp_path / 'mnt' / 'out'}' is not usable: "
        f"Read-only file system ({tmp_path / 'mnt' / 'out'})"
    ]
    assert run.stdout == ""


def test_given_a_destination_that_is_a_file_then_one_line_names_it(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.write_text("not a folder")
    run = run_target(tmp_path, {"destination": str(dest), "qa_mode": "off"}, _input(5))
    assert run.returncode == 1
    assert _one_line(run.stderr) == [
        f"target-events: destination '{dest}' is not usable: File exists ({dest})"
    ]
    assert run.stdout == ""
    assert dest.read_text() == "not a folder"


def test_given_a_long_destination_that_cannot_be_made_then_its_path_is_cut_short(
    tmp_path: Path,
) -> None:
    """Found by the hostile-input sweep (#27): the path was quoted whole, so the line was cut at
    800 characters (the command's last resort) before it reached the reason."""
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    dest = tmp_path / "blocker" / "/".join(["d" * 200] * 15)  # ~3 KB, under PATH_MAX
    run = run_target(tmp_path, {"destination": str(dest), "qa_mode": "off"}, _input(5))
    assert run.returncode == 1
    [line] = _one_line(run.stderr)
    assert line.startswith(f"target-events: destination '{str(tmp_path)[:40]}")
    assert "...d" in line
    assert f"{'d' * 40}' is not usable: File exists (" in line, "the reason is reached"
    assert line.endswith(f"{tmp_path / 'blocker'})"), "the file in the way is named"
    assert str(dest) not in line
    assert len(line) < 400


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EEXIST, errno.EACCES, errno.EROFS])
def test_given_the_rename_into_place_fails_then_a_storage_error_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    storage = LocalStorage(str(tmp_path / "out"), "run-1")

    def refuse(src: object, dst: object) -> None:
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StorageError) as error:
        storage.put("events/a.jsonl", lambda path: path.write_text("{}\n"), ".jsonl")
    assert str(error.value) == (
        f"cannot write events/a.jsonl under destination '{tmp_path / 'out'}': {os.strerror(code)}"
    )
    assert list(storage.staging.glob("*.tmp")) == []
    storage.close()
    assert _leftovers(tmp_path / "out") == []


def test_given_a_write_that_fails_half_way_then_no_temp_file_is_left(tmp_path: Path) -> None:
    storage = LocalStorage(str(tmp_path / "out"), "run-1")

    def half(path: Path) -> None:
        path.write_text("partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    with pytest.raises(StorageError, match="No space left on device"):
        storage.put("events/a.jsonl", half, ".jsonl")
    assert list(storage.staging.glob("*")) == [storage.staging / LOCK_NAME]
    assert not (tmp_path / "out" / "events").exists()
    storage.close()


def test_given_every_file_kind_then_folders_and_files_get_one_mode_and_durable_contents(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(str(tmp_path / "a" / "b" / "out"), "run-1")
    for key in (
        "events/date=2025-01-01/x.parquet",
        "_dead_letter/events/d.jsonl",
        "_manifests/r.json",
    ):
        uri, size = storage.put(key, lambda path: path.write_text("data"), ".x")
        assert Path(uri).read_text() == "data"
        assert size == 4
    storage.close()
    for path in (tmp_path / "a").rglob("*"):
        assert (path.stat().st_mode & 0o777) == (0o700 if path.is_dir() else 0o600), path


def test_given_two_targets_on_one_destination_at_once_then_both_finish_and_every_row_lands(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "out"
    runs: list[subprocess.CompletedProcess[bytes]] = []

    def one(index: int) -> None:
        config = tmp_path / f"config{index}.json"
        config.write_text(json.dumps({"destination": str(dest), "max_batch_rows": 50}))
        runs.append(
            subprocess.run(
                [TARGET, "--config", str(config)],
                input=_input(2000, every=50).encode(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr.decode()[-500:] for r in runs]
    assert _landed_rows(dest) == 3 * 2000
    assert _leftovers(dest) == []


def test_given_a_killed_run_left_its_staging_then_the_next_run_removes_it_and_keeps_live_ones(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "out"
    dead = dest / STAGING_DIR / "20250101T000000.000000Z-dead00"
    dead.mkdir(parents=True)
    (dead / LOCK_NAME).write_text("")
    (dead / "abc.parquet.tmp").write_text("partial")
    (dead / "qa" / "0").mkdir(parents=True)
    # A live run is one holding its folder's lock (the reader waits for whole input blocks, so a
    # real target cannot be paused mid-run from here): this process holds one.
    live = dest / STAGING_DIR / "20250101T000000.000000Z-live00"
    live.mkdir()
    (live / "x.parquet.tmp").write_text("being written")
    lock = os.open(live / LOCK_NAME, os.O_CREAT | os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    # A run making its folder, caught between creating its lock file and taking the lock: the
    # lock is free, yet the folder is not a dead run's (a cleaner once removed it under the run).
    nascent = dest / STAGING_DIR / ".20250101T000000.000000Z-born00.init"
    nascent.mkdir()
    (nascent / LOCK_NAME).write_text("")
    try:
        run = run_target(tmp_path, {"destination": str(dest), "max_batch_rows": 5}, _input(20))
    finally:
        os.close(lock)
    assert run.returncode == 0, run.stderr
    assert not dead.exists(), "the dead run's folder is removed"
    assert sorted(p.name for p in (dest / STAGING_DIR).iterdir()) == [nascent.name, live.name]
    assert (live / "x.parquet.tmp").read_text() == "being written"
    assert _landed_rows(dest) == 20


def _write(path: Path, value: dict) -> Path:
    path.write_text(json.dumps(value))
    return path
