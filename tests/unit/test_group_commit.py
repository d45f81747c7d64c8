"""Group commit on SQLite: concurrent writes share a transaction and its fsync, each is answered
only once its transaction committed, and one that fails is rolled back alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.contract.conftest import T0, new_job
from veggiecron.errors import Conflict, StoreUnavailable
from veggiecron.store.sqlite import SqliteStore

WRITERS = 50


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "group.db"))
    await store.open()
    await store.create_user("alice", "x", T0)
    yield store
    await store.close()


def committed_names(path: str) -> set[str]:
    """What another connection reads from the file: only committed rows."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM jobs")}


async def test_concurrent_writes_share_transactions_and_each_is_answered_after_its_commit(
    store: SqliteStore,
) -> None:
    before = store._commits.transactions
    answered: list[str] = []

    async def create(i: int) -> None:
        job = await store.create_job(new_job(1, f"j{i}"))
        # Answered: the row is on disk for any other reader of the file.
        assert job.name in committed_names(store.path)
        answered.append(job.name)

    await asyncio.gather(*(create(i) for i in range(WRITERS)))
    assert sorted(answered) == sorted(f"j{i}" for i in range(WRITERS))
    transactions = store._commits.transactions - before
    assert 1 <= transactions < WRITERS // 2, transactions  # shared, not one fsync per write


async def test_a_refused_write_fails_alone_and_leaves_its_neighbours_committed(store: SqliteStore) -> None:
    await store.create_job(new_job(1, "taken"))
    names = [f"n{i}" for i in range(10)]
    names.insert(5, "taken")  # a duplicate in the middle of the batch
    results = await asyncio.gather(*(store.create_job(new_job(1, name)) for name in names), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict)
    assert committed_names(store.path) == {"taken", *(f"n{i}" for i in range(10))}


@asynccontextmanager
async def traced(store: SqliteStore) -> AsyncIterator[list[str]]:
    """The statements the writing connection runs meanwhile."""
    statements: list[str] = []
    await store.db.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        await store.db.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None: no callback


async def test_a_batch_in_which_no_write_fails_takes_no_savepoint(store: SqliteStore) -> None:
    async with traced(store) as statements:
        await asyncio.gather(*(store.create_job(new_job(1, f"s{i}")) for i in range(20)))
    assert committed_names(store.path) == {f"s{i}" for i in range(20)}
    assert sum(s.startswith("INSERT INTO jobs") for s in statements) == 20
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "ROLLBACK"))]
    # The batch that met a refused write is written again, each write in a savepoint of its own.
    async with traced(store) as statements:
        names = ["t0", "t1", "s3", "t2", "t3", "t4"]  # one batch: queued before the committer runs
        results = await asyncio.gather(*(store.create_job(new_job(1, n)) for n in names), return_exceptions=True)
    refused = [name for name, r in zip(names, results, strict=True) if isinstance(r, BaseException)]
    assert refused == ["s3"] and isinstance(results[2], Conflict)
    assert committed_names(store.path) == {*(f"s{i}" for i in range(20)), *(f"t{i}" for i in range(5))}
    assert any(s.startswith("SAVEPOINT") for s in statements)


async def test_a_write_cancelled_before_it_started_is_not_made(store: SqliteStore) -> None:
    first = asyncio.create_task(store.create_job(new_job(1, "first")))
    second = asyncio.create_task(store.create_job(new_job(1, "second")))
    await asyncio.sleep(0)  # both are queued; the committer has taken neither body yet
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await store._commits.drain()
    assert committed_names(store.path) == {"first"}


async def test_a_commit_the_database_refuses_fails_every_write_of_it(store: SqliteStore, tmp_path: Path) -> None:
    # Another connection holds the write lock past the busy timeout: BEGIN IMMEDIATE is refused,
    # and every write queued for that transaction hears it, none is left waiting.
    await store.db.execute("PRAGMA busy_timeout = 100")
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        results = await asyncio.gather(
            *(store.create_job(new_job(1, f"b{i}")) for i in range(5)), return_exceptions=True
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert committed_names(store.path) == set()
    await store.create_job(new_job(1, "after"))  # the store writes again once the lock is free
    assert committed_names(store.path) == {"after"}


async def test_a_write_alone_is_one_statement_in_its_turn_and_its_own_transaction(store: SqliteStore) -> None:
    await asyncio.gather(*(store.create_job(new_job(1, f"r{i}")) for i in range(3)))
    async with traced(store) as statements:
        # Queued together: the writes before it are committed first, those after it next, and it
        # runs between them without BEGIN or COMMIT of its own (SQLite's autocommit).
        before = asyncio.gather(*(store.create_job(new_job(1, f"a{i}")) for i in range(3)))
        alone = asyncio.ensure_future(
            store._write_alone("DELETE FROM jobs WHERE name IN ('r0', 'r1', 'a0') AND ? = 1", (1,))
        )
        after = asyncio.gather(*(store.create_job(new_job(1, f"b{i}")) for i in range(3)))
        await asyncio.gather(before, after)
        deleted, held = await alone
    assert deleted == 3 and 0 < held < 5
    assert committed_names(store.path) == {"r2", "a1", "a2", *(f"b{i}" for i in range(3))}
    # (SQLite traces the statement again for each cascading delete it makes.)
    deletes = [i for i, s in enumerate(statements) if s.startswith("DELETE FROM jobs")]
    assert deletes == list(range(deletes[0], deletes[-1] + 1))
    assert statements[deletes[0] - 1] == "COMMIT" and statements[deletes[-1] + 1] == "BEGIN IMMEDIATE"
    assert statements.count("BEGIN IMMEDIATE") == statements.count("COMMIT") == 2


async def test_a_batch_of_statement_writes_commits_in_one_trip_without_the_loop(store: SqliteStore) -> None:
    # Writes given as statements (every create, update and run record) go to the writer's thread as
    # one batch: BEGIN, the writes, COMMIT. The event loop is blocked from the moment BEGIN runs;
    # the COMMIT comes all the same, so the write lock is never held waiting for the loop.
    statements: list[str] = []
    began = threading.Event()

    def trace(sql: str) -> None:
        statements.append(sql)
        if sql == "BEGIN IMMEDIATE":
            began.set()

    await store.db.set_trace_callback(trace)
    try:
        batch = asyncio.gather(*(store.create_job(new_job(1, f"o{i}")) for i in range(5)))
        while not began.is_set():
            await asyncio.sleep(0)
        time.sleep(0.3)  # the loop is busy elsewhere
        seen_while_blocked = list(statements)
        await batch
    finally:
        await store.db.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None: no callback
    assert seen_while_blocked[0] == "BEGIN IMMEDIATE" and seen_while_blocked[-1] == "COMMIT"
    assert sum(s.startswith("INSERT INTO jobs") for s in seen_while_blocked) == 5
    assert committed_names(store.path) == {f"o{i}" for i in range(5)}


async def test_a_write_alone_not_synced_skips_only_its_own_wait_for_the_disk(store: SqliteStore) -> None:
    # A trim step's commit need not wait for the disk: synchronous is NORMAL for that statement
    # only, and every other write still syncs (FULL) as configured.
    await asyncio.gather(*(store.create_job(new_job(1, f"n{i}")) for i in range(2)))
    async with traced(store) as statements:
        deleted, _ = await store._write_alone("DELETE FROM jobs WHERE name = ?", ("n0",), synced=False)
        await store.create_job(new_job(1, "after"))
    assert deleted == 1
    # (SQLite traces the statement again for each cascading delete it makes.)
    deletes = [i for i, s in enumerate(statements) if s.startswith("DELETE FROM jobs")]
    assert statements[deletes[0] - 1] == "PRAGMA synchronous = NORMAL"
    assert statements[deletes[-1] + 1] == "PRAGMA synchronous = 2"  # FULL again, before any other write
    assert "PRAGMA synchronous = NORMAL" not in statements[deletes[-1] + 1 :]
    assert list(await store.db.execute_fetchall("PRAGMA synchronous")) == [(2,)]
    assert committed_names(store.path) == {"n1", "after"}


async def test_a_write_alone_is_timed_on_the_writers_thread_not_by_a_busy_loop(store: SqliteStore) -> None:
    # The time a write alone answers is how long its statement held the write lock. The event loop
    # is blocked for 0.3 s from the moment the statement starts: the statement is done long before
    # the loop takes its answer, and that wait is not counted.
    started = threading.Event()
    await store.db.set_trace_callback(lambda sql: started.set() if sql.startswith("DELETE") else None)
    try:
        await store.create_job(new_job(1, "gone"))
        alone = asyncio.ensure_future(store._write_alone("DELETE FROM jobs WHERE name = ?", ("gone",)))
        while not started.is_set():
            await asyncio.sleep(0)
        time.sleep(0.3)  # the loop is busy elsewhere
        deleted, held = await alone
    finally:
        await store.db.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None: no callback
    assert deleted == 1 and 0 < held < 0.2


async def test_a_write_alone_that_fails_changes_nothing_and_fails_alone(store: SqliteStore) -> None:
    await store.create_job(new_job(1, "kept"))
    alone = asyncio.ensure_future(store._write_alone("UPDATE jobs SET name = NULL WHERE name = ?", ("kept",)))
    neighbour = asyncio.ensure_future(store.create_job(new_job(1, "neighbour")))
    with pytest.raises(sqlite3.IntegrityError):
        await alone
    await neighbour
    assert committed_names(store.path) == {"kept", "neighbour"}
    assert not store.db.in_transaction
