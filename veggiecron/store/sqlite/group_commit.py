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

Most writes are given as their statements (run_statements: every create, update, delete and run
record). A batch made only of those goes to the writer's thread in one trip, BEGIN, every write
and COMMIT (writer_thread.commit_batch): the event loop wakes once per batch, not once per
statement, and the write lock is never held waiting for a busy loop to take an answer.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from .writer_thread import (
    Committed,
    Failed,
    Statement,
    commit_batch,
    execute_statements,
    on_writer_thread,
    timed_statement,
)

logger = logging.getLogger(__name__)

Body = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Alone:
    """One statement to run as a transaction of its own (see run_alone)."""

    sql: str
    parameters: tuple[Any, ...]
    synced: bool  # False: its commit does not wait for the disk (see writer_thread.timed_statement)


@dataclass(frozen=True)
class Statements:
    """A write given as its statements (see run_statements): run on the writer's thread in one trip."""

    statements: tuple[Statement, ...]


Write = Body | Alone | Statements
Batched = tuple[Body | Statements, "asyncio.Future[Any]"]  # a write of a batch, and its caller's answer


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

    async def run_statements(self, statements: Sequence[Statement]) -> list[int]:
        """Run these statements, in order, inside a write transaction; answer, once that transaction
        committed, the row id each INSERT made (0 for other statements). A batch made only of such
        writes goes to the writer's thread in one trip, BEGIN and COMMIT included."""
        kept = tuple((sql, list(params) if many else params, many) for sql, params, many in statements)
        ids: list[int] = await self._queued(Statements(kept))
        return ids

    async def run_alone(self, sql: str, parameters: tuple[Any, ...], synced: bool = True) -> tuple[int, float]:
        """Run one statement as a transaction of its own, in one trip to the writer's thread, after
        the writes queued before it; answer, once committed, how many rows it changed and how long
        it took on that thread (how long its transaction held the write lock). synced=False: its
        commit does not wait for the disk, for work a power cut may undo (it is done again)."""
        changes, seconds = await self._queued(Alone(sql, parameters, synced))
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
        batch: list[Batched] = []
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
            changed = await on_writer_thread(db, timed_statement, write.sql, write.parameters, write.synced)
        except Exception as exc:  # SQLite rolled the statement back: it changed nothing
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(changed)

    async def _commit(self, batch: list[Batched]) -> None:
        self.writes += len(batch)
        started: set[int] = set()
        if all(isinstance(write, Statements) for write, _ in batch):
            if await self._commit_in_one_trip(batch, started):
                return
        elif len(batch) > 1 and await self._commit_together(batch, started):
            return
        await self._commit_isolated(batch, started)

    async def _commit_in_one_trip(self, batch: list[Batched], started: set[int]) -> bool:
        """A batch of writes given as statements: BEGIN, every write, COMMIT in one trip to the
        writer's thread, so the write lock is never held across the event loop's pauses. Answers
        False when one write of several failed (rolled back: the batch is then written again
        with a savepoint around each write, as by _commit_together)."""
        live = [(number, write, future) for number, (write, future) in enumerate(batch) if not future.done()]
        if not live:  # every caller gave up before its write started: none is made
            return True
        started.update(number for number, _, _ in live)
        self.transactions += 1
        db = self._connection()
        writes = [write.statements for _, write, _ in live if isinstance(write, Statements)]
        outcome = await on_writer_thread(db, commit_batch, writes)
        if isinstance(outcome, Committed):
            for (_, _, future), ids in zip(live, outcome.results, strict=True):
                if not future.done():
                    future.set_result(ids)
            return True
        if isinstance(outcome, Failed):
            self._fail(batch, outcome.error)
            return True
        if len(live) == 1:  # the one write failed: its transaction is rolled back, that is all
            future = live[0][2]
            if not future.done():
                future.set_exception(outcome.error)
            return True
        return False

    async def _commit_together(self, batch: list[Batched], started: set[int]) -> bool:
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
                outcomes.append((future, await self._run(db, body), None))
            except Exception as exc:
                if not db.in_transaction:  # SQLite gave up the whole transaction: nothing of it stands
                    self._fail(batch, exc)
                    return True
                await self._roll_back(db)
                return False
        await self._finish(db, batch, outcomes)
        return True

    async def _commit_isolated(self, batch: list[Batched], started: set[int]) -> None:
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
                result = await self._run(db, body)
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

    @staticmethod
    async def _run(db: aiosqlite.Connection, write: Body | Statements) -> Any:
        """Make one write inside the transaction under way."""
        if isinstance(write, Statements):
            return await on_writer_thread(db, execute_statements, write.statements)
        return await write()

    async def _begin(self, db: aiosqlite.Connection, batch: list[Batched]) -> bool:
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
        batch: list[Batched],
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
