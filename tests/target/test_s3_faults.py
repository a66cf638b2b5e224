"""S3 failing at each call the target makes: one line, non-zero exit, no STATE past unwritten data.

A small fault proxy sits between the target and moto's server (real HTTP both ways) and answers one
kind of S3 request with an error, the way a real store refuses it (403 AccessDenied, not retried, or
404 NoSuchBucket as when the bucket is deleted mid-run). The storage code is not mocked.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from tests.helpers import run_target, singer_lines

KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "fault-secret-value-123",
    "aws_region": "us-east-1",
}
Rule = Callable[[str, str, dict[str, list[str]]], bool]
RULES: dict[str, Rule] = {
    "head_bucket": lambda method, path, query: method == "HEAD" and path.count("/") == 1,
    "list_objects": lambda method, path, query: method == "GET" and "list-type" in query,
    "put_object": lambda method, path, query: method == "PUT" and "uploadId" not in query,
    "create_multipart_upload": lambda method, path, query: method == "POST" and "uploads" in query,
    "upload_part": lambda method, path, query: method == "PUT" and "partNumber" in query,
    "complete_multipart_upload": lambda method, path, query: (
        method == "POST" and "uploadId" in query
    ),
}
ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    b"<Message>injected by the test</Message></Error>"
)


class FaultProxy:
    """Forwards to moto; answers requests matching ``rule`` with ``status`` / ``code``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream).netloc
        self.rule: Rule = lambda method, path, query: False
        self.status, self.code, self.hits = 403, "AccessDenied", 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
                if proxy.rule(self.command, parts.path, query):
                    proxy.hits += 1
                    payload = ERROR.replace(b"{code}", proxy.code.encode())
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    fault = FaultProxy(s3_endpoint)
    yield fault
    fault.close()


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["aws_access_key_id"],
        aws_secret_access_key=KEYS["aws_secret_access_key"],
    )


def _lines(n: int, pad: int) -> str:
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "schema": {"properties": {"Id": {"type": "string"}, "pad": {"type": "string"}}},
    }
    records = [
        {
            "type": "RECORD",
            "stream": "events",
            "record": {"Id": f"e{i}", "pad": os.urandom(pad).hex()},
        }
        for i in range(n)
    ]
    return singer_lines(schema, *records, {"type": "STATE", "value": {"n": n}})


def _errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("target-events:") or "| ERROR" in line or "Traceback" in line
    ]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("head_bucket", "target-events: S3 bucket 'faults{i}' is not usable (403)"),
        ("put_object", "target-events: upload of s3://faults{i}/raw/events/"),
        ("create_multipart_upload", "target-events: upload of s3://faults{i}/raw/events/"),
        ("upload_part", "target-events: upload of s3://faults{i}/raw/events/"),
        ("complete_multipart_upload", "target-events: upload of s3://faults{i}/raw/events/"),
        ("list_objects", "target-events: data quality check could not run: StorageError: listing"),
    ],
)
def test_given_s3_refusing_one_call_then_one_line_nonzero_exit_and_no_state(
    proxy: FaultProxy, s3_endpoint: str, tmp_path: Path, call: str, expected: str
) -> None:
    index = list(RULES).index(call)
    bucket = f"faults{index}"
    client = _client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    multipart = call in ("create_multipart_upload", "upload_part", "complete_multipart_upload")
    # A 6 MB record makes the file bigger than the 5 MiB part size: a multipart upload.
    stdin = _lines(2, 3 * 1024 * 1024) if multipart else _lines(3, 10)
    config = {
        "destination": f"s3://{bucket}/raw",
        "s3_endpoint_url": proxy.url,
        "format": "jsonl",
        "s3_part_size_mb": 5,
        "qa_mode": "strict" if call == "list_objects" else "off",
        **KEYS,
    }
    proxy.rule = RULES[call]
    run = run_target(tmp_path, config, stdin)
    assert proxy.hits >= 1, f"{call} was never made"
    assert run.returncode == 1, run.stderr[-2000:]
    errors = _errors(run.stderr)
    assert len(errors) == 1, run.stderr[-2000:]
    assert errors[0].startswith(expected.format(i=index)), errors[0]
    assert KEYS["aws_secret_access_key"] not in run.stderr
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    if call == "list_objects":  # the data was written: its STATE may go out, nothing more
        assert [key["Key"] for key in listed if "/events/" in key["Key"]]
        assert run.states in ([], [{"n": 3}])
    else:
        assert run.states == [], "no STATE may pass records that were not written"
        assert listed == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) in ([], None) or (
        call == "complete_multipart_upload"
    )


def test_given_the_bucket_deleted_mid_run_then_one_line_and_state_stops_at_the_last_upload(
    proxy: FaultProxy, s3_endpoint: str, tmp_path: Path
) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="gone")
    uploads = {"n": 0}

    def deleted_after_two(method: str, path: str, query: dict[str, list[str]]) -> bool:
        if method == "PUT":
            uploads["n"] += 1
        return method == "PUT" and uploads["n"] > 2

    proxy.rule, proxy.status, proxy.code = deleted_after_two, 404, "NoSuchBucket"
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "schema": {"properties": {"Id": {"type": "string"}}},
    }
    messages: list[dict] = [schema]
    for i in range(20):
        messages.append({"type": "RECORD", "stream": "events", "record": {"Id": f"e{i}"}})
        messages.append({"type": "STATE", "value": {"n": i + 1}})
    config = {
        "destination": "s3://gone/raw",
        "s3_endpoint_url": proxy.url,
        "max_batch_rows": 1,
        "qa_mode": "off",
        **KEYS,
    }
    run = run_target(tmp_path, config, singer_lines(*messages))
    assert run.returncode == 1
    errors = _errors(run.stderr)
    assert len(errors) == 1, run.stderr[-2000:]
    assert "NoSuchBucket" in errors[0]
    assert errors[0].startswith("target-events: upload of s3://gone/raw/events/")
    written = len(client.list_objects_v2(Bucket="gone").get("Contents", []))
    assert written == 2
    assert [s["n"] for s in run.states] == [1, 2][: len(run.states)]
    assert json.dumps(KEYS["aws_secret_access_key"]) not in run.stderr
