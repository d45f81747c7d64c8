"""Start `python start.py` as a subprocess on a free port with its own temporary database."""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")


def die_with_parent() -> None:
    """In the child: have Linux send SIGTERM when the benchmark dies, so no server outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class BenchServer:
    def __init__(self, extra_config: str = "") -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="veggiecron-bench-")
        path = Path(self.dir.name)
        self.config = path / "config.yaml"
        self.config.write_text(
            "app:\n  env: test\n  key: benchmark-key-0123456789abcdef\n"
            f"db_file: {path / 'bench.db'}\nlog_level: WARNING\n"
            "security:\n  bcrypt_rounds: 4\n"
            # Benchmarks create more jobs than a user's default quotas allow.
            "quotas:\n  max_jobs_per_user: 10000000\n  max_runs_per_minute: 1000000000\n" + extra_config
        )
        self.log = path / "server.log"
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> int:
        with self.log.open("w") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "import logging, sys; sys.argv[0] = 'start.py'; import start; "
                "logging.getLogger('veggiecron.app').setLevel(logging.INFO); sys.exit(start.main())",
                "--config",
                str(self.config),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                cwd=ROOT,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log.read_text())
            if match:
                self.port = int(match.group(1))
                return self.port
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    async def stop(self, keep_database: bool = False) -> None:
        """Stop the server (SIGTERM); keep_database leaves its files for a restart."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), timeout=60)
        if not keep_database:
            self.dir.cleanup()

    async def create_admin(self, username: str) -> str:
        """`start.py create-admin` on this server's database, as an operator would: its token."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "start.py",
            "create-admin",
            username,
            "--config",
            str(self.config),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"create-admin failed: {err.decode()}")
        return out.decode().strip()


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
