"""Calendars on two nodes of one PostgreSQL, as real processes: a calendar changed through one node
takes effect at once for a running job whichever node sends it, and changed back through the other
node the job runs again."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.api.test_calendars import zone_at_midday
from tests.e2e.cluster import start_nodes, start_recorder
from tests.helpers import Api, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timing]


async def test_a_calendar_change_on_one_node_stops_and_restarts_a_job_on_every_node(
    tmp_path: Path, postgres_url: str, session: aiohttp.ClientSession
) -> None:
    recorder, runner = await start_recorder()
    nodes = await start_nodes(2, tmp_path, postgres_url, poll_interval_seconds=1.0)
    try:
        first = Api(f"http://127.0.0.1:{nodes[0].port}", session)
        await first.register_and_login()
        second = Api(f"http://127.0.0.1:{nodes[1].port}", session)
        second.token = first.token
        zone, today = zone_at_midday()
        status, _ = await first.call("POST", "/calendars", json={"name": "today", "dates": ["2000-01-01"]})
        assert status == 201
        jobs = [f"tick{i}" for i in range(6)]
        for name in jobs:
            await first.create_job(
                name, recorder.url, timezone=zone, skip_calendars=["today"], data={"url": f"{recorder.url}/{name}"}
            )
        await wait_for(lambda: len({d.node for d in recorder.deliveries}) == 2, timeout=15)

        status, body = await second.call("PUT", "/calendars/today", json={"dates": [today.isoformat()]})
        assert status == 200, body
        changed = time.time()
        await asyncio.sleep(1.5)  # runs sent before the change may still arrive
        late = [d for d in recorder.deliveries if d.slot > changed + 0.5]
        assert late == [], late
        await asyncio.sleep(3)
        assert [d for d in recorder.deliveries if d.slot > changed + 0.5] == []
        for name in jobs:
            status, body = await first.call("GET", f"/job/{name}")
            next_day = datetime.fromtimestamp(body["data"]["next_run"]).astimezone().date()
            assert body["data"]["next_run"] > time.time() + 3600 and next_day >= today, body["data"]

        status, body = await first.call("PUT", "/calendars/today", json={"dates": ["2000-01-01"]})
        assert status == 200
        back = time.time()

        # Every job runs again, every second, whichever node plans its slots (each node's calendars
        # are the new ones, not the ones it held before).
        def each_ran(times: int) -> bool:
            counts = {n: 0 for n in jobs}
            for d in recorder.deliveries:
                if d.slot > back + 2:
                    counts[d.path.lstrip("/")] = counts.get(d.path.lstrip("/"), 0) + 1
            return all(c >= times for c in counts.values())

        await wait_for(lambda: each_ran(4), timeout=15)
    finally:
        for node in nodes:
            await node.kill()
        await runner.cleanup()
