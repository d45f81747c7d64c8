"""Dispatch precision: N jobs on `every 1 seconds` aimed at a local sink; lateness percentiles.

    python -m bench.precision [--jobs 200] [--seconds 30] [--schedule "every 1 seconds"] [--json]

Lateness is the sink's arrival time minus the slot's due time (X-Veggiecron-Scheduled-At).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.server import BenchServer, http_job, register_and_log_in
from bench.server import create_jobs as create_jobs_through_api
from bench.sink import Sink
from bench.stats import percentile


async def create_jobs(base: str, sink_url: str, count: int, schedule: str = "every 1 seconds") -> None:
    """Register "bench" and create job0..job<count-1> one after the other."""
    token = await register_and_log_in(base)
    await create_jobs_through_api(
        base, token, (http_job(f"job{i}", f"{sink_url}/j{i}", schedule) for i in range(count)), connections=1
    )


async def measure(jobs: int, seconds: float, schedule: str = "every 1 seconds") -> dict[str, object]:
    sink = Sink()
    await sink.start()
    server = BenchServer()
    try:
        port = await server.start()
        await create_jobs(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sink.port}", jobs, schedule)
        # Measure whole seconds after every job exists and the pool is warm.
        start = time.time() + 2
        cpu_before = server.cpu_seconds()
        await asyncio.sleep(seconds + 2.5)
        cpu = server.cpu_seconds() - cpu_before
        lateness = [v for v in sink.lateness_ms(since=start)]
        return {
            "jobs": jobs,
            "schedule": schedule,
            "seconds": seconds,
            "requests": len(lateness),
            "lateness_p50_ms": round(percentile(lateness, 0.50), 2),
            "lateness_p99_ms": round(percentile(lateness, 0.99), 2),
            "lateness_max_ms": round(max(lateness) if lateness else float("nan"), 2),
            "server_cpu_percent": round(100 * cpu / (seconds + 2.5), 1),
            "server_rss_mib": round(server.rss_mib(), 1),
        }
    finally:
        await server.close()
        await sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--schedule",
        default="every 1 seconds",
        help="schedule of every job; '* * * * *' makes all of them share one due second (a herd)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.jobs, args.seconds, args.schedule))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>22}  {value}")


if __name__ == "__main__":
    main()
