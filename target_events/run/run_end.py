"""What happens once every STATE is out: the quality check, the run manifest, the verdict.

The manifest lists every file (or Delta commit) the run made durable, per stream its rows, bytes,
schema fingerprints, partition range, columns and load kind (full or incremental); the quality
check compares the run with the last run that loaded each stream the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import asdict

from ..errors import QualityError, StorageError
from .ledger import FileEntry, RunLedger

MANIFESTS_LOOKED_BACK = 50  # how far back a run of the same kind is looked for


def replace_refreshed_tables(ledger: RunLedger) -> None:
    """format delta: the full refreshes owed at the end of the run replace their tables."""
    for commit in ledger.lake.replace_owed():
        ledger.files.append(
            FileEntry(
                f"{commit.stream}/_delta_log/{commit.version:020d}.json",
                commit.uri,
                commit.stream,
                commit.rows,
                0,
                "",
                "full-refresh",
            )
        )


def finish(ledger: RunLedger) -> None:
    """Check quality, write the manifest, log the run, then judge (qa_mode strict)."""
    settings, logger = ledger.settings, ledger.logger
    verdict, broken = None, None
    try:
        verdict = _check_quality(ledger) if ledger.quality.enabled else None
    except (OSError, StorageError, RuntimeError, ValueError) as error:  # duckdb's errors too
        broken = f"data quality check could not run: {type(error).__name__}: {error}"
        logger.warning("%s", broken)
    manifest = settings.write_manifest and bool(ledger.files)
    try:
        if manifest:
            _write_manifest(ledger, verdict)
    finally:
        ledger.close()
    logger.info(
        "target-events run %s: %d files, %d rows, %d invalid records",
        ledger.run_id,
        len(ledger.files),
        sum(f.rows for f in ledger.files),
        ledger.invalid_records,
    )
    for stream, count in sorted(ledger.reconciled.items()):
        logger.info(
            "target-events run %s: %s: %d tombstones from key reconciliation",
            ledger.run_id,
            stream,
            count,
        )
    if settings.qa_mode != "strict":
        return
    if broken:
        raise QualityError(f"{broken} (qa_mode strict)")
    if verdict and verdict["findings"]:
        first, more = verdict["findings"][0], len(verdict["findings"]) - 1
        raise QualityError(
            f"data quality check failed (qa_mode strict): {first}"
            + (f" (+{more} more finding(s))" if more else "")
            + (f"; see _manifests/{ledger.run_id}.json" if manifest else "")
        )


def _previous_manifests(ledger: RunLedger) -> Iterator[tuple[str, dict]]:
    """(key, manifest) of earlier runs, newest first (run ids sort by time), at most
    MANIFESTS_LOOKED_BACK of them; one that is not JSON is skipped with a warning."""
    keys = sorted(
        k
        for k in ledger.storage.list_keys("_manifests")
        if k.endswith(".json") and not k.endswith(f"/{ledger.run_id}.json")
    )
    for key in reversed(keys[-MANIFESTS_LOOKED_BACK:]):
        try:
            manifest = json.loads(ledger.storage.read_bytes(key))
        except ValueError:
            ledger.logger.warning("Previous manifest %s is not valid JSON; not compared", key)
            continue
        if isinstance(manifest, dict):
            yield key, manifest


def _comparable_runs(ledger: RunLedger) -> tuple[dict | None, dict[str, tuple[str, dict]]]:
    """The last run's manifest, and per stream of this run the last run that loaded it the
    same way (full or incremental): drift is only measured like with like."""
    latest: dict | None = None
    same_kind: dict[str, tuple[str, dict]] = {}
    wanted = {stream: ledger.load_kinds.kind(stream) for stream in ledger.quality.streams}
    for _, manifest in _previous_manifests(ledger):
        latest = manifest if latest is None else latest
        streams = manifest.get("streams")
        for stream, summary in (streams if isinstance(streams, dict) else {}).items():
            if (
                stream in wanted
                and stream not in same_kind
                and isinstance(summary, dict)
                and summary.get("load") == wanted[stream]  # runs before "load": never
            ):
                same_kind[stream] = (str(manifest.get("run_id")), summary)
        if len(same_kind) == len(wanted):
            break
    return latest, same_kind


def _check_quality(ledger: RunLedger) -> dict:
    latest, same_kind = _comparable_runs(ledger)
    verdict = ledger.quality.evaluate(latest, ledger.load_kinds, same_kind)
    for finding in verdict["findings"]:
        ledger.logger.warning("Data quality: %s", finding)
    for stream, entry in verdict["streams"].items():
        ledger.logger.info(
            "Data quality: stream %s: %d rows, %s duplicate keys, drift %s",
            stream,
            entry["rows"],
            entry.get("duplicate_keys", "n/a"),
            entry.get("row_drift", "n/a"),
        )
    return verdict


def _write_manifest(ledger: RunLedger, quality: dict | None) -> None:
    streams: dict[str, dict] = {}
    for entry in ledger.files:
        summary = streams.setdefault(
            entry.stream, {"files": 0, "rows": 0, "bytes": 0, "schema_fingerprints": []}
        )
        summary["files"] += 1
        summary["rows"] += entry.rows
        summary["bytes"] += entry.bytes
        if entry.schema_fingerprint not in summary["schema_fingerprints"]:
            summary["schema_fingerprints"].append(entry.schema_fingerprint)
        if entry.min_value is not None and entry.max_value is not None:  # set together
            summary["partition_min"] = min(
                summary.get("partition_min", entry.min_value), entry.min_value
            )
            summary["partition_max"] = max(
                summary.get("partition_max", entry.max_value), entry.max_value
            )
    manifest = {
        "run_id": ledger.run_id,
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "format": ledger.settings.format,
        "compression": ledger.settings.compression,
        "streams": streams,
        "files": [asdict(entry) for entry in ledger.files],
        "invalid_records": ledger.invalid_records,
        "reconciled_tombstones": ledger.reconciled,
        "quality": quality,
    }
    for stream, summary in streams.items():
        summary["columns"] = ledger.quality.columns(stream)
        summary["load"] = ledger.load_kinds.kind(stream)
    payload = json.dumps(manifest, indent=2, default=str)
    ledger.storage.put(
        f"_manifests/{ledger.run_id}.json", lambda path: path.write_text(payload), ".json"
    )
