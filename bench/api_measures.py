"""What bench.api and bench.api_cluster measure alike: the period of a schedule, the dispatch and
load figures of a phase, and a bare tornado handler beside them."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from typing import Any

from bench.load import LoadPlan, LoadProcess, LoadResult
from bench.stats import percentile
from tests.daemon import ROOT
from veggiecron.schedules import parse_schedule


def period_of(schedule: str) -> float:
    """Seconds between two runs of a job on this schedule: the wait until every job has fired once."""
    now = time.time()
    first = parse_schedule(schedule).next_after(now, now)
    second = parse_schedule(schedule).next_after(first, now) if first is not None else None
    if first is None or second is None:
        raise SystemExit(f"bench.api: {schedule!r} does not repeat")
    return second - first


def dispatch_figures(records: list[tuple[float, bytes | None]], seconds: float) -> dict[str, Any]:
    """Requests the sink received in a phase, and their lateness (arrival minus the slot's due time)."""
    lateness = [
        (arrived - datetime.fromisoformat(due.decode()).timestamp()) * 1000.0 for arrived, due in records if due
    ]
    return {
        "dispatches": len(records),
        "dispatches_per_second": round(len(records) / seconds, 1),
        "lateness_p50_ms": round(percentile(lateness, 0.50), 2),
        "lateness_p99_ms": round(percentile(lateness, 0.99), 2),
    }


def load_figures(result: LoadResult) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "requests_per_second": round(result.requests / result.seconds, 1),
        "latency_p50_ms": round(result.latency_p50_ms, 2),
        "latency_p99_ms": round(result.latency_p99_ms, 2),
        "latency_max_ms": round(result.latency_max_ms, 2),
        "non_2xx": result.non_2xx,
        "connection_errors": result.connection_errors,
    }


async def measure_bare(
    connections: int, seconds: float, jobs: int, modes: tuple[str, ...] = ("read", "write")
) -> dict[str, Any]:
    """The same reads and writes against a bare tornado handler (bench/bare.py), idle, in this run."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bare", cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        port = int(line.rsplit(":", 1)[1])
        figures = {}
        for mode in modes:
            load = LoadProcess(LoadPlan(port, "-", mode, connections, seconds, jobs=jobs))
            await load.started()
            figures[mode] = load_figures(await load.result())
        return figures
    finally:
        process.kill()
        await process.wait()
