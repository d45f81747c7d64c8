"""Jobs that run after other jobs: how soon a follower follows its parent, and that no trigger is
lost or doubled, on one daemon and across nodes.

    python -m bench.chain            # hops for 30 s, fan-out for 300 s, on each setup
    python -m bench.chain --quick    # hops for 10 s, fan-out for 30 s
    python -m bench.chain --json

Every job aims at the raw sink in this process (bench/sink.py), which answers each request at once,
so a parent's request arriving there is, within loopback time, the end of the parent's run. Jobs are
created through the API (a follower names its parent by name). Cases, each on a fresh database:
- hops: a chain of 10 jobs, each `after` the one before, the first `every 1 seconds`. A hop's delay
  is its follower's request arriving minus its parent's request arriving (the follower names the
  parent's run in X-Veggiecron-Triggered-By). The baseline, in the same run, is the lateness of the
  chain's first job (its request's arrival minus its slot): the scheduler's own path from a due
  time to the target. Targets: hop p99 under 20 ms on one daemon, under 300 ms across nodes.
- fan: 1,000 parents every second, each with one follower (overlap allow, so that each trigger
  is a request). Every parent request that arrived
  before the last 3 s of the window must have exactly one follower request naming it (none lost,
  none doubled), and every follower request must name a parent request the sink saw.
Setups: one daemon on SQLite, and three nodes on one embedded PostgreSQL (tests/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

from bench.cluster import node
from bench.server import BenchServer, create_jobs, http_job, register_and_log_in
from bench.sink import Sink
from bench.stats import percentile
from start import run
from tests.postgres import PostgresServer

CHAIN = 10
FAN = 1000
SETTLE = 3.0  # seconds at the end of a window whose parents' followers may still be on their way


def slot_of(key: bytes) -> float:
    """The slot a run's Idempotency-Key (<job id>-<due in microseconds>) names."""
    return int(key.split(b"-", 1)[1]) / 1_000_000


async def started(database: str | None, nodes: int) -> list[BenchServer]:
    servers = [node(database) for _ in range(nodes)]
    await asyncio.gather(*(server.start() for server in servers))
    return servers


async def hops(sink: Sink, servers: list[BenchServer], seconds: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{servers[0].port}"
    token = await register_and_log_in(base)
    url = f"http://127.0.0.1:{sink.port}"
    chain = [http_job("hop0", f"{url}/hop0", "every 1 seconds")]
    chain += [http_job(f"hop{i}", f"{url}/hop{i}", f"after hop{i - 1}") for i in range(1, CHAIN)]
    await create_jobs(base, token, chain, connections=1)  # in order: each names the one before
    await asyncio.sleep(2.0)  # the chain is running
    start = time.time()
    await asyncio.sleep(seconds)
    end = time.time()
    await asyncio.sleep(SETTLE)
    followers = {key for _, key, _ in sink.triggered}
    delays = [
        (arrived - sink.arrivals[parent]) * 1000.0
        for arrived, _, parent in sink.triggered
        if parent in sink.arrivals and start <= sink.arrivals[parent] < end
    ]
    heads = [
        (arrived - slot_of(key)) * 1000.0
        for key, arrived in sink.arrivals.items()
        if key not in followers and start <= arrived < end
    ]
    return {
        "hops": len(delays),
        "hop_p50_ms": round(percentile(delays, 0.50), 2),
        "hop_p99_ms": round(percentile(delays, 0.99), 2),
        "head_lateness_p50_ms": round(percentile(heads, 0.50), 2),
        "head_lateness_p99_ms": round(percentile(heads, 0.99), 2),
        "hop_p99_over_head_lateness_p99": round(percentile(delays, 0.99) / max(percentile(heads, 0.99), 0.01), 2),
    }


async def fan(sink: Sink, servers: list[BenchServer], seconds: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{servers[0].port}"
    token = await register_and_log_in(base)
    url = f"http://127.0.0.1:{sink.port}"
    await create_jobs(base, token, (http_job(f"p{i}", f"{url}/p{i}", "every 1 seconds") for i in range(FAN)))
    # overlap allow: every trigger is sent, even when the follower's run before is still in flight
    # (by the default, skip, such a trigger is a skipped record: accounted for, but no request).
    follower_jobs = ({**http_job(f"f{i}", f"{url}/f{i}", f"after p{i}"), "overlap": "allow"} for i in range(FAN))
    await create_jobs(base, token, follower_jobs)
    await asyncio.sleep(2.0)
    start = time.time()
    await asyncio.sleep(seconds)
    end = time.time()
    await asyncio.sleep(SETTLE)
    followers = {key for _, key, _ in sink.triggered}
    named = Counter(parent for _, _, parent in sink.triggered)
    parents = {key for key, arrived in sink.arrivals.items() if key not in followers}
    counted = {key for key in parents if start <= sink.arrivals[key] < end - SETTLE}
    return {
        "seconds": round(end - start, 1),
        "parent_runs_counted": len(counted),
        "follower_runs": sum(named[key] for key in counted),
        "lost": sum(1 for key in counted if named[key] == 0),
        "doubled": sum(1 for key in counted if named[key] > 1),
        "naming_no_parent_seen": sum(count for parent, count in named.items() if parent not in parents),
    }


async def measure(case: str, sink: Sink, postgres: PostgresServer | None, seconds: float) -> dict[str, Any]:
    """One case on a fresh database: one daemon on SQLite (postgres None) or three nodes on PostgreSQL."""
    sink.records.clear()
    sink.keys.clear()
    sink.triggered.clear()
    sink.arrivals.clear()
    url = await postgres.create_database() if postgres is not None else None
    servers = await started(url, 1 if url is None else 3)
    try:
        return await (hops if case == "hops" else fan)(sink, servers, seconds)
    finally:
        for server in servers:
            await server.close()
        if postgres is not None and url is not None:
            await postgres.drop_database(url)


async def bench(hop_seconds: float, fan_seconds: float) -> dict[str, Any]:
    sink = Sink()
    sink.keep_arrivals = True
    await sink.start()
    postgres = PostgresServer.start()
    postgres.prepare_template()
    try:
        return {
            "hops_one_daemon": await measure("hops", sink, None, hop_seconds),
            "hops_three_nodes": await measure("hops", sink, postgres, hop_seconds),
            "fan_one_daemon": await measure("fan", sink, None, fan_seconds),
            "fan_three_nodes": await measure("fan", sink, postgres, fan_seconds),
        }
    finally:
        await sink.stop()


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'hops (10 jobs in a chain)':>26} {'hops':>6} {'p50 ms':>8} {'p99 ms':>8} {'head p99 ms':>12} {'ratio':>6}")
    for key in ("hops_one_daemon", "hops_three_nodes"):
        row = figures[key]
        print(
            f"{key:>26} {row['hops']:>6} {row['hop_p50_ms']:>8} {row['hop_p99_ms']:>8} "
            f"{row['head_lateness_p99_ms']:>12} {row['hop_p99_over_head_lateness_p99']:>6}"
        )
    print()
    print(f"{'fan (1,000 parents)':>26} {'seconds':>8} {'parents':>8} {'followers':>10} {'lost':>5} {'doubled':>8}")
    for key in ("fan_one_daemon", "fan_three_nodes"):
        row = figures[key]
        print(
            f"{key:>26} {row['seconds']:>8} {row['parent_runs_counted']:>8} {row['follower_runs']:>10} "
            f"{row['lost']:>5} {row['doubled']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hop-seconds", type=float, default=None, help="length of each hops window")
    parser.add_argument("--fan-seconds", type=float, default=None, help="length of each fan-out window")
    parser.add_argument("--quick", action="store_true", help="hops for 10 s, fan-out for 30 s")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    hop_seconds = args.hop_seconds or (10.0 if args.quick else 30.0)
    fan_seconds = args.fan_seconds or (30.0 if args.quick else 300.0)
    figures = run(bench(hop_seconds, fan_seconds))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
