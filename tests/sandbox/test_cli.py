"""``synthetic-org serve``: the synthetic org as its own process, at a real org's pace."""

from __future__ import annotations

import json
import subprocess
import time

import requests

from tests.helpers import BIN


def test_given_latency_and_bulk_job_seconds_when_serving_then_answers_wait_and_jobs_run() -> None:
    server = subprocess.Popen(
        [
            str(BIN / "synthetic-org"),
            "serve",
            "--json",
            "--scale",
            "5",
            "--latency-ms",
            "300",
            "--bulk-job-seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        http = requests.Session()
        token = http.post(
            f"{info['url']}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "username": info["username"],
                "password": info["password"] + info["security_token"],
            },
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        api = f"{info['url']}/services/data/v62.0"
        started = time.monotonic()
        assert http.get(f"{api}/limits", headers=headers, timeout=10).status_code == 200
        assert time.monotonic() - started >= 0.3  # a lower bound: the sleep the org adds
        job = http.post(
            f"{api}/jobs/query",
            json={"operation": "query", "query": "SELECT Id FROM Account"},
            headers=headers,
            timeout=10,
        ).json()
        state = http.get(f"{api}/jobs/query/{job['id']}", headers=headers, timeout=10).json()
        assert state["state"] in ("UploadComplete", "InProgress")
    finally:
        server.terminate()
        server.wait(timeout=10)
