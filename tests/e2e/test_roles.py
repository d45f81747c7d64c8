"""Node roles, as real processes on one PostgreSQL: one api node that claims nothing and two
scheduler nodes that send every run; and a SQLite daemon that refuses any role but all."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.daemon import ROOT, Daemon, create_admin
from tests.e2e.cluster import cluster_config, start_recorder
from tests.helpers import Api, Sink, wait_for
from tests.ui.client import Dashboard

pytestmark = [pytest.mark.slow, pytest.mark.timing]

LEASE = 2.0


@pytest.fixture
async def recorder() -> AsyncIterator[Sink]:
    recorder, runner = await start_recorder()
    yield recorder
    await runner.cleanup()


@pytest.fixture
async def split_nodes(tmp_path: Path, postgres_url: str) -> AsyncIterator[list[Daemon]]:
    """[api, scheduler, scheduler], started together."""
    nodes = []
    for i, role in enumerate(("api", "scheduler", "scheduler")):
        (tmp_path / f"node{i}").mkdir()
        config = cluster_config(postgres_url, role=role, lease_seconds=LEASE, reap_interval_seconds=0.5)
        nodes.append(Daemon(tmp_path / f"node{i}", **config))
    await asyncio.gather(*(node.start() for node in nodes))
    yield nodes
    for node in nodes:
        await node.kill()


async def get_json(session: aiohttp.ClientSession, node: Daemon, path: str) -> tuple[int, dict]:
    async with session.get(f"http://127.0.0.1:{node.port}{path}") as reply:
        return reply.status, await reply.json(content_type=None)


async def runs_recorded(session: aiohttp.ClientSession, node: Daemon) -> float:
    """The node's veggiecron_runs_total, every outcome together (0 when it recorded none)."""
    async with session.get(f"http://127.0.0.1:{node.port}/metrics") as reply:
        text = await reply.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("veggiecron_runs_total"))


async def test_an_api_node_claims_nothing_and_scheduler_nodes_send_its_jobs(
    split_nodes: list[Daemon], recorder: Sink, session: aiohttp.ClientSession
) -> None:
    api_node, *schedulers = split_nodes
    api = Api(f"http://127.0.0.1:{api_node.port}", session)
    await api.register_and_login()

    # Its /health names every node with its role, and a scheduler node seen within the lease.
    async def all_three() -> dict | None:
        status, body = await get_json(session, api_node, "/health")
        assert status == 200, body
        return body["data"] if len(body["data"].get("nodes", [])) == 3 else None

    seen = await wait_for(all_three, timeout=5)
    assert seen["role"] == "api" and seen["scheduler_nodes"] == "seen"
    roles = sorted(node["role"] for node in seen["nodes"])
    assert roles == ["api", "scheduler", "scheduler"]
    assert all(node["alive"] and node["seconds_since_seen"] <= LEASE for node in seen["nodes"])
    sender_names = {node["name"] for node in seen["nodes"] if node["role"] == "scheduler"}
    api_name = next(node["name"] for node in seen["nodes"] if node["role"] == "api")

    # A job created on the api node fires on time, from a scheduler node.
    due = time.time() + 0.5
    await api.create_job("soon", recorder.url, schedule=f"once @ {due:.3f}", data={"url": recorder.url + "/soon"})
    hit = await wait_for(lambda: [d for d in recorder.deliveries if d.path == "/soon"], timeout=5)
    assert hit[0].node in sender_names, (hit, sender_names)
    assert hit[0].arrived - hit[0].slot < 0.2, hit  # woken by the notification, not the poll

    # Run now asked of the api node: stored there, sent by a scheduler node, recorded in the history.
    await api.create_job("by-hand", recorder.url, schedule="every 1 hours", data={"url": recorder.url + "/by-hand"})
    asked = time.time()
    status, body = await api.call("POST", "/job/by-hand/run")
    assert status == 202, body
    hit = await wait_for(lambda: [d for d in recorder.deliveries if d.path == "/by-hand"], timeout=5)
    assert len(hit) == 1 and hit[0].node in sender_names and hit[0].epoch == 1, hit
    assert hit[0].arrived - asked < 1.0, hit  # the reapers were woken, not left to their interval
    runs = await wait_for(lambda: _done_runs(api, "by-hand"), timeout=5)
    assert len(runs) == 1
    assert runs[0]["outcome"] == "ok"

    # Jobs every second keep firing from the scheduler nodes; the api node sends and records none.
    for i in range(20):
        await api.create_job(f"tick-{i}", recorder.url, data={"url": f"{recorder.url}/tick-{i}"})
    await wait_for(lambda: len([d for d in recorder.deliveries if d.path.startswith("/tick-")]) >= 60, timeout=10)
    assert await runs_recorded(session, api_node) == 0
    assert sum([await runs_recorded(session, node) for node in schedulers]) >= 60
    assert api_name not in {d.node for d in recorder.deliveries}

    # The dashboard (admins) lists the nodes with their roles and heartbeats.
    await create_admin("alice", "--config", str(api_node.config))
    dashboard = Dashboard(f"http://127.0.0.1:{api_node.port}")
    try:
        assert (await dashboard.login("alice", "s3cret-pass")).status == 303
        page = await dashboard.get("/ui/nodes")
    finally:
        await dashboard.close()
    assert page.status == 200, page.text
    assert "This node's role: <strong>api</strong>" in page.text
    assert all(name in page.text for name in sender_names | {api_name})
    assert page.text.count("<td>scheduler</td>") == 2 and "s ago" in page.text

    # A scheduler node serves /health and /metrics only, and says which role it is.
    status, body = await get_json(session, schedulers[0], "/job")
    assert status == 404 and "scheduler node" in body["description"], body
    status, body = await get_json(session, schedulers[0], "/health")
    assert status == 200 and body["data"]["role"] == "scheduler", body

    # Killing the api node stops no job: every tick job goes on being sent each second.
    await api_node.stop(signal.SIGKILL)
    killed = time.time()
    await asyncio.sleep(3.5)
    after = [d for d in recorder.deliveries if d.path.startswith("/tick-") and d.slot > killed + 0.5]
    per_job = {d.job_id for d in after}
    assert len(per_job) == 20, f"{20 - len(per_job)} jobs stopped when the api node died"
    assert len(after) >= 20 * 2


async def _done_runs(api: Api, name: str) -> list[dict] | None:
    status, body = await api.call("GET", f"/job/{name}/runs")
    assert status == 200, body
    return body["data"]["runs"] or None


async def test_a_sqlite_daemon_asked_for_another_role_refuses_to_start(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "start.py",
        "serve",
        "--role",
        "api",
        "--db-file",
        str(tmp_path / "veggiecron.db"),
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0] and "--role" in lines[0], lines
    assert not (tmp_path / "veggiecron.db").exists()
