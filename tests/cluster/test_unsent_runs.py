"""On PostgreSQL too, a run that never reached its target is recorded but is no failure of it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.api.test_faults import RawTarget, fire_and_wait, never_answer, raw_target
from tests.helpers import Api, start_server, test_config
from veggiecron.app import Server


@pytest.fixture
async def hanging() -> AsyncIterator[RawTarget]:
    async with raw_target(never_answer) as target:
        yield target


@pytest.fixture
async def one_connection_node(postgres_url: str) -> AsyncIterator[Server]:
    config = test_config("unused.db", database=postgres_url)
    config = dataclasses.replace(config, http_client=dataclasses.replace(config.http_client, pool_per_host=1))
    server = await start_server(config)
    yield server
    await server.stop()


async def test_a_lane_timeout_leaves_the_failure_streak_alone(
    one_connection_node: Server, session: aiohttp.ClientSession, hanging: RawTarget
) -> None:
    api = Api(f"http://127.0.0.1:{one_connection_node.port}", session)
    await api.register_and_login()
    await api.create_job("holder", hanging.url, schedule="every 1 hours", data={"url": hanging.url, "timeout": 3})
    await api.create_job(
        "waiter",
        hanging.url,
        schedule="every 1 hours",
        data={"url": hanging.url, "timeout": 0.3},
        pause_after_failures=1,
    )
    status, _ = await api.call("POST", "/job/holder/run")  # takes the target's one connection
    assert status == 202
    run = await fire_and_wait(api, "waiter")
    assert (run["outcome"], run["attempts"], run["error_class"]) == ("failed", 0, "timeout"), run
    status, body = await api.call("GET", "/job/waiter")
    job = body["data"]
    assert job["enabled"] and job["consecutive_failures"] == 0 and job["paused_reason"] is None, job
