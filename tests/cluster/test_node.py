"""One node on PostgreSQL, in-process, over HTTP: the same API, jobs firing at a real sink."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server


@pytest.fixture
async def node(postgres_url: str, tmp_path: object) -> AsyncIterator[Server]:
    server = await start_server(test_config("unused.db", database=postgres_url))
    yield server
    await server.stop()


@pytest.fixture
async def node_api(node: Server, session: aiohttp.ClientSession) -> Api:
    api = Api(f"http://127.0.0.1:{node.port}", session)
    await api.register_and_login()
    return api


@pytest.mark.timing
async def test_a_job_fires_on_time_and_its_runs_are_recorded(node_api: Api, sink: Sink) -> None:
    await node_api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
    await wait_for(lambda: len(sink.paths("/beat")) >= 3, timeout=6)
    hit = sink.paths("/beat")[0]
    assert hit.headers["X-Veggiecron-Epoch"] == "1"

    async def recorded() -> list[dict[str, object]] | None:
        status, body = await node_api.call("GET", "/job/beat/runs")
        runs = body["data"]["runs"]
        return runs if status == 200 and len(runs) >= 2 else None

    runs = await wait_for(recorded, timeout=5)
    assert all(r["outcome"] == "ok" and r["status_code"] == 200 for r in runs), runs
    assert all(float(str(r["lateness_ms"])) < 200 for r in runs), runs


async def test_run_now_fires_at_once(node_api: Api, sink: Sink) -> None:
    await node_api.create_job("manual", sink.url + "/manual", schedule="every 1 hours")
    status, body = await node_api.call("POST", "/job/manual/run")
    assert status == 202, body
    await wait_for(lambda: sink.paths("/manual"), timeout=3)


async def test_metrics_time_each_claim(node: Server, node_api: Api, sink: Sink, session: aiohttp.ClientSession) -> None:
    await node_api.create_job("claimed", sink.url + "/claimed", schedule="every 1 hours")
    status, _ = await node_api.call("POST", "/job/claimed/run")
    assert status == 202
    await wait_for(lambda: sink.paths("/claimed"), timeout=3)
    async with session.get(f"http://127.0.0.1:{node.port}/metrics") as reply:
        text = await reply.text()
    counts = [line for line in text.splitlines() if line.startswith("veggiecron_cluster_claim_seconds_count ")]
    assert counts and float(counts[0].split()[-1]) >= 1, counts
    # Every claim took some time, and all were under the largest bound.
    assert 'veggiecron_cluster_claim_seconds_bucket{le="2.5"}' in text
