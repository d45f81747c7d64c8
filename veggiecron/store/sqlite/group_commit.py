"""Group commit: the write transactions that arrive while one commits share the next transaction
and its one fsync, as PostgreSQL's commit_delay lets concurrent commits share a flush.

With synchronous = FULL every commit waits for the disk; fifty clients creating jobs would each
wait for their own fsync in turn. Here the writes share one transaction, and every caller is
answered only after the COMMIT that holds its write, so an answer never runs ahead of the disk.
No delay is added: the batch is whatever queued while the previous commit was on its way to the
disk. A batch is first written as it comes; should one write fail, the transaction is rolled back
and the batch written again with each write in a savepoint of its own, rolled back to it alone
(a 409 for one request never fails its neighbours). Savepoints on every write cost two more
trips to the writer's thread each, and writes rarely fail.

A write of one statement may also run alone (run_alone): between batches, as its own transaction
in SQLite's autocommit mode, one trip to the writer's thread. Inside a batch, SQLite's write lock
is held from BEGIN to COMMIT, across every pause of a busy event loop between the trips; alone, it
is held only while the statement runs. Background work that writes in many small steps (trimming
run history) goes alone, so that no step of it holds the writers back longer than its statement.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

logger = logging.getLogger(__name__)

Body = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Alone:
    """One statement to run as a transaction of its own (see run_alone)."""

    sql: str
    parameters: tuple[Any, ...]


Write = Body | Alone


class GroupCommit:
    """Runs write bodies on one connection, many to a transaction, one transaction at a time."""

    def __init__(self, connection: Callable[[], aiosqlite.Connection]) -> None:
        self._connection = connection
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.transactions = 0  # committed or rolled back, for the tests and the curious
        self.writes = 0

    async def run(self, body: Body) -> Any:
        """Run `body` inside a write transaction; answer its result once that transaction committed."""
        return await self._queued(body)

    async def run_alone(self, sql: str, parameters: tuple[Any, ...]) -> tuple[int, float]:
        """Run one statement as a transaction of its own, in one trip to the writer's thread, after
        the writes queued before it; answer, once committed, how many rows it changed and how long
        its trip took (the most its transaction can have held the write lock)."""
        changes, seconds = await self._queued(Alone(sql, parameters))
        return changes, seconds

    async def _queued(self, write: Write) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued(), name="veggiecron-group-commit")
        # A caller cancelled before its write started is left out; once started, a write ends
        # with its transaction whether or not anyone still waits for it.
        return await future

    async def drain(self) -> None:
        """Wait until every queued write has been committed or refused."""
        while self._committer is not None and not self._committer.done():
            await asyncio.shield(self._committer)

    async def _commit_queued(self) -> None:
        while self._queue:
            queued, self._queue = self._queue, []
            try:
                await self._commit_in_turn(queued)
            except BaseException as exc:  # a fault of the committer itself: no caller is left waiting
                await self._roll_back(self._connection())
                self._fail(queued, exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise

    async def _commit_in_turn(self, queued: list[tuple[Write, asyncio.Future[Any]]]) -> None:
        """The queued writes in their order: bodies batched, each Alone between the batches."""
        batch: list[tuple[Body, asyncio.Future[Any]]] = []
        for write, future in queued:
            if isinstance(write, Alone):
                if batch:
                    await self._commit(batch)
                    batch = []
                await self._write_alone(write, future)
            elif not future.done():
                batch.append((write, future))
        if batch:
            await self._commit(batch)

    async def _write_alone(self, write: Alone, future: asyncio.Future[Any]) -> None:
        if future.done():  # its caller gave up before it started: it is not made
            return
        db = self._connection()
        self.transactions += 1
        self.writes += 1
        try:
            # aiosqlite has no public way to run a function on its thread; _execute is how its own
            # methods do it (tests/unit/test_group_commit.py checks that it still works).
            changed = await db._execute(_timed_statement, db._conn, write.sql, write.parameters)
        except Exception as exc:  # SQLite rolled the statement back: it changed nothing
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(changed)

    async def _commit(self, batch: list[tuple[Body, asyncio.Future[Any]]]) -> None:
        self.writes += len(batch)
        started: set[int] = set()
        if len(batch) > 1 and await self._commit_together(batch, started):
            return
        await self._commit_isolated(batch, started)

    async def _commit_together(self, batch: list[tuple[Body, asyncio.Future[Any]]], started: set[int]) -> bool:
        """The whole batch in one transaction, no savepoints: two trips to the writer's thread fewer
        per write, and a write rarely fails. Answers False when one did: the transaction is rolled
        back, nothing of it stands, and the batch is written again with a savepoint around each
        write (_commit_isolated), so that the failure stays its own. `started` collects the writes
        begun, which are made again even if their callers gave up meanwhile."""
        db = self._connection()
        if not await self._begin(db, batch):
            return True
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        for number, (body, future) in enumerate(batch):
            if future.done():  # its caller gave up before the write started: it is not made
                continue
            started.add(number)
            try:
                outcomes.append((future, await body(), None))
            except Exception as exc:
                if not db.in_transaction:  # SQLite gave up the whole transaction: nothing of it stands
                    self._fail(batch, exc)
                    return True
                await self._roll_back(db)
                return False
        await self._finish(db, batch, outcomes)
        return True

    async def _commit_isolated(self, batch: list[tuple[Body, asyncio.Future[Any]]], started: set[int]) -> None:
        """The batch in one transaction, each write in a savepoint of its own (one write alone needs
        none: its failure rolls back the transaction)."""
        db = self._connection()
        if not await self._begin(db, batch):
            return
        alone = len(batch) == 1
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        for number, (body, future) in enumerate(batch):
            if future.done() and number not in started:  # given up before the write started: not made
                continue
            if not alone:
                await db.execute(f"SAVEPOINT write_{number}")
            try:
                result = await body()
            except Exception as exc:
                if not db.in_transaction:  # SQLite gave up the whole transaction: nothing of it stands
                    self._fail(batch, exc)
                    return
                if alone:
                    await self._roll_back(db)
                    if not future.done():
                        future.set_exception(exc)
                    return
                await db.execute(f"ROLLBACK TO write_{number}")
                await db.execute(f"RELEASE write_{number}")
                outcomes.append((future, None, exc))
                continue
            if not alone:
                await db.execute(f"RELEASE write_{number}")
            outcomes.append((future, result, None))
        await self._finish(db, batch, outcomes)

    async def _begin(self, db: aiosqlite.Connection, batch: list[tuple[Body, asyncio.Future[Any]]]) -> bool:
        self.transactions += 1
        try:
            await db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._fail(batch, exc)
            return False
        return True

    async def _finish(
        self,
        db: aiosqlite.Connection,
        batch: list[tuple[Body, asyncio.Future[Any]]],
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
    ) -> None:
        """COMMIT, then answer each write (none before: an answer never runs ahead of the disk)."""
        try:
            await db.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._roll_back(db)
            self._fail(batch, exc)
            return
        for future, result, error in outcomes:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    @staticmethod
    def _fail(batch: Sequence[tuple[Write, asyncio.Future[Any]]], exc: BaseException) -> None:
        for _body, future in batch:
            if not future.done():
                future.set_exception(exc)

    @staticmethod
    async def _roll_back(db: aiosqlite.Connection) -> None:
        # SQLite has already rolled back after some errors (a full disk, an I/O error): a second
        # ROLLBACK would fail and hide the error that matters.
        if db.in_transaction:
            try:
                await db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                logger.warning("rolling back a failed write: %s", exc)


def _timed_statement(db: sqlite3.Connection, sql: str, parameters: tuple[Any, ...]) -> tuple[int, float]:
    """On the writer's thread: run one statement in autocommit mode; answer how many rows it changed
    (the connection's change counter: a statement that starts WITH reports no rowcount) and how long
    it took, commit included. Timed here rather than on the event loop, so that a busy loop's delay
    in taking the answer is not counted as time the statement held the write lock."""
    before, started = db.total_changes, time.monotonic()
    db.execute(sql, parameters).fetchall()
    return db.total_changes - before, time.monotonic() - started
