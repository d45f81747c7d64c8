"""`python start.py` as a real subprocess, for the end-to-end tests and the benchmarks alike.

Each Daemon writes its own config into a directory, keeps the process's output in a log file there
and reads its port from the log's "listening on" line; restarting it reuses the same database.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")

# What the end-to-end tests run on: fast flushes and retries, cheap bcrypt, loopback only.
TEST_CONFIG: dict[str, Any] = {
    "app": {"env": "test", "key": "end-to-end-test-key-0123456789"},
    "host": "127.0.0.1",
    "port": 0,
    "log_level": "INFO",
    "security": {"bcrypt_rounds": 4},
    "scheduler": {"flush_interval_seconds": 0.05, "shutdown_grace_seconds": 2},
    "http_client": {"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.2},
}

# Runs start.py with the app's own logger at INFO whatever log_level says, so a server that logs
# only warnings still writes the line its port is read from.
QUIET_LAUNCHER = (
    "import logging, sys; sys.argv[0] = 'start.py'; import start; "
    "logging.getLogger('veggiecron.app').setLevel(logging.INFO); sys.exit(start.main())"
)


def die_with_parent() -> None:
    """In the child: have Linux send SIGTERM when the parent dies, so no server outlives its caller."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def merged(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with each override merged into its section (a mapping) or replacing it (a plain value)."""
    result = dict(config)
    for section, values in overrides.items():
        current = result.get(section)
        if isinstance(values, Mapping) and isinstance(current, Mapping):
            result[section] = {**current, **values}
        else:
            result[section] = values
    return result


async def create_admin(name: str, *options: str) -> str:
    """`start.py create-admin NAME [options]`, as an operator runs it: the token it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "start.py",
        "create-admin",
        name,
        *options,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    if process.returncode != 0:
        raise RuntimeError(f"create-admin failed ({process.returncode}): {stderr.decode()}")
    lines = stdout.decode().strip().splitlines()
    if not lines or not re.fullmatch(r"[A-Za-z0-9_-]{40,}", lines[-1]):
        raise RuntimeError(f"create-admin printed no token: {stdout!r}")
    return lines[-1]


class Daemon:
    """One start.py process on a generated config; it can be stopped, killed and started again.

    The config is `base` (TEST_CONFIG by default) with `overrides` merged in section by section,
    then the YAML text `extra_config` merged the same way. Without a `directory`, a temporary one
    is made and close() removes it. `launcher` is Python code run with `-c` instead of start.py
    (it must call start.main()); `tie_to_parent` has the server die with this process;
    `python_path` adds directories to its PYTHONPATH (a plugin's, for one).
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        base: Mapping[str, Any] = TEST_CONFIG,
        extra_config: str = "",
        launcher: str | None = None,
        tie_to_parent: bool = False,
        python_path: tuple[str, ...] = (),
        **overrides: Any,
    ) -> None:
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="veggiecron-")
            directory = Path(self._temporary.name)
        self.directory = directory
        self.db_file = directory / "veggiecron.db"
        # A database URL in the overrides (PostgreSQL) replaces the SQLite file.
        database = {} if "database" in overrides else {"db_file": str(self.db_file)}
        config = merged(merged(base, database), overrides)
        config = merged(config, yaml.safe_load(extra_config) or {})
        self.config = directory / "config.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.log = directory / "server.log"
        self.launcher = launcher
        self.tie_to_parent = tie_to_parent
        self.python_path = python_path
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self, timeout: float = 30.0) -> int:
        """Start the server; answer the port from this start's own "listening" line."""
        before = len(LISTENING.findall(self.log.read_text())) if self.log.exists() else 0
        program = ["-c", self.launcher] if self.launcher is not None else ["start.py"]
        # A launcher's imports resolve against the checkout, as start.py's do.
        python_path = os.pathsep.join(filter(None, [str(ROOT), *self.python_path, os.environ.get("PYTHONPATH")]))
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *program,
                "--config",
                str(self.config),
                cwd=ROOT,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONPATH": python_path},
                preexec_fn=die_with_parent if self.tie_to_parent else None,
            )
        process = self.process

        def new_port() -> int | None:
            matches = LISTENING.findall(self.log.read_text())
            if len(matches) > before:
                return int(matches[-1])
            if process.returncode is not None:
                raise RuntimeError(f"start.py exited with {process.returncode}:\n{self.log.read_text()}")
            return None

        try:
            self.port = await wait_for(new_port, timeout=timeout, interval=0.05)
        except AssertionError:
            raise RuntimeError(f"start.py did not listen within {timeout}s:\n{self.log.read_text()}") from None
        return self.port

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` (unless it has exited) and wait: the exit code, negative for the signal that ended it."""
        assert self.process is not None, "the server was never started"
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL if it still runs; for cleanup after a test that may have failed half-way."""
        if self.running:
            await self.stop(signal.SIGKILL)

    async def close(self) -> None:
        """Stop it cleanly if it still runs, and remove the temporary directory if one was made."""
        if self.running:
            await self.stop()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    async def create_admin(self, name: str) -> str:
        """`start.py create-admin NAME` on this server's config and database: the token it prints."""
        return await create_admin(name, "--config", str(self.config))
