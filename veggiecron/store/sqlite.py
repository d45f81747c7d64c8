"""The SQLite store (aiosqlite): one connection, WAL mode, every method one named operation."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import orjson

from ..errors import Conflict, NotFound, StoreUnavailable
from ..model import Job, Run, RunOutcome, User
from .migrations import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

_JOB_COLUMNS = (
    "id, user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, date_created, date_updated"
)
_RUN_COLUMNS = "id, job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, error, response_excerpt"
_USER_COLUMNS = "id, username, is_admin, date_created, date_updated"


class SchemaTooNew(Exception):
    """The database was written by a newer veggiecron; refuse to touch it."""


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        user_id=row[1],
        name=row[2],
        type=row[3],
        data=orjson.loads(row[4]),
        schedule=row[5],
        timezone=row[6],
        enabled=bool(row[7]),
        next_run=row[8],
        anchor=row[9],
        version=row[10],
        date_created=row[11],
        date_updated=row[12],
    )


def _run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        job_id=row[1],
        due_at=row[2],
        started_at=row[3],
        duration_ms=row[4],
        outcome=RunOutcome(row[5]),
        attempts=row[6],
        status_code=row[7],
        error=row[8],
        response_excerpt=row[9],
    )


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], username=row[1], is_admin=bool(row[2]), date_created=row[3], date_updated=row[4])


class SqliteStore:
    """Store of users, tokens, jobs and runs in one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # One writer at a time: aiosqlite shares one connection, so transactions must not interleave.
        self._write_lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        """Open the file, apply pending migrations, refuse a schema newer than this code."""
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA busy_timeout = 5000")
        await self.db.execute("PRAGMA journal_mode = WAL")
        await self.db.execute("PRAGMA synchronous = NORMAL")
        await self.db.execute("PRAGMA foreign_keys = ON")
        await self._migrate()

    async def close(self) -> None:
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

    async def _write(
        self, statements: Iterable[tuple[str, Sequence[Any] | Iterable[Sequence[Any]], bool]]
    ) -> list[int]:
        """Run (sql, params, many) statements in one transaction; answer each statement's lastrowid."""
        async with self._write_lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    ids = []
                    for sql, params, many in statements:
                        if many:
                            cursor = await self.db.executemany(sql, params)  # type: ignore[arg-type]
                        else:
                            cursor = await self.db.execute(sql, params)  # type: ignore[arg-type]
                        ids.append(cursor.lastrowid or 0)
                        await cursor.close()
                    await self.db.execute("COMMIT")
                    return ids
                except BaseException:
                    await self.db.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError:
                raise
            except sqlite3.OperationalError as exc:
                logger.error("database write failed: %s", exc)
                raise StoreUnavailable("the database cannot take writes right now", {"reason": str(exc)}) from exc

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self.db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # users and tokens

    async def create_user(self, username: str, password_hash: str, now: float, is_admin: bool = False) -> User:
        try:
            (user_id,) = await self._write(
                [
                    (
                        "INSERT INTO users (username, password_hash, is_admin, date_created, date_updated) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (username, password_hash, int(is_admin), now, now),
                        False,
                    )
                ]
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"the username {username!r} is taken", {"field": "username"}) from None
        return User(user_id, username, is_admin, now, now)

    async def user_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE username = ?", (username,))
        return (_user(row), row[5]) if row else None

    async def create_token(self, user_id: int, token_hash: str, now: float, expires_at: float) -> None:
        await self._write(
            [
                (
                    "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    (user_id, token_hash, now, expires_at),
                    False,
                )
            ]
        )

    async def user_for_token(self, token_hash: str, now: float) -> User | None:
        row = await self._fetchone(
            f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLUMNS.split(','))} FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.expires_at > ?",
            (token_hash, now),
        )
        return _user(row) if row else None

    async def delete_token(self, token_hash: str) -> None:
        await self._write([("DELETE FROM tokens WHERE token_hash = ?", (token_hash,), False)])

    # jobs

    async def create_job(
        self,
        *,
        user_id: int,
        name: str,
        type: str,
        data: dict[str, Any],
        schedule: str,
        timezone: str,
        enabled: bool,
        next_run: float | None,
        anchor: float,
        now: float,
    ) -> Job:
        try:
            (job_id,) = await self._write(
                [
                    (
                        "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, "
                        "anchor, version, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                        (
                            user_id,
                            name,
                            type,
                            orjson.dumps(data).decode(),
                            schedule,
                            timezone,
                            int(enabled),
                            next_run,
                            anchor,
                            now,
                            now,
                        ),
                        False,
                    )
                ]
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"you already have a job named {name!r}", {"field": "name"}) from None
        return Job(job_id, user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, 1, now, now)

    async def get_job(self, user_id: int, name: str) -> Job:
        row = await self._fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE user_id = ? AND name = ?", (user_id, name))
        if row is None:
            raise NotFound(f"no job named {name!r}", {"name": name})
        return _job(row)

    async def list_jobs(self, user_id: int, limit: int, offset: int) -> tuple[list[Job], int]:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE user_id = ? ORDER BY id LIMIT ? OFFSET ?", (user_id, limit, offset)
        )
        (count,) = await self._fetchone("SELECT COUNT(*) FROM jobs WHERE user_id = ?", (user_id,))
        return [_job(r) for r in rows], count

    async def update_job(self, job: Job) -> Job:
        """Write the owner's changes to a job and bump its version."""
        updated = Job(**{**job.__dict__, "version": job.version + 1})
        await self._write(
            [
                (
                    "UPDATE jobs SET data = ?, schedule = ?, timezone = ?, enabled = ?, next_run = ?, anchor = ?, "
                    "version = ?, date_updated = ? WHERE id = ?",
                    (
                        orjson.dumps(job.data).decode(),
                        job.schedule,
                        job.timezone,
                        int(job.enabled),
                        job.next_run,
                        job.anchor,
                        updated.version,
                        job.date_updated,
                        job.id,
                    ),
                    False,
                )
            ]
        )
        return updated

    async def delete_job(self, job_id: int) -> None:
        await self._write([("DELETE FROM jobs WHERE id = ?", (job_id,), False)])

    async def scheduled_jobs(self) -> list[Job]:
        """Every enabled job with a next run: what the scheduler loads at start."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE enabled = 1 AND next_run IS NOT NULL ORDER BY next_run"
        )
        return [_job(r) for r in rows]

    # runs

    async def record_progress(self, runs: Sequence[Run], next_runs: Sequence[tuple[int, int, float | None]]) -> None:
        """Store finished runs and advanced next-run times in one transaction.

        next_runs holds (job_id, version, next_run); a row whose version moved on (the owner
        changed the job meanwhile) is left as the owner wrote it. Runs of deleted jobs are dropped.
        """
        statements: list[tuple[str, Any, bool]] = []
        if next_runs:
            statements.append(
                (
                    "UPDATE jobs SET next_run = ? WHERE id = ? AND version = ?",
                    [(next_run, job_id, version) for job_id, version, next_run in next_runs],
                    True,
                )
            )
        if runs:
            statements.append(
                (
                    "INSERT INTO runs (job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, "
                    "error, response_excerpt) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)",
                    [
                        (
                            r.job_id,
                            r.due_at,
                            r.started_at,
                            r.duration_ms,
                            r.outcome.value,
                            r.attempts,
                            r.status_code,
                            r.error,
                            r.response_excerpt,
                            r.job_id,
                        )
                        for r in runs
                    ],
                    True,
                )
            )
        if statements:
            await self._write(statements)

    async def prune_runs(self, keep_per_job: int) -> None:
        """Keep only the newest `keep_per_job` runs of every job."""
        await self._write(
            [
                (
                    "DELETE FROM runs WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER "
                    "(PARTITION BY job_id ORDER BY id DESC) AS n FROM runs) WHERE n > ?)",
                    (keep_per_job,),
                    False,
                )
            ]
        )

    async def list_runs(self, job_id: int, limit: int, offset: int) -> tuple[list[Run], int]:
        rows = await self._fetchall(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (job_id, limit, offset),
        )
        (count,) = await self._fetchone("SELECT COUNT(*) FROM runs WHERE job_id = ?", (job_id,))
        return [_run(r) for r in rows], count
