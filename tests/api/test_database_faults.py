"""The database misbehaving: locked by another writer, or refusing writes; nothing stored is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from tests.helpers import Api, Sink, wait_for
from veggiecron.app import Server
from veggiecron.store.sqlite import SqliteStore


def hold_the_write_lock(db_file: str, seconds: float) -> None:
    """Another process's writer: hold SQLite's write lock for `seconds` (run it in a thread)."""
    other = sqlite3.connect(db_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


async def test_a_briefly_locked_database_is_waited_for(server: Server, user_api: Api) -> None:
    holder = asyncio.create_task(asyncio.to_thread(hold_the_write_lock, server.config.db_file, 1.0))
    await asyncio.sleep(0.2)  # the other writer now holds the lock
    started = time.monotonic()
    status, body = await user_api.call(
        "POST", "/job", json={"name": "patient", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every hour"}
    )
    waited = time.monotonic() - started
    await holder
    assert status == 201, body
    assert waited >= 0.5  # it waited for the lock instead of failing


async def test_reads_answer_while_a_write_waits_for_the_lock(server: Server, user_api: Api) -> None:
    await user_api.create_job("present", "http://127.0.0.1:9/", schedule="every hour")
    holder = asyncio.create_task(asyncio.to_thread(hold_the_write_lock, server.config.db_file, 1.5))
    await asyncio.sleep(0.2)
    write = asyncio.create_task(
        user_api.call(
            "POST", "/job", json={"name": "queued", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every hour"}
        )
    )
    await asyncio.sleep(0.1)  # the write now waits for the lock in the database's writing thread
    started = time.monotonic()
    status, body = await user_api.call("GET", "/job/present")
    read_took = time.monotonic() - started
    assert status == 200 and body["data"]["name"] == "present"
    assert not write.done()
    assert read_took < 0.5, f"the read waited {read_took:.2f} s behind the write"
    status, _ = await write
    await holder
    assert status == 201


async def test_writes_fail_clearly_while_reads_work_and_queued_runs_survive(
    server: Server, user_api: Api, sink: Sink
) -> None:
    await user_api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
    await wait_for(lambda: len(sink.paths("/beat")) >= 1, timeout=4)
    store = server.store
    assert isinstance(store, SqliteStore)
    await store.db.execute("PRAGMA query_only = ON")  # as a read-only file or a full disk would
    try:
        status, body = await user_api.call(
            "POST", "/job", json={"name": "new", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every hour"}
        )
        assert status == 503 and body["id"] == "error" and "database" in body["description"]
        status, body = await user_api.call("GET", "/job")
        assert status == 200 and body["data"]["count"] == 1  # reads keep working; nothing half-written
        status, _ = await user_api.call("GET", "/health")
        assert status == 200
        fired_while_read_only = len(sink.paths("/beat"))
        await wait_for(lambda: len(sink.paths("/beat")) >= fired_while_read_only + 2, timeout=5)
    finally:
        await store.db.execute("PRAGMA query_only = OFF")
    delivered = len(sink.paths("/beat"))

    async def all_recorded() -> bool:
        status, body = await user_api.call("GET", "/job/beat/runs", params={"limit": 500})
        return status == 200 and body["data"]["count"] >= delivered

    # The runs that happened while writes failed were kept in memory and are written now.
    await wait_for(all_recorded, timeout=5)
