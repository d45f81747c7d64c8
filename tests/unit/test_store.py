"""The SQLite store: migrations, schema version checks, run retention, stale writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.unit.conftest import create_job
from veggiecron.errors import Conflict
from veggiecron.model import NextRun, Progress, Run, RunOutcome
from veggiecron.store import SchemaTooNew
from veggiecron.store.sqlite import SqliteStore
from veggiecron.store.sqlite.migrations import SCHEMA_VERSION


async def test_schema_is_created_versioned_and_reopened(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = SqliteStore(path)
    await store.open()
    assert await store.schema_version() == SCHEMA_VERSION
    await store.create_user("alice", "hash", 1.0)
    await store.close()
    reopened = SqliteStore(path)
    await reopened.open()  # no second migration: the user is still there
    assert (await reopened.user_credentials("alice")) is not None
    with pytest.raises(Conflict):
        await reopened.create_user("alice", "hash", 2.0)
    await reopened.close()


async def test_newer_schema_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store = SqliteStore(str(path))
    with pytest.raises(SchemaTooNew):
        await store.open()
    await store.close()


async def test_prune_keeps_the_newest_runs_per_job(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "r.db"))
    await store.open()
    user = await store.create_user("alice", "hash", 1.0)
    jobs = []
    for name in ("a", "b"):
        jobs.append(
            await create_job(
                store,
                user_id=user.id,
                name=name,
                type="http",
                data={"url": "http://x/"},
                schedule="every second",
                timezone="UTC",
                enabled=True,
                next_run=2.0,
                anchor=1.0,
                now=1.0,
            )
        )
    runs = [Run(job.id, float(t), float(t), 1.0, RunOutcome.OK, 1, 200) for job in jobs for t in range(10)]
    await store.record_progress(Progress(runs=runs))
    await store.prune_runs(keep_per_job=3)
    for job in jobs:
        kept, count = await store.list_runs(job.id, 100, 0)
        assert count == 3
        assert [r.due_at for r in kept] == [9.0, 8.0, 7.0]
    # Runs of a deleted job are dropped, not an error.
    await store.delete_job(jobs[0].id)
    await store.record_progress(
        Progress(
            runs=[Run(jobs[0].id, 11.0, 11.0, 1.0, RunOutcome.OK, 1, 200)], next_runs=[NextRun(jobs[0].id, 1, 12.0)]
        )
    )
    assert (await store.list_runs(jobs[0].id, 10, 0))[1] == 0
    await store.close()


async def test_ids_of_deleted_jobs_are_never_reused(tmp_path: Path) -> None:
    """Runs queued for a deleted job must not land on a job created after it."""
    store = SqliteStore(str(tmp_path / "ids.db"))
    await store.open()
    user = await store.create_user("alice", "hash", 1.0)

    async def job(name: str) -> int:
        created = await create_job(
            store,
            user_id=user.id,
            name=name,
            type="http",
            data={"url": "http://x/"},
            schedule="every second",
            timezone="UTC",
            enabled=True,
            next_run=2.0,
            anchor=1.0,
            now=1.0,
        )
        return created.id

    first = await job("a")
    await store.delete_job(first)
    second = await job("b")
    assert second != first
    await store.record_progress(
        Progress(runs=[Run(first, 3.0, 3.0, 1.0, RunOutcome.OK, 1, 200)], run_counts=[(first, 1)])
    )
    assert (await store.list_runs(second, 10, 0))[1] == 0
    assert (await store.get_job(user.id, "b")).run_count == 0
    await store.close()
