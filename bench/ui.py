"""The dashboard's job list against the API's read of the same jobs: milliseconds on the server.

    python -m bench.ui                  # 1,000 jobs, 200 requests of each kind per page size
    python -m bench.ui --quick          # the same jobs, 40 requests of each kind: a few seconds
    python -m bench.ui --jobs 1000 --json

The server runs in this process on a temporary SQLite database. One user owns --jobs jobs
(`every 1 hours`, so none fires during the run) with tags, 20 runs of history each (one in seven
failed) and every tenth job failing; they are bulk-loaded through the store contract. Then, in
turns, the same client asks for the dashboard's list (GET /ui/?limit=N, logged in by its session
cookie: rows with state, last outcome and a chart of the recent runs, the failing count in the
title) and for the API's read of the same N jobs (GET /job?limit=N with the token), for the
dashboard's page size (50, the API's default) and the largest (500). Reported per kind: the server's time for
the request (tornado's request_time: parse, authenticate, read, render, write) as p50, p95 and
max, the client's round trip p50, and the ratio of the two p50s. The target (under 50 ms at p95)
is the list as it opens, the page of 50. --json prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import tornado.web

from bench.stats import percentile
from start import run
from veggiecron.app import Server
from veggiecron.config import SecuritySection, load_config
from veggiecron.model import Progress, Run, RunOutcome

PASSWORD = "bench-password"
RUNS_PER_JOB = 20
TARGET_MS = 50.0


async def load(server: Server, jobs: int) -> None:
    """The user, their jobs and each job's run history, written through the store contract."""
    store = server.store
    now = time.time()
    user = await server.ctx.accounts.register("bench", PASSWORD)
    rows = [
        (f"job{i:04d}", {"url": f"http://127.0.0.1:9/job/{i}", "verb": "POST"}, "every hour", now + 3600, now)
        for i in range(jobs)
    ]
    await store.import_jobs(user.id, rows, now, job_type="http")
    listed, _count = await store.list_jobs(user.id, jobs, 0)
    runs = []
    for job in listed:
        for k in range(RUNS_PER_JOB):
            due = now - (RUNS_PER_JOB - k) * 3600
            failed = (job.id + k) % 7 == 0
            runs.append(
                Run(
                    job.id,
                    due,
                    due + 0.002 * (k % 5),
                    20.0 + 7 * (k % 9),
                    RunOutcome.FAILED if failed else RunOutcome.OK,
                    attempts=1,
                    status_code=503 if failed else 200,
                    error="HTTP 503" if failed else None,
                    response_excerpt="ok" if not failed else "unavailable",
                    error_class="http_status" if failed else None,
                )
            )
    streaks = [(job.id, 2) for job in listed[::10]]
    await store.record_progress(Progress(runs=runs, streaks=streaks))
    for job in listed[::3]:
        await store.update_job(replace(job, tags=("bench", f"group{job.id % 4}")))


class Timings:
    """tornado's request_time of every request, by path with its query."""

    def __init__(self) -> None:
        self.by_uri: dict[str, list[float]] = {}

    def log(self, handler: tornado.web.RequestHandler) -> None:
        self.by_uri.setdefault(handler.request.uri or "", []).append(1000.0 * handler.request.request_time())


async def measure(jobs: int, requests: int) -> dict[str, Any]:
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="veggiecron-bench-ui-") as folder:
        config = load_config(None)
        config = replace(
            config,
            port=0,
            db_file=str(Path(folder) / "bench.db"),
            log_level="WARNING",
            security=SecuritySection(bcrypt_rounds=4),
        )
        server = Server(config)
        await server.start()
        try:
            await load(server, jobs)
            timings = Timings()
            assert server.http_server is not None
            application: tornado.web.Application = server.http_server.request_callback  # type: ignore[assignment]
            application.settings["log_function"] = timings.log
            return await compare(f"http://127.0.0.1:{server.port}", jobs, requests, timings)
        finally:
            await server.stop()


async def compare(base: str, jobs: int, requests: int, timings: Timings) -> dict[str, Any]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.post(base + "/login", json={"username": "bench", "password": PASSWORD}) as response:
            token = (await response.json())["data"]["token"]
        async with session.get(base + "/ui/login") as response:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', await response.text())
        assert xsrf is not None
        form = {"username": "bench", "password": PASSWORD, "_xsrf": xsrf.group(1)}
        async with session.post(base + "/ui/login", data=form) as response:
            assert response.status == 200, await response.text()
        figures: dict[str, Any] = {"jobs": jobs, "runs_per_job": RUNS_PER_JOB, "requests": requests, "pages": {}}
        for limit in (50, 500):
            ui, api = f"/ui/?limit={limit}", f"/job?limit={limit}"
            rounds: dict[str, list[float]] = {ui: [], api: []}
            for i in range(requests + 10):  # the first ten of each warm caches and are not counted
                for uri, headers in ((ui, {}), (api, {"X-Auth-Token": token})):
                    started = time.perf_counter()
                    async with session.get(base + uri, headers=headers) as response:
                        body = await response.read()
                        assert response.status == 200, body[:200]
                    if i >= 10:
                        rounds[uri].append(1000.0 * (time.perf_counter() - started))
            assert body.count(b'"name"') == min(limit, jobs)
            server_ui, server_api = timings.by_uri[ui][10:], timings.by_uri[api][10:]
            page: dict[str, Any] = {
                "rows": min(limit, jobs),
                "ui_server_ms": summary(server_ui),
                "api_server_ms": summary(server_api),
                "ui_client_p50_ms": round(percentile(rounds[ui], 0.5), 2),
                "api_client_p50_ms": round(percentile(rounds[api], 0.5), 2),
            }
            page["ratio_p50"] = round(page["ui_server_ms"]["p50"] / page["api_server_ms"]["p50"], 2)
            figures["pages"][str(limit)] = page
        figures["target_ms"] = TARGET_MS
        figures["target_met"] = figures["pages"]["50"]["ui_server_ms"]["p95"] < TARGET_MS
        return figures


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 2),
        "p95": round(percentile(values, 0.95), 2),
        "max": round(max(values), 2),
    }


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"{figures['jobs']} jobs, {figures['runs_per_job']} runs each; {figures['requests']} requests of each kind",
        f"{'rows':>5} {'ui p50':>8} {'ui p95':>8} {'ui max':>8} {'api p50':>8} {'api p95':>8} {'ratio':>6}"
        f" {'ui rtt':>8} {'api rtt':>8}   (ms on the server; rtt: the client's round trip p50)",
    ]
    for page in figures["pages"].values():
        ui, api = page["ui_server_ms"], page["api_server_ms"]
        lines.append(
            f"{page['rows']:>5} {ui['p50']:>8} {ui['p95']:>8} {ui['max']:>8} {api['p50']:>8} {api['p95']:>8}"
            f" {page['ratio_p50']:>6} {page['ui_client_p50_ms']:>8} {page['api_client_p50_ms']:>8}"
        )
    met = "met" if figures["target_met"] else "MISSED"
    lines.append(f"target: the list's page under {figures['target_ms']:.0f} ms on the server at p95: {met}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs of the user (default 1000)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests of each kind and page size")
    parser.add_argument("--quick", action="store_true", help="40 requests of each kind")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args()
    if args.quick:
        args.requests = 40
    figures = run(measure(args.jobs, args.requests))
    print(json.dumps(figures) if args.json else table(figures))


if __name__ == "__main__":
    main()
