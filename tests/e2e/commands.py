"""The veggiecron commands as an operator runs them: real processes, configured by environment and flags."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import wait_for
from veggiecron.config_layers import ENV_PREFIX, SEED_ENV

ROOT = Path(__file__).resolve().parents[2]
START = str(ROOT / "start.py")
LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any veggiecron or Seed setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k not in SEED_ENV}
    return {**env, "VEGGIECRON_SECURITY__BCRYPT_ROUNDS": "4", **extra}


def command(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 30, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python start.py ARGS` (the same as `veggiecron ARGS`), to completion; `input` on its stdin."""
    return subprocess.run(
        [sys.executable, START, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input
    )


class Served:
    """`python start.py serve` in the background, its stderr in a file read while it runs."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path, *args: str) -> None:
        self.cwd, self.env, self.log, self.args = cwd, env, log, args
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> int:
        with self.log.open("w") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, START, "serve", *self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=log
            )

        def listening() -> int | None:
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()}")
            found = LISTENING.search(self.log.read_text())
            return int(found.group(1)) if found else None

        self.port = await wait_for(listening, timeout=20)
        return self.port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=15)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
