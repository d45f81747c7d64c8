"""The Seed Scheduler API end to end: `python start.py` as a subprocess, used as a Seed Stack service would.

An operator runs `create-admin`; the admin makes a token for a service's email; the service
creates a cron schedule and an interval schedule aimed at a local sink, and a schedule aimed at
an endpoint that fails, which is retried, becomes a failed task, and arrives once requeued.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.helpers import Sink, start_sink, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
async def failing_sink() -> AsyncIterator[Sink]:
    """A second sink: the service's endpoint that is down until the test brings it back."""
    sink, runner = await start_sink()
    sink.status = 500
    yield sink
    await runner.cleanup()


class Service:
    """A Seed Stack service's view of the API: one token, DRF answers."""

    def __init__(self, base: str, session: aiohttp.ClientSession, token: str) -> None:
        self.base = base
        self.session = session
        self.token = token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = path if path.startswith("http") else self.base + path
        headers = {"Authorization": f"Token {self.token}"}
        async with self.session.request(method, url, json=body, headers=headers) as response:
            raw = await response.read()
            return response.status, json.loads(raw) if raw else None


def parse_time(text: str) -> float:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text[:-1] + "+00:00").timestamp()


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


async def test_a_seed_service_schedules_deliveries_end_to_end(tmp_path: Path, sink: Sink, failing_sink: Sink) -> None:
    daemon = Daemon(tmp_path)
    try:
        admin_token = await daemon.create_admin("ops")
        port = await daemon.start()
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            admin = Service(base, session, admin_token)

            # The admin gives the service a token for its email address.
            status, body = await admin.call("POST", "/api/v1/user/token/", {"email": "stage-based@example.org"})
            assert status == 201, body
            service = Service(base, session, body["token"])
            status, body = await service.call("GET", "/api/v1/user/")
            assert status == 200 and [u["username"] for u in body["results"]] == ["stage-based@example.org"]

            # A cron schedule: due at the next whole minute.
            before = time.time()
            status, cron = await service.call(
                "POST",
                "/api/v1/schedule/",
                {
                    "cron_definition": "* * * * *",
                    "endpoint": sink.url + "/cron",
                    "payload": {"kind": "cron"},
                    "auth_token": "cron-token",
                },
            )
            assert status == 201, cron
            next_send_at = parse_time(cron["next_send_at"])
            assert next_send_at % 60 == 0 and before < next_send_at <= before + 60

            # An interval schedule: delivered every second with the payload and the token.
            payload = {"to": "+27820000000", "message": "Hello from the scheduler", "stage": 3}
            status, interval = await service.call(
                "POST",
                "/api/v1/schedule/",
                {
                    "interval_definition": "1 seconds",
                    "endpoint": sink.url + "/interval",
                    "payload": payload,
                    "auth_token": "interval-token",
                },
            )
            assert status == 201, interval
            await wait_for(lambda: len(sink.paths("/interval")) >= 2, timeout=6)
            for hit in sink.paths("/interval"):
                assert hit.method == "POST"
                assert json.loads(hit.body) == payload
                assert header(hit.headers, "Content-Type") == "application/json"
                assert header(hit.headers, "Authorization") == "Token interval-token"
            status, body = await service.call("GET", "/api/v1/schedule/")
            assert status == 200 and body["count"] == 2
            assert {s["id"] for s in body["results"]} == {cron["id"], interval["id"]}
            status, _ = await service.call("DELETE", interval["url"])
            assert status == 204

            # A schedule aimed at an endpoint that fails: retried, then kept as a failed task.
            status, flaky = await service.call(
                "POST",
                "/api/v1/schedule/",
                {
                    "interval_definition": "1 seconds",
                    "frequency": 1,
                    "endpoint": failing_sink.url + "/inbound",
                    "payload": {"kind": "flaky"},
                    "auth_token": "flaky-token",
                },
            )
            assert status == 201, flaky

            async def failed_tasks() -> list[dict[str, Any]] | None:
                status, body = await service.call("GET", "/api/v1/failed-tasks/")
                assert status == 200, body
                results: list[dict[str, Any]] = body["results"]
                return results if body["count"] else None

            (failure,) = await wait_for(failed_tasks, timeout=8)
            assert failure["schedule"] == flaky["url"]
            assert "500" in failure["reason"]
            assert len(failing_sink.paths("/inbound")) == 6  # the first attempt and 5 retries

            async def finished() -> dict[str, Any] | None:
                status, body = await service.call("GET", flaky["url"])
                return body if status == 200 and body["enabled"] is False else None

            done = await wait_for(finished, timeout=3)
            assert done["triggered"] == 1

            # The endpoint recovers; the requeued delivery arrives and nothing is left failed.
            failing_sink.status = 201
            status, body = await service.call("POST", "/api/v1/failed-tasks/")
            assert status == 201 and body == {"requeued_failed_tasks": True}
            await wait_for(lambda: len(failing_sink.paths("/inbound")) == 7, timeout=5)
            delivered = failing_sink.paths("/inbound")[-1]
            assert json.loads(delivered.body) == {"kind": "flaky"}
            assert header(delivered.headers, "Authorization") == "Token flaky-token"
            status, body = await service.call("GET", "/api/v1/failed-tasks/")
            assert status == 200 and body["count"] == 0

            # The server's own view of it.
            status, health = await service.call("GET", "/api/health/")
            assert status == 200 and health["up"] is True
            async with session.get(base + "/metrics") as response:
                assert response.status == 200
                text = await response.text()
            assert re.search(r'^veggiecron_runs_total\{outcome="ok"\} [1-9]', text, re.M), text
            assert re.search(r'^veggiecron_runs_total\{outcome="failed"\} [1-9]', text, re.M), text

        assert await daemon.stop() == 0
        log = daemon.log.read_text()
        assert "stopped cleanly" in log
        assert "Traceback" not in log
    finally:
        await daemon.kill()
