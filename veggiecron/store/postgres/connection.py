"""The PostgreSQL connection pool (asyncpg), migrations under an advisory lock, and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from ...errors import StoreUnavailable
from ..contract import SchemaTooNew
from .migrations import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)
T = TypeVar("T")

NOW = "extract(epoch from now())::float8"  # the database's clock: the only one that decides in a cluster
# Several nodes start at once against one database: one migrates, the others wait for it.
MIGRATION_LOCK = 0x76656767  # "vegg"

# Prepared statements (asyncpg prepares every query) switch to a generic plan after five runs
# (PostgreSQL's default plan_cache_mode, named here because it matters): planning a result flush
# afresh cost about 0.8 ms, more than running it, and with every statement planned anew PostgreSQL
# spent half its CPU planning at 1,000 runs a second. The statements on unnest() arrays are written
# so that a plan which cannot see the batch's size or the owner still probes by index (fencing.py,
# claims.py); with a generic plan each probe is the same as with a plan of its own.
# A node that stalls inside a transaction (SIGSTOP, a frozen VM) would hold its row locks, and
# every other node skips locked jobs: the server ends such a transaction after two seconds (ours
# last milliseconds), so a stalled node delays its jobs by that long at most.
SESSION_SETTINGS = {"plan_cache_mode": "auto", "idle_in_transaction_session_timeout": "2000"}

# Faults of the database or the way to it, as opposed to a query's own mistakes: answered 503.
UNAVAILABLE = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    TimeoutError,
)


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    user = credentials.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """A connection handed back to the pool keeps its session: asyncpg still rolls back a
    transaction left open and drops listeners, but its default reset (RESET ALL, UNLISTEN, CLOSE
    ALL, advisory unlocks) is a round trip per query, doubling a read's, and this store leaves
    nothing of the kind behind (settings come at connect; the migration lock is released where it
    is taken; LISTEN runs on connections of its own)."""


class PostgresConnection:
    """Opens the pool, migrates the schema, and runs queries and transactions for the stores above it."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float = 30.0) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def open(self) -> None:
        """Connect and apply pending migrations; refuse a schema newer than this code."""
        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=self.min_size,
            max_size=self.max_size,
            command_timeout=self.command_timeout,
            server_settings=SESSION_SETTINGS,
            reset=_keep_session,
        )
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS veggiecron_schema (version integer NOT NULL)")
                current = await conn.fetchval("SELECT max(version) FROM veggiecron_schema") or 0
                if current > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"database {redact(self.url)} has schema version {current}; "
                        f"this veggiecron knows up to {SCHEMA_VERSION}"
                    )
                for number in range(current + 1, SCHEMA_VERSION + 1):
                    logger.info("applying schema migration %d to %s", number, redact(self.url))
                    async with conn.transaction():
                        await conn.execute(MIGRATIONS[number - 1])
                        await conn.execute("INSERT INTO veggiecron_schema (version) VALUES ($1)", number)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def schema_version(self) -> int:
        return int(await self._fetchval("SELECT max(version) FROM veggiecron_schema") or 0)

    async def ping(self) -> bool:
        return bool(await self._fetchval("SELECT 1"))

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return list(await self.pool.fetch(sql, *args))
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await self.pool.fetchrow(sql, *args)
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self.pool.fetchval(sql, *args)
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return str(await self.pool.execute(sql, *args))
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the pool inside a transaction; faults of the database become StoreUnavailable."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

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
    ) -> tuple[list[T], int]:
        """One page of `source` rows matching `where` ($1.. are `params`), and how many match in all."""
        # Counted in the page's own statement, one snapshot for both (as the SQLite store does).
        n = len(params)
        rows = await self._fetch(
            f"SELECT (SELECT count(*) FROM {source} WHERE {where}), {columns} FROM {source} WHERE {where} "
            f"ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}",
            *params,
            limit,
            offset,
        )
        if rows or (limit > 0 and offset == 0):
            return [convert(row[1:]) for row in rows], int(rows[0][0]) if rows else 0
        # Past the end, or a count alone: no row to count beside.
        return [], int(await self._fetchval(f"SELECT count(*) FROM {source} WHERE {where}", *params))


class SideConnection:
    """A connection of its own beside the pool, for work a busy pool must not delay or whose
    settings no other query should have: made when first needed, and made again after a fault."""

    def __init__(self, url: str, settings: dict[str, str], **connect: Any) -> None:
        self.url = url
        self.settings = settings
        self.connect = connect  # asyncpg.connect's own arguments (timeout, command_timeout)
        self._conn: asyncpg.Connection | None = None

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[asyncpg.Record]:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.url, server_settings=self.settings, **self.connect)
            return list(await self._conn.fetch(sql, *args, timeout=timeout))
        except UNAVAILABLE as exc:
            self.close()
            raise _unavailable(exc) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None


def _unavailable(exc: BaseException) -> StoreUnavailable:
    logger.error("database call failed: %s: %s", type(exc).__name__, exc)
    return StoreUnavailable("the database cannot take this request right now", {"reason": type(exc).__name__})
