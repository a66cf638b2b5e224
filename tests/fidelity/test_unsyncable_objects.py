"""A real org may list setup entities (FieldDefinition, EntityDefinition) in describeGlobal as
queryable, yet an unfiltered query on them fails: the tap skips them, named in one log line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

SETUP = {"FieldDefinition", "EntityDefinition"}


def test_given_describe_global_lists_setup_entities_when_syncing_them_then_they_are_skipped_once(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=3, scale=10) as org:
        # The way a real org answers: listed beside the data, flagged queryable.
        org.objects = tuple(
            dataclasses.replace(o, listed=True) if o.name in SETUP else o for o in org.objects
        )
        config = tap_config(org, objects=["*Definition", "Account"], api_type="rest")
        run = run_tap(tmp_path, config)
        assert run.returncode == 0, run.stderr
        assert len(run.records("Account")) == org.count("Account")
        assert not [m for m in run.messages if m.get("stream") in SETUP]
        lines = [line for line in run.stderr.splitlines() if "FieldDefinition" in line]
        assert len(lines) == 1, lines
        assert "EntityDefinition, FieldDefinition" in lines[0]
        assert "not synced as streams" in lines[0]
