"""``synthetic-org serve``: run the synthetic org on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from collections.abc import Callable

from .bulk_quota import DAILY_BULK_QUERY_JOBS
from .faults import WRONG_TYPES, Faults
from .state import SandboxOrg


def _int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an ASCII integer in [low, high], or argparse's one-line usage error."""

    def parse(text: str) -> int:
        if not text.strip().lstrip("+-").isascii() or not text.strip().lstrip("+-").isdigit():
            raise argparse.ArgumentTypeError(f"{text[:30]!r} is not an integer")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high] (nan and inf are not durations)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text[:30]!r} is not between {low:g} and {high:g}")
        return value

    return parse


BIG = 2**31 - 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthetic-org", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a seeded synthetic org over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_int(0, 65535), default=0, help="0 picks a free port")
    serve.add_argument("--seed", type=_int(0, BIG), default=1)
    serve.add_argument(
        "--scale",
        type=_int(1, 2_000_000),
        default=200,
        help="number of opportunities; other objects scale with it",
    )
    serve.add_argument(
        "--api-usage-start", type=_int(0, BIG), default=0, help="API calls already used today"
    )
    serve.add_argument("--daily-api-limit", type=_int(1, BIG), default=15_000)
    serve.add_argument(
        "--bulk-job-limit",
        type=_int(0, BIG),
        default=DAILY_BULK_QUERY_JOBS,
        metavar="N",
        help="Bulk API 2.0 query jobs allowed per rolling 24 hours (DailyBulkV2QueryJobs)",
    )
    serve.add_argument(
        "--bulk-jobs-used-start",
        type=_int(0, BIG),
        default=0,
        metavar="N",
        help="Bulk query jobs already created in the last 24 hours",
    )
    serve.add_argument(
        "--activity-field-history",
        action="store_true",
        help="Field History Tracking for Activities on: ActivityFieldHistory exists "
        "(its SystemModstamp cannot be filtered)",
    )
    serve.add_argument(
        "--field-audit-trail",
        action="store_true",
        help="Field Audit Trail on: FieldHistoryArchive is readable",
    )
    serve.add_argument(
        "--extra-objects",
        type=_int(0, 1296),
        default=0,
        help="emulate a large org: this many extra (empty) custom objects, up to 1296",
    )
    serve.add_argument(
        "--json", action="store_true", help="print URL and credentials as one JSON line"
    )
    real = serve.add_argument_group("a real org's pace")
    real.add_argument(
        "--latency-ms",
        type=_number(0, 60_000),
        default=0.0,
        metavar="MS",
        help="added to every API answer (a real org answers in 100-500 ms)",
    )
    real.add_argument(
        "--bulk-job-seconds",
        type=_number(0, 3_600),
        default=0.0,
        metavar="S",
        help="a Bulk query job stays InProgress this long after it is created",
    )
    faults = serve.add_argument_group("fault switches")
    faults.add_argument(
        "--session-expiry-after",
        type=_int(1, BIG),
        metavar="N",
        help="sessions die after N API calls",
    )
    faults.add_argument(
        "--fault-503-every",
        type=_int(1, BIG),
        metavar="N",
        help="every Nth call answers 503 SERVER_UNAVAILABLE",
    )
    faults.add_argument(
        "--request-limit-every",
        type=_int(1, BIG),
        metavar="N",
        help="every Nth call answers REQUEST_LIMIT_EXCEEDED",
    )
    faults.add_argument(
        "--drop-connection-every",
        type=_int(1, BIG),
        metavar="N",
        help="every Nth result page is cut off",
    )
    faults.add_argument(
        "--failed-bulk-jobs",
        type=_int(0, BIG),
        default=0,
        metavar="N",
        help="the next N Bulk jobs fail",
    )
    faults.add_argument(
        "--slow-polls",
        type=_int(0, BIG),
        default=0,
        metavar="N",
        help="Bulk jobs stay InProgress for N polls",
    )
    faults.add_argument(
        "--query-timeout-days",
        type=_number(0.001, 100_000),
        metavar="D",
        help="ranges wider than D days time out",
    )
    faults.add_argument(
        "--fault-describe-unavailable",
        action="append",
        default=[],
        metavar="OBJECT",
        help="describes of OBJECT answer 503 every time (repeatable)",
    )
    faults.add_argument(
        "--random-fault-rate",
        type=_number(0, 1),
        default=0.0,
        metavar="P",
        help="chaos: fault probability per call",
    )
    hostile = serve.add_argument_group(
        "hostile answers",
        "REGEX is searched in the request target (path and query string), e.g. oauth2/token, "
        "FROM\\+Account, /results",
    )
    hostile.add_argument(
        "--fault-slow-body",
        metavar="REGEX",
        help="matching answers send headers, then the body one byte every --slow-body-seconds",
    )
    hostile.add_argument("--slow-body-seconds", type=float, default=2.0, metavar="S")
    hostile.add_argument(
        "--fault-gzip-bomb",
        metavar="REGEX",
        help="matching answers are gzip that inflates to --gzip-bomb-bytes (6 GiB: ~6 MB sent)",
    )
    hostile.add_argument("--gzip-bomb-bytes", type=int, default=6 * 1024**3, metavar="N")
    hostile.add_argument(
        "--fault-huge-body",
        metavar="REGEX",
        help="matching answers stream --huge-body-bytes of body, chunked (no Content-Length)",
    )
    hostile.add_argument("--huge-body-bytes", type=int, default=2 * 1024**3, metavar="N")
    hostile.add_argument(
        "--fault-repeated-locator",
        metavar="OBJECT_REGEX",
        help="REST query pages and Bulk result pages of these objects name themselves as the next",
    )
    hostile.add_argument(
        "--fault-endless-locator",
        metavar="OBJECT_REGEX",
        help="their pages name a fresh locator to the same rows: paging never progresses",
    )
    hostile.add_argument(
        "--fault-wrong-type",
        choices=WRONG_TYPES,
        help="REST query pages carry this member with a wrong type (record: a record not an object)",
    )
    hostile.add_argument(
        "--wrong-type-objects",
        default=".*",
        metavar="OBJECT_REGEX",
        help="the objects whose pages --fault-wrong-type spoils (default: every object)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = Faults(
        session_expiry_after=args.session_expiry_after,
        unavailable_every=args.fault_503_every,
        request_limit_every=args.request_limit_every,
        drop_connection_every=args.drop_connection_every,
        failed_bulk_jobs=args.failed_bulk_jobs,
        slow_polls=args.slow_polls,
        query_timeout_days=args.query_timeout_days,
        unavailable_describes=frozenset(args.fault_describe_unavailable),
        random_rate=args.random_fault_rate,
        random_seed=args.seed,
        slow_body=args.fault_slow_body,
        slow_body_seconds=args.slow_body_seconds,
        gzip_bomb=args.fault_gzip_bomb,
        gzip_bomb_bytes=args.gzip_bomb_bytes,
        huge_body=args.fault_huge_body,
        huge_body_bytes=args.huge_body_bytes,
        repeated_locator=args.fault_repeated_locator,
        endless_locator=args.fault_endless_locator,
        wrong_type=args.fault_wrong_type,
        wrong_type_objects=args.wrong_type_objects,
    )
    try:
        org = SandboxOrg(
            seed=args.seed,
            scale=args.scale,
            faults=faults,
            api_usage_start=args.api_usage_start,
            daily_api_limit=args.daily_api_limit,
            host=args.host,
            port=args.port,
            extra_objects=args.extra_objects,
            latency_ms=args.latency_ms,
            bulk_job_seconds=args.bulk_job_seconds,
            bulk_job_limit=args.bulk_job_limit,
            bulk_jobs_used_start=args.bulk_jobs_used_start,
            activity_field_history=args.activity_field_history,
            field_audit_trail=args.field_audit_trail,
        ).start()
    except (OSError, OverflowError, ValueError) as error:
        # An address this machine does not have, a host that does not resolve, a busy port:
        # one line, not a traceback.
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"synthetic-org: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    creds = org.credentials
    info = {
        "url": org.base_url,
        "username": creds.username,
        "password": creds.password,
        "security_token": creds.security_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token,
    }
    if args.json:
        print(json.dumps(info), flush=True)
    else:
        print(
            f"Synthetic Salesforce org listening on {org.base_url} (seed {args.seed}, scale {args.scale})"
        )
        for key, value in info.items():
            if key != "url":
                print(f"  {key}: {value}")
        print("  (synthetic credentials of a local test org; Ctrl-C stops it)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        org.stop()
    return 0
