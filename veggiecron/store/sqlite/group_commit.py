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
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

logger = logging.getLogger(__name__)

Body = Callable[[], Awaitable[Any]]


class GroupCommit:
    """Runs write bodies on one connection, many to a transaction, one transaction at a time."""

    def __init__(self, connection: Callable[[], aiosqlite.Connection]) -> None:
        self._connection = connection
        self._queue: list[tuple[Body, asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.transactions = 0  # committed or rolled back, for the tests and the curious
        self.writes = 0

    async def run(self, body: Body) -> Any:
        """Run `body` inside a write transaction; answer its result once that transaction committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((body, future))
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
            batch = [(body, future) for body, future in self._queue if not future.done()]
            self._queue = []
            if not batch:
                continue
            try:
                await self._commit(batch)
            except BaseException as exc:  # a fault of the committer itself: no caller is left waiting
                await self._roll_back(self._connection())
                for _body, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise

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
    def _fail(batch: list[tuple[Body, asyncio.Future[Any]]], exc: BaseException) -> None:
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
