"""``target-events reconcile`` end to end: a full tap read against the Delta tables' keys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from tests.helpers import TARGET, run_tap, run_target, tap_config, write_json


def _reconcile(config: Path, tap_output: str, *flags: str) -> tuple[int, dict]:
    done = subprocess.run(
        [TARGET, "reconcile", "--config", str(config), *flags],
        input=tap_output,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, {entry["stream"]: entry for entry in lines}


def test_given_a_lost_row_and_a_delete_the_lake_missed_then_reconcile_names_both_keys(
    tmp_path: Path,
) -> None:
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    config = write_json(tmp_path / "reconcile.json", target)
    with SandboxOrg(seed=5, scale=20) as org:
        tap = tap_config(org, objects=["Account"], include_deleted=True)
        run = run_tap(tmp_path, tap)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run_target(tmp_path, target, run.stdout).returncode == 0
        code, report = _reconcile(config, run.stdout, "--strict")
        assert code == 0, report
        account = report["Account"]
        assert account["source_keys"] == account["lake_keys"] > 0
        assert (account["missing"], account["extra"]) == (0, 0)

        table = DeltaTable(str(tmp_path / "lake" / "Account"))
        ids = sorted(table.to_pyarrow_table(columns=["Id"])["Id"].to_pylist())
        lost, gone = ids[0], ids[1]
        table.delete(f"Id = '{lost}'")  # a row lost in the lake
        before = org.org.table("Account")
        months = pc.strftime(before["CreatedDate"], "%Y-%m").to_pylist()
        created = dict(zip(before["Id"].to_pylist(), months, strict=True))
        org.changes.hard_delete("Account", [gone])  # deleted at the source, never synced
        accounts = org.org.table("Account")
        alive = accounts.filter(pc.invert(pc.fill_null(accounts["IsDeleted"], False)))
        again = run_tap(tmp_path, tap)
        assert again.returncode == 0, again.stderr[-2000:]

    code, report = _reconcile(config, again.stdout)
    assert code == 0, "without --strict a difference is reported, not a failure"
    code, report = _reconcile(config, again.stdout, "--strict")
    assert code == 1
    account = report["Account"]
    assert account["missing_keys"] == [[lost]]
    assert account["extra_keys"] == [[gone]]
    assert account["source_keys"] == alive.num_rows

    # Per month of CreatedDate: each difference sits in its key's month, and the months add up.
    code, report = _reconcile(config, again.stdout, "--window", "month")
    account = report["Account"]
    assert account["window_field"] == "CreatedDate"
    windows = {w["window"]: w for w in account["windows"]}
    assert len(windows) > 1, "the org's accounts span several months"
    for name in ("source_keys", "lake_keys", "missing", "extra"):
        assert sum(w[name] for w in windows.values()) == account[name], name
    assert windows[created[lost]]["missing"] == 1
    assert windows[created[gone]]["extra"] == 1
    assert sum(w["missing"] + w["extra"] for w in windows.values()) == 2
