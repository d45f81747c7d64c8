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
- fan: 1,000 parents every second, each with one follower, all with overlap allow so that every
  trigger is sent (with skip, one that comes while the follower's last run is still in flight is
  recorded skipped, rightly: under load on three nodes that was 3% of them). After the window
  the parents are disabled and the followers drained (no follower request for QUIET seconds and,
  on PostgreSQL, no follower's run waiting or in flight). Then every parent request that arrived since the
  window began must have exactly one follower request naming it (none lost, none doubled), every
  follower request must name a parent request the sink saw, and no parent run came twice.
Jobs are created by an admin (exempt from quotas): on several nodes every create of a user
recounts the user's quotas over all of its jobs, which would make setting up 2,000 jobs take
minutes on this machine and measure that rather than the chains.
Setups: one daemon on SQLite, and three nodes on one embedded PostgreSQL (tests/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
import asyncpg

from bench.cluster import node
from bench.server import BenchServer, create_jobs, http_job
from bench.sink import Sink
from bench.stats import percentile
from start import run
from tests.postgres import PostgresServer

CHAIN = 10
FAN = 1000
SETTLE = 3.0  # seconds at the end of a hops window whose followers may still be on their way
QUIET = 3.0  # seconds without a follower request after which the fan's followers are drained
DRAIN_LIMIT = 120.0  # seconds the drain may take, at most


def slot_of(key: bytes) -> float:
    """The slot a run's Idempotency-Key (<job id>-<due in microseconds>) names."""
    return int(key.split(b"-", 1)[1]) / 1_000_000


async def started(database: str | None, nodes: int) -> list[BenchServer]:
    servers = [node(database) for _ in range(nodes)]
    await asyncio.gather(*(server.start() for server in servers))
    return servers


async def hops(sink: Sink, servers: list[BenchServer], seconds: float, database: str | None) -> dict[str, Any]:
    base = f"http://127.0.0.1:{servers[0].port}"
    token = await servers[0].create_admin("bench")
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


async def fan(sink: Sink, servers: list[BenchServer], seconds: float, database: str | None) -> dict[str, Any]:
    base = f"http://127.0.0.1:{servers[0].port}"
    token = await servers[0].create_admin("bench")
    url = f"http://127.0.0.1:{sink.port}"
    began = time.time()
    await create_jobs(base, token, (allowing(f"p{i}", f"{url}/p{i}", "every 1 seconds") for i in range(FAN)))
    await create_jobs(base, token, (allowing(f"f{i}", f"{url}/f{i}", f"after p{i}") for i in range(FAN)))
    created = time.time() - began
    await asyncio.sleep(2.0)
    start = time.time()
    await asyncio.sleep(seconds)
    end = time.time()
    await switch_off(base, token, [f"p{i}" for i in range(FAN)])
    drained = await drain(sink, database)
    followers = {key for _, key, _ in sink.triggered}
    named = Counter(parent for _, _, parent in sink.triggered)
    sent = Counter(key for key in sink.keys if key not in followers)
    parents = {key for key in sent}
    counted = {key for key in parents if sink.arrivals[key] >= start}
    return {
        "seconds": round(end - start, 1),
        "create_seconds": round(created, 1),
        "drain_seconds": round(drained, 1),
        "parent_runs_counted": len(counted),
        "follower_runs": sum(named[key] for key in counted),
        "lost": sum(1 for key in counted if named[key] == 0),
        "doubled": sum(1 for key in counted if named[key] > 1),
        "naming_no_parent_seen": sum(count for parent, count in named.items() if parent not in parents),
        "parent_sent_twice": sum(1 for count in sent.values() if count > 1),
    }


def allowing(name: str, url: str, schedule: str) -> dict[str, Any]:
    """A job whose every slot is sent (overlap allow): with the default (skip), a follower whose
    previous run is still in flight when its parent's next result comes records that trigger as
    skipped, rightly, and the sink would never see it."""
    return {**http_job(name, url, schedule), "overlap": "allow"}


async def switch_off(base: str, token: str, names: list[str]) -> None:
    """Disable the jobs (their runs in flight still end, and still trigger their followers)."""
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(connector=connector, headers={"X-Auth-Token": token}) as session:
        queue = iter(names)

        async def switcher() -> None:
            for name in queue:
                async with session.patch(f"{base}/job/{name}", json={"enabled": False}) as response:
                    if response.status != 200:
                        raise RuntimeError(f"disabling {name} failed: {response.status} {await response.text()}")

        await asyncio.gather(*(switcher() for _ in range(8)))


async def drain(sink: Sink, database: str | None) -> float:
    """Wait until no follower request came for QUIET seconds and, on PostgreSQL, no run waits or
    is in flight; answer how long it took (a drain that never ends is an error, not a figure)."""
    began = time.time()
    while time.time() - began < DRAIN_LIMIT:
        await asyncio.sleep(0.5)
        last = sink.triggered[-1][0] if sink.triggered else 0.0
        if time.time() - last >= QUIET and (database is None or not await pending_runs(database)):
            return time.time() - began
    raise RuntimeError(f"followers still arriving {DRAIN_LIMIT:.0f} s after the parents were disabled")


async def pending_runs(database: str) -> int:
    conn = await asyncpg.connect(database)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM runs WHERE status IN ('triggered', 'claimed', 'buffered')")
        )
    finally:
        await conn.close()


async def measure(case: str, sink: Sink, postgres: PostgresServer | None, seconds: float) -> dict[str, Any]:
    """One case on a fresh database: one daemon on SQLite (postgres None) or three nodes on PostgreSQL."""
    sink.records.clear()
    sink.keys.clear()
    sink.triggered.clear()
    sink.arrivals.clear()
    url = await postgres.create_database() if postgres is not None else None
    servers = await started(url, 1 if url is None else 3)
    try:
        return await (hops if case == "hops" else fan)(sink, servers, seconds, url)
    finally:
        for server in servers:
            await server.close()
        if postgres is not None and url is not None:
            await postgres.drop_database(url)


async def bench(cases: tuple[str, ...], hop_seconds: float, fan_seconds: float) -> dict[str, Any]:
    sink = Sink()
    sink.keep_arrivals = True
    await sink.start()
    postgres = PostgresServer.start()
    postgres.prepare_template()
    figures: dict[str, Any] = {}
    try:
        for case in cases:
            seconds = hop_seconds if case == "hops" else fan_seconds
            figures[f"{case}_one_daemon"] = await measure(case, sink, None, seconds)
            figures[f"{case}_three_nodes"] = await measure(case, sink, postgres, seconds)
    finally:
        await sink.stop()
    return figures


def print_table(figures: dict[str, Any]) -> None:
    hops: list[str] = [key for key in ("hops_one_daemon", "hops_three_nodes") if key in figures]
    if hops:
        print(f"{'hops (10 jobs in a chain)':>26} {'hops':>6} {'p50 ms':>8} {'p99 ms':>8} {'head p99 ms':>12} "
              f"{'ratio':>6}")  # fmt: skip
    for key in hops:
        row = figures[key]
        print(
            f"{key:>26} {row['hops']:>6} {row['hop_p50_ms']:>8} {row['hop_p99_ms']:>8} "
            f"{row['head_lateness_p99_ms']:>12} {row['hop_p99_over_head_lateness_p99']:>6}"
        )
    fans: list[str] = [key for key in ("fan_one_daemon", "fan_three_nodes") if key in figures]
    if hops and fans:
        print()
    if fans:
        print(
            f"{'fan (1,000 parents)':>26} {'seconds':>8} {'parents':>8} {'followers':>10} {'lost':>5} {'doubled':>8} "
            f"{'unknown parent':>15} {'parent twice':>13} {'drain s':>8}"
        )
    for key in fans:
        row = figures[key]
        print(
            f"{key:>26} {row['seconds']:>8} {row['parent_runs_counted']:>8} {row['follower_runs']:>10} "
            f"{row['lost']:>5} {row['doubled']:>8} {row['naming_no_parent_seen']:>15} {row['parent_sent_twice']:>13} "
            f"{row['drain_seconds']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hop-seconds", type=float, default=None, help="length of each hops window")
    parser.add_argument("--fan-seconds", type=float, default=None, help="length of each fan-out window")
    parser.add_argument("--quick", action="store_true", help="hops for 10 s, fan-out for 30 s")
    parser.add_argument("--case", choices=("hops", "fan", "all"), default="all", help="which case to run")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    hop_seconds = args.hop_seconds or (10.0 if args.quick else 30.0)
    fan_seconds = args.fan_seconds or (30.0 if args.quick else 300.0)
    cases = ("hops", "fan") if args.case == "all" else (args.case,)
    figures = run(bench(cases, hop_seconds, fan_seconds))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
