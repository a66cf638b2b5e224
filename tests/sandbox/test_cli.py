"""``synthetic-org serve``: the synthetic org as its own process, at a real org's pace."""

from __future__ import annotations

import time

from tests.helpers import serve_org


def test_given_latency_and_bulk_job_seconds_when_serving_then_answers_wait_and_jobs_run() -> None:
    with serve_org("--latency-ms", "300", "--bulk-job-seconds", "60") as (api, http, headers):
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
