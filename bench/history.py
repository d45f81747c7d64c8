"""Run history trimming under load: a database with a large history, jobs firing, an API client.

    python -m bench.history                 # 5,000,000 runs over 50,000 jobs, 1,000 firing a second
    python -m bench.history --quick         # 500,000 runs over 5,000 jobs, 100 firing a second
    python -m bench.history --json

Twice on the same data (SQLite): once with trimming switched off (scheduler.run_history_per_job and
run_history_max_age_days both 0), once keeping KEEP runs per job (the age limit at its default),
so half of every job's history is to go. In each: the jobs (every N/rate seconds, spread over the
period) fire at the raw sink, an API client creates a job every 50 ms, and the server starts on a
database whose runs were written straight into the file (as an upgraded or restored database
arrives). Reported: API write p50, p99 and max, dispatch lateness p50 and p99, runs left, the
backlog left (runs of the filled database past the KEEP newest of their job), and the trim's write
transactions, in all and over 20 ms, and the longest (from /metrics, timed on the writer's thread);
the ratios of the trimmed run's p99s over the untrimmed run's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.server import BenchServer, register_and_log_in
from bench.sink import Sink
from bench.stats import histogram_buckets, percentile
from start import run
from veggiecron.store.sqlite import SqliteStore

RUNS_PER_JOB = 100
KEEP = 50
CHUNK = 50_000


async def fill(db_file: Path, jobs: int, rate: int, sink_url: str) -> float:
    """The jobs (firing `rate` a second in all) and RUNS_PER_JOB runs each; answer the seconds it took."""
    started = time.monotonic()
    period = jobs / rate
    now = time.time()
    store = SqliteStore(str(db_file))
    await store.open()
    try:
        user = await store.create_user("history", "!", now)
        for base in range(0, jobs, CHUNK):
            rows = []
            for i in range(base, min(jobs, base + CHUNK)):
                next_run = now + 5 + period * i / jobs
                rows.append((f"j{i}", {"url": f"{sink_url}/j{i}"}, f"every {period:g} seconds", next_run, next_run))
            await store.import_jobs(user.id, rows, now, job_type="http")
    finally:
        await store.close()
    with closing(sqlite3.connect(db_file)) as db, db:
        ids = [job_id for (job_id,) in db.execute("SELECT id FROM jobs ORDER BY id")]
        day = 86400.0
        for base in range(0, len(ids), 2000):
            db.executemany(
                "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts, status_code) "
                "VALUES (?, ?, ?, 1.0, 'ok', 1, 200)",
                (
                    (job_id, now - 30 * day + r * 600.0, now - 30 * day + r * 600.0)
                    for job_id in ids[base : base + 2000]
                    for r in range(RUNS_PER_JOB)
                ),
            )
    return time.monotonic() - started


def trim_batches(metrics: str) -> tuple[int, int]:
    """Trim batches in all, and those that held the writer over 20 ms, from /metrics' histogram."""
    buckets = histogram_buckets(metrics, "veggiecron_run_history_trim_transaction_seconds")
    total = int(buckets.get(float("inf"), 0.0))
    return total, total - int(buckets.get(0.02, 0.0))


async def one_run(jobs: int, rate: int, seconds: float, trim: bool) -> dict[str, Any]:
    sink = Sink()
    await sink.start()
    # Trimming on: KEEP runs a job, and the age limit left at its default (the defaults are what
    # users run: every step then also looks for runs past the age among those the count keeps).
    limits = {"run_history_per_job": KEEP} if trim else {"run_history_per_job": 0, "run_history_max_age_days": 0}
    server = BenchServer(scheduler=limits)
    try:
        await server.start()
        await server.stop()
        fill_seconds = await fill(server.db_file, jobs, rate, f"http://127.0.0.1:{sink.port}")
        with closing(sqlite3.connect(server.db_file)) as db:
            (filled,) = db.execute("SELECT max(id) FROM runs").fetchone()  # the backlog: runs up to here
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        token = await register_and_log_in(base, "client")
        started = time.time()
        writes: list[float] = []
        async with aiohttp.ClientSession(headers={"X-Auth-Token": token}) as session:
            n = 0
            while time.time() - started < seconds:
                body = {"name": f"c{n}", "data": {"url": f"{base}/x"}, "schedule": "every 1 hours"}
                sent = time.monotonic()
                async with session.post(f"{base}/job", json=body) as response:
                    await response.read()
                    assert response.status == 201, response.status
                writes.append((time.monotonic() - sent) * 1000.0)
                n += 1
                await asyncio.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
            async with session.get(f"{base}/metrics") as response:
                metrics = await response.text()
        longest = next(
            (
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("veggiecron_run_history_trim_longest_transaction_seconds ")
            ),
            0.0,
        )
        batches = trim_batches(metrics)
        lateness = [
            (arrived - datetime.fromisoformat(due.decode()).timestamp()) * 1000.0
            for arrived, due in sink.records
            if due is not None and arrived >= started + 2
        ]
        await server.stop()
        with closing(sqlite3.connect(server.db_file)) as db:
            (left,) = db.execute("SELECT count(*) FROM runs").fetchone()
            # The backlog not worked off: runs of the filled database past the KEEP newest of their
            # job among those (runs recorded since push older ones past the limit too; the next
            # pass takes those, and they are not counted here).
            (backlog,) = db.execute(
                "SELECT count(*) FROM (SELECT ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS n "
                "FROM runs WHERE id <= ?) WHERE n > ?",
                (filled, KEEP),
            ).fetchone()
        return {
            "fill_seconds": round(fill_seconds, 1),
            "api_writes": len(writes),
            "api_write_p50_ms": round(percentile(writes, 0.5), 2),
            "api_write_p99_ms": round(percentile(writes, 0.99), 2),
            "api_write_max_ms": round(max(writes, default=0.0), 2),
            "dispatches": len(lateness),
            "lateness_p50_ms": round(percentile(lateness, 0.5), 2),
            "lateness_p99_ms": round(percentile(lateness, 0.99), 2),
            "runs_left": left,
            "backlog_left": backlog,
            "longest_trim_transaction_ms": round(longest * 1000.0, 1),
            "trim_transactions": batches[0],
            "trim_transactions_over_20_ms": batches[1],
        }
    finally:
        await server.close()
        await sink.stop()


async def bench(jobs: int, rate: int, seconds: float) -> dict[str, Any]:
    off = await one_run(jobs, rate, seconds, trim=False)
    on = await one_run(jobs, rate, seconds, trim=True)
    return {
        "jobs": jobs,
        "runs": jobs * RUNS_PER_JOB,
        "keep_per_job": KEEP,
        "rate": rate,
        "seconds": seconds,
        "trimming_off": off,
        "trimming_on": on,
        "api_write_p99_on_over_off": round(on["api_write_p99_ms"] / max(off["api_write_p99_ms"], 1e-9), 2),
        "lateness_p99_on_over_off": round(on["lateness_p99_ms"] / max(off["lateness_p99_ms"], 1e-9), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--rate", type=int, default=None, help="dispatches a second in all")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measured run")
    parser.add_argument("--quick", action="store_true", help="5,000 jobs, 100 a second, 20 s")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    jobs = args.jobs or (5_000 if args.quick else 50_000)
    rate = args.rate or (100 if args.quick else 1_000)
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    figures = run(bench(jobs, rate, seconds))
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['runs']:,} runs over {jobs:,} jobs, keep {KEEP} per job; {rate}/s firing; {seconds:g} s each")
    for mode in ("trimming_off", "trimming_on"):
        print(f"{mode:>13}  " + "  ".join(f"{k} {v}" for k, v in figures[mode].items()))
    print(
        f"API write p99 on/off {figures['api_write_p99_on_over_off']}; "
        f"lateness p99 on/off {figures['lateness_p99_on_over_off']}"
    )


if __name__ == "__main__":
    main()
