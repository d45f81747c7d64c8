"""Run history trimming under load: a database with a large history, jobs firing, an API client.

    python -m bench.history                 # 5,000,000 runs over 50,000 jobs, 1,000 firing a second
    python -m bench.history --quick         # 500,000 runs over 5,000 jobs, 100 firing a second
    python -m bench.history --json
    python -m bench.history --store postgresql   # the same on one node over an embedded PostgreSQL

Twice on the same data (SQLite unless --store says PostgreSQL): once with trimming switched off
(scheduler.run_history_per_job and run_history_max_age_days both 0), once keeping KEEP runs per job
(the age limit at its default), so half of every job's history is to go. In each: the jobs (every
N/rate seconds, spread over the period) fire at the raw sink, an API client creates a job every 50
ms, and the server starts on a database whose runs were written straight into it (as an upgraded or
restored database arrives). Reported: API write p50, p99 and max, dispatch lateness p50 and p99,
the server's CPU (and PostgreSQL's) while measured, runs left, the backlog left (runs of the filled
database past the KEEP newest of their job), and the trim's write transactions, in all and over 20
ms, and the longest (from /metrics, timed on the writer's thread; on PostgreSQL as the database
timed the statement, its commit not included); the ratios of the trimmed run's p99s over the
untrimmed run's. On PostgreSQL each run gets a new database on one server (tests/postgres.py), its
runs written with COPY, then vacuumed and analysed.
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
from typing import Any, Protocol

import aiohttp
import asyncpg

from bench.cluster import CLUSTER, postgres_cpu_seconds, postmaster_pid
from bench.server import BenchServer, register_and_log_in
from bench.sink import Sink
from bench.stats import histogram_buckets, percentile
from start import run
from tests.postgres import PostgresServer
from veggiecron.store import Store
from veggiecron.store.postgres import PostgresStore
from veggiecron.store.sqlite import SqliteStore

RUNS_PER_JOB = 100
KEEP = 50
CHUNK = 50_000


# The backlog not worked off: runs of the filled database past the KEEP newest of their job among
# those (runs recorded since push older ones past the limit too; the next pass takes those, and
# they are not counted here). Parameters: the filled database's last run id, KEEP.
BACKLOG = (
    "SELECT count(*) FROM (SELECT ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY id DESC) AS n "
    "FROM runs WHERE id <= {0}) AS r WHERE n > {1}"
)


async def fill_jobs(store: Store, jobs: int, rate: int, sink_url: str, now: float) -> None:
    """The jobs, firing `rate` a second in all, spread over their period."""
    period = jobs / rate
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


# The jobs' first slots fall due 5 s after the fill ends, not after it began: filling takes 10 to 30 s,
# and a server that started with that much overdue sent a catch-up of every job at once, as late as
# the fill was long, in the measured window.
SHIFT_JOBS = "UPDATE jobs SET next_run = next_run + {0}, anchor = anchor + {0}"


def old_runs(job_ids: list[int], now: float) -> Any:
    """RUNS_PER_JOB runs of each job, ten minutes apart, the oldest 30 days ago: (job_id, due_at, started_at)."""
    start = now - 30 * 86400.0
    return ((job_id, start + r * 600.0, start + r * 600.0) for job_id in job_ids for r in range(RUNS_PER_JOB))


class History(Protocol):
    """Where one run's database lives: the server over it, filling it, counting what is left."""

    def server(self, scheduler: dict[str, Any]) -> BenchServer: ...

    async def fill(self, jobs: int, rate: int, sink_url: str) -> tuple[float, int]:
        """Fill the database; answer the seconds it took and the last run id written."""
        ...

    async def left(self, filled: int) -> tuple[int, int]:
        """The runs left, and the backlog left (BACKLOG)."""
        ...

    def database_cpu_seconds(self) -> float | None:
        """CPU the database server has used (None: it is the server's own process)."""
        ...

    async def close(self) -> None: ...


class SqliteHistory:
    def __init__(self) -> None:
        self._server: BenchServer | None = None

    def server(self, scheduler: dict[str, Any]) -> BenchServer:
        self._server = BenchServer(scheduler=scheduler)
        return self._server

    @property
    def db_file(self) -> Path:
        assert self._server is not None
        return self._server.db_file

    async def fill(self, jobs: int, rate: int, sink_url: str) -> tuple[float, int]:
        assert self._server is not None
        await self._server.start()  # the server makes and migrates its database
        await self._server.stop()
        started, now = time.monotonic(), time.time()
        await fill_jobs(SqliteStore(str(self.db_file)), jobs, rate, sink_url, now)
        with closing(sqlite3.connect(self.db_file)) as db, db:
            ids = [job_id for (job_id,) in db.execute("SELECT id FROM jobs ORDER BY id")]
            for base in range(0, len(ids), 2000):
                db.executemany(
                    "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts, status_code) "
                    "VALUES (?, ?, ?, 1.0, 'ok', 1, 200)",
                    old_runs(ids[base : base + 2000], now),
                )
            (filled,) = db.execute("SELECT max(id) FROM runs").fetchone()
            db.execute(SHIFT_JOBS.format("?1"), (time.time() - now,))
        return time.monotonic() - started, filled

    async def left(self, filled: int) -> tuple[int, int]:
        with closing(sqlite3.connect(self.db_file)) as db:
            (runs,) = db.execute("SELECT count(*) FROM runs").fetchone()
            (backlog,) = db.execute(BACKLOG.format("?", "?"), (filled, KEEP)).fetchone()
        return runs, backlog

    def database_cpu_seconds(self) -> float | None:
        return None

    async def close(self) -> None:
        pass


class PostgresHistory:
    def __init__(self, postgres: PostgresServer) -> None:
        self.postgres = postgres
        self.url = ""

    def server(self, scheduler: dict[str, Any]) -> BenchServer:
        return BenchServer(scheduler=scheduler, database=self.url, cluster=CLUSTER)

    async def open(self) -> None:
        self.url = await self.postgres.create_database()

    async def fill(self, jobs: int, rate: int, sink_url: str) -> tuple[float, int]:
        started, now = time.monotonic(), time.time()
        await fill_jobs(PostgresStore(self.url), jobs, rate, sink_url, now)
        conn = await asyncpg.connect(self.url)
        try:
            ids = [row[0] for row in await conn.fetch("SELECT id FROM jobs ORDER BY id")]
            for base in range(0, len(ids), 2000):
                await conn.copy_records_to_table(
                    "runs",
                    records=((*run, 1.0, "ok", 1, 200) for run in old_runs(ids[base : base + 2000], now)),
                    columns=["job_id", "due_at", "started_at", "duration_ms", "outcome", "attempts", "status_code"],
                )
            filled = int(await conn.fetchval("SELECT max(id) FROM runs"))
            await conn.execute(SHIFT_JOBS.format("$1::float8"), time.time() - now)
            # As a database that has been there a while: vacuumed (hint bits, the visibility map)
            # and analysed, so that neither falls into the measured window.
            await conn.execute("VACUUM ANALYZE jobs, runs")
        finally:
            await conn.close()
        return time.monotonic() - started, filled

    async def left(self, filled: int) -> tuple[int, int]:
        conn = await asyncpg.connect(self.url)
        try:
            runs = int(await conn.fetchval("SELECT count(*) FROM runs"))
            backlog = int(await conn.fetchval(BACKLOG.format("$1", "$2"), filled, KEEP))
        finally:
            await conn.close()
        return runs, backlog

    def database_cpu_seconds(self) -> float | None:
        postmaster = postmaster_pid(self.url)  # None: not a server of this machine's (not counted)
        return None if postmaster is None else postgres_cpu_seconds(postmaster)

    async def close(self) -> None:
        if self.url:
            await self.postgres.drop_database(self.url)


def trim_batches(metrics: str) -> tuple[int, int]:
    """Trim batches in all, and those that held the writer over 20 ms, from /metrics' histogram."""
    buckets = histogram_buckets(metrics, "veggiecron_run_history_trim_transaction_seconds")
    total = int(buckets.get(float("inf"), 0.0))
    return total, total - int(buckets.get(0.02, 0.0))


async def one_run(history: History, jobs: int, rate: int, seconds: float, trim: bool) -> dict[str, Any]:
    sink = Sink()
    await sink.start()
    # Trimming on: KEEP runs a job, and the age limit left at its default (the defaults are what
    # users run: every step then also looks for runs past the age among those the count keeps).
    limits = {"run_history_per_job": KEEP} if trim else {"run_history_per_job": 0, "run_history_max_age_days": 0}
    server = history.server(limits)
    try:
        fill_seconds, filled = await history.fill(jobs, rate, f"http://127.0.0.1:{sink.port}")
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        token = await register_and_log_in(base, "client")
        started = time.time()
        server_cpu, database_cpu = server.cpu_seconds(), history.database_cpu_seconds()
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
        elapsed = time.time() - started
        server_percent = round(100 * (server.cpu_seconds() - server_cpu) / elapsed)
        database_now = history.database_cpu_seconds()
        database_percent = None
        if database_now is not None and database_cpu is not None:
            database_percent = round(100 * (database_now - database_cpu) / elapsed)
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
        left, backlog = await history.left(filled)
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
            "server_cpu_percent": server_percent,
            "database_cpu_percent": database_percent,
        }
    finally:
        try:
            await server.close()
        finally:
            await history.close()
            await sink.stop()


async def bench(store: str, jobs: int, rate: int, seconds: float) -> dict[str, Any]:
    if store == "sqlite":
        off = await one_run(SqliteHistory(), jobs, rate, seconds, trim=False)
        on = await one_run(SqliteHistory(), jobs, rate, seconds, trim=True)
    else:
        postgres = PostgresServer.start()  # embedded: removed when the benchmark exits
        postgres.prepare_template()
        figures = []
        for trim in (False, True):
            history = PostgresHistory(postgres)
            await history.open()
            figures.append(await one_run(history, jobs, rate, seconds, trim=trim))
        off, on = figures
    return {
        "store": store,
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
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite", help="the database (sqlite)")
    args = parser.parse_args()
    jobs = args.jobs or (5_000 if args.quick else 50_000)
    rate = args.rate or (100 if args.quick else 1_000)
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    figures = run(bench(args.store, jobs, rate, seconds))
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{args.store}: {figures['runs']:,} runs over {jobs:,} jobs, keep {KEEP} per job; "
        f"{rate}/s firing; {seconds:g} s each"
    )
    for mode in ("trimming_off", "trimming_on"):
        print(f"{mode:>13}  " + "  ".join(f"{k} {v}" for k, v in figures[mode].items()))
    print(
        f"API write p99 on/off {figures['api_write_p99_on_over_off']}; "
        f"lateness p99 on/off {figures['lateness_p99_on_over_off']}"
    )


if __name__ == "__main__":
    main()
