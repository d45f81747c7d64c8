"""`python start.py` as a real subprocess: jobs fire at a sink, survive kill -9, resume on restart."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.helpers import Api, Sink, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timing]


async def test_jobs_fire_and_survive_kill_and_restart(tmp_path: Path, sink: Sink) -> None:
    daemon = Daemon(tmp_path)
    try:
        port = await daemon.start()
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{port}", session)
            # The form flow of the original README (http --form).
            status, body = await api.call("POST", "/register", data={"username": "test", "password": "test"})
            assert status == 201, body
            status, body = await api.call("POST", "/login", data={"username": "test", "password": "test"})
            assert status == 200, body
            api.token = body["data"]["token"]
            status, body = await api.call(
                "POST",
                "/job",
                data={
                    "name": "beat",
                    "type": "http",
                    "schedule": "every 1 seconds",
                    "data": f'{{"url": "{sink.url}/beat", "verb": "POST", "body": "hello"}}',
                },
            )
            assert status == 201, body
            await wait_for(lambda: len(sink.paths("/beat")) >= 3, timeout=6)
            assert all(h.method == "POST" and h.body == b"hello" for h in sink.paths("/beat"))

        assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = time.time()
        await asyncio.sleep(2.5)  # downtime that spans missed slots
        before_restart = len(sink.paths("/beat"))

        restarted_at = time.time()  # missed slots are due before this; new slots after it
        port = await daemon.start()
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{port}", session)
            status, body = await api.call("POST", "/login", json={"username": "test", "password": "test"})
            assert status == 200
            api.token = body["data"]["token"]
            status, body = await api.call("GET", "/job/beat")
            assert status == 200 and body["data"]["schedule"] == "every second"
            assert body["data"]["data"]["url"] == sink.url + "/beat"
            await wait_for(lambda: len(sink.paths("/beat")) >= before_restart + 3, timeout=6)
            # The slots missed while down coalesce into one run: at most one request after the
            # restart is late (the catch-up run); a burst would deliver every missed slot late.
            after = [h for h in sink.paths("/beat") if h.arrived_at > killed_at]
            due_times = [datetime.fromisoformat(h.headers["X-Veggiecron-Scheduled-At"]).timestamp() for h in after]
            assert len(due_times) == len(set(due_times))
            late = [h for h, due in zip(after, due_times, strict=True) if h.arrived_at - due > 0.5]
            assert len(late) <= 1
            assert min(due_times) < restarted_at + 3  # the first run after the restart came promptly
            status, body = await api.call("GET", "/job/beat/runs")
            assert body["data"]["count"] >= 3

        assert await daemon.stop(signal.SIGTERM) == 0
        assert "stopped cleanly" in daemon.log.read_text()
        assert "Traceback" not in daemon.log.read_text()
    finally:
        await daemon.kill()
