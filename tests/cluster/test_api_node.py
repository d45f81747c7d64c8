"""An api node and a scheduler node on PostgreSQL, in-process: what is asked of the api node is
sent by the scheduler node, and Seed's synchronous delivery waits for its recorded result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.config import ClusterSection
from veggiecron.model import Job, RunOutcome


def node_config(database: str, role: str) -> Any:
    cluster = ClusterSection(lease_seconds=2.0, reap_interval_seconds=0.5, role=role)
    return test_config("unused.db", database=database, cluster=cluster)


async def stored_job(node: Server, name: str) -> Job:
    found = await node.store.user_credentials("alice")
    assert found is not None
    return await node.store.get_job(found[0].id, name)


@pytest.fixture
async def api_and_scheduler(postgres_url: str) -> AsyncIterator[tuple[Server, Server]]:
    api_node = await start_server(node_config(postgres_url, "api"))
    scheduler = await start_server(node_config(postgres_url, "scheduler"))
    yield api_node, scheduler
    await api_node.stop()
    await scheduler.stop()


async def test_deliver_on_an_api_node_answers_the_scheduler_nodes_recorded_run(
    api_and_scheduler: tuple[Server, Server], sink: Sink, session: aiohttp.ClientSession
) -> None:
    api_node, scheduler = api_and_scheduler
    api = Api(f"http://127.0.0.1:{api_node.port}", session)
    await api.register_and_login()
    await api.create_job("requeued", sink.url + "/requeued", schedule="every 1 hours")
    job = await stored_job(api_node, "requeued")

    run = await api_node.ctx.jobs.deliver(job)
    assert run.outcome == RunOutcome.OK and run.status_code == 200, run
    (hit,) = sink.paths("/requeued")
    assert hit.headers["X-Veggiecron-Node"] == scheduler.node
    assert hit.headers["X-Veggiecron-Epoch"] == "1"
    # Recorded once, by the scheduler node, and counted there only.
    status, body = await api.call("GET", "/job/requeued/runs")
    assert status == 200 and body["data"]["count"] == 1, body
    assert api_node.metrics.runs.labels(outcome="ok")._value.get() == 0
    await wait_for(lambda: scheduler.metrics.runs.labels(outcome="ok")._value.get() == 1, timeout=2)
    assert scheduler.metrics.claims_reaped._value.get() == 0  # a request taken over is no lapse


async def test_deliver_without_a_scheduler_node_answers_after_the_wait_and_the_run_stays_asked(
    postgres_url: str, sink: Sink, session: aiohttp.ClientSession
) -> None:
    api_node = await start_server(node_config(postgres_url, "api"))
    try:
        api = Api(f"http://127.0.0.1:{api_node.port}", session)
        await api.register_and_login()
        await api.create_job("waiting", sink.url + "/waiting", schedule="every 1 hours")
        job = await stored_job(api_node, "waiting")
        run = await api_node.ctx.jobs.deliver(job)
        assert run.error is not None and "no result within 2s" in run.error, run
        assert not sink.paths("/waiting")
        status, body = await api.call("GET", "/health")
        assert status == 200 and body["data"]["scheduler_nodes"] == "none seen", body
    finally:
        await api_node.stop()
    # A scheduler node started later sends the run that was asked for.
    scheduler = await start_server(node_config(postgres_url, "scheduler"))
    try:
        await wait_for(lambda: sink.paths("/waiting"), timeout=5)
    finally:
        await scheduler.stop()
