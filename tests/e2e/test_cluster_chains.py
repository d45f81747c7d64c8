"""Jobs that run after other jobs on three nodes on one PostgreSQL, one of them killed with kill -9.

A parent's result writes its follower's trigger in the statement that records it, and any node
claims it like a due slot. So, whichever node dies: every parent run recorded has exactly one
follower run recorded, naming it in triggered_by (none lost, none doubled), and every follower
request the target saw names a recorded parent run; a follower request is sent twice only when the
dead node had it in flight, the second copy with a higher epoch from another node.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.daemon import Daemon
from tests.e2e.cluster import create_jobs, start_nodes
from tests.helpers import Api, Sink, start_sink, wait_for
from veggiecron.model import idempotency_key

pytestmark = [pytest.mark.slow, pytest.mark.timing]

LEASE = 2.0
REAP = 0.5
PARENTS = 60


@pytest.fixture
async def target() -> AsyncIterator[Sink]:
    sink, runner = await start_sink(shutdown_timeout=1.0)
    sink.slow_delay = 1.5  # followers under /slow are in flight on the victim when it dies
    yield sink
    await runner.cleanup()


@pytest.fixture
async def three_nodes(tmp_path: Path, postgres_url: str) -> AsyncIterator[list[Daemon]]:
    nodes = await start_nodes(3, tmp_path, postgres_url, lease_seconds=LEASE, reap_interval_seconds=REAP)
    yield nodes
    for node in nodes:
        await node.kill()


async def settled(database: str) -> bool:
    """No follower trigger waits and no run is in flight."""
    conn = await asyncpg.connect(database)
    try:
        return not await conn.fetchval("SELECT count(*) FROM runs WHERE status IN ('triggered', 'claimed', 'buffered')")
    finally:
        await conn.close()


async def switch(api: Api, names: list[str], enabled: bool) -> None:
    for name in names:
        status, body = await api.call("PATCH", f"/job/{name}", json={"enabled": enabled})
        assert status == 200, body


async def test_killing_a_node_loses_no_follower_run_and_doubles_none(
    three_nodes: list[Daemon], target: Sink, session: aiohttp.ClientSession, postgres_url: str
) -> None:
    api = Api(f"http://127.0.0.1:{three_nodes[0].port}", session)
    await api.register_and_login()
    parents = [f"p{i}" for i in range(PARENTS)]
    # The parents start once every follower exists: a parent's run that ends before its follower
    # is created rightly triggers nothing, and would count here as a lost trigger.
    await create_jobs(api, parents, target.url + "/p", overlap="allow", catch_up="all", enabled=False)
    for i, parent in enumerate(parents):
        path = "/slow/f" if i % 4 == 0 else "/f"
        data = {"url": f"{target.url}{path}/{parent}"}
        await api.create_job(f"f{i}", "", f"after {parent}", data=data, overlap="allow")
    await switch(api, parents, enabled=True)
    await wait_for(lambda: sum(1 for h in target.hits if h.path.startswith("/slow/f")) >= 2 * PARENTS // 4, timeout=20)
    victim = three_nodes[2]
    assert victim.process is not None
    pid = f":{victim.process.pid}:"

    def victim_has_one_in_flight() -> bool:  # a slow follower's request it sent under a second ago
        now = time.time()
        return any(
            h.path.startswith("/slow/f") and pid in h.headers["X-Veggiecron-Node"] and now - h.arrived_at < 1.0
            for h in target.hits[-400:]
        )

    await wait_for(victim_has_one_in_flight, timeout=10, interval=0.02)
    await victim.stop(signal.SIGKILL)
    await asyncio.sleep(LEASE + REAP + 3)  # its leases lapse; the others take its claims and triggers
    await switch(api, parents, enabled=False)
    await wait_for(lambda: settled(postgres_url), timeout=LEASE + REAP + 10)

    conn = await asyncpg.connect(postgres_url)
    try:
        ids = {r["name"]: r["id"] for r in await conn.fetch("SELECT id, name FROM jobs")}
        rows = await conn.fetch("SELECT job_id, due_at, outcome, triggered_by FROM runs WHERE status = 'done'")
    finally:
        await conn.close()
    parent_ids = {ids[p] for p in parents}
    follower_ids = {ids[f"f{i}"] for i in range(PARENTS)}
    parent_runs = {
        idempotency_key(r["job_id"], r["due_at"]) for r in rows if r["job_id"] in parent_ids and r["outcome"] == "ok"
    }
    triggers: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["job_id"] in follower_ids:
            triggers[r["triggered_by"]].append(r["outcome"])
    assert len(parent_runs) > 3 * PARENTS
    # Every recorded parent run has exactly one follower run recorded, and no follower run names
    # anything else.
    assert set(triggers) == parent_runs, (len(set(triggers) - parent_runs), len(parent_runs - set(triggers)))
    assert all(len(outcomes) == 1 for outcomes in triggers.values())
    # Every follower request names a recorded parent run; one sent twice was the dead node's, in
    # flight when it died, sent again with a higher epoch by another node.
    sent: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for hit in target.hits:
        if "/f/" in hit.path:
            sent[hit.headers["X-Veggiecron-Triggered-By"]].append(
                (int(hit.headers["X-Veggiecron-Epoch"]), hit.headers["X-Veggiecron-Node"])
            )
    assert set(sent) <= parent_runs
    twice = {run: copies for run, copies in sent.items() if len(copies) > 1}
    assert twice, "the dead node had no follower run in flight: the takeover went untested"
    for copies in twice.values():
        (first_epoch, first_node), *again = sorted(copies)
        assert pid in first_node and all(e > first_epoch and n != first_node for e, n in again), copies
