"""The server under benchmark: start.py in a subprocess (tests/daemon.py), and API calls to set it up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import process_cpu
from tests.daemon import QUIET_LAUNCHER, Daemon

BENCH_CONFIG: dict[str, Any] = {
    "app": {"env": "test", "key": "benchmark-key-0123456789abcdef"},
    "host": "127.0.0.1",
    "port": 0,
    # Logging costs the server time the figures would count; the port still shows (QUIET_LAUNCHER).
    "log_level": "WARNING",
    "security": {"bcrypt_rounds": 4},
    # Benchmarks create more jobs than a user's default quotas allow.
    "quotas": {"max_jobs_per_user": 10_000_000, "max_runs_per_minute": 1_000_000_000},
}


class BenchServer(Daemon):
    """A server in a temporary directory that dies with the benchmark; close() stops it and removes its files."""

    def __init__(self, extra_config: str = "", **overrides: Any) -> None:
        super().__init__(
            base=BENCH_CONFIG, extra_config=extra_config, launcher=QUIET_LAUNCHER, tie_to_parent=True, **overrides
        )

    def rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu(self.process.pid)[1]


async def register_and_log_in(base: str, username: str = "bench") -> str:
    """Register a user (password "bench-password") and log in: its token."""
    credentials = {"username": username, "password": "bench-password"}
    async with aiohttp.ClientSession() as session:
        async with session.post(base + "/register", json=credentials) as response:
            assert response.status == 201, await response.text()
        async with session.post(base + "/login", json=credentials) as response:
            assert response.status == 200, await response.text()
            token: str = (await response.json())["data"]["token"]
    return token


def http_job(name: str, url: str, schedule: str) -> dict[str, Any]:
    return {"name": name, "type": "http", "data": {"url": url}, "schedule": schedule}


async def create_jobs(base: str, token: str, jobs: Iterable[dict[str, Any]], connections: int = 8) -> None:
    """Create jobs through the API over `connections` keep-alive connections at once."""
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers={"X-Auth-Token": token}) as session:
        queue = iter(jobs)  # one shared iterator: each job is taken once

        async def creator() -> None:
            for job in queue:
                async with session.post(base + "/job", json=job) as response:
                    if response.status != 201:
                        raise RuntimeError(f"creating a job failed: {response.status} {await response.text()}")

        await asyncio.gather(*(creator() for _ in range(connections)))
