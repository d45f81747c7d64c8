"""Reaping on one PostgreSQL node, in-process, over HTTP: a lapsed claim another node left behind."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import aiohttp
import asyncpg
import pytest

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.cluster.scheduler import ClusterScheduler
from veggiecron.config import ClusterSection
from veggiecron.errors import StoreUnavailable
from veggiecron.model import Job

LEASE = 1.5


@pytest.fixture
async def node(postgres_url: str) -> AsyncIterator[Server]:
    cluster = ClusterSection(lease_seconds=LEASE, reap_interval_seconds=0.2)
    server = await start_server(test_config("unused.db", database=postgres_url, cluster=cluster))
    yield server
    await server.stop()


async def test_a_reaped_claim_whose_job_could_not_be_read_lapses_again_and_is_sent(
    node: Server, postgres_url: str, session: aiohttp.ClientSession, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(f"http://127.0.0.1:{node.port}", session)
    await api.register_and_login()
    await api.create_job("left", sink.url + "/left", schedule="every 1 hours")
    # The node reading the job of a claim it reaped fails once (the database was away a moment).
    assert isinstance(node.scheduler, ClusterScheduler)
    store = node.scheduler.store
    read = store.jobs_by_id
    failures: list[Sequence[int]] = []

    async def fails_once(ids: Sequence[int]) -> list[Job]:
        if not failures:
            failures.append(ids)
            raise StoreUnavailable("the database is away")
        return await read(ids)

    monkeypatch.setattr(store, "jobs_by_id", fails_once)
    # A claim of a node that died: its lease lapsed a second ago.
    due = round(time.time() - 5.0, 6)
    conn = await asyncpg.connect(postgres_url)
    try:
        job_id = await conn.fetchval("SELECT id FROM jobs WHERE name = 'left'")
        await conn.execute(
            "INSERT INTO runs (job_id, due_at, status, owner, epoch, lease_expires) "
            "VALUES ($1, $2, 'claimed', 'a-dead-node', 1, extract(epoch from now()) - 1)",
            job_id,
            due,
        )
        # Reaped (epoch 2), not sent because its job could not be read, so not renewed either: its
        # lease lapses and the next reap sends it (epoch 3). Held and renewed, it was never sent.
        delivered = await wait_for(lambda: sink.deliveries, timeout=LEASE * 4)
        assert failures, "the reap never read the claim's job"
        assert [(d.job_id, round(d.slot, 6), d.epoch) for d in delivered] == [(job_id, due, 3)]
        row = await wait_for(
            lambda: conn.fetchrow(
                "SELECT status, epoch FROM runs WHERE job_id = $1 AND due_at = $2 AND status = 'done'", job_id, due
            ),
            timeout=5,
        )
        assert tuple(row) == ("done", 3)
    finally:
        await conn.close()
