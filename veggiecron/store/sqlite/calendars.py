"""Calendars in SQLite, and the jobs whose skip_calendars (in their policy) name them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from ...calendars import SHARED_PREFIX, Calendar
from ...errors import Conflict, NotFound
from ...model import Job
from ..rows import CALENDAR_COLUMNS, JOB_COLUMNS_J, calendar_from_row, job_from_row
from .connection import SqliteConnection

# A job's policy names the calendar among its skip_calendars (a user's jobs are few enough to scan).
_NAMES_IT = "EXISTS (SELECT 1 FROM json_each(j.policy, '$.skip_calendars') WHERE value = ?)"


class SqliteCalendars(SqliteConnection):
    async def create_calendar(
        self, user_id: int, name: str, shared: bool, spec: dict[str, Any], now: float
    ) -> Calendar:
        try:
            (calendar_id,) = await self._write(
                [
                    (
                        "INSERT INTO calendars (user_id, name, shared, spec, date_created, date_updated) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (user_id, name, int(shared), orjson.dumps(spec).decode(), now, now),
                        False,
                    )
                ]
            )
        except sqlite3.IntegrityError:
            taken = (
                f"a shared calendar named {name!r} exists" if shared else f"you already have a calendar named {name!r}"
            )
            raise Conflict(taken, {"field": "name"}) from None
        return calendar_from_row((calendar_id, user_id, name, shared, orjson.dumps(spec).decode(), now, now))

    async def get_calendar(self, user_id: int, ref: str) -> Calendar:
        if ref.startswith(SHARED_PREFIX):
            sql, params = "shared = 1 AND name = ?", (ref[len(SHARED_PREFIX) :],)
        else:
            sql, params = "shared = 0 AND user_id = ? AND name = ?", (user_id, ref)  # type: ignore[assignment]
        row = await self._fetchone(f"SELECT {CALENDAR_COLUMNS} FROM calendars WHERE {sql}", params)
        if row is None:
            raise NotFound(f"no calendar named {ref!r}", {"name": ref})
        return calendar_from_row(row)

    async def list_calendars(self, user_id: int) -> list[Calendar]:
        rows = await self._fetchall(
            f"SELECT {CALENDAR_COLUMNS} FROM calendars WHERE shared = 1 OR user_id = ? ORDER BY shared, name",
            (user_id,),
        )
        return [calendar_from_row(row) for row in rows]

    async def all_calendars(self) -> list[Calendar]:
        return [calendar_from_row(row) for row in await self._fetchall(f"SELECT {CALENDAR_COLUMNS} FROM calendars")]

    async def jobs_using_calendar(self, user_id: int, ref: str) -> list[Job]:
        if ref.startswith(SHARED_PREFIX):
            rows = await self._fetchall(f"SELECT {JOB_COLUMNS_J} FROM jobs j WHERE {_NAMES_IT} ORDER BY j.id", (ref,))
        else:
            rows = await self._fetchall(
                f"SELECT {JOB_COLUMNS_J} FROM jobs j WHERE j.user_id = ? AND {_NAMES_IT} ORDER BY j.id", (user_id, ref)
            )
        return [job_from_row(row) for row in rows]

    async def update_calendar(
        self, calendar: Calendar, spec: dict[str, Any], now: float, next_runs: Sequence[tuple[Job, float | None]]
    ) -> Calendar:
        await self._write(
            [
                (
                    "UPDATE calendars SET spec = ?, date_updated = ? WHERE id = ?",
                    (orjson.dumps(spec).decode(), now, calendar.id),
                    False,
                ),
                (
                    "UPDATE jobs SET next_run = ?, version = version + 1, date_updated = ? "
                    "WHERE id = ? AND version = ?",
                    [(next_run, now, job.id, job.version) for job, next_run in next_runs],
                    True,
                ),
            ]
        )
        return await self.get_calendar(calendar.user_id, calendar.ref)

    async def delete_calendar(self, calendar_id: int) -> None:
        await self._write([("DELETE FROM calendars WHERE id = ?", (calendar_id,), False)])
