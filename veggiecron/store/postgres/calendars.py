"""Calendars in PostgreSQL, and the jobs whose skip_calendars (in their policy) name them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from ...calendars import SHARED_PREFIX, Calendar
from ...errors import Conflict, NotFound
from ...model import Job
from ..rows import CALENDAR_COLUMNS, JOB_COLUMNS_J, calendar_from_row, job_from_row
from .connection import PostgresConnection
from .jobs import CHANNEL

# A job's policy names the calendar among its skip_calendars (jsonb's `?` finds a string in an array).
_NAMES_IT = "COALESCE(j.policy::jsonb -> 'skip_calendars', '[]'::jsonb) ? {}"


class PostgresCalendars(PostgresConnection):
    async def create_calendar(
        self, user_id: int, name: str, shared: bool, spec: dict[str, Any], now: float
    ) -> Calendar:
        text = orjson.dumps(spec).decode()
        try:
            calendar_id = await self._fetchval(
                "INSERT INTO calendars (user_id, name, shared, spec, date_created, date_updated) "
                "VALUES ($1, $2, $3, $4::json, $5, $5) RETURNING id",
                user_id,
                name,
                shared,
                text,
                now,
            )
        except asyncpg.UniqueViolationError:
            taken = (
                f"a shared calendar named {name!r} exists" if shared else f"you already have a calendar named {name!r}"
            )
            raise Conflict(taken, {"field": "name"}) from None
        return calendar_from_row((calendar_id, user_id, name, shared, text, now, now))

    async def get_calendar(self, user_id: int, ref: str) -> Calendar:
        if ref.startswith(SHARED_PREFIX):
            row = await self._fetchrow(
                f"SELECT {CALENDAR_COLUMNS} FROM calendars WHERE shared AND name = $1", ref[len(SHARED_PREFIX) :]
            )
        else:
            row = await self._fetchrow(
                f"SELECT {CALENDAR_COLUMNS} FROM calendars WHERE NOT shared AND user_id = $1 AND name = $2",
                user_id,
                ref,
            )
        if row is None:
            raise NotFound(f"no calendar named {ref!r}", {"name": ref})
        return calendar_from_row(row)

    async def list_calendars(self, user_id: int) -> list[Calendar]:
        rows = await self._fetch(
            f"SELECT {CALENDAR_COLUMNS} FROM calendars WHERE shared OR user_id = $1 ORDER BY shared, name", user_id
        )
        return [calendar_from_row(row) for row in rows]

    async def all_calendars(self) -> list[Calendar]:
        return [calendar_from_row(row) for row in await self._fetch(f"SELECT {CALENDAR_COLUMNS} FROM calendars")]

    async def jobs_using_calendar(self, user_id: int, ref: str) -> list[Job]:
        if ref.startswith(SHARED_PREFIX):
            rows = await self._fetch(
                f"SELECT {JOB_COLUMNS_J} FROM jobs j WHERE {_NAMES_IT.format('$1')} ORDER BY j.id", ref
            )
        else:
            rows = await self._fetch(
                f"SELECT {JOB_COLUMNS_J} FROM jobs j WHERE j.user_id = $1 AND {_NAMES_IT.format('$2')} ORDER BY j.id",
                user_id,
                ref,
            )
        return [job_from_row(row) for row in rows]

    async def update_calendar(
        self, calendar: Calendar, spec: dict[str, Any], now: float, next_runs: Sequence[tuple[Job, float | None]]
    ) -> Calendar:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE calendars SET spec = $1::json, date_updated = $2 WHERE id = $3",
                orjson.dumps(spec).decode(),
                now,
                calendar.id,
            )
            # The new versions make every node compile these jobs again with the calendar's new days.
            await conn.executemany(
                "UPDATE jobs SET next_run = $1, version = version + 1, date_updated = $2 "
                "WHERE id = $3 AND version = $4",
                [(next_run, now, job.id, job.version) for job, next_run in next_runs],
            )
            earliest = min((n for _, n in next_runs if n is not None), default=None)
            if earliest is not None:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, repr(earliest))
        return await self.get_calendar(calendar.user_id, calendar.ref)

    async def delete_calendar(self, calendar_id: int) -> None:
        await self._execute("DELETE FROM calendars WHERE id = $1", calendar_id)
