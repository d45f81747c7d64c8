"""bench.api --cluster: API reads on an api node while two scheduler nodes send, on one PostgreSQL.

    python -m bench.api --cluster            # 10,000 jobs on 'every 10 seconds', 20 s phases
    python -m bench.api --cluster --quick    # 1,000 jobs on 'every 1 seconds', 8 s phases

One embedded PostgreSQL (tests/postgres.py, as bench.cluster uses), one `api` node and two
`scheduler` nodes on it, and the raw sink (bench/sink.py); then, for comparison, one node of role
`all` alone on a fresh database of the same PostgreSQL, under the same load. The jobs (about 1,000 dispatches a
second, their slots spread evenly over the period) are loaded through the store, owned by the
user "bench", whose token comes from `start.py create-admin`. Once every job has fired: an idle
phase, then 50 connections reading GET /job/job<i> on the api node (bench/load.py); then the same
reads on a bare tornado handler (bench/bare.py) in this run. Targets on a 2-core machine: reads at
least 0.7 x bare, read p99 under 15 ms, dispatch lateness p99 under 20 ms.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.api_measures import dispatch_figures, load_figures, measure_bare, period_of
from bench.cluster import postgres_cpu_seconds, postmaster_pid
from bench.load import LoadPlan, LoadProcess
from bench.server import BenchServer
from bench.sink import Sink
from tests.postgres import PostgresServer
from veggiecron.schedules import parse_schedule
from veggiecron.store.postgres import PostgresStore

CLUSTER = {"lease_seconds": 10.0, "reap_interval_seconds": 1.0, "poll_interval_seconds": 1.0}
POOL = 100
SPLIT = ("api", "scheduler", "scheduler")
ALONE = ("all",)


async def load_jobs(url: str, jobs: int, sink_port: int, schedule: str, first_due: float) -> None:
    """job0..job<jobs-1> of "bench", their first slots spread evenly over one period from first_due."""
    period = period_of(schedule)
    parse_schedule(schedule)  # a bad schedule fails here, not inside the store
    store = PostgresStore(url)
    await store.open()
    try:
        user = await store.create_user("bench", "!", time.time())
        rows = []
        for i in range(jobs):
            anchor = first_due + period * i / jobs
            rows.append((f"job{i}", {"url": f"http://127.0.0.1:{sink_port}/j{i}"}, schedule, anchor, anchor))
        for start in range(0, jobs, 5000):
            await store.import_jobs(user.id, rows[start : start + 5000], time.time(), job_type="http")
    finally:
        await store.close()


async def cluster_phase(
    nodes: list[BenchServer],
    roles: tuple[str, ...],
    sink: Sink,
    plan: LoadPlan | None,
    seconds: float,
    postmaster: int | None,
) -> dict[str, Any]:
    load = LoadProcess(plan) if plan is not None else None
    if load is not None:
        await load.started()
    first, started = len(sink.records), time.time()
    cpu_before = [node.cpu_seconds() for node in nodes]
    pg_before = postgres_cpu_seconds(postmaster)
    result = await load.result() if load is not None else None
    if load is None:
        await asyncio.sleep(seconds)
    last, elapsed = len(sink.records), time.time() - started
    figures: dict[str, Any] = {"seconds": round(elapsed, 2)}
    if result is not None:
        figures.update(load_figures(result))
    figures["node_cpu_percent"] = {
        f"{role}{i}": round(100 * (node.cpu_seconds() - before) / elapsed, 1)
        for i, (role, node, before) in enumerate(zip(roles, nodes, cpu_before, strict=True))
    }
    figures["postgres_cpu_percent"] = round(100 * (postgres_cpu_seconds(postmaster) - pg_before) / elapsed, 1)
    figures.update(dispatch_figures(sink.records[first:last], elapsed))
    return figures


async def measure_cluster(jobs: int, connections: int, seconds: float, schedule: str) -> dict[str, Any]:
    postgres = PostgresServer.start()
    postgres.prepare_template()
    split = await measure_layout(postgres, SPLIT, jobs, connections, seconds, schedule)
    alone = await measure_layout(postgres, ALONE, jobs, connections, seconds, schedule)
    bare = await measure_bare(connections, seconds, jobs, modes=("read",))
    bare_rate = bare["read"]["requests_per_second"]
    read, alone_read = split["read"], alone["read"]
    return {
        "jobs": jobs,
        "schedule": schedule,
        "connections": connections,
        "nodes": list(SPLIT),
        "phases": split,
        "alone": alone,
        "bare": bare,
        "reads_over_bare": round(read["requests_per_second"] / bare_rate, 2),
        "read_p99_ms": read["latency_p99_ms"],
        "lateness_p99_ms": read["lateness_p99_ms"],
        "alone_reads_over_bare": round(alone_read["requests_per_second"] / bare_rate, 2),
        "alone_read_p99_ms": alone_read["latency_p99_ms"],
        "alone_lateness_p99_ms": alone_read["lateness_p99_ms"],
    }


async def measure_layout(
    postgres: PostgresServer, roles: tuple[str, ...], jobs: int, connections: int, seconds: float, schedule: str
) -> dict[str, Any]:
    """The idle and read phases with these nodes (the first serves the reads) on a fresh database."""
    sink = Sink()
    await sink.start()
    url = await postgres.create_database()
    settings: dict[str, Any] = {"database": url, "http_client": {"pool_size": POOL, "pool_per_host": POOL}}
    nodes = [BenchServer(**settings, cluster={**CLUSTER, "role": role}) for role in roles]
    try:
        first_due = time.time() + 8 + jobs / 5000
        await load_jobs(url, jobs, sink.port, schedule, first_due)
        await asyncio.gather(*(node.start() for node in nodes))
        token = await nodes[0].create_admin("bench")
        await asyncio.sleep(max(0.0, first_due - time.time()) + period_of(schedule) + 0.5)
        postmaster = postmaster_pid(postgres.url)
        reads = LoadPlan(nodes[0].port, token, "read", connections, seconds, jobs=jobs)
        idle = max(seconds / 2, period_of(schedule))
        return {
            "idle": await cluster_phase(nodes, roles, sink, None, idle, postmaster),
            "read": await cluster_phase(nodes, roles, sink, reads, seconds, postmaster),
        }
    finally:
        for node in nodes:
            await node.close()
        await postgres.drop_database(url)
        await sink.stop()


def cluster_table(figures: dict[str, Any]) -> str:
    lines = [
        f"{figures['jobs']} jobs on {figures['schedule']!r}, {figures['connections']} connections reading "
        f"GET /job/N on the api node; nodes {', '.join(figures['nodes'])} on one PostgreSQL"
    ]
    layouts = [("split", figures["phases"]), ("alone", figures["alone"])]
    for name, values in [(f"{layout} {phase}", found) for layout, phases in layouts for phase, found in phases.items()]:
        load = (
            f"{values['requests_per_second']} req/s, p50 {values['latency_p50_ms']} ms, "
            f"p99 {values['latency_p99_ms']} ms, non-2xx {values['non_2xx']}; "
            if "requests" in values
            else ""
        )
        lines.append(
            f"{name:<11} {load}fired {values['dispatches_per_second']}/s, late p50 {values['lateness_p50_ms']} ms "
            f"p99 {values['lateness_p99_ms']} ms; CPU % {values['node_cpu_percent']}, "
            f"PostgreSQL {values['postgres_cpu_percent']}"
        )
    bare = figures["bare"]["read"]
    lines.append(
        f"{'bare read':<11} {bare['requests_per_second']} req/s, p50 {bare['latency_p50_ms']} ms, "
        f"p99 {bare['latency_p99_ms']} ms"
    )
    lines.append(
        f"reads over bare {figures['reads_over_bare']} (target >= 0.7); read p99 {figures['read_p99_ms']} ms "
        f"(< 15); dispatch lateness p99 {figures['lateness_p99_ms']} ms (< 20)"
    )
    lines.append(
        f"one node of role all instead: reads over bare {figures['alone_reads_over_bare']}; read p99 "
        f"{figures['alone_read_p99_ms']} ms; dispatch lateness p99 {figures['alone_lateness_p99_ms']} ms"
    )
    return "\n".join(lines)
