"""The SQLite store (aiosqlite): one connection, WAL mode, every method one named operation."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import aiosqlite
import orjson

from ..errors import Conflict, NotFound, StoreUnavailable
from ..model import FailedTask, Job, Run, RunOutcome, SeedFields, User, Webhook
from .migrations import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)
T = TypeVar("T")

_RUN_INSERT_COLUMNS = (
    "job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, error, response_excerpt, error_class"
)


def _json_columns(*names: str) -> str:
    """Select the items of each JSON array row of json_each as named columns."""
    return ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names))


_JOB_COLUMNS = (
    "id, user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, "
    "date_created, date_updated, max_runs, run_count, keep_failures, policy, consecutive_failures, paused_reason"
)
_RUN_COLUMNS = (
    "id, job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, error, response_excerpt, error_class"
)
_USER_COLUMNS = "id, username, is_admin, date_created, date_updated, email"


class SchemaTooNew(Exception):
    """The database was written by a newer veggiecron; refuse to touch it."""


def _job(row: Sequence[Any]) -> Job:
    # Type, schedule and timezone repeat across jobs: interned, a million jobs share a few strings.
    return Job(
        id=row[0],
        user_id=row[1],
        name=row[2],
        type=sys.intern(row[3]),
        data=orjson.loads(row[4]),
        schedule=sys.intern(row[5]),
        timezone=sys.intern(row[6]),
        enabled=bool(row[7]),
        next_run=row[8],
        anchor=row[9],
        version=row[10],
        date_created=row[11],
        date_updated=row[12],
        max_runs=row[13],
        run_count=row[14],
        keep_failures=bool(row[15]),
        policy=orjson.loads(row[16]),
        consecutive_failures=row[17],
        paused_reason=row[18],
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
        error_class=row[10],
    )


def _seed_row(seed: SeedFields) -> tuple[Any, ...]:
    payload = None if seed.payload is None else orjson.dumps(seed.payload).decode()
    return (
        seed.uuid,
        seed.cron_definition,
        seed.interval_definition,
        seed.endpoint,
        seed.auth_token,
        payload,
        seed.created_by,
        seed.updated_by,
    )


def _seed(row: Sequence[Any]) -> SeedFields:
    return SeedFields(
        row[0], row[1], row[2], row[3], row[4], None if row[5] is None else orjson.loads(row[5]), row[6], row[7]
    )


_SEED_COLUMNS = (
    "s.uuid, s.cron_definition, s.interval_definition, s.endpoint, s.auth_token, s.payload, s.created_by, s.updated_by"
)
_JOB_COLUMNS_J = ", ".join("j." + c.strip() for c in _JOB_COLUMNS.split(","))
_FAILED_COLUMNS = "f.id, f.job_id, f.task_id, f.initiated_at, f.reason"


def _failed(row: Sequence[Any]) -> FailedTask:
    return FailedTask(row[0], row[1], row[2], row[3], row[4])


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(row[0], row[1], row[2], row[3], row[4], row[5])


def _user(row: Sequence[Any]) -> User:
    return User(
        id=row[0], username=row[1], is_admin=bool(row[2]), date_created=row[3], date_updated=row[4], email=row[5]
    )


class SqliteStore:
    """Store of users, tokens, jobs and runs in one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # Reads go through a connection (and thread) of their own: in WAL mode they see every
        # committed write and never wait behind a batch of run records being written.
        self._reader: aiosqlite.Connection | None = None
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
        if self.path != ":memory:" and not self.path.startswith("file:"):
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute("PRAGMA busy_timeout = 5000")
            await self._reader.execute("PRAGMA query_only = ON")

    async def close(self) -> None:
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

    async def count_scheduled(self) -> int:
        """Enabled jobs with a next run (counted on the partial index over next_run)."""
        (count,) = await self._fetchone("SELECT COUNT(*) FROM jobs WHERE enabled = 1 AND next_run IS NOT NULL")
        return int(count)

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
        # Counted first: rows written between the two reads then show in the page, not only in
        # the count, so a client that saw `count` rows announced always finds them.
        (count,) = await self._fetchone(f"SELECT COUNT(*) FROM {source} WHERE {where}", params)
        rows = await self._fetchall(
            f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            (*column_params, *params, limit, offset),
        )
        return [convert(row) for row in rows], count

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query that selects one row (by a unique key, or an aggregate)."""
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    # users and tokens

    async def create_user(
        self, username: str, password_hash: str, now: float, is_admin: bool = False, email: str = ""
    ) -> User:
        try:
            (user_id,) = await self._write(
                [
                    (
                        "INSERT INTO users (username, password_hash, is_admin, date_created, date_updated, email) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (username, password_hash, int(is_admin), now, now, email),
                        False,
                    )
                ]
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"the username {username!r} is taken", {"field": "username"}) from None
        return User(user_id, username, is_admin, now, now, email)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def set_admin(self, user_id: int, is_admin: bool, now: float) -> None:
        await self._write(
            [("UPDATE users SET is_admin = ?, date_updated = ? WHERE id = ?", (int(is_admin), now, user_id), False)]
        )

    async def list_users(self, only_id: int | None, limit: int, offset: int) -> tuple[list[User], int]:
        """Users newest first; only_id restricts the list to one user."""
        where, params = ("id = ?", (only_id,)) if only_id is not None else ("1", ())
        return await self._page(_USER_COLUMNS, "users", where, params, "id DESC", limit, offset, _user)

    async def user_group_ids(self, user_id: int) -> list[int]:
        rows = await self._fetchall("SELECT group_id FROM user_groups WHERE user_id = ? ORDER BY group_id", (user_id,))
        return [r[0] for r in rows]

    async def list_groups(self, limit: int, offset: int) -> tuple[list[tuple[int, str]], int]:
        return await self._page("id, name", "groups", "1", (), "id DESC", limit, offset, lambda r: (r[0], r[1]))

    async def get_group(self, group_id: int) -> tuple[int, str] | None:
        row = await self._fetchone("SELECT id, name FROM groups WHERE id = ?", (group_id,))
        return (row[0], row[1]) if row else None

    async def user_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE username = ?", (username,))
        return (_user(row), row[6]) if row else None

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

    async def user_for_token(self, token_hash: str, now: float) -> tuple[User, float] | None:
        """The unexpired token's user and the token's expires_at (callers that cache it must honour it)."""
        row = await self._fetchone(
            f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLUMNS.split(','))}, t.expires_at FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.expires_at > ?",
            (token_hash, now),
        )
        return (_user(row), row[6]) if row else None

    async def list_tokens(
        self, user_id: int, current_hash: str, now: float, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The user's unexpired tokens (never their hashes), marking the one in use."""
        return await self._page(
            "id, created_at, expires_at, token_hash = ?",
            "tokens",
            "user_id = ? AND expires_at > ?",
            (user_id, now),
            "id DESC",
            limit,
            offset,
            lambda r: {"id": r[0], "created_at": r[1], "expires_at": r[2], "current": bool(r[3])},
            column_params=(current_hash,),
        )

    async def delete_user_token(self, user_id: int, token_id: int) -> bool:
        async with self.db.execute("SELECT 1 FROM tokens WHERE id = ? AND user_id = ?", (token_id, user_id)) as cursor:
            if await cursor.fetchone() is None:
                return False
        await self._write([("DELETE FROM tokens WHERE id = ? AND user_id = ?", (token_id, user_id), False)])
        return True

    async def prune_tokens(self, now: float) -> None:
        await self._write([("DELETE FROM tokens WHERE expires_at <= ?", (now,), False)])

    async def delete_token(self, token_hash: str) -> None:
        await self._write([("DELETE FROM tokens WHERE token_hash = ?", (token_hash,), False)])

    # jobs

    async def import_jobs(
        self, user_id: int, jobs: Sequence[tuple[str, dict[str, Any], str, float, float]], now: float
    ) -> None:
        """Insert many already-validated http jobs (name, data, schedule, next_run, anchor) in one transaction.

        For bulk loads such as bench/scale.py; the API creates jobs one at a time with create_job.
        """
        await self._write(
            [
                (
                    "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, "
                    "version, date_created, date_updated) VALUES (?, ?, 'http', ?, ?, 'UTC', 1, ?, ?, 1, ?, ?)",
                    [
                        (user_id, name, orjson.dumps(data).decode(), schedule, next_run, anchor, now, now)
                        for name, data, schedule, next_run, anchor in jobs
                    ],
                    True,
                )
            ]
        )

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
        max_runs: int | None = None,
        keep_failures: bool = False,
        seed: SeedFields | None = None,
        policy: dict[str, Any] | None = None,
    ) -> Job:
        """Insert a job (and, for a Seed Scheduler schedule, its seed row) in one transaction."""
        statements: list[tuple[str, Any, bool]] = [
            (
                "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, "
                "date_created, date_updated, max_runs, run_count, keep_failures, policy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 0, ?, ?)",
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
                    max_runs,
                    int(keep_failures),
                    orjson.dumps(policy or {}).decode(),
                ),
                False,
            )
        ]
        if seed is not None:
            statements.append(
                (
                    "INSERT INTO seed_schedules (job_id, uuid, cron_definition, interval_definition, endpoint, "
                    "auth_token, payload, created_by, updated_by) VALUES (last_insert_rowid(), ?, ?, ?, ?, ?, ?, ?, ?)",
                    _seed_row(seed),
                    False,
                )
            )
        try:
            job_id = (await self._write(statements))[0]
        except sqlite3.IntegrityError:
            raise Conflict(f"you already have a job named {name!r}", {"field": "name"}) from None
        return Job(
            job_id,
            user_id,
            name,
            type,
            data,
            schedule,
            timezone,
            enabled,
            next_run,
            anchor,
            1,
            now,
            now,
            max_runs,
            0,
            keep_failures,
            policy or {},
        )

    async def get_job(self, user_id: int, name: str) -> Job:
        row = await self._fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE user_id = ? AND name = ?", (user_id, name))
        if row is None:
            raise NotFound(f"no job named {name!r}", {"name": name})
        return _job(row)

    async def enabled_job_timings(self, user_id: int) -> list[tuple[int, str, str, dict[str, Any]]]:
        """(id, schedule, timezone, data) of the user's enabled jobs: what quotas are computed from."""
        rows = await self._fetchall(
            "SELECT id, schedule, timezone, data FROM jobs WHERE user_id = ? AND enabled = 1", (user_id,)
        )
        return [(r[0], r[1], r[2], orjson.loads(r[3])) for r in rows]

    async def count_jobs(self, user_id: int) -> int:
        (count,) = await self._fetchone("SELECT COUNT(*) FROM jobs WHERE user_id = ?", (user_id,))
        return int(count)

    async def list_jobs(self, user_id: int, limit: int, offset: int) -> tuple[list[Job], int]:
        return await self._page(_JOB_COLUMNS, "jobs", "user_id = ?", (user_id,), "id", limit, offset, _job)

    async def update_job(self, job: Job, seed: SeedFields | None = None) -> Job:
        """Write the owner's changes to a job (and its seed row) and bump its version."""
        updated = replace(job, version=job.version + 1)
        seed_statements: list[tuple[str, Any, bool]] = []
        if seed is not None:
            seed_statements.append(
                (
                    "UPDATE seed_schedules SET uuid = ?, cron_definition = ?, interval_definition = ?, endpoint = ?, "
                    "auth_token = ?, payload = ?, created_by = ?, updated_by = ? WHERE job_id = ?",
                    (*_seed_row(seed), job.id),
                    False,
                )
            )
        await self._write(
            [
                *seed_statements,
                (
                    "UPDATE jobs SET data = ?, schedule = ?, timezone = ?, enabled = ?, next_run = ?, anchor = ?, "
                    "version = ?, date_updated = ?, max_runs = ?, policy = ?, paused_reason = ?, "
                    "consecutive_failures = ? WHERE id = ?",
                    (
                        orjson.dumps(job.data).decode(),
                        job.schedule,
                        job.timezone,
                        int(job.enabled),
                        job.next_run,
                        job.anchor,
                        updated.version,
                        job.date_updated,
                        job.max_runs,
                        orjson.dumps(job.policy).decode(),
                        job.paused_reason,
                        job.consecutive_failures,
                        job.id,
                    ),
                    False,
                ),
            ]
        )
        return updated

    async def delete_job(self, job_id: int) -> None:
        await self._write([("DELETE FROM jobs WHERE id = ?", (job_id,), False)])

    async def due_jobs(self, until: float, after: tuple[float, int] | None, limit: int) -> list[Job]:
        """Enabled jobs whose next run is at or before `until`, in (next_run, id) order.

        after: the (next_run, id) of the last job of the previous chunk, or None to start from
        the earliest. The partial index on next_run serves both the range and the order.
        """
        scheduled = "enabled = 1 AND next_run IS NOT NULL AND next_run <= ?"
        params: tuple[float, ...]
        if after is None:
            sql, params = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {scheduled}", (until,)
        else:
            sql = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {scheduled} AND (next_run > ? OR (next_run = ? AND id > ?))"
            params = (until, after[0], after[0], after[1])
        rows = await self._fetchall(sql + " ORDER BY next_run, id LIMIT ?", (*params, limit))
        return [_job(r) for r in rows]

    # runs

    async def record_progress(
        self,
        runs: Sequence[Run],
        next_runs: Sequence[tuple[int, int, float | None]],
        run_counts: Sequence[tuple[int, int]] = (),
        failures: Sequence[tuple[int, str, float, str]] = (),
        streaks: Sequence[tuple[int, int]] = (),
        pauses: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        """Store finished runs and advanced next-run times in one transaction.

        next_runs holds (job_id, version, next_run); a row whose version moved on (the owner
        changed the job meanwhile) is left as the owner wrote it. Runs of deleted jobs are dropped.
        run_counts holds (job_id, runs dispatched since the last write); a job that reaches its
        max_runs is disabled. failures holds (job_id, task_id, initiated_at, reason); streaks
        (job_id, consecutive failures); pauses (job_id, version, reason) for jobs that disabled
        themselves.
        """
        statements: list[tuple[str, Any, bool]] = []
        if streaks:
            statements.append(
                ("UPDATE jobs SET consecutive_failures = ? WHERE id = ?", [(n, job_id) for job_id, n in streaks], True)
            )
        if pauses:
            statements.append(
                (
                    "UPDATE jobs SET enabled = 0, paused_reason = ? WHERE id = ? AND version = ?",
                    [(reason, job_id, version) for job_id, version, reason in pauses],
                    True,
                )
            )
        # The large batches (runs, next runs, counts) travel as one JSON parameter each and are
        # unpacked by SQLite's json_each: one statement per batch instead of one per row, so
        # the database thread barely needs the interpreter while it writes.
        if run_counts:
            statements.append(
                (
                    "UPDATE jobs SET run_count = run_count + u.n, enabled = CASE WHEN max_runs IS NOT NULL "
                    "AND run_count + u.n >= max_runs THEN 0 ELSE enabled END "
                    f"FROM (SELECT {_json_columns('id', 'n')} FROM json_each(?)) AS u WHERE jobs.id = u.id",
                    (orjson.dumps(run_counts).decode(),),
                    False,
                )
            )
        if failures:
            statements.append(
                (
                    "INSERT INTO failed_tasks (job_id, task_id, initiated_at, reason) SELECT ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)",
                    [(*failure, failure[0]) for failure in failures],
                    True,
                )
            )
        if next_runs:
            # One row per (job, version): the newest. UPDATE ... FROM applies one arbitrary match
            # per row, so a job advanced twice in one batch must appear once.
            newest = {(job_id, version): next_run for job_id, version, next_run in next_runs}
            statements.append(
                (
                    "UPDATE jobs SET next_run = u.next_run "
                    f"FROM (SELECT {_json_columns('id', 'version', 'next_run')} FROM json_each(?)) AS u "
                    "WHERE jobs.id = u.id AND jobs.version = u.version",
                    (orjson.dumps([(*key, next_run) for key, next_run in newest.items()]).decode(),),
                    False,
                )
            )
        if runs:
            rows = [
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
                    r.error_class,
                )
                for r in runs
            ]
            statements.append(
                (
                    f"INSERT INTO runs ({_RUN_INSERT_COLUMNS}) SELECT * FROM "
                    f"(SELECT {_json_columns(*_RUN_INSERT_COLUMNS.split(', '))} FROM json_each(?)) AS r "
                    "WHERE EXISTS (SELECT 1 FROM jobs WHERE id = r.job_id)",
                    (orjson.dumps(rows).decode(),),
                    False,
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
        return await self._page(_RUN_COLUMNS, "runs", "job_id = ?", (job_id,), "id DESC", limit, offset, _run)

    async def job_counts_by_state(self) -> dict[str, int]:
        row = await self._fetchone(
            "SELECT SUM(enabled = 1 AND next_run IS NOT NULL), SUM(enabled = 0), "
            "SUM(enabled = 1 AND next_run IS NULL) FROM jobs"
        )
        return {"scheduled": row[0] or 0, "disabled": row[1] or 0, "done": row[2] or 0}

    # Seed Scheduler schedules (each one is a job plus a seed_schedules row)

    async def get_seed(self, user_id: int, uuid: str) -> tuple[Job, SeedFields]:
        row = await self._fetchone(
            f"SELECT {_JOB_COLUMNS_J}, {_SEED_COLUMNS} FROM seed_schedules s JOIN jobs j ON j.id = s.job_id "
            "WHERE s.uuid = ? AND j.user_id = ?",
            (uuid, user_id),
        )
        if row is None:
            raise NotFound("Not found.")
        return _job(row), _seed(row[19:])

    async def list_seeds(self, user_id: int, limit: int, offset: int) -> tuple[list[tuple[Job, SeedFields]], int]:
        return await self._page(
            f"{_JOB_COLUMNS_J}, {_SEED_COLUMNS}",
            "seed_schedules s JOIN jobs j ON j.id = s.job_id",
            "j.user_id = ?",
            (user_id,),
            "j.date_created DESC, j.id DESC",
            limit,
            offset,
            lambda r: (_job(r), _seed(r[19:])),
        )

    async def seed_uuids(self, job_ids: Sequence[int]) -> dict[int, str]:
        if not job_ids:
            return {}
        marks = ",".join("?" * len(job_ids))
        rows = await self._fetchall(f"SELECT job_id, uuid FROM seed_schedules WHERE job_id IN ({marks})", job_ids)
        return {r[0]: r[1] for r in rows}

    # failed tasks

    async def list_failures(self, user_id: int, limit: int, offset: int) -> tuple[list[FailedTask], int]:
        return await self._page(
            _FAILED_COLUMNS,
            "failed_tasks f JOIN jobs j ON j.id = f.job_id",
            "j.user_id = ?",
            (user_id,),
            "f.id DESC",
            limit,
            offset,
            _failed,
        )

    async def get_failure(self, user_id: int, failure_id: int) -> FailedTask:
        row = await self._fetchone(
            f"SELECT {_FAILED_COLUMNS} FROM failed_tasks f JOIN jobs j ON j.id = f.job_id "
            "WHERE f.id = ? AND j.user_id = ?",
            (failure_id, user_id),
        )
        if row is None:
            raise NotFound("Not found.")
        return _failed(row)

    async def take_failures(self, user_id: int) -> list[tuple[FailedTask, Job]]:
        """Remove and answer every failed task of the user's jobs, with its job, for requeueing."""
        rows = await self._fetchall(
            f"SELECT {_FAILED_COLUMNS}, {_JOB_COLUMNS_J} FROM failed_tasks f JOIN jobs j ON j.id = f.job_id "
            "WHERE j.user_id = ? ORDER BY f.id",
            (user_id,),
        )
        if rows:
            await self._write([("DELETE FROM failed_tasks WHERE id = ?", [(r[0],) for r in rows], True)])
        return [(_failed(r), _job(r[5:])) for r in rows]

    # webhooks

    async def create_webhook(self, user_id: int, event: str, target: str, now: float) -> Webhook:
        (hook_id,) = await self._write(
            [
                (
                    "INSERT INTO webhooks (user_id, event, target, created, updated) VALUES (?, ?, ?, ?, ?)",
                    (user_id, event, target, now, now),
                    False,
                )
            ]
        )
        return Webhook(hook_id, user_id, event, target, now, now)

    async def list_webhooks(self, user_id: int, limit: int, offset: int) -> tuple[list[Webhook], int]:
        return await self._page(
            "id, user_id, event, target, created, updated",
            "webhooks",
            "user_id = ?",
            (user_id,),
            "id DESC",
            limit,
            offset,
            _webhook,
        )

    async def get_webhook(self, user_id: int, hook_id: int) -> Webhook:
        row = await self._fetchone(
            "SELECT id, user_id, event, target, created, updated FROM webhooks WHERE id = ? AND user_id = ?",
            (hook_id, user_id),
        )
        if row is None:
            raise NotFound("Not found.")
        return _webhook(row)

    async def update_webhook(self, hook: Webhook) -> None:
        await self._write(
            [
                (
                    "UPDATE webhooks SET event = ?, target = ?, updated = ? WHERE id = ?",
                    (hook.event, hook.target, hook.updated, hook.id),
                    False,
                )
            ]
        )

    async def delete_webhook(self, hook_id: int) -> None:
        await self._write([("DELETE FROM webhooks WHERE id = ?", (hook_id,), False)])

    async def webhooks_for(self, user_id: int, event: str) -> list[Webhook]:
        rows = await self._fetchall(
            "SELECT id, user_id, event, target, created, updated FROM webhooks WHERE user_id = ? AND event = ? "
            "ORDER BY id",
            (user_id, event),
        )
        return [_webhook(r) for r in rows]
