"""The SQLite connection: one writer in WAL mode, a reader of its own, numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiosqlite

from ...errors import StoreUnavailable
from ..contract import SchemaTooNew
from .checkpoints import Checkpointer
from .group_commit import GroupCommit
from .inspection import check_database_file
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .writer_thread import Statement, execute_statements, on_writer_thread

logger = logging.getLogger(__name__)
T = TypeVar("T")

# (sql, parameters, executemany): one statement of a write transaction.


# What SQLite says when it refuses a write, and what that means to a client of the API.
WRITE_FAULTS = (
    ("full", "the database's disk is full: writes are refused until space is freed; reads still work"),
    ("readonly", "the database is read-only (its file or file system): writes are refused; reads still work"),
    ("i/o error", "the database's disk failed a write: writes are refused until it recovers; reads still work"),
    ("locked", "the database is locked by another writer: try again shortly"),
)


def write_refused(exc: sqlite3.OperationalError) -> StoreUnavailable:
    """A 503 saying why the database refused a write, in words a client can act on."""
    reason = str(exc)
    squeezed = reason.lower().replace(" ", "")
    for marker, description in WRITE_FAULTS:
        if marker.replace(" ", "") in squeezed:
            return StoreUnavailable(description, {"reason": reason})
    return StoreUnavailable("the database cannot take writes right now; reads still work", {"reason": reason})


class SqliteConnection:
    """Opens the file, migrates it, and runs reads and write transactions for the stores above it."""

    def __init__(self, path: str, *, synchronous: str = "full") -> None:
        """synchronous: "full" syncs the write-ahead log at every commit, "normal" only at checkpoints."""
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be normal or full, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous
        self._db: aiosqlite.Connection | None = None
        # Reads go through a connection (and thread) of their own: in WAL mode they see every
        # committed write and never wait behind a batch of run records being written.
        self._reader: aiosqlite.Connection | None = None
        # Reads of a few rows by key run on the event loop itself: such a read takes tens of
        # microseconds, while a hop to the reader thread and back waits for the GIL behind the
        # loop (up to its 5 ms switch interval), which capped GET /job/N near a thousand a second.
        self._inline: sqlite3.Connection | None = None
        self._checkpoints: Checkpointer | None = None
        # One writer at a time: aiosqlite shares one connection, so transactions must not
        # interleave; the writes that queue meanwhile share the next transaction and its fsync.
        self._commits = GroupCommit(lambda: self.db)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        """Open the file, apply pending migrations, refuse a schema newer than this code.

        A file that is not a sound veggiecron database is refused (DatabaseRefused) before
        anything writes to it.
        """
        await asyncio.to_thread(check_database_file, self.path)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA busy_timeout = 5000")
        await self.db.execute("PRAGMA journal_mode = WAL")
        await self.db.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        await self.db.execute("PRAGMA foreign_keys = ON")
        await self._migrate()
        if self.path != ":memory:" and not self.path.startswith("file:"):
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute("PRAGMA busy_timeout = 5000")
            await self._reader.execute("PRAGMA query_only = ON")
            self._inline = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # Never wait on the loop: a read that would wait for a lock goes to the reader thread.
            self._inline.execute("PRAGMA busy_timeout = 0")
            self._inline.execute("PRAGMA query_only = ON")
            # The log is checkpointed in the background, never inside a write (checkpoints.py).
            await self.db.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpoints = Checkpointer(self.path)
            await self._checkpoints.start()

    async def close(self) -> None:
        if self._db is not None:
            await self._commits.drain()
        if self._checkpoints is not None:
            await self._checkpoints.close()
            self._checkpoints = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"database {self.path} has schema version {current}; this veggiecron knows up to {SCHEMA_VERSION}"
            )
        for number in range(current + 1, SCHEMA_VERSION + 1):
            logger.info("applying schema migration %d to %s", number, self.path)
            script = f"BEGIN;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;"
            await self.db.executescript(script)

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def ping(self) -> bool:
        async with self.db.execute("SELECT 1") as cursor:
            return (await cursor.fetchone()) is not None

    async def _write(self, statements: Sequence[Statement]) -> list[int]:
        """Run (sql, params, many) statements in one transaction; answer the row id each INSERT made
        (0 for other statements). They run on the writer's thread in one trip (group_commit.py)."""
        return await self._refusals_answered(self._commits.run_statements(statements))

    async def _execute_all(self, statements: Sequence[Statement]) -> None:
        """Run statements on the writing connection, inside a transaction already begun: all of
        them in one trip to its thread, as a write given as statements runs (writer_thread.py)."""
        await on_writer_thread(self.db, execute_statements, statements)

    async def _take(self, sql: str, params: Sequence[Any], delete: str) -> list[Any]:
        """Select rows and delete each by its first column in one write transaction.

        Read on the writing connection inside the transaction: a read beside it could hand the
        same rows to two callers before either deletes them.
        """

        async def run() -> list[Any]:
            rows = list(await self.db.execute_fetchall(sql, params))
            if rows:
                cursor = await self.db.executemany(delete, [(row[0],) for row in rows])
                await cursor.close()
            return rows

        return await self._transaction(run)

    async def _transaction(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run `body` on the writing connection in an immediate transaction (shared with the writes
        that arrive meanwhile: see group_commit.py); its failure rolls back its own writes only."""
        result: T = await self._refusals_answered(self._commits.run(body))
        return result

    async def _write_alone(self, sql: str, params: tuple[Any, ...], synced: bool = True) -> tuple[int, float]:
        """Run one statement as a write transaction of its own (see GroupCommit.run_alone): the
        rows it changed, and how long it held the write lock."""
        return await self._refusals_answered(self._commits.run_alone(sql, params, synced))

    @staticmethod
    async def _refusals_answered(write: Awaitable[T]) -> T:
        """The write's result; a write the database refused (a full disk, a lock) raises the 503
        that says why. A broken constraint stays the caller's to answer."""
        try:
            return await write
        except sqlite3.OperationalError as exc:
            logger.error("database write failed: %s", exc)
            raise write_refused(exc) from exc

    async def _fetch_by_key(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read of a few rows found through an index, on the event loop (see _inline)."""
        if self._inline is not None:
            try:
                return self._inline.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        return await self._fetchall(sql, params)

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        # One trip to the reading thread (execute, fetch and close there), not three.
        return list(await (self._reader or self.db).execute_fetchall(sql, params))

    async def _page(
        self,
        columns: str,
        source: str,
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int,
        offset: int,
        convert: Callable[[Any], T],
        column_params: Sequence[Any] = (),
    ) -> tuple[list[T], int]:
        """One page of `source` rows matching `where`, converted, and how many match in all."""
        # Counted in the page's own statement, so both come from one snapshot: read apart, a row
        # that changed between the two reads (a job whose run had just failed, under failing=true)
        # was in the page and not in the count.
        rows = await self._fetchall(
            f"SELECT (SELECT COUNT(*) FROM {source} WHERE {where}), {columns} FROM {source} WHERE {where} "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            (*params, *column_params, *params, limit, offset),
        )
        if rows or (limit > 0 and offset == 0):
            return [convert(row[1:]) for row in rows], rows[0][0] if rows else 0
        # Past the end, or a count alone: no row to count beside.
        (count,) = await self._fetchone(f"SELECT COUNT(*) FROM {source} WHERE {where}", params)
        return [], count

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query that selects one row (by a unique key, or an aggregate)."""
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None
