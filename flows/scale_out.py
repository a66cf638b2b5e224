"""The Prefect flow: orgs x shards, each shard a task, all into one destination (issue #29).

``sync_orgs`` plans every org (``tap-salesforce-temporal plan --shards N``, with
``org_id_column`` on so the orgs' rows and keys never collide in the lake), then submits every
shard of every org to the flow's task runner at once (threads: each task waits on its two
processes), each task with retries and its own STATE in the ``StateStore``. Once every shard
has landed, the decision report runs over the lake. A failed shard fails the flow run after
the other shards finished; the next run resumes each shard from its own STATE (a finished
shard reads only what changed since).

Per-run data quality is the target's own ``qa_mode`` check, run by each shard's target over
the tables it wrote; set it in ``target_config``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from .shard import ERROR_TAIL, TAP, TARGET, ShardFailed, ShardJob, run_pipe
from .state_store import StateStore

# Shards of all orgs run at once up to this many tasks (each task is two processes).
MAX_PARALLEL_SHARDS = 16


@dataclass(frozen=True)
class Org:
    """One org to sync: a name (the state store's folder for it) and its tap config, as a
    dict or as the path of a JSON file (credentials then stay out of the flow run's
    parameters, which Prefect records)."""

    name: str
    tap_config: dict[str, Any] | str


@dataclass(frozen=True)
class Commands:
    """The tap's and the target's command lines (default: next to this Python)."""

    tap: tuple[str, ...] = TAP
    target: tuple[str, ...] = TARGET


@dataclass(frozen=True)
class ShardResult:
    org: str
    shard: str
    streams: tuple[str, ...]
    start_state: dict  # the STATE it started from ({} on a first run)
    state: dict | None  # the last STATE the target acknowledged
    seconds: float


@dataclass(frozen=True)
class ScaleOutResult:
    shards: list[ShardResult]
    failed: list[str] = field(default_factory=list)  # "org/shard: error"
    report: str | None = None  # the decision report (JSON), once every shard landed


def _config(value: dict[str, Any] | str) -> dict[str, Any]:
    """A config given as a dict or as the path of a JSON file."""
    if isinstance(value, str):
        loaded = json.loads(Path(value).read_text())
        assert isinstance(loaded, dict), f"{value}: not a JSON object"
        return loaded
    return value


def _run(args: list[str]) -> None:
    """Run a command; its failure names the command and ends with its stderr."""
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0:
        tail = done.stderr[-ERROR_TAIL:].decode(errors="replace")
        raise RuntimeError(f"{' '.join(args[:2])} exited {done.returncode}: {tail}")


def _private_json(path: Path, value: object) -> str:
    """A config file only this user may read (tap configs hold credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    path.write_text(json.dumps(value))
    return str(path)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2, task_run_name="plan {org.name}")
def plan_org(
    org: Org, shards: int, workdir: str, target_config: str, commands: Commands
) -> list[ShardJob]:
    """The org's shards (``plan --shards``), each a job for ``sync_shard``."""
    folder = Path(workdir) / org.name
    config = _private_json(folder / "tap.json", {**_config(org.tap_config), "org_id_column": True})
    output = folder / "plan"
    _run(
        [
            *commands.tap,
            "plan",
            "--shards",
            str(shards),
            "--config",
            config,
            "--output",
            str(output),
        ],
    )
    plan = json.loads((output / "plan.json").read_text())
    target = _config(target_config)
    return [
        ShardJob(
            org=org.name,
            shard=entry["shard"],
            streams=tuple(entry["streams"]),
            tap_config=config,
            catalog=entry["catalog"],
            # One file per shard: its processes are told apart by their command lines.
            target_config=_private_json(folder / "targets" / f"{entry['shard']}.json", target),
            logs=str(folder / "logs" / entry["shard"]),
        )
        for entry in plan["shards"]
    ]


@task(cache_policy=NO_CACHE, task_run_name="{job.org}/{job.shard}")
def sync_shard(
    job: ShardJob,
    others: Sequence[str],
    store: StateStore,
    commands: Commands,
    state_every_seconds: float,
) -> ShardResult:
    """``tap | target`` for one shard from its own STATE; acknowledged STATE saved as it comes
    and at the end, so a retry (or the next flow run) resumes where this attempt stopped."""
    started = time.monotonic()
    start = store.start_state(job.org, job.shard, job.streams, others)
    attempt = len(list(Path(job.logs).glob("attempt-*.tap.log"))) + 1
    outcome = run_pipe(
        job,
        start,
        lambda state: store.put(job.org, job.shard, state),
        tap=commands.tap,
        target=commands.target,
        state_every_seconds=state_every_seconds,
        attempt=attempt,
    )
    if not outcome.ok:
        raise ShardFailed(f"{job.org}/{job.shard}: {outcome.error}")
    return ShardResult(
        job.org, job.shard, job.streams, start, outcome.state, time.monotonic() - started
    )


@task(cache_policy=NO_CACHE, task_run_name="decision report")
def decision_report(target_config: str, output: str, commands: Commands) -> str:
    """The target's decision report over the whole lake (every org's events), as JSON."""
    _run(
        [
            *commands.target,
            "report",
            "--config",
            target_config,
            "--format",
            "json",
            "--output",
            output,
        ],
    )
    return output


# Threads: each task only waits on its two processes. (Typed Any: Prefect's decorator
# expects TaskRunner[PrefectFuture[Any]] and the runner is generic over its future's result.)
TASK_RUNNER: Any = ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_SHARDS)


@flow(name="salesforce-scale-out", task_runner=TASK_RUNNER)
def sync_orgs(
    orgs: list[Org],
    shards: int,
    target_config: dict[str, Any] | str,
    state_url: str,
    workdir: str,
    state_s3: dict[str, str] | None = None,
    shard_retries: int = 2,
    state_every_seconds: float = 1.0,
    commands: Commands | None = None,
) -> ScaleOutResult:
    """Every shard of every org into ``target_config``'s destination, then the report.

    Raises once every shard has finished if any failed (after ``shard_retries``), naming them;
    their STATE is saved: rerun the flow to resume them.
    """
    logger = get_run_logger()
    commands = commands or Commands()
    store = StateStore(state_url, state_s3 or {})
    target = _private_json(Path(workdir) / "target.json", _config(target_config))
    planned = [plan_org.submit(org, shards, workdir, target, commands) for org in orgs]
    jobs = [job for future in planned for job in future.result()]
    names = {org.name: [j.shard for j in jobs if j.org == org.name] for org in orgs}
    futures = [
        # Tagged per org: a Prefect tag concurrency limit caps one org's shards at once.
        sync_shard.with_options(
            retries=shard_retries, retry_delay_seconds=2, tags={f"org:{job.org}"}
        ).submit(
            job,
            [s for s in names[job.org] if s != job.shard],
            store,
            commands,
            state_every_seconds,
        )
        for job in jobs
    ]
    wait(futures)
    results, failed = [], []
    for job, future in zip(jobs, futures, strict=True):
        if future.state.is_completed():
            results.append(future.result())
        else:
            failed.append(f"{job.org}/{job.shard}: {future.state.message}")
    for result in results:
        logger.info("%s/%s landed in %.1f s", result.org, result.shard, result.seconds)
    if failed:
        raise ShardFailed(f"{len(failed)} shard(s) failed: " + "; ".join(failed))
    report = decision_report(target, str(Path(workdir) / "report.json"), commands)
    return ScaleOutResult(results, failed, report)
