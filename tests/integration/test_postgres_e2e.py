"""`meltano run tap-salesforce-temporal target-postgres` (meltanolabs-target-postgres, as declared in
meltano.yml) into a real PostgreSQL server started by the test: rows land, a second run upserts
instead of duplicating, and micro_decision_events keeps its JSON context."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from synthetic_org import SandboxOrg
from tests.helpers import BIN, run_meltano
from tests.postgres_server import postgres_server
from tools.project_copy import copy_project

OBJECTS = ["Opportunity", "OpportunityHistory", "OpportunityFieldHistory", "User"]


@pytest.mark.slow
def test_given_postgres_when_meltano_runs_twice_then_rows_are_upserted_and_events_keep_json_context(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    with postgres_server() as pg, SandboxOrg(seed=7, scale=60) as org:
        creds = org.credentials
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_SALESFORCE_TEMPORAL_EMBEDDED_ORG": "false",
            "TAP_SALESFORCE_TEMPORAL_DOMAIN": org.base_url,
            "TAP_SALESFORCE_TEMPORAL_USERNAME": creds.username,
            "TAP_SALESFORCE_TEMPORAL_PASSWORD": creds.password,
            "TAP_SALESFORCE_TEMPORAL_SECURITY_TOKEN": creds.security_token,
            "TAP_SALESFORCE_TEMPORAL_CLIENT_ID": creds.client_id,
            "TAP_SALESFORCE_TEMPORAL_CLIENT_SECRET": creds.client_secret,
            "TAP_SALESFORCE_TEMPORAL_OBJECTS": json.dumps(OBJECTS),
            "TARGET_POSTGRES_HOST": pg.host,
            "TARGET_POSTGRES_PORT": str(pg.port),
            "TARGET_POSTGRES_USER": pg.user,
            "TARGET_POSTGRES_PASSWORD": "unused-trust-auth",
            "TARGET_POSTGRES_DATABASE": pg.database,
        }
        installed = run_meltano(
            project, "install", "tap-salesforce-temporal", "target-postgres", env=env
        )
        assert installed.returncode == 0, installed.stderr[-3000:]

        first = run_meltano(project, "run", "tap-salesforce-temporal", "target-postgres", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        for name in OBJECTS:
            [[rows, ids]] = pg.query(
                f'SELECT count(*), count(DISTINCT "Id") FROM salesforce."{name}"'
            )
            assert int(rows) == int(ids) == org.count(name), name

        touched = requests.post(
            f"{org.base_url}/__sandbox__/advance", json={"opportunities": 4}, timeout=10
        ).json()["opportunities"]
        assert touched > 0
        second = run_meltano(project, "run", "tap-salesforce-temporal", "target-postgres", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        [[rows, ids]] = pg.query(
            'SELECT count(*), count(DISTINCT "Id") FROM salesforce."Opportunity"'
        )
        assert int(rows) == int(ids) == org.count("Opportunity")

        [[events, distinct]] = pg.query(
            "SELECT count(*), count(DISTINCT event_id) FROM salesforce.micro_decision_events"
        )
        assert int(events) == int(distinct) > 0
        [[column_type]] = pg.query(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'salesforce' "
            "AND table_name = 'micro_decision_events' AND column_name = 'context'"
        )
        assert column_type == "jsonb"
        [[stage_changes]] = pg.query(
            "SELECT count(*) FROM salesforce.micro_decision_events WHERE event_type = 'stage_change' "
            "AND context->>'source_object' = 'OpportunityHistory'"
        )
        assert int(stage_changes) > 0
