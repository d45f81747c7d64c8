"""A million stored jobs: time from process start to first dispatch, memory, first-minute lateness.

    python -m bench.scale                   # 1,000,000 jobs
    python -m bench.scale --quick           # 100,000 jobs, under a minute
    python -m bench.scale --jobs 1000000 --minutes 1 --json

The jobs are bulk-inserted through the store layer (SqliteStore.import_jobs) before the server
starts: each is `every 1 hours`, their next runs spread evenly over the hour from the moment the
insert begins, so about jobs/3600 fall due every second (278/s for a million), and those due
during the insert and the start are overdue when the server starts.
Then `start.py` starts on that database, with the default scheduler window (300 s), and the raw
sink records every request. Reported: seconds from process start to the first request at the
sink, RSS after the measured minutes (and above an empty server's, per job held in the window and
per job stored), and the lateness of the requests due in the first minute, split into those due
before the server was ready (they wait for the start) and those after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.server import BenchServer
from bench.sink import Sink
from bench.stats import percentile
from start import run
from veggiecron.store.sqlite import SqliteStore

CHUNK = 50_000
HOUR = 3600.0


async def import_jobs(db_file: Path, count: int, sink_url: str, first_due: float) -> float:
    """Insert `count` hourly jobs whose next runs start at first_due; answer the seconds it took."""
    started = time.monotonic()
    store = SqliteStore(str(db_file))
    await store.open()
    try:
        user = await store.create_user("scale", "!", time.time())
        step = HOUR / count
        for base in range(0, count, CHUNK):
            rows = []
            for i in range(base, min(count, base + CHUNK)):
                next_run = first_due + i * step
                rows.append((f"j{i}", {"url": f"{sink_url}/j{i}"}, "every hour", next_run, next_run - HOUR))
            await store.import_jobs(user.id, rows, time.time(), job_type="http")
    finally:
        await store.close()
    return time.monotonic() - started


async def measure(jobs: int, minutes: float) -> dict[str, Any]:
    sink = Sink()
    await sink.start()
    server = BenchServer()
    try:
        # The same program holding no job: what the held jobs add is measured against it.
        await server.start()
        await asyncio.sleep(1.0)
        rss_empty = server.rss_mib()
        await server.stop()
        db_file = server.db_file
        # Due from now on: those that fall due during the insert and the start are overdue when
        # the server starts, so the first dispatch measures the start itself.
        first_due = time.time()
        insert_seconds = await import_jobs(db_file, jobs, f"http://127.0.0.1:{sink.port}", first_due)
        process_start = time.time()
        await server.start()
        ready = time.time()
        while not sink.records and time.time() - process_start < 120:
            await asyncio.sleep(0.01)
        first_dispatch = sink.records[0][0] - process_start if sink.records else float("nan")
        await asyncio.sleep(max(0.0, process_start + minutes * 60 + 2 - time.time()))
        rss = server.rss_mib()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/health") as response:
                health = (await response.json())["data"]
        window_end = process_start + 60
        before_ready: list[float] = []
        after_ready: list[float] = []
        for arrived, due in sink.records:
            if due is None:
                continue
            due_at = datetime.fromisoformat(due.decode()).timestamp()
            if due_at < window_end:
                (before_ready if due_at < ready else after_ready).append((arrived - due_at) * 1000.0)
        return {
            "jobs": jobs,
            "insert_seconds": round(insert_seconds, 1),
            "database_mib": round(db_file.stat().st_size / 2**20),
            "seconds_to_listening": round(ready - process_start, 2),
            "seconds_to_first_dispatch": round(first_dispatch, 2),
            "rss_mib": round(rss, 1),
            "rss_empty_mib": round(rss_empty, 1),
            "jobs_in_window": health["jobs_in_window"],
            # Everything the running server holds beyond an empty one, over the jobs it holds.
            "bytes_per_held_job": round((rss - rss_empty) * 2**20 / max(1, health["jobs_in_window"])),
            "bytes_per_stored_job": round((rss - rss_empty) * 2**20 / jobs),
            "first_minute_requests": len(before_ready) + len(after_ready),
            "due_before_ready": len(before_ready),
            "due_after_ready_lateness_p50_ms": round(percentile(after_ready, 0.5), 2),
            "due_after_ready_lateness_p99_ms": round(percentile(after_ready, 0.99), 2),
            "due_after_ready_lateness_max_ms": round(max(after_ready), 2) if after_ready else None,
            "due_before_ready_lateness_max_ms": round(max(before_ready), 2) if before_ready else None,
        }
    finally:
        await server.close()
        await sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=1.0, help="how long the server runs")
    parser.add_argument("--quick", action="store_true", help="100,000 jobs")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    jobs = args.jobs if args.jobs is not None else (100_000 if args.quick else 1_000_000)
    figures = run(measure(jobs, args.minutes))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>34}  {value}")


if __name__ == "__main__":
    main()
