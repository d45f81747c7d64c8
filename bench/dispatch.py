"""Dispatch throughput and lateness, side by side with the bare-client ceiling and APScheduler 3.

    python -m bench.dispatch                  # N = 1,000 / 10,000 / 50,000 and a 10,000-job herd
    python -m bench.dispatch --quick          # N = 1,000 and a 1,000-job herd, under a minute
    python -m bench.dispatch --sizes 1000 10000 --herds 10000 --seconds 20 --json

Needs requirements-bench.txt (APScheduler 3.x). Every phase aims at one raw sink in this
process (bench/sink.py), which records each request's arrival and due time:

- ceiling: a bare aiohttp ClientSession in its own process, with veggiecron's pool size
  (100 connections), sending as fast as the sink answers; measured at the start and again right
  after each N's veggiecron window, whose ratio uses that one;
- apscheduler N: APScheduler 3's AsyncIOScheduler firing N `every 1 seconds` jobs through
  one aiohttp session, in its own process (bench/peers.py);
- veggiecron N: `start.py` as a subprocess with its own database; N `every 1 seconds` jobs
  created through the API, then the server is restarted so its memory holds what a long-running
  daemon holds (not the garbage of 50,000 API calls), and every run is recorded in SQLite;
- herd N: N jobs all due at the same instant (`once @ T`); the drain time is the last arrival
  minus T.

Dispatch rate counts arrivals at the sink during the window; lateness is arrival minus due.
Bytes per job: RSS while firing minus the RSS of the same program holding no jobs, over N.
Bytes per held job: the same, measured once every job is scheduled in memory and none is due yet
(APScheduler: once its jobs are added, before they start firing).
When N jobs a second exceed what a process can send, the rate is the saturated rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from bench.server import BenchServer, create_jobs, http_job, register_and_log_in
from bench.sink import Sink
from bench.stats import percentile
from start import run
from tests.daemon import ROOT

POOL = 100  # veggiecron's default http_client.pool_size
WARM_UP = 4.0  # seconds after jobs start firing before a window opens
# Every peer sends to one sink: let veggiecron use its whole pool there too (by default one host
# may take only half of it).
SAME_POOL = f"http_client:\n  pool_size: {POOL}\n  pool_per_host: {POOL}\n"
# sqlite.synchronous of the servers measured (--synchronous): what durability of each commit costs.
SYNCHRONOUS = {"mode": "full"}


def server_config() -> str:
    return f"{SAME_POOL}sqlite:\n  synchronous: {SYNCHRONOUS['mode']}\n"


def lateness_figures(prefix: str, lateness: list[float]) -> dict[str, float]:
    return {
        f"{prefix}lateness_p50_ms": round(percentile(lateness, 0.50), 2),
        f"{prefix}lateness_p99_ms": round(percentile(lateness, 0.99), 2),
        f"{prefix}lateness_max_ms": round(max(lateness), 2) if lateness else float("nan"),
    }


async def run_peer(*args: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.peers", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.peers {args[0]} failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure_ceiling(sink: Sink, seconds: float) -> dict[str, Any]:
    sink.records.clear()
    peer = await run_peer("ceiling", "--url", f"http://127.0.0.1:{sink.port}/ceiling", "--seconds", str(seconds))
    rate = peer["sent"] / peer["seconds"]
    return {
        "ceiling_per_second": round(rate),
        "ceiling_cpu_percent": round(100 * peer["cpu_seconds"] / peer["seconds"]),
    }


async def measure_apscheduler(sink: Sink, jobs: int, seconds: float) -> dict[str, Any]:
    sink.records.clear()
    url = f"http://127.0.0.1:{sink.port}"
    total = seconds + WARM_UP + 2 + jobs / 20_000  # adding jobs takes about 50 us each
    started = time.time()
    peer = await run_peer("apscheduler", "--url", url, "--jobs", str(jobs), "--seconds", str(total))
    # The window: the last `seconds` before the peer stopped.
    end = started + total
    count, lateness = sink.window(end - seconds - 0.5, end - 0.5)
    return {
        "rate_per_second": round(count / seconds),
        **lateness_figures("", lateness),
        "cpu_percent": round(100 * peer["cpu_seconds"] / total),
        "bytes_per_job": round((peer["rss_after_mib"] - peer["rss_before_mib"]) * 2**20 / jobs),
        "bytes_per_held_job": round((peer["rss_loaded_mib"] - peer["rss_before_mib"]) * 2**20 / jobs),
    }


async def measure_veggiecron(sink: Sink, jobs: int, seconds: float) -> dict[str, Any]:
    server = BenchServer(server_config())
    try:
        port = await server.start()
        await asyncio.sleep(1.0)
        rss_empty = server.rss_mib()
        base = f"http://127.0.0.1:{port}"
        token = await register_and_log_in(base)
        url = f"http://127.0.0.1:{sink.port}"
        created = time.monotonic()
        # Intervals are anchored at each job's creation, so jobs created over time spread out.
        # start_at holds them back until every job exists (creating them is not what is measured).
        # (API creates run at 300-500 a second here: 1/250 s a job leaves time to restart and
        # weigh the server holding every job before the first one is due.)
        start_at = time.time() + 10 + jobs / 250
        await create_jobs(
            base,
            token,
            [{**http_job(f"j{i}", f"{url}/j{i}", "every 1 seconds"), "start_at": start_at} for i in range(jobs)],
        )
        create_rate = jobs / (time.monotonic() - created)
        await server.stop()  # and start again on the same database
        port = await server.start()
        rss_held = await held_rss(server, f"http://127.0.0.1:{port}", jobs, start_at)
        await asyncio.sleep(max(0.0, start_at - time.time()) + WARM_UP)
        sink.records.clear()
        cpu_before, start = server.cpu_seconds(), time.time()
        await asyncio.sleep(seconds)
        end = time.time()
        cpu, rss = server.cpu_seconds() - cpu_before, server.rss_mib()
        count, lateness = sink.window(start, end)
        return {
            "rate_per_second": round(count / (end - start)),
            **lateness_figures("", lateness),
            "cpu_percent": round(100 * cpu / (end - start)),
            "rss_mib": round(rss, 1),
            "bytes_per_job": round((rss - rss_empty) * 2**20 / jobs),
            "bytes_per_held_job": round((rss_held - rss_empty) * 2**20 / jobs) if rss_held else None,
            "api_creates_per_second": round(create_rate),
        }
    finally:
        await server.close()


def marginal_held_bytes(figures: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    """What one more held job costs: the slope of held memory between the two largest N.

    At small N, fixed costs dominate bytes per job: SQLite's page cache, for one, fills its
    2 MB per connection as the first 10,000 or so jobs are read.
    """
    if len(set(sizes)) < 2:
        return {}
    low, high = sorted(set(sizes))[-2:]
    slopes: dict[str, Any] = {"jobs_from": low, "jobs_to": high}
    for who in ("apscheduler", "veggiecron"):
        a = figures[f"steady_{low}"][who]["bytes_per_held_job"]
        b = figures[f"steady_{high}"][who]["bytes_per_held_job"]
        slopes[who] = round((b * high - a * low) / (high - low)) if a is not None and b is not None else None
    return {"marginal_bytes_per_held_job": slopes}


async def held_rss(server: BenchServer, base: str, jobs: int, due_at: float) -> float | None:
    """The RSS of a server holding all `jobs` in memory, none yet due (None if they fell due first)."""
    async with aiohttp.ClientSession() as session:
        while time.time() < due_at - 1.0:
            async with session.get(f"{base}/health") as response:
                held = (await response.json())["data"]["jobs_in_window"]
            if held >= jobs:
                await asyncio.sleep(0.5)  # what loading left behind is collected
                return server.rss_mib() if time.time() < due_at else None
            await asyncio.sleep(0.1)
    return None


async def measure_herds(sink: Sink, jobs: int, create_rate: float) -> dict[str, Any]:
    """Drain time of N jobs due at one instant, for APScheduler and veggiecron."""
    url = f"http://127.0.0.1:{sink.port}"
    sink.records.clear()
    herd_at = round(time.time() + 3 + jobs / 10_000)
    await run_peer(
        "apscheduler",
        "--url",
        url,
        "--jobs",
        str(jobs),
        "--seconds",
        str(herd_at - time.time() + 5),
        "--herd-at",
        str(herd_at),
    )
    aps_count, aps_lateness = sink.window(herd_at - 1, herd_at + 60)

    server = BenchServer(server_config())
    try:
        port = await server.start()
        base = f"http://127.0.0.1:{port}"
        token = await register_and_log_in(base)
        # Creating the jobs must finish before the herd is due: allow twice the time it took before.
        herd_at = round(time.time() + 3 + 2 * jobs / create_rate)
        await create_jobs(base, token, [http_job(f"h{i}", f"{url}/h{i}", f"once @ {herd_at}") for i in range(jobs)])
        if time.time() > herd_at - 0.5:
            raise RuntimeError("creating the herd took longer than planned; the herd would not be one instant")
        sink.records.clear()
        await asyncio.sleep(herd_at - time.time() + 5)
        vc_count, vc_lateness = sink.window(herd_at - 1, herd_at + 60)
    finally:
        await server.close()
    return {
        "jobs": jobs,
        "apscheduler_delivered": aps_count,
        "apscheduler_drain_seconds": round(max(aps_lateness) / 1000, 3) if aps_lateness else None,
        "veggiecron_delivered": vc_count,
        "veggiecron_drain_seconds": round(max(vc_lateness) / 1000, 3) if vc_lateness else None,
        **lateness_figures("veggiecron_", vc_lateness),
    }


async def bench(sizes: list[int], herds: list[int], seconds: float) -> dict[str, Any]:
    sink = Sink()
    await sink.start()
    try:
        figures: dict[str, Any] = {"synchronous": SYNCHRONOUS["mode"], **await measure_ceiling(sink, seconds)}
        for jobs in sizes:
            aps = await measure_apscheduler(sink, jobs, seconds)
            vc = await measure_veggiecron(sink, jobs, seconds)
            # The ceiling again, right after veggiecron's window: on shared cores it drifts by a
            # fifth over the minutes one size takes, so each ratio uses the one measured beside it.
            ceiling = (await measure_ceiling(sink, seconds))["ceiling_per_second"]
            figures[f"steady_{jobs}"] = {
                "jobs": jobs,
                "apscheduler": aps,
                "veggiecron": vc,
                "ceiling_per_second": ceiling,
                "veggiecron_over_ceiling": round(vc["rate_per_second"] / ceiling, 2),
                "veggiecron_over_apscheduler": round(vc["rate_per_second"] / max(1, aps["rate_per_second"]), 2),
            }
        figures.update(marginal_held_bytes(figures, sizes))
        create_rate = min(
            [300.0]
            + [row["veggiecron"]["api_creates_per_second"] for key, row in figures.items() if key.startswith("steady_")]
        )
        for jobs in herds:
            herd = await measure_herds(sink, jobs, create_rate)
            # The wire minimum: N requests at the bare client's rate, measured right after the herd.
            ceiling = (await measure_ceiling(sink, seconds))["ceiling_per_second"]
            minimum = jobs / ceiling
            herd["ceiling_per_second"] = ceiling
            herd["minimum_seconds"] = round(minimum, 3)
            if herd["veggiecron_drain_seconds"] is not None:
                herd["veggiecron_drain_over_minimum"] = round(herd["veggiecron_drain_seconds"] / minimum, 2)
            figures[f"herd_{jobs}"] = herd
        return figures
    finally:
        await sink.stop()


def print_table(figures: dict[str, Any]) -> None:
    print(f"ceiling (bare aiohttp, pool {POOL}) at the start: {figures['ceiling_per_second']} req/s")
    print(f"veggiecron's sqlite.synchronous: {figures['synchronous']}")
    print()
    header = f"{'N every 1 s':>12} {'who':>12} {'disp/s':>8} {'disp/min':>10} {'p50 ms':>9} {'p99 ms':>9} "
    header += f"{'max ms':>9} {'CPU %':>6} {'B/job':>7} {'B/held':>7}"
    print(header)
    for key, row in figures.items():
        if not key.startswith("steady_"):
            continue
        for who in ("apscheduler", "veggiecron"):
            f = row[who]
            print(
                f"{row['jobs']:>12} {who:>12} {f['rate_per_second']:>8} {f['rate_per_second'] * 60:>10} "
                f"{f['lateness_p50_ms']:>9} {f['lateness_p99_ms']:>9} {f['lateness_max_ms']:>9} "
                f"{f['cpu_percent']:>6} {f['bytes_per_job']:>7} {f['bytes_per_held_job'] or '-':>7}"
            )
        print(f"{'':>12} {'API':>12} {row['veggiecron']['api_creates_per_second']} job creates/s before the window")
        print(
            f"{'':>12} {'ratios':>12} veggiecron/ceiling {row['veggiecron_over_ceiling']} "
            f"(ceiling measured right after: {row['ceiling_per_second']}/s), "
            f"veggiecron/APScheduler {row['veggiecron_over_apscheduler']}"
        )
    marginal = figures.get("marginal_bytes_per_held_job")
    if marginal:
        print()
        print(
            f"memory per held job, marginal from {marginal['jobs_from']} to {marginal['jobs_to']} jobs: "
            f"APScheduler {marginal['apscheduler']} B, veggiecron {marginal['veggiecron']} B"
        )
    for key, row in figures.items():
        if key.startswith("herd_"):
            print()
            print(
                f"herd of {row['jobs']} due at one instant: APScheduler drained {row['apscheduler_delivered']} "
                f"in {row['apscheduler_drain_seconds']} s; veggiecron drained {row['veggiecron_delivered']} "
                f"in {row['veggiecron_drain_seconds']} s (p50 {row['veggiecron_lateness_p50_ms']} ms); "
                f"the wire minimum (N over the ceiling, {row['ceiling_per_second']}/s) is {row['minimum_seconds']} s: "
                f"{row.get('veggiecron_drain_over_minimum')} x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="jobs per steady run")
    parser.add_argument("--herds", type=int, nargs="*", default=None, help="jobs per herd")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measured window")
    parser.add_argument("--quick", action="store_true", help="N = 1,000 only, short windows")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument(
        "--synchronous", choices=("normal", "full"), default="full", help="the servers' sqlite.synchronous"
    )
    args = parser.parse_args()
    SYNCHRONOUS["mode"] = args.synchronous
    sizes = args.sizes if args.sizes is not None else ([1000] if args.quick else [1000, 10_000, 50_000])
    herds = args.herds if args.herds is not None else ([1000] if args.quick else [10_000])
    seconds = args.seconds if args.seconds is not None else (6.0 if args.quick else 15.0)
    figures = run(bench(sizes, herds, seconds))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
