"""Every secret in play, grepped for across a whole successful pipeline at DEBUG log level.

Salesforce password, security token, client secret, refresh token, the JWT private key, and the S3
secret key and session token: none may appear in any stdout, stderr, ``--about`` output, discovered
catalog, STATE, manifest, data file, report, or object landed on S3.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3

from synthetic_org import SandboxOrg
from tests.helpers import TAP, TARGET, write_json
from tests.scenario import DecisionScenario

S3_SECRET = "s3-secret-Zq8vW2kP0xLm4Rt7"
S3_SESSION = "s3-session-token-Yb6nC1dF9gHj3K"


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOGLEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=300, env=env, check=False
    )


def test_given_every_secret_in_play_when_a_whole_pipeline_runs_then_none_appears_anywhere(
    tmp_path: Path, s3_endpoint: str
) -> None:
    configs, work = tmp_path / "configs", tmp_path / "work"
    configs.mkdir()
    work.mkdir()
    with SandboxOrg(org=DecisionScenario()) as org:
        creds = org.credentials
        common = {"domain": org.base_url, "client_id": creds.client_id, "lookback_window": 0}
        password = write_json(
            configs / "password.json",
            {
                **common,
                "auth_flow": "password",
                "username": creds.username,
                "password": creds.password,
                "security_token": creds.security_token,
                "client_secret": creds.client_secret,
            },
        )
        jwt = write_json(
            configs / "jwt.json",
            {
                **common,
                "auth_flow": "jwt",
                "username": creds.username,
                "private_key": creds.private_key_pem,
                "objects": ["User", "SetupAuditTrail"],
            },
        )
        refresh = write_json(
            configs / "refresh.json",
            {
                **common,
                "auth_flow": "refresh_token",
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
                "objects": ["User"],
            },
        )
        runs = [
            _run([TAP, "--about", "--config", str(password)]),
            _run([TAP, "--about", "--format", "json", "--config", str(password)]),
            _run([TAP, "--discover", "--config", str(password)]),
            _run([TAP, "--config", str(jwt)]),
            _run([TAP, "--config", str(refresh)]),
        ]
        tap = _run([TAP, "--config", str(password)])
        runs.append(tap)
    assert all(run.returncode == 0 for run in runs), [r.stderr[-800:] for r in runs if r.returncode]
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIASECRETSTEST0001",
        aws_secret_access_key=S3_SECRET,
    ).create_bucket(Bucket="secure")
    target_settings = {
        "s3_endpoint_url": s3_endpoint,
        "aws_region": "us-east-1",
        "aws_access_key_id": "AKIASECRETSTEST0001",
        "aws_secret_access_key": S3_SECRET,
        "aws_session_token": S3_SESSION,
    }
    s3_config = write_json(
        configs / "s3.json", {"destination": "s3://secure/sf", **target_settings}
    )
    local_config = write_json(
        configs / "local.json", {"destination": str(work / "landed"), **target_settings}
    )
    runs += [
        _run([TARGET, "--about", "--config", str(s3_config)]),
        _run([TARGET, "--config", str(s3_config)], stdin=tap.stdout),
        _run([TARGET, "--config", str(local_config)], stdin=tap.stdout),
        _run([TARGET, "report", "--config", str(s3_config), "--format", "html", "--output", str(work / "report.html")]),
        _run([TARGET, "report", "--config", str(local_config), "--format", "json"]),
    ]  # fmt: skip
    assert all(run.returncode == 0 for run in runs), [r.stderr[-800:] for r in runs if r.returncode]
    assert "Data quality" in runs[-4].stderr, "the DEBUG-level target log was captured"

    secrets = {
        "password": creds.password,
        "security_token": creds.security_token,
        "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token,
        "aws_secret_access_key": S3_SECRET,
        "aws_session_token": S3_SESSION,
    }
    key_lines = [line for line in creds.private_key_pem.splitlines() if "PRIVATE KEY" not in line]
    secrets |= {f"private_key line {n}": line for n, line in enumerate(key_lines)}
    assert all(len(value) >= 12 for value in secrets.values())

    haystacks = {f"run {n} stdout": run.stdout for n, run in enumerate(runs)}
    haystacks |= {f"run {n} stderr": run.stderr for n, run in enumerate(runs)}
    files = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    assert any("_manifests" in p.parts for p in files)
    haystacks |= {str(p): p.read_bytes().decode("latin-1") for p in files}
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIASECRETSTEST0001",
        aws_secret_access_key=S3_SECRET,
    )
    objects = client.list_objects_v2(Bucket="secure")["Contents"]
    assert any("_manifests/" in o["Key"] for o in objects)
    for item in objects:
        body = client.get_object(Bucket="secure", Key=item["Key"])["Body"].read()
        haystacks[f"s3://secure/{item['Key']}"] = body.decode("latin-1")
    leaks = [
        f"{name} in {where}"
        for where, text in haystacks.items()
        for name, value in secrets.items()
        if value in text
    ]
    assert leaks == []
