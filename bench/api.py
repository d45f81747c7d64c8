"""API load while jobs fire: authenticated reads and writes a second, their latency, and dispatch beside them.

    python -m bench.api [--jobs 10000] [--connections 50] [--seconds 20] [--schedule 'every 10 seconds'] [--json]
    python -m bench.api --quick          # 1,000 jobs on 'every 1 seconds', 8 s phases: about 30 s in all
    python -m bench.api --cluster [--quick]  # one api node and two scheduler nodes (bench/api_cluster.py)

Starts a raw sink (bench/sink.py) and `start.py` on a temporary database (bench/server.py). The
user "bench" gets its token from `start.py create-admin` and owns --jobs jobs aimed at the sink,
created through a few concurrent connections (an admin, so that no quota limits the setup).
10,000 jobs on `every 10 seconds`
(or --quick's 1,000 on `every 1 seconds`) fire about 1,000 times a second. Once every job has
fired, three phases run one after the other:

    idle   no API load (half as long as the others, at least one period of the jobs): the baseline
    read   "bench" reads GET /job/job<i>, i cycling over its jobs, with X-Auth-Token
    write  "writer", an ordinary registered user, creates jobs with new names on POST /job, on
           `every 1 hours` so they add no dispatch load (its quotas are checked as usual)

Then the same reads and writes go to a bare tornado handler (bench/bare.py: a constant answer of
the same size, no authentication or database), idle, with the same load generator:
reads_over_bare and writes_over_bare are veggiecron's rates over the bare handler's in this run.

The load comes from a spawned process (bench/load.py: raw asyncio, uvloop when installed) holding
--connections keep-alive connections, each with one request in flight. Per phase it prints
requests, requests a second, latency p50/p99/max and the non-2xx count; the server's CPU% and
RSS; and the dispatches the sink received, a second, with their lateness p50/p99, so a slower
dispatch under API load shows. --json prints one JSON object instead of the table.

wrk can replace bench/load.py: `python -m bench.api --serve` sets up the same sink, server and
jobs, prints the port and a token, and waits for Ctrl-C; then, from another shell:

    wrk -c50 -t2 -d20s -H 'X-Auth-Token: TOKEN' http://127.0.0.1:PORT/job/job1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any

from bench.api_measures import dispatch_figures, load_figures, measure_bare, period_of
from bench.load import LoadPlan, LoadProcess
from bench.server import BenchServer, create_jobs, http_job, register_and_log_in
from bench.sink import Sink
from start import run

SETUP_CONNECTIONS = 8  # enough to create 10,000 jobs in seconds, few enough not to queue in SQLite


async def phase(server: BenchServer, sink: Sink, plan: LoadPlan | None, seconds: float) -> dict[str, Any]:
    """One phase's figures: the load's (when there is a plan), the server's and the sink's."""
    load = LoadProcess(plan) if plan is not None else None
    if load is not None:
        await load.started()
    first, cpu_before, started = len(sink.records), server.cpu_seconds(), time.time()
    result = None
    if load is not None:
        result = await load.result()
    else:
        await asyncio.sleep(seconds)
    last, cpu_after, ended = len(sink.records), server.cpu_seconds(), time.time()
    elapsed = ended - started
    figures: dict[str, Any] = {"seconds": round(elapsed, 2)}
    if result is not None:
        figures.update(load_figures(result))
    figures["server_cpu_percent"] = round(100 * (cpu_after - cpu_before) / elapsed, 1)
    figures["server_rss_mib"] = round(server.rss_mib(), 1)
    figures.update(dispatch_figures(sink.records[first:last], elapsed))
    return figures


async def set_up(server: BenchServer, sink: Sink, jobs: int, schedule: str) -> tuple[int, str, dict[str, Any]]:
    """Start the sink and the server, create the jobs and wait until each has fired: (port, token, figures)."""
    await sink.start()
    port = await server.start()
    token = await server.create_admin("bench")
    began = time.monotonic()
    sink_url = f"http://127.0.0.1:{sink.port}"
    await create_jobs(
        f"http://127.0.0.1:{port}",
        token,
        (http_job(f"job{i}", f"{sink_url}/j{i}", schedule) for i in range(jobs)),
        SETUP_CONNECTIONS,
    )
    took = time.monotonic() - began
    await asyncio.sleep(period_of(schedule) + 0.5)
    return port, token, {"setup_seconds": round(took, 1), "setup_jobs_per_second": round(jobs / took, 1)}


async def measure(jobs: int, connections: int, seconds: float, schedule: str) -> dict[str, Any]:
    sink = Sink()
    server = BenchServer()
    try:
        port, token, setup = await set_up(server, sink, jobs, schedule)
        writer = await register_and_log_in(f"http://127.0.0.1:{port}", "writer")
        reads = LoadPlan(port, token, "read", connections, seconds, jobs=jobs)
        writes = LoadPlan(port, writer, "write", connections, seconds, target_url=f"http://127.0.0.1:{sink.port}/new")
        idle = max(seconds / 2, period_of(schedule))
        phases = {
            "idle": await phase(server, sink, None, idle),
            "read": await phase(server, sink, reads, seconds),
            "write": await phase(server, sink, writes, seconds),
        }
    finally:
        await server.close()
        await sink.stop()
    bare = await measure_bare(connections, seconds, jobs)
    return {
        "jobs": jobs,
        "schedule": schedule,
        "connections": connections,
        **setup,
        "phases": phases,
        "bare": bare,
        "reads_over_bare": round(phases["read"]["requests_per_second"] / bare["read"]["requests_per_second"], 2),
        "writes_over_bare": round(phases["write"]["requests_per_second"] / bare["write"]["requests_per_second"], 2),
    }


async def serve(jobs: int, schedule: str) -> None:
    """Set up as measure() does, then hold everything up for an outside load generator such as wrk."""
    sink = Sink()
    server = BenchServer()
    try:
        port, token, _setup = await set_up(server, sink, jobs, schedule)
        # Signal handlers rather than KeyboardInterrupt: a shell starting this in the background
        # ignores SIGINT for it, and SIGTERM must also stop the server and remove its files.
        stop = asyncio.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(number, stop.set)
        print(f"{jobs} jobs firing; Ctrl-C (or SIGTERM) stops. For example:", flush=True)
        print(f"wrk -c50 -t2 -d20s -H 'X-Auth-Token: {token}' http://127.0.0.1:{port}/job/job1", flush=True)
        await stop.wait()
    finally:
        await server.close()
        await sink.stop()


COLUMNS = [
    ("requests", "requests"),
    ("requests_per_second", "req/s"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p99_ms", "p99 ms"),
    ("latency_max_ms", "max ms"),
    ("non_2xx", "non-2xx"),
    ("server_cpu_percent", "CPU %"),
    ("server_rss_mib", "RSS MiB"),
    ("dispatches_per_second", "fired/s"),
    ("lateness_p50_ms", "late p50"),
    ("lateness_p99_ms", "late p99"),
]


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"{figures['jobs']} jobs on {figures['schedule']!r}, {figures['connections']} connections; "
        f"created in {figures['setup_seconds']} s ({figures['setup_jobs_per_second']} a second)",
        f"{'phase':<6}" + "".join(f"{title:>10}" for _, title in COLUMNS),
    ]
    for name, values in figures["phases"].items():
        lines.append(f"{name:<6}" + "".join(f"{values.get(key, '-'):>10}" for key, _ in COLUMNS))
    for name, values in figures["bare"].items():
        lines.append(f"{'bare ' + name:<6}" + "".join(f"{values.get(key, '-'):>10}" for key, _ in COLUMNS))
    lines.append(
        f"reads over a bare tornado handler: {figures['reads_over_bare']}; writes: {figures['writes_over_bare']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs firing in the background (default 10000)")
    parser.add_argument("--connections", type=int, default=50, help="keep-alive connections of the load")
    parser.add_argument("--seconds", type=float, default=20, help="length of the read and write phases")
    parser.add_argument("--schedule", help="schedule of the background jobs (default 'every 10 seconds')")
    parser.add_argument("--quick", action="store_true", help="1,000 jobs on 'every 1 seconds' and 8 s phases")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--serve", action="store_true", help="set up, print a wrk command, wait for Ctrl-C")
    parser.add_argument(
        "--cluster", action="store_true", help="reads on an api node, two scheduler nodes sending, one PostgreSQL"
    )
    args = parser.parse_args()
    if args.quick:
        # Ten times fewer jobs, ten times as often: the same ~1,000 dispatches a second, and every
        # phase spans whole periods of the jobs, so each sees its share of them.
        args.jobs, args.seconds = 1_000, 8.0
        args.schedule = args.schedule or "every 1 seconds"
    args.schedule = args.schedule or "every 10 seconds"
    if args.serve:
        run(serve(args.jobs, args.schedule))
        return
    if args.cluster:
        from bench.api_cluster import cluster_table, measure_cluster  # it imports this module

        found = run(measure_cluster(args.jobs, args.connections, args.seconds, args.schedule))
        print(json.dumps(found) if args.json else cluster_table(found))
        return
    figures = run(measure(args.jobs, args.connections, args.seconds, args.schedule))
    print(json.dumps(figures) if args.json else table(figures))


if __name__ == "__main__":
    main()
