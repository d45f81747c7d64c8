"""Run history retention over the real server: a database that arrives with a backlog is brought
within its limits soon after the start, job by job in short transactions, and API writes made
meanwhile are not held behind the trim."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import Api, start_server, test_config, wait_for
from veggiecron.config import SchedulerSection

pytestmark = pytest.mark.slow

JOBS = 40
OLD_RUNS = 5000  # per job: 200,000 in all
KEEP = 20
DAY = 86400.0


def fill(db_file: str, job_ids: list[int], now: float) -> None:
    """Old runs straight into the file, as an upgraded or restored database brings them."""
    rows = [
        (job_id, now - DAY * 30 + i, now - DAY * 30 + i, 1.0, "ok", 1, 200)
        for job_id in job_ids
        for i in range(OLD_RUNS)
    ]
    with closing(sqlite3.connect(db_file)) as db, db:
        db.executemany(
            "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts, status_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def job_ids(db_file: str) -> list[int]:
    with closing(sqlite3.connect(db_file)) as db:
        return [job_id for (job_id,) in db.execute("SELECT id FROM jobs ORDER BY id")]


def counts(db_file: str) -> list[int]:
    with closing(sqlite3.connect(db_file)) as db:
        return [n for (n,) in db.execute("SELECT count(*) FROM runs GROUP BY job_id")]


async def test_a_backlog_is_trimmed_at_the_start_while_api_writes_go_on(tmp_path: Path) -> None:
    db_file = str(tmp_path / "history.db")
    config = test_config(db_file)
    config = replace(config, scheduler=replace(config.scheduler, run_history_per_job=KEEP))
    server = await start_server(config)
    async with aiohttp.ClientSession() as session:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login()
        for i in range(JOBS):
            await api.create_job(f"j{i}", "http://127.0.0.1:9/", schedule="every 1 hours")
    await server.stop()
    fill(db_file, job_ids(db_file), time.time())
    assert sum(counts(db_file)) == JOBS * OLD_RUNS

    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            status, body = await api.call("POST", "/login", json={"username": "alice", "password": "s3cret-pass"})
            assert status == 200
            api.token = body["data"]["token"]
            slowest = 0.0
            deadline = time.monotonic() + 60
            n = 0
            while max(counts(db_file)) > KEEP and time.monotonic() < deadline:
                started = time.monotonic()
                status, body = await api.call("PATCH", f"/job/j{n % JOBS}", json={"tags": [f"t{n}"]})
                slowest = max(slowest, time.monotonic() - started)
                assert status == 200, body
                n += 1
            assert max(counts(db_file)) == KEEP, "the backlog was not trimmed within a minute"
            assert n > 0 and slowest < 1.0, (n, slowest)
            assert server.maintenance.longest_batch_seconds < 0.5
    finally:
        await server.stop()


async def test_the_age_limit_applies_and_both_limits_zero_keep_everything(tmp_path: Path) -> None:
    db_file = str(tmp_path / "age.db")
    config = test_config(db_file)
    server = await start_server(config)
    async with aiohttp.ClientSession() as session:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login()
        await api.create_job("old", "http://127.0.0.1:9/", schedule="every 1 hours")
    await server.stop()
    [job_id] = job_ids(db_file)
    now = time.time()
    with closing(sqlite3.connect(db_file)) as db, db:
        db.executemany(
            "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts) "
            "VALUES (?, ?, ?, 1, 'ok', 1)",
            [(job_id, now - DAY * d, now - DAY * d) for d in (200, 100, 50, 10, 1)],
        )

    keep_all = replace(config, scheduler=SchedulerSection(run_history_per_job=0, run_history_max_age_days=0))
    server = await start_server(keep_all)
    try:
        await server.maintenance.run_once()
        assert counts(db_file) == [5]
    finally:
        await server.stop()

    # The defaults: at most 100 runs, none older than 90 days.
    assert (SchedulerSection().run_history_per_job, SchedulerSection().run_history_max_age_days) == (100, 90.0)
    server = await start_server(config)
    try:
        await wait_for(lambda: counts(db_file) == [3], timeout=10)
    finally:
        await server.stop()
