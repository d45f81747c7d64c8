"""Per-job policies and delivery rules over the real API, against real local targets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import Api, serve_http, wait_for


class Target:
    """A local HTTP target whose answers a test scripts: a list of (status, headers, delay)."""

    def __init__(self) -> None:
        self.hits: list[tuple[float, dict[str, str]]] = []
        self.script: list[tuple[int, dict[str, str], float]] = []
        self.default: tuple[int, dict[str, str], float] = (200, {}, 0.0)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append((time.time(), dict(request.headers)))
        status, headers, delay = self.script.pop(0) if self.script else self.default
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, headers=headers, text="target")


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    target = Target()
    target.url, runner = await serve_http(target.handle, shutdown_timeout=0.1)
    yield target
    await runner.cleanup()


async def runs_of(api: Api, name: str) -> list[dict[str, Any]]:
    status, body = await api.call("GET", f"/job/{name}/runs")
    assert status == 200, body
    return list(body["data"]["runs"])


async def fire(api: Api, name: str) -> None:
    status, body = await api.call("POST", f"/job/{name}/run")
    assert status == 202, body


async def fire_and_record(api: Api, name: str) -> list[dict[str, Any]]:
    """Fire the job now and wait until its run is in the history; answer the runs, newest first."""
    before = len(await runs_of(api, name))
    await fire(api, name)

    async def recorded() -> list[dict[str, Any]] | None:
        runs = await runs_of(api, name)
        return runs if len(runs) > before else None

    result: list[dict[str, Any]] = await wait_for(recorded, timeout=5)
    return result


async def test_503_with_retry_after_is_honoured(user_api: Api, target: Target) -> None:
    target.script = [(503, {"Retry-After": "1"}, 0.0)]
    data = {"url": target.url + "/busy", "retries": 2, "retry_backoff_seconds": 0.01}
    await user_api.create_job("busy", target.url, schedule="every 1 hours", data=data)
    await fire(user_api, "busy")
    await wait_for(lambda: len(target.hits) >= 2, timeout=5)
    waited = target.hits[1][0] - target.hits[0][0]
    assert 0.9 <= waited < 2.5  # the target's Retry-After, not the 10 ms backoff
    runs = await wait_for(lambda: runs_of(user_api, "busy"), timeout=5)
    assert runs[0]["outcome"] == "ok" and runs[0]["attempts"] == 2


async def test_retries_stop_early_on_a_4xx_unless_listed(user_api: Api, target: Target) -> None:
    target.default = (404, {}, 0.0)
    fast = {"retries": 3, "retry_backoff_seconds": 0.01}
    await user_api.create_job("gone", target.url, schedule="every 1 hours", data={"url": target.url + "/a", **fast})
    await fire(user_api, "gone")
    runs = await wait_for(lambda: runs_of(user_api, "gone"), timeout=5)
    assert runs[0]["attempts"] == 1 and runs[0]["error_class"] == "http_status" and runs[0]["status_code"] == 404
    await user_api.create_job(
        "stubborn", target.url, schedule="every 1 hours", data={"url": target.url + "/b", "retry_on": [404], **fast}
    )
    await fire(user_api, "stubborn")
    runs = await wait_for(lambda: runs_of(user_api, "stubborn"), timeout=5)
    assert runs[0]["attempts"] == 4 and runs[0]["outcome"] == "failed"


async def test_every_attempt_of_a_slot_shares_its_idempotency_key(user_api: Api, target: Target) -> None:
    target.script = [(500, {}, 0.0), (500, {}, 0.0)]
    data = {"url": target.url + "/k", "retries": 2, "retry_backoff_seconds": 0.01}
    await user_api.create_job("keys", target.url, schedule="every 1 hours", data=data)
    await fire(user_api, "keys")
    await wait_for(lambda: len(target.hits) >= 3, timeout=5)
    await fire(user_api, "keys")
    await wait_for(lambda: len(target.hits) >= 4, timeout=5)
    keys = [headers["Idempotency-Key"] for _, headers in target.hits]
    assert keys[0] == keys[1] == keys[2] != keys[3]
    first = target.hits[0][1]
    assert first["X-Veggiecron-Job"] == keys[0].split("-")[0]
    assert datetime.fromisoformat(first["X-Veggiecron-Scheduled-At"]).tzinfo is not None


async def test_a_hanging_target_times_out_and_others_stay_on_time(user_api: Api, target: Target) -> None:
    target.default = (200, {}, 5.0)
    await user_api.create_job("hang", target.url, schedule="every 1 hours", data={"url": target.url, "timeout": 0.3})
    await fire(user_api, "hang")
    runs = await wait_for(lambda: runs_of(user_api, "hang"), timeout=5)
    assert runs[0]["outcome"] == "failed" and runs[0]["error_class"] == "timeout"
    assert 250 <= runs[0]["duration_ms"] < 2000


async def test_connection_refused_is_classed_connect(user_api: Api) -> None:
    await user_api.create_job("refused", "", schedule="every 1 hours", data={"url": "http://127.0.0.1:1/"})
    await fire(user_api, "refused")
    runs = await wait_for(lambda: runs_of(user_api, "refused"), timeout=5)
    assert runs[0]["error_class"] == "connect"


async def test_fails_then_recovers_with_notifications_and_pause(user_api: Api, target: Target) -> None:
    target.script = [(500, {}, 0.0)] * 2
    events: list[dict[str, Any]] = []
    app = web.Application()

    async def collect(request: web.Request) -> web.Response:
        events.append(await request.json())
        return web.Response(text="ok")

    app.router.add_post("/events", collect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    events_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/events"  # type: ignore[union-attr]
    try:
        await user_api.create_job(
            "flaky",
            target.url,
            schedule="every 1 hours",
            data={"url": target.url},
            notify_url=events_url,
            pause_after_failures=3,
        )
        for _ in range(3):
            await fire_and_record(user_api, "flaky")
        await wait_for(lambda: [e["event"] for e in events] == ["failure", "recovery"], timeout=5)
        assert events[0]["job"] == "flaky" and events[0]["status_code"] == 500 and events[0]["run_id"]
        # Now it fails three times in a row: it pauses itself, with the reason on the job.
        target.default = (500, {}, 0.0)
        for _ in range(3):
            await fire_and_record(user_api, "flaky")
        await wait_for(lambda: events and events[-1]["event"] == "paused", timeout=5)

        async def paused() -> bool:
            _, body = await user_api.call("GET", "/job/flaky")
            return body["data"]["state"] == "paused" and bool(body["data"]["paused_reason"])

        await wait_for(paused, timeout=5)
        status, body = await user_api.call("PATCH", "/job/flaky", json={"enabled": True})
        assert status == 200 and body["data"]["paused_reason"] is None and body["data"]["consecutive_failures"] == 0
    finally:
        await runner.cleanup()


async def test_policy_fields_are_stored_shown_and_validated(user_api: Api, target: Target) -> None:
    job = await user_api.create_job(
        "policy",
        target.url,
        schedule="every 10 seconds",
        overlap="buffer_one",
        catch_up="all",
        max_catch_up=5,
        grace_seconds=30,
        jitter_seconds=3,
        start_at="2030-01-01T00:00:00Z",
        pause_after_failures=4,
    )
    assert job["overlap"] == "buffer_one" and job["catch_up"] == "all" and job["max_catch_up"] == 5
    assert job["next_run"] >= datetime.fromisoformat("2030-01-01T00:00:00+00:00").timestamp()
    bad = [
        ({"overlap": "sometimes"}, "overlap"),
        ({"catch_up": "most"}, "catch_up"),
        ({"max_catch_up": 0}, "max_catch_up"),
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"jitter_seconds": "x"}, "jitter_seconds"),
        ({"start_at": "tomorrow"}, "start_at"),
        ({"pause_after_failures": 0}, "pause_after_failures"),
        ({"notify_url": "ftp://x"}, "notify_url"),
    ]
    for change, field in bad:
        status, body = await user_api.call("PATCH", "/job/policy", json=change)
        assert status == 400 and body["data"]["field"] == field, (change, body)
    # An end_at at or before start_at leaves the job no time to fire: accepted, and the job is done
    # (a rule between two fields is one the OpenAPI document cannot state, so it is no error).
    status, body = await user_api.call("PATCH", "/job/policy", json={"start_at": 2000, "end_at": 1000})
    assert status == 200 and body["data"]["state"] == "done" and body["data"]["next_run"] is None, body
    status, body = await user_api.call("PATCH", "/job/policy", json={"overlap": None, "start_at": None, "end_at": None})
    assert status == 200 and body["data"]["overlap"] is None and body["data"]["next_run"] < time.time() + 20


async def test_next_previews_runs_in_utc_and_local_time(user_api: Api, target: Target) -> None:
    await user_api.create_job("daily", target.url, schedule="every day @ 02:30", timezone="America/New_York")
    status, body = await user_api.call("GET", "/job/daily/next", params={"count": 5})
    assert status == 200
    runs = body["data"]["runs"]
    assert len(runs) == 5 and body["data"]["timezone"] == "America/New_York"
    assert all(r["local"][11:16] in ("02:30", "03:00") for r in runs)  # 03:00 only on a spring-forward day
    assert [r["at"] for r in runs] == sorted(r["at"] for r in runs)
    assert all(r["utc"].endswith("+00:00") for r in runs)
    status, body = await user_api.call("GET", "/job/daily/next", params={"count": 0})
    assert status == 400 and body["data"]["field"] == "count"
