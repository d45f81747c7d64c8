"""Jobs in PostgreSQL: their owners' changes, counts, and a due window for a single scheduler.

Creating or changing a job whose next run is set tells every node listening (pg_notify in the
same transaction), so the node whose timer is later than that run wakes early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg
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
from .audit import write_audit
from .connection import PostgresConnection

CHANNEL = "veggiecron"  # the pg_notify channel: its payload is the epoch of the next run that changed


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresJobs(PostgresConnection):
    async def import_jobs(
        self, user_id: int, jobs: Sequence[tuple[str, dict[str, Any], str, float, float]], now: float, *, job_type: str
    ) -> None:
        """Insert many already-validated jobs of one type (name, data, schedule, next_run, anchor) at once."""
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, "
                "version, date_created, date_updated) VALUES ($1, $2, $8, $3::json, $4, 'UTC', true, $5, $6, 1, "
                "$7, $7)",
                [
                    (user_id, name, _json(data), schedule, next_run, anchor, now, job_type)
                    for name, data, schedule, next_run, anchor in jobs
                ],
            )
            await conn.execute("SELECT pg_notify($1, '0')", CHANNEL)

    async def create_job(self, new: NewJob, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        try:
            async with self._transaction() as conn:
                job_id = await _insert(conn, job_created(0, new), seed)
                await write_audit(conn, audit)
                if new.enabled and new.next_run is not None:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repr(new.next_run))
        except asyncpg.UniqueViolationError:
            raise Conflict(f"you already have a job named {new.name!r}", {"field": "name"}) from None
        return job_created(job_id, new)

    async def get_job(self, user_id: int, name: str) -> Job:
        row = await self._fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1 AND name = $2", user_id, name)
        if row is None:
            raise NotFound(f"no job named {name!r}", {"name": name})
        return job_from_row(row)

    async def jobs_by_id(self, job_ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids that still exist (a node compiling jobs it has not seen yet)."""
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1::bigint[])", list(job_ids))
        return [job_from_row(r) for r in rows]

    async def enabled_job_timings(self, user_id: int) -> list[tuple[int, str, str, str, dict[str, Any]]]:
        rows = await self._fetch(
            "SELECT id, schedule, timezone, type, data::text FROM jobs WHERE user_id = $1 AND enabled", user_id
        )
        return [(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    async def count_jobs(self, user_id: int) -> int:
        return int(await self._fetchval("SELECT count(*) FROM jobs WHERE user_id = $1", user_id))

    async def list_jobs(
        self, user_id: int, limit: int, offset: int, where: JobFilter = NO_FILTER
    ) -> tuple[list[Job], int]:
        condition, params = _filter_sql(user_id, where)
        return await self._page(JOB_COLUMNS, "jobs", condition, params, "id", limit, offset, job_from_row)

    async def update_job(self, job: Job, seed: SeedFields | None = None, audit: Sequence[AuditEntry] = ()) -> Job:
        updated = replace(job, version=job.version + 1)
        async with self._transaction() as conn:
            await _update(conn, updated, seed)
            await write_audit(conn, audit)
            if job.enabled and job.next_run is not None:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repr(job.next_run))
        return updated

    async def delete_job(self, job_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM jobs WHERE id = $1", job_id)
            await write_audit(conn, audit)

    async def user_jobs(self, user_id: int) -> list[tuple[Job, SeedFields | None]]:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS_J}, {SEED_COLUMNS} FROM jobs j LEFT JOIN seed_schedules s ON s.job_id = j.id "
            "WHERE j.user_id = $1 ORDER BY j.id",
            user_id,
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
        """Every insert and change in one transaction; a taken name or uuid rolls it all back."""
        async with self._transaction() as conn:
            for job, seed in created:
                try:
                    # A savepoint per job, so that the violation is caught here and named.
                    async with conn.transaction():
                        await _insert(conn, job, seed)
                except asyncpg.UniqueViolationError as exc:
                    raise _taken(job, seed, exc.constraint_name or "") from None
            for job, seed in changed:
                await _update(conn, replace(job, version=job.version + 1), seed)
            await write_audit(conn, audit)
            due = [job.next_run for job, _seed in (*created, *changed) if job.enabled and job.next_run is not None]
            if due:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repr(min(due)))

    async def due_jobs(self, until: float, after: tuple[float, int] | None, limit: int) -> list[Job]:
        scheduled = "enabled AND next_run IS NOT NULL AND next_run <= $1"
        if after is None:
            rows = await self._fetch(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scheduled} ORDER BY next_run, id LIMIT $2", until, limit
            )
        else:
            rows = await self._fetch(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scheduled} AND (next_run, id) > ($2, $3) "
                "ORDER BY next_run, id LIMIT $4",
                until,
                after[0],
                after[1],
                limit,
            )
        return [job_from_row(r) for r in rows]

    async def count_scheduled(self) -> int:
        return int(await self._fetchval("SELECT count(*) FROM jobs WHERE enabled AND next_run IS NOT NULL"))

    async def job_counts_by_state(self) -> dict[str, int]:
        counts = ", ".join(f"count(*) FILTER (WHERE {condition})" for condition in STATE_SQL.values())
        row = await self._fetchrow(f"SELECT {counts} FROM jobs")
        assert row is not None
        return {state.value: count for state, count in zip(STATE_SQL, row, strict=True)}


def _filter_sql(user_id: int, where: JobFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (parameters $1...) of a user's jobs that pass the filter."""
    clauses: list[str] = ["user_id = $1"]
    params: list[Any] = [user_id]
    for tag in where.tags:
        params.append(tag)
        clauses.append(f"tags::jsonb ? ${len(params)}")
    if where.text:
        params.append(like_pattern(where.text))
        n = len(params)
        clauses.append(f"(name ILIKE ${n} ESCAPE '\\' OR (data->>'url') ILIKE ${n} ESCAPE '\\')")
    if where.state is not None:
        clauses.append(STATE_SQL[where.state])
    if where.failing:
        clauses.append("consecutive_failures > 0")
    return " AND ".join(clauses), params


async def _insert(conn: asyncpg.Connection, job: Job, seed: SeedFields | None) -> int:
    """Insert a job at version 1 with its progress as given (and a Seed schedule's row); answer its id."""
    job_id: int = await conn.fetchval(
        "INSERT INTO jobs (user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, "
        "version, date_created, date_updated, max_runs, run_count, keep_failures, policy, consecutive_failures, "
        "paused_reason, tags, after_job, after_on) VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8, $9, 1, $10, $11, "
        "$12, $13, $14, $15::json, $16, $17, $18::json, $19, $20) RETURNING id",
        job.user_id,
        job.name,
        job.type,
        _json(job.data),
        job.schedule,
        job.timezone,
        job.enabled,
        job.next_run,
        job.anchor,
        job.date_created,
        job.date_updated,
        job.max_runs,
        job.run_count,
        job.keep_failures,
        _json(job.policy),
        job.consecutive_failures,
        job.paused_reason,
        tags_json(job.tags),
        job.after_job,
        job.after_on,
    )
    if seed is not None:
        await conn.execute(
            "INSERT INTO seed_schedules (job_id, uuid, cron_definition, interval_definition, endpoint, "
            "auth_token, payload, created_by, updated_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9)",
            job_id,
            *seed_params(seed),
        )
    return job_id


async def _update(conn: asyncpg.Connection, job: Job, seed: SeedFields | None) -> None:
    """Write an owner's change to a job already at its new version (and to its Seed row)."""
    if seed is not None:
        await conn.execute(
            "UPDATE seed_schedules SET uuid = $2, cron_definition = $3, interval_definition = $4, "
            "endpoint = $5, auth_token = $6, payload = $7::json, created_by = $8, updated_by = $9 "
            "WHERE job_id = $1",
            job.id,
            *seed_params(seed),
        )
    await conn.execute(
        "UPDATE jobs SET data = $2::json, schedule = $3, timezone = $4, enabled = $5, next_run = $6, "
        "anchor = $7, version = $8, date_updated = $9, max_runs = $10, policy = $11::json, "
        "paused_reason = $12, consecutive_failures = $13, tags = $14::json, after_job = $15, after_on = $16 "
        "WHERE id = $1",
        job.id,
        _json(job.data),
        job.schedule,
        job.timezone,
        job.enabled,
        job.next_run,
        job.anchor,
        job.version,
        job.date_updated,
        job.max_runs,
        _json(job.policy),
        job.paused_reason,
        job.consecutive_failures,
        tags_json(job.tags),
        job.after_job,
        job.after_on,
    )


def _taken(job: Job, seed: SeedFields | None, constraint: str) -> Conflict:
    if seed is not None and constraint.startswith("seed_schedules"):
        return Conflict(
            f"Seed schedule id {seed.uuid} is taken by another schedule", {"field": "seed.uuid", "name": job.name}
        )
    return Conflict(f"you already have a job named {job.name!r}", {"field": "name", "name": job.name})
