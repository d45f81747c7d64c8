"""kill -9 of one daemon while followers run: every parent run recorded has its follower's run,
either recorded before the kill or held and sent after the restart, with the parent's run_id."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.daemon import Daemon
from tests.helpers import Api, serve_http, wait_for
from veggiecron.model import idempotency_key

pytestmark = [pytest.mark.slow]


def stored(db_file: Path) -> tuple[set[str], set[str], set[str]]:
    """(run_ids of the parent's ok runs, triggered_by of the follower's runs, of its held triggers)."""
    with closing(sqlite3.connect(db_file)) as db:
        parent = {
            idempotency_key(job_id, due)
            for job_id, due in db.execute(
                "SELECT r.job_id, r.due_at FROM runs r JOIN jobs j ON j.id = r.job_id "
                "WHERE j.name = 'export' AND r.outcome = 'ok'"
            )
        }
        recorded = {
            row[0]
            for row in db.execute(
                "SELECT r.triggered_by FROM runs r JOIN jobs j ON j.id = r.job_id "
                "WHERE j.name = 'report' AND r.triggered_by IS NOT NULL"
            )
        }
        held = {
            row[0]
            for row in db.execute(
                "SELECT h.triggered_by FROM held_slots h JOIN jobs j ON j.id = h.job_id "
                "WHERE j.name = 'report' AND h.reason = 'triggered'"
            )
        }
    return parent, recorded, held


async def test_kill_9_loses_no_follower_run_of_a_recorded_parent_run(tmp_path: Path) -> None:
    released = asyncio.Event()
    followers: list[str] = []  # X-Veggiecron-Triggered-By of each follower request

    async def target(request: web.Request) -> web.Response:
        if request.path == "/report":
            followers.append(request.headers["X-Veggiecron-Triggered-By"])
            await released.wait()  # the follower's runs hang: in flight at the kill
        return web.Response(text="ok")

    url, runner = await serve_http(target, shutdown_timeout=0.5)
    daemon = Daemon(tmp_path)
    try:
        port = await daemon.start()
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{port}", session)
            await api.register_and_login("chains", "chains-password")
            await api.create_job("export", f"{url}/export", schedule="every 1 seconds")
            await api.create_job("report", f"{url}/report", schedule="after export", overlap="allow")
            await wait_for(lambda: len(followers) >= 3, timeout=10)
        assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        parent, recorded, held = stored(daemon.db_file)
        assert parent and held  # parent runs were recorded, and their followers were in flight
        # Every recorded parent run has its follower's run recorded, or its trigger held.
        assert parent <= recorded | held, parent - recorded - held
        released.set()
        before = len(followers)
        await daemon.start()
        # After the restart every held trigger is sent again, with its parent's run_id.
        await wait_for(lambda: held <= set(followers[before:]), timeout=10)

        def settled() -> bool:
            _parent, now_recorded, now_held = stored(daemon.db_file)
            return parent <= now_recorded and not (held & now_held)

        await wait_for(settled, timeout=10)  # their runs are recorded, their triggers released
        # Sent once after the restart: a held trigger is never sent twice by the same start.
        resent = followers[before:]
        assert all(resent.count(run_id) == 1 for run_id in held), resent
        assert await daemon.stop(signal.SIGTERM) == 0
    finally:
        released.set()
        await daemon.kill()
        await runner.cleanup()
