"""Soak: N jobs firing for a long window; memory must stay flat and nothing may fail.

    python -m bench.soak [--jobs 1000] [--minutes 10] [--json]

Samples the server's RSS every 10 s, counts deliveries at a raw sink against the slots due, and
keeps an authenticated reader polling the API (one request a second) counting any error.
Growth is measured from the end of warm-up to the end. Warm-up (default 180 s) is the time the
run history takes to reach its retention (scheduler.run_history_per_job runs of every job, then a
prune cycle): until then the database, and SQLite's cache with it, is still growing by design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from bench.precision import create_jobs
from bench.server import BenchServer
from bench.sink import Sink
from bench.stats import percentile


async def reader(base: str, stop: asyncio.Event, errors: list[str]) -> int:
    """Poll GET /job/job0 once a second; record every answer that is not 200."""
    count = 0
    async with aiohttp.ClientSession() as session:
        credentials = {"username": "bench", "password": "bench-password"}
        async with session.post(base + "/login", json=credentials) as response:
            token = (await response.json())["data"]["token"]
        while not stop.is_set():
            try:
                async with session.get(base + "/job/job0", headers={"X-Auth-Token": token}) as response:
                    await response.read()
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}")
            except aiohttp.ClientError as exc:
                errors.append(repr(exc))
            count += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    return count


async def soak(jobs: int, minutes: float, warm_up: float) -> dict[str, object]:
    sink = Sink()
    await sink.start()
    server = BenchServer()
    try:
        port = await server.start()
        base = f"http://127.0.0.1:{port}"
        await create_jobs(base, f"http://127.0.0.1:{sink.port}", jobs)
        started = time.time()
        stop = asyncio.Event()
        errors: list[str] = []
        polling = asyncio.create_task(reader(base, stop, errors))
        samples: list[tuple[float, float]] = []
        while time.time() - started < minutes * 60:
            samples.append((time.time() - started, server.rss_mib()))
            await asyncio.sleep(10)
        samples.append((time.time() - started, server.rss_mib()))
        stop.set()
        reads = await polling
        ended = time.time()
        after_warm_up = [rss for t, rss in samples if t >= warm_up] or [samples[-1][1]]
        baseline, final, peak = after_warm_up[0], after_warm_up[-1], max(after_warm_up)
        lateness = sink.lateness_ms(since=started + 2)
        expected = jobs * int(ended - started - 3)
        return {
            "jobs": jobs,
            "minutes": minutes,
            "requests_delivered": len(lateness),
            "requests_expected_about": expected,
            "lateness_p50_ms": round(percentile(lateness, 0.5), 2),
            "lateness_p99_ms": round(percentile(lateness, 0.99), 2),
            "rss_after_warm_up_mib": round(baseline, 1),
            "rss_final_mib": round(final, 1),
            "rss_peak_mib": round(peak, 1),
            "rss_growth_percent": round(100 * (final - baseline) / baseline, 2),
            "api_reads": reads,
            "api_errors": len(errors),
            "first_errors": errors[:5],
            "rss_mib_every_minute": [round(rss, 1) for t, rss in samples[::6]],
        }
    finally:
        await server.close()
        await sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warm-up", type=float, default=180.0, help="seconds before growth is measured")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    figures = asyncio.run(soak(args.jobs, args.minutes, args.warm_up))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}  {value}")


if __name__ == "__main__":
    main()
