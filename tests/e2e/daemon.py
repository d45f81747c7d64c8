"""`python start.py` as a real subprocess, with its own config and its log in a file read while it runs."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")


class Daemon:
    """One start.py process; `overrides` are merged into its config section by section."""

    def __init__(self, tmp_path: Path, **overrides: dict[str, Any]) -> None:
        config: dict[str, Any] = {
            "app": {"env": "test", "key": "end-to-end-test-key-0123456789"},
            "host": "127.0.0.1",
            "port": 0,
            "db_file": str(tmp_path / "e2e.db"),
            "log_level": "INFO",
            "security": {"bcrypt_rounds": 4},
            "scheduler": {"flush_interval_seconds": 0.05, "shutdown_grace_seconds": 2},
            "http_client": {"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.2},
        }
        for section, values in overrides.items():
            config[section] = {**config.get(section, {}), **values}
        self.config = tmp_path / "config.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.log = tmp_path / "server.log"
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> int:
        """Start the server; answer the port from this start's own 'listening' line."""
        before = len(LISTENING.findall(self.log.read_text())) if self.log.exists() else 0
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "start.py", "--config", str(self.config), cwd=ROOT, stdout=log, stderr=log
            )

        def new_port() -> int | None:
            matches = LISTENING.findall(self.log.read_text())
            return int(matches[-1]) if len(matches) > before else None

        self.port = await wait_for(new_port, timeout=20)
        return self.port

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout=15)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def create_admin(self, name: str) -> str:
        """Run `start.py create-admin` on this config; answer the token it prints."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "start.py",
            "create-admin",
            name,
            "--config",
            str(self.config),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        token = stdout.decode().strip().splitlines()[-1]
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token), stdout
        return token
