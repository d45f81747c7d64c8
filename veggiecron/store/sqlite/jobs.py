"""Jobs in SQLite: their owners' changes, counts, and the due window the scheduler loads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from ...audit import AuditEntry
from ...errors import Conflict, NotFound
from ...model import NO_FILTER, Job, JobFilter, NewJob, SeedFields
from ..rows import (
    JOB_COLUMN_COUNT,
    JOB_COLUMNS,
    JOB_COLUMNS_J,
    SEED_COLUMNS,
    STATE_SQL,
    job_created,
    job_from_row,
    like_pattern,
    seed_from_row,
    seed_params,
    tags_json,
)
from .audit import audit_statements
from .connection import SqliteConnection, Statement


class SqliteJobs(SqliteConnection):
    async def import_jobs(
        self, user_id: int, jobs: Sequence[tuple[str, dict[str, Any], str, float, float]], now: float, *, job_type: str
    ) -> None:
        """Insert many already-validated jobs of one type (name, data, schedule, next_run, anchor) in one transaction.

        For bulk loads such as bench/scale.py; the API creates jobs one at a time with create_job.
        """
        await self._write(
            [
                (
                    "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, "
                    "version, date_created, date_updated) VALUES (?, ?, ?, ?, ?, 'UTC', 1, ?, ?, 1, ?, ?)",
                    [
                        (user_id, name, job_type, orjson.dumps(data).decode(), schedule, next_run, anchor, now, now)
                        for name, data, schedule, next_run, anchor in jobs
                    ],
                    True,
                )
            ]
        )

    async def create_job(self, new: NewJob, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        """Insert a job (and, for a Seed Scheduler schedule, its seed row) and its audit rows in one transaction."""
        try:
            job_id = (await self._write(_insert_statements(job_created(0, new), seed) + audit_statements(audit)))[0]
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise Conflict(f"you already have a job named {new.name!r}", {"field": "name"}) from None
        return job_created(job_id, new)

    async def get_job(self, user_id: int, name: str) -> Job:
        rows = await self._fetch_by_key(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = ? AND name = ?", (user_id, name)
        )
        if not rows:
            raise NotFound(f"no job named {name!r}", {"name": name})
        row = rows[0]
        return job_from_row(row)

    async def enabled_job_timings(self, user_id: int) -> list[tuple[int, str, str, str, dict[str, Any]]]:
        """(id, schedule, timezone, type, data) of the user's enabled jobs: what quotas are computed from."""
        rows = await self._fetchall(
            "SELECT id, schedule, timezone, type, data FROM jobs WHERE user_id = ? AND enabled = 1", (user_id,)
        )
        return [(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    async def count_jobs(self, user_id: int) -> int:
        (count,) = await self._fetchone("SELECT COUNT(*) FROM jobs WHERE user_id = ?", (user_id,))
        return int(count)

    async def list_jobs(
        self, user_id: int, limit: int, offset: int, where: JobFilter = NO_FILTER
    ) -> tuple[list[Job], int]:
        condition, params = _filter_sql(user_id, where)
        return await self._page(JOB_COLUMNS, "jobs", condition, params, "id", limit, offset, job_from_row)

    async def update_job(self, job: Job, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        """Write the owner's changes to a job (and its seed row) with its audit rows, and bump its version."""
        updated = replace(job, version=job.version + 1)
        await self._write(_update_statements(updated, seed) + audit_statements(audit))
        return updated

    async def delete_job(self, job_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        await self._write([("DELETE FROM jobs WHERE id = ?", (job_id,), False), *audit_statements(audit)])

    async def user_jobs(self, user_id: int) -> list[tuple[Job, SeedFields | None]]:
        rows = await self._fetchall(
            f"SELECT {JOB_COLUMNS_J}, {SEED_COLUMNS} FROM jobs j LEFT JOIN seed_schedules s ON s.job_id = j.id "
            "WHERE j.user_id = ? ORDER BY j.id",
            (user_id,),
        )
        return [
            (job_from_row(r), None if r[JOB_COLUMN_COUNT] is None else seed_from_row(r[JOB_COLUMN_COUNT:]))
            for r in rows
        ]

    async def write_jobs(
        self,
        created: Sequence[tuple[Job, SeedFields | None]],
        changed: Sequence[tuple[Job, SeedFields | None]],
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        """Every insert and change in one immediate transaction; a taken name or uuid rolls it all back."""

        async def write() -> None:
            for job, seed in created:
                try:
                    await self._execute_all(_insert_statements(job, seed))
                except sqlite3.IntegrityError as exc:
                    raise _taken(job, seed, "seed_schedules.uuid" in str(exc)) from None
            for job, seed in changed:
                await self._execute_all(_update_statements(replace(job, version=job.version + 1), seed))
            await self._execute_all(audit_statements(audit))

        await self._transaction(write)

    async def due_jobs(self, until: float, after: tuple[float, int] | None, limit: int) -> list[Job]:
        """Enabled jobs whose next run is at or before `until`, in (next_run, id) order.

        after: the (next_run, id) of the last job of the previous chunk, or None to start from
        the earliest. The partial index on next_run serves both the range and the order.
        """
        scheduled = "enabled = 1 AND next_run IS NOT NULL AND next_run <= ?"
        params: tuple[float, ...]
        if after is None:
            sql, params = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scheduled}", (until,)
        else:
            sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scheduled} AND (next_run > ? OR (next_run = ? AND id > ?))"
            params = (until, after[0], after[0], after[1])
        rows = await self._fetchall(sql + " ORDER BY next_run, id LIMIT ?", (*params, limit))
        return [job_from_row(r) for r in rows]

    async def count_scheduled(self) -> int:
        """Enabled jobs with a next run (counted on the partial index over next_run)."""
        (count,) = await self._fetchone("SELECT COUNT(*) FROM jobs WHERE enabled = 1 AND next_run IS NOT NULL")
        return int(count)

    async def job_counts_by_state(self) -> dict[str, int]:
        row = await self._fetchone(f"SELECT {', '.join(f'SUM({c})' for c in STATE_SQL.values())} FROM jobs")
        return {state.value: count or 0 for state, count in zip(STATE_SQL, row, strict=True)}


def _filter_sql(user_id: int, where: JobFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of a user's jobs that pass the filter."""
    clauses: list[str] = ["user_id = ?"]
    params: list[Any] = [user_id]
    for tag in where.tags:
        clauses.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)")
        params.append(tag)
    if where.text:
        # LIKE is case-insensitive for ASCII letters in SQLite.
        clauses.append("(name LIKE ? ESCAPE '\\' OR json_extract(data, '$.url') LIKE ? ESCAPE '\\')")
        params += [like_pattern(where.text)] * 2
    if where.state is not None:
        clauses.append(STATE_SQL[where.state])
    if where.failing:
        clauses.append("consecutive_failures > 0")
    return " AND ".join(clauses), params


def _insert_statements(job: Job, seed: SeedFields | None) -> list[Statement]:
    """Insert a job at version 1 with its progress as given; a Seed schedule's row takes the new id."""
    statements: list[Statement] = [
        (
            "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, "
            "date_created, date_updated, max_runs, run_count, keep_failures, policy, consecutive_failures, "
            "paused_reason, tags, after_job, after_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.user_id,
                job.name,
                job.type,
                orjson.dumps(job.data).decode(),
                job.schedule,
                job.timezone,
                int(job.enabled),
                job.next_run,
                job.anchor,
                job.date_created,
                job.date_updated,
                job.max_runs,
                job.run_count,
                int(job.keep_failures),
                orjson.dumps(job.policy).decode(),
                job.consecutive_failures,
                job.paused_reason,
                tags_json(job.tags),
                job.after_job,
                job.after_on,
            ),
            False,
        )
    ]
    if seed is not None:
        statements.append(
            (
                "INSERT INTO seed_schedules (job_id, uuid, cron_definition, interval_definition, endpoint, "
                "auth_token, payload, created_by, updated_by) VALUES (last_insert_rowid(), ?, ?, ?, ?, ?, ?, ?, ?)",
                seed_params(seed),
                False,
            )
        )
    return statements


def _update_statements(job: Job, seed: SeedFields | None) -> list[Statement]:
    """Write an owner's change to a job already at its new version (and to its Seed row)."""
    statements: list[Statement] = []
    if seed is not None:
        statements.append(
            (
                "UPDATE seed_schedules SET uuid = ?, cron_definition = ?, interval_definition = ?, endpoint = ?, "
                "auth_token = ?, payload = ?, created_by = ?, updated_by = ? WHERE job_id = ?",
                (*seed_params(seed), job.id),
                False,
            )
        )
    statements.append(
        (
            "UPDATE jobs SET data = ?, schedule = ?, timezone = ?, enabled = ?, next_run = ?, anchor = ?, "
            "version = ?, date_updated = ?, max_runs = ?, policy = ?, paused_reason = ?, "
            "consecutive_failures = ?, tags = ?, after_job = ?, after_on = ? WHERE id = ?",
            (
                orjson.dumps(job.data).decode(),
                job.schedule,
                job.timezone,
                int(job.enabled),
                job.next_run,
                job.anchor,
                job.version,
                job.date_updated,
                job.max_runs,
                orjson.dumps(job.policy).decode(),
                job.paused_reason,
                job.consecutive_failures,
                tags_json(job.tags),
                job.after_job,
                job.after_on,
                job.id,
            ),
            False,
        )
    )
    return statements


def _taken(job: Job, seed: SeedFields | None, uuid: bool) -> Conflict:
    if uuid and seed is not None:
        return Conflict(
            f"Seed schedule id {seed.uuid} is taken by another schedule", {"field": "seed.uuid", "name": job.name}
        )
    return Conflict(f"you already have a job named {job.name!r}", {"field": "name", "name": job.name})
