"""Parts of the several-nodes tests: nodes as real processes on one PostgreSQL, the local target
(tests.helpers.Sink) that records what each delivery says of itself, and the counting of slots."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.daemon import Daemon
from tests.e2e.commands import clean_env, command
from tests.helpers import Api, Delivery, Sink, start_sink


async def start_recorder() -> tuple[Sink, web.AppRunner]:
    """The local target of the several-nodes tests: deliveries only, answered quickly."""
    return await start_sink(shutdown_timeout=1.0, keep_hits=False)


def cluster_config(database: str, **cluster: Any) -> dict[str, Any]:
    settings = {"lease_seconds": 5.0, "reap_interval_seconds": 0.5, "poll_interval_seconds": 1.0, **cluster}
    return {
        "database": database,
        "cluster": settings,
        "log_level": "INFO",
        # Loopback in tests: every job aims at one local target, so it may hold many connections.
        "http_client": {"pool_size": 400, "pool_per_host": 400},
        "quotas": {"max_jobs_per_user": 100_000, "max_runs_per_minute": 100_000_000},
    }


async def start_nodes(count: int, tmp_path: Path, database: str, **cluster: Any) -> list[Daemon]:
    config = cluster_config(database, **cluster)
    for i in range(count):
        (tmp_path / f"node{i}").mkdir(parents=True, exist_ok=True)
    nodes = [Daemon(tmp_path / f"node{i}", **config) for i in range(count)]
    await asyncio.gather(*(node.start() for node in nodes))
    return nodes


async def create_jobs(
    api: Api, names: Iterable[str], url: str, schedule: str = "every 1 seconds", **extra: Any
) -> None:
    """Create jobs through the API, a few requests at a time."""
    pending = list(names)

    async def worker() -> None:
        while pending:
            name = pending.pop()
            await api.create_job(name, url, schedule=schedule, data={"url": f"{url}/{name}"}, **extra)

    await asyncio.gather(*(worker() for _ in range(8)))


async def import_jobs(
    database: str, username: str, names: Sequence[str], url: str, workdir: Path, **fields: Any
) -> None:
    """Create jobs every second all at once, as an operator brings many in: `veggiecron import` of a
    jobs file into the shared database (2 s for 1,000 jobs, where the API took 20 s beside three
    nodes sending the jobs already made). Each job's grid starts at its own point of the second,
    so that they fall due spread over it, as jobs created one by one do."""
    whole = math.floor(time.time()) - 60
    jobs = [
        {
            "name": name,
            "schedule": "every 1 seconds",
            "data": {"url": f"{url}/{name}"},
            **fields,
            "progress": {"anchor": whole + i / len(names)},
        }
        for i, name in enumerate(names)
    ]
    path = workdir / f"import-{names[0]}.json"
    path.write_text(json.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": jobs}))
    quotas = cluster_config(database)["quotas"]
    env = clean_env(**{f"VEGGIECRON_QUOTAS__{key.upper()}": str(value) for key, value in quotas.items()})
    done = await asyncio.to_thread(
        command, "import", username, str(path), "--database", database, cwd=workdir, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr


def keeps_time(recorder: Sink, jobs: int, within: float = 0.5) -> bool:
    """Whether the cluster keeps up with `jobs` jobs every second: each job sent twice, and the
    latest second's deliveries each within `within` of its slot. Jobs brought in all at once
    (import_jobs) first meet nodes that open their connections and compile them all in the same
    moment: on a 2-core machine their first slots came 2 s late, and their next slots were rightly
    skipped as overlapping (overlap: skip), before the window a test counts."""
    every = scheduled(recorder.deliveries)
    return len(every) >= 2 * jobs and all(d.arrived - d.slot <= within for d in every[-jobs:])


def scheduled(deliveries: list[Delivery]) -> list[Delivery]:
    """The deliveries of the jobs on a schedule, without those of the jobs a test runs by hand on
    one node, whose paths start with /slow (the sink holds those for seconds)."""
    return [d for d in deliveries if not d.path.startswith("/slow")]


def slot_key(slot: float) -> float:
    """A slot as the same number whichever way it came: read from the database as a float, or from
    a request's Idempotency-Key as whole microseconds. Rounded to the microsecond, not to the
    millisecond: a job whose slots fall on half a millisecond (say .6535) gives .653 from one and
    .654 from the other, and its recorded slots would not meet its grid."""
    return round(slot * 1_000_000) / 1_000_000


def gaps(deliveries: list[Delivery], start: float, end: float, period: float = 1.0) -> dict[int, list[float]]:
    """Per job, the slots in [start, end] missing from its grid (every `period` seconds)."""
    slots: dict[int, set[float]] = defaultdict(set)
    for d in deliveries:
        slots[d.job_id].add(round(d.slot, 6))
    missing: dict[int, list[float]] = {}
    for job_id, seen in slots.items():
        ordered = sorted(seen)
        first = next((s for s in ordered if s >= start), None)
        if first is None:
            missing[job_id] = [start]
            continue
        expected = [round(first + k * period, 6) for k in range(int((end - first) // period) + 1)]
        lost = [s for s in expected if s not in seen]
        if lost or first > start + period:
            missing[job_id] = lost or [start]
    return missing


def copies(deliveries: list[Delivery]) -> dict[tuple[int, float], list[Delivery]]:
    """The slots delivered more than once, each with its copies in order of arrival."""
    by_slot: dict[tuple[int, float], list[Delivery]] = defaultdict(list)
    for d in deliveries:
        by_slot[(d.job_id, round(d.slot, 6))].append(d)
    return {key: sorted(found, key=lambda d: d.arrived) for key, found in by_slot.items() if len(found) > 1}


async def metric(node: Daemon, name: str) -> float:
    """One sample of a node's /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{node.port}/metrics") as reply:
        text = await reply.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics of node {node.port}")
