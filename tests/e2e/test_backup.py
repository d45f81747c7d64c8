"""`veggiecron backup` while the server writes, then a restore: every job and every run is there."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.commands import Served, clean_env, command
from tests.helpers import Api, Sink, wait_for

pytestmark = pytest.mark.slow

JOBS = 5


async def history(api: Api) -> dict[str, set[tuple[float, str]]]:
    """Each job's recorded runs, as (due time, outcome)."""
    status, body = await api.call("GET", "/job", params={"limit": 100})
    assert status == 200, body
    found: dict[str, set[tuple[float, str]]] = {}
    for job in body["data"]["jobs"]:
        status, runs = await api.call("GET", f"/job/{job['name']}/runs", params={"limit": 500})
        assert status == 200, runs
        found[job["name"]] = {(run["due_at"], run["outcome"]) for run in runs["data"]["runs"]}
    return found


async def test_a_backup_taken_while_jobs_fire_restores_every_job_and_run(tmp_path: Path, sink: Sink) -> None:
    live, copy = tmp_path / "live" / "veggiecron.db", tmp_path / "copy.db"
    live.parent.mkdir()
    env = clean_env(VEGGIECRON_PORT="0", VEGGIECRON_DATABASE=str(live))
    server = Served(live.parent, env, tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            api = Api(server.base, session)
            await api.register_and_login()
            for i in range(JOBS):
                await api.create_job(f"beat{i}", f"{sink.url}/beat{i}", schedule="every 1 seconds")

            async def recorded() -> bool:
                return all(len(runs) >= 2 for runs in (await history(api)).values())

            await wait_for(recorded, timeout=6)
            before: dict[str, Any] = await history(api)  # all of it was committed before the copy began
            status, body = await api.call("GET", "/audit", params={"limit": 100})
            audit_before = body["data"]["entries"]
            done = await asyncio.to_thread(command, "backup", str(copy), cwd=tmp_path, env=env)
            assert done.returncode == 0, done.stderr
    finally:
        await server.stop()
    # Restore as README says: the server stopped, the copy in place of the file, its -wal and -shm gone.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, live)
    restored = Served(live.parent, env, tmp_path / "restored.log")
    try:
        await restored.start()
        async with aiohttp.ClientSession() as session:
            api = Api(restored.base, session)
            status, body = await api.call("POST", "/login", json={"username": "alice", "password": "s3cret-pass"})
            assert status == 200, body
            api.token = body["data"]["token"]
            after = await history(api)
            status, body = await api.call("GET", "/audit", params={"limit": 100, "offset": 1})
            audit_after = body["data"]["entries"]  # after the login just made
    finally:
        await restored.stop()
    assert sorted(after) == [f"beat{i}" for i in range(JOBS)]
    assert audit_after == audit_before and len(audit_before) == JOBS + 2  # the jobs created, register, login
    for name, runs in before.items():
        assert runs <= after[name], name  # every run recorded before the backup came back
