"""What veggiecron is measured against, each run as a process of its own by bench/dispatch.py.

    python -m bench.peers ceiling --url URL --seconds S [--pool 100]
    python -m bench.peers apscheduler --url URL --jobs N --seconds S [--herd-at EPOCH] [--pool 100]

ceiling: one bare aiohttp ClientSession, `pool` requests always in flight, as fast as the sink
answers: the most one Python process can send through aiohttp here.

apscheduler: APScheduler 3.x AsyncIOScheduler firing N jobs through one shared aiohttp session
(same pool size), `every 1 seconds` spread evenly over the second, or all at one instant
(--herd-at). Like veggiecron, each request carries its slot's due time in
X-Veggiecron-Scheduled-At, and a job whose previous run is still in flight is skipped
(max_instances=1), runs are coalesced and never dropped for lateness. The executor below hands
the due time to the job and skips APScheduler's per-run event objects, which if anything favours
the peer. It keeps runs in memory only; veggiecron records every run in SQLite.

Each prints one JSON object: CPU seconds and RSS before and after the jobs were added.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from start import run


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def due_header(due_at: float) -> dict[str, str]:
    return {"X-Veggiecron-Scheduled-At": datetime.fromtimestamp(due_at, UTC).isoformat(timespec="microseconds")}


async def ceiling(url: str, seconds: float, pool: int) -> dict[str, Any]:
    cpu_before = cpu_seconds()
    connector = aiohttp.TCPConnector(limit=pool, limit_per_host=pool)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds
        sent = 0

        async def worker() -> None:
            nonlocal sent
            while time.monotonic() < deadline:
                async with session.get(url) as response:
                    await response.read()
                sent += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(pool)))
        elapsed = time.monotonic() - started
    return {"sent": sent, "seconds": elapsed, "cpu_seconds": cpu_seconds() - cpu_before, "rss_mib": rss_mib()}


async def apscheduler(url: str, jobs: int, seconds: float, herd_at: float | None, pool: int) -> dict[str, Any]:
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    class DueTimeExecutor(AsyncIOExecutor):  # type: ignore[misc]
        """Runs the coroutine job once per run time, passing the run time as the due time."""

        def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
            async def run() -> None:
                for run_time in run_times:
                    await job.func(*job.args, run_time.timestamp())

            def finished(task: asyncio.Task[None]) -> None:
                self._pending_futures.discard(task)
                if task.cancelled() or task.exception() is None:
                    self._run_job_success(job.id, [])
                else:
                    self._run_job_error(job.id, task.exception(), None)

            task = self._eventloop.create_task(run())
            task.add_done_callback(finished)
            self._pending_futures.add(task)

    connector = aiohttp.TCPConnector(limit=pool, limit_per_host=pool)
    session = aiohttp.ClientSession(connector=connector)
    errors = 0

    async def fire(path: str, due_at: float = 0.0) -> None:  # due_at comes from the executor
        nonlocal errors
        try:
            async with session.get(url + path, headers=due_header(due_at)) as response:
                await response.read()
        except aiohttp.ClientError:
            errors += 1

    scheduler = AsyncIOScheduler(
        executors={"default": DueTimeExecutor()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )
    rss_before, cpu_before = rss_mib(), cpu_seconds()
    base = time.time() + 2
    for i in range(jobs):
        if herd_at is not None:
            trigger: Any = DateTrigger(run_date=datetime.fromtimestamp(herd_at, UTC))
        else:
            trigger = IntervalTrigger(seconds=1, start_date=datetime.fromtimestamp(base + i / jobs, UTC))
        scheduler.add_job(fire, trigger, args=(f"/j{i}",), id=f"j{i}")
    scheduler.start()
    rss_loaded = rss_mib()
    await asyncio.sleep(seconds)
    figures = {
        "rss_before_mib": rss_before,
        "rss_loaded_mib": rss_loaded,
        "rss_after_mib": rss_mib(),
        "cpu_seconds": cpu_seconds() - cpu_before,
        "errors": errors,
    }
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)  # runs cut off by the stop are expected
    scheduler.shutdown(wait=False)
    await session.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("peer", choices=("ceiling", "apscheduler"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--herd-at", type=float, default=None)
    parser.add_argument("--pool", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    # Both peers run on uvloop when it is installed, as veggiecron does (start.run).
    if args.peer == "ceiling":
        figures = run(ceiling(args.url, args.seconds, args.pool))
    else:
        figures = run(apscheduler(args.url, args.jobs, args.seconds, args.herd_at, args.pool))
    print(json.dumps({**figures, "uvloop": importlib.util.find_spec("uvloop") is not None}))


if __name__ == "__main__":
    main()
