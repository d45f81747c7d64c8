"""Group commit: the write transactions that arrive while one commits share the next transaction
and its one fsync, as PostgreSQL's commit_delay lets concurrent commits share a flush.

With synchronous = FULL every commit waits for the disk; fifty clients creating jobs would each
wait for their own fsync in turn. Here each write runs in a savepoint of the shared transaction:
one that fails is rolled back to its savepoint alone (a 409 for one request never fails its
neighbours), and every caller is answered only after the COMMIT that holds its write, so an
answer never runs ahead of the disk. No delay is added: the batch is whatever queued while the
previous commit was on its way to the disk.
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
        db = self._connection()
        self.transactions += 1
        self.writes += len(batch)
        try:
            await db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for _body, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        alone = len(batch) == 1  # one write needs no savepoint: its failure rolls back the transaction
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        for number, (body, future) in enumerate(batch):
            if future.done():  # its caller gave up before the write started: it is not made
                continue
            if not alone:
                await db.execute(f"SAVEPOINT write_{number}")
            try:
                result = await body()
            except Exception as exc:
                if not db.in_transaction:  # SQLite gave up the whole transaction: nothing of it stands
                    for _body, each in batch:
                        if not each.done():
                            each.set_exception(exc)
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
        try:
            await db.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._roll_back(db)
            for _body, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    @staticmethod
    async def _roll_back(db: aiosqlite.Connection) -> None:
        # SQLite has already rolled back after some errors (a full disk, an I/O error): a second
        # ROLLBACK would fail and hide the error that matters.
        if db.in_transaction:
            try:
                await db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                logger.warning("rolling back a failed write: %s", exc)
