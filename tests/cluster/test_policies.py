"""Policies across nodes: two nodes in this process on one PostgreSQL database, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.helpers import Api, Sink, serve_http, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import ClusterSection


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[list[Server]]:
    config = test_config("unused.db", database=postgres_url, cluster=ClusterSection(lease_seconds=5.0))
    started = [await start_server(config), await start_server(config)]
    yield started
    for node in started:
        await node.stop()


@pytest.fixture
async def apis(nodes: list[Server], session: aiohttp.ClientSession) -> list[Api]:
    first, second = (Api(f"http://127.0.0.1:{node.port}", session) for node in nodes)
    await first.register_and_login()
    second.token = first.token  # one user, one token, either node
    return [first, second]


async def test_a_job_that_keeps_failing_pauses_once_and_tells_its_notify_url(apis: list[Api], sink: Sink) -> None:
    events: list[dict[str, Any]] = []

    async def collect(request: web.Request) -> web.Response:
        events.append(await request.json())
        return web.Response(text="ok")

    events_url, runner = await serve_http(collect)
    try:
        sink.status = 503
        await apis[0].create_job(
            "flaky", sink.url, schedule="every 1 seconds", notify_url=events_url, pause_after_failures=3
        )

        async def paused() -> dict[str, Any] | None:
            _, body = await apis[1].call("GET", "/job/flaky")  # asked of the other node
            data: dict[str, Any] = body["data"]
            return data if data["state"] == "paused" else None

        job = await wait_for(paused, timeout=10)
        assert job["paused_reason"].startswith("paused after 3 consecutive failed runs")
        _, body = await apis[1].call("GET", "/audit", params={"action": "job.paused"})
        (row,) = body["data"]["entries"]  # written once, by the node that paused it, with the pause
        assert (row["actor"], row["target"]) == ("system", "job:flaky")
        assert row["changes"]["paused_reason"]["new"] == job["paused_reason"]
        await wait_for(lambda: [e["event"] for e in events] == ["failure", "paused"], timeout=5)
        sent = len(sink.hits)
        await asyncio.sleep(1.5)  # a paused job is not sent by any node
        assert len(sink.hits) == sent
    finally:
        await runner.cleanup()


async def test_overlap_skip_holds_across_nodes(apis: list[Api], sink: Sink) -> None:
    sink.delay = 2.5  # each run outlasts two of its slots
    await apis[0].create_job("slow", sink.url, schedule="every 1 seconds")

    async def runs() -> list[dict[str, Any]] | None:
        _, body = await apis[1].call("GET", "/job/slow/runs", params={"limit": 50})
        found: list[dict[str, Any]] = body["data"]["runs"]
        return found if sum(r["outcome"] == "ok" for r in found) >= 2 else None

    found = await wait_for(runs, timeout=12)
    assert sum(r["outcome"] == "skipped" for r in found) >= 2
    arrivals = sorted(hit.arrived_at for hit in sink.hits)
    # Never two runs of the job at once, whichever node sent them.
    assert all(b - a >= 2.4 for a, b in zip(arrivals, arrivals[1:], strict=False)), arrivals


async def test_a_seed_failed_task_is_kept_and_requeued_through_another_node(
    apis: list[Api], nodes: list[Server], sink: Sink
) -> None:
    sink.status = 500
    status, created = await apis[0].call(
        "POST", "/api/v1/schedule/", json={"endpoint": sink.url + "/seed", "interval_definition": "1 hours"}
    )
    assert status == 201, created
    job_name = "seed-" + created["id"]
    status, _ = await apis[0].call("POST", f"/job/{job_name}/run")
    assert status == 202

    async def failures() -> list[dict[str, Any]] | None:
        _, body = await apis[1].call("GET", "/api/v1/failed-tasks/")
        results: list[dict[str, Any]] = body["results"]
        return results or None

    await wait_for(failures, timeout=15)
    sink.status = 200
    delivered = len(sink.paths("/seed"))
    status, body = await apis[1].call("POST", "/api/v1/failed-tasks/")
    assert status == 201, body
    await wait_for(lambda: len(sink.paths("/seed")) > delivered, timeout=5)
    _, body = await apis[0].call("GET", "/api/v1/failed-tasks/")
    assert body["count"] == 0
