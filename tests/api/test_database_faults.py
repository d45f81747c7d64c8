"""The database misbehaving: locked by another writer, or refusing writes; nothing stored is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

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


@pytest.mark.timing
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


async def test_a_full_disk_refuses_writes_saying_so_and_loses_nothing(
    server: Server, user_api: Api, sink: Sink
) -> None:
    await user_api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
    await user_api.create_job("kept", "http://127.0.0.1:9/", schedule="every hour")
    await wait_for(lambda: len(sink.paths("/beat")) >= 1, timeout=4)
    store = server.store
    assert isinstance(store, SqliteStore)
    # SQLite's own limit on the file's size, set to what it holds now: exactly what a full disk says.
    async with store.db.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    await store.db.execute(f"PRAGMA max_page_count = {row[0]}")
    try:
        big = {"url": "http://127.0.0.1:9/", "body": "x" * 60_000}  # needs new pages: refused
        status, body = await user_api.call("POST", "/job", json={"name": "new", "data": big, "schedule": "every hour"})
        assert status == 503 and body["id"] == "error", body
        assert body["description"].startswith("the database's disk is full"), body
        assert body["data"]["reason"] == "database or disk is full"
        status, body = await user_api.call("GET", "/job")
        assert status == 200 and [j["name"] for j in body["data"]["jobs"]] == ["beat", "kept"]
        fired = len(sink.paths("/beat"))
        await wait_for(lambda: len(sink.paths("/beat")) >= fired + 3, timeout=6)  # runs keep firing
    finally:
        await store.db.execute("PRAGMA max_page_count = 4294967294")
    delivered = len(sink.paths("/beat"))

    async def all_recorded() -> bool:
        status, body = await user_api.call("GET", "/job/beat/runs", params={"limit": 500})
        return status == 200 and body["data"]["count"] >= delivered

    await wait_for(all_recorded, timeout=5)  # written once there is room again
    status, body = await user_api.call("POST", "/job", json={"name": "new", "data": big, "schedule": "every hour"})
    assert status == 201, body
