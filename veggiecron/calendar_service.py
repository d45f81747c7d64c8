"""The calendars service: create, change and delete calendars, and keep every job that skips a
calendar's days in step with it at once.

Calendars live in the store and, for compiling jobs without a database read, in the calendar book
(calendar_book.py). A change is written with the affected jobs' new next runs and versions in one
transaction, so every node compiles those jobs again; this node hands them to its scheduler
straight away, and other nodes reload their book on a timer (reloading.keep_reloading).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from .calendar_book import CalendarBook
from .calendars import Calendar, parse_spec, validate_calendar_name, validate_reference
from .clock import Clock
from .errors import Conflict, Forbidden, Invalid
from .job_fields import check_fields, parse_bool
from .jobs import JobService
from .model import User
from .store import CalendarStore

logger = logging.getLogger(__name__)

CREATE_FIELDS = ("name", "shared", "dates", "holidays")
UPDATE_FIELDS = ("name", "shared", "dates", "holidays")  # name and shared may be repeated, not changed


class CalendarService:
    def __init__(self, store: CalendarStore, jobs: JobService, book: CalendarBook, clock: Clock) -> None:
        self.store = store
        self.jobs = jobs
        self.book = book
        self.clock = clock

    async def load(self) -> None:
        """Fill the book from the store (before the scheduler compiles any job)."""
        self.book.load(await self.store.all_calendars())

    async def reload(self) -> None:
        """Take in the calendars other nodes changed; their jobs' next runs are set again.

        The node that changed a calendar set them already, but a node that had not seen the change
        yet may have claimed a slot since and planned the next one with the old days: planned again
        here from the pending slot, with the days every node now has.
        """
        for calendar in self.book.load(await self.store.all_calendars()):
            logger.info("calendar %d (%s) changed on another node", calendar.id, calendar.ref)
            await self.jobs.flush()
            now = self.clock.now()
            affected = await self.store.jobs_using_calendar(calendar.user_id, calendar.ref)
            next_runs = [(job, self.jobs.replanned(job, now)) for job in affected]
            changed = [(job, run) for job, run in next_runs if run != job.next_run]
            if changed and self.book.days(calendar.user_id, calendar.ref) is not None:
                # The calendar written as it is (same days, same time): other nodes see no change.
                await self.store.update_calendar(calendar, calendar.spec.to_json(), calendar.date_updated, changed)

    async def create(self, user: User, fields: dict[str, Any]) -> Calendar:
        check_fields(fields, CREATE_FIELDS)
        name = validate_calendar_name(fields.get("name"))
        shared = self._shared(fields)
        if shared and not user.is_admin:
            raise Forbidden("only an admin may share a calendar", {"field": "shared"})
        spec = parse_spec(fields)
        calendar = await self.store.create_calendar(user.id, name, shared, spec.to_json(), self.clock.now())
        self.book.put(calendar)
        return calendar

    async def get(self, user: User, ref: object) -> Calendar:
        return await self.store.get_calendar(user.id, validate_reference(ref, "name"))

    async def visible(self, user: User) -> list[Calendar]:
        """The user's calendars and the shared ones."""
        return await self.store.list_calendars(user.id)

    async def jobs_of(self, user: User, calendar: Calendar) -> list[str]:
        """The names of the user's jobs that skip this calendar's days."""
        return [
            job.name for job in await self.store.jobs_using_calendar(user.id, calendar.ref) if job.user_id == user.id
        ]

    async def update(self, user: User, ref: str, fields: dict[str, Any]) -> Calendar:
        """Replace a calendar's dates or holidays; every job that skips it is rescheduled at once."""
        check_fields(fields, UPDATE_FIELDS)
        calendar = await self._changeable(user, ref)
        if "name" in fields and fields["name"] != calendar.name and fields["name"] != calendar.ref:
            raise Invalid("name", "a calendar's name cannot be changed (create another one)")
        if "shared" in fields and self._shared(fields) != calendar.shared:
            raise Invalid("shared", "whether a calendar is shared cannot be changed")
        spec = parse_spec({k: v for k, v in fields.items() if k in ("dates", "holidays")})
        await self.jobs.flush()  # the jobs' next runs as the scheduler holds them
        affected = await self.store.jobs_using_calendar(calendar.user_id, calendar.ref)
        now = self.clock.now()
        self.book.put(replace(calendar, spec=spec))
        try:
            next_runs = [(job, self.jobs.replanned(job, now)) for job in affected]
            updated = await self.store.update_calendar(calendar, spec.to_json(), now, next_runs)
        except BaseException:
            self.book.put(calendar)
            raise
        self.book.put(updated)
        for job, next_run in next_runs:
            self.jobs.recompiled(replace(job, next_run=next_run, version=job.version + 1))
        logger.info("calendar %d (%s) changed: %d jobs rescheduled", calendar.id, calendar.ref, len(affected))
        return updated

    async def delete(self, user: User, ref: str) -> Calendar:
        """Delete a calendar no job skips (Conflict naming the jobs that do)."""
        calendar = await self._changeable(user, ref)
        users = await self.store.jobs_using_calendar(calendar.user_id, calendar.ref)
        if users:
            names = [job.name for job in users][:50]
            raise Conflict(
                f"calendar {calendar.ref!r} is in use by jobs: {', '.join(names)}; "
                "remove it from their skip_calendars first",
                {"jobs": names},
            )
        await self.store.delete_calendar(calendar.id)
        self.book.drop(calendar)
        return calendar

    async def _changeable(self, user: User, ref: str) -> Calendar:
        calendar = await self.get(user, ref)
        if calendar.shared and not user.is_admin:
            raise Forbidden("only an admin may change a shared calendar")
        return calendar

    @staticmethod
    def _shared(fields: dict[str, Any]) -> bool:
        shared = parse_bool(fields.get("shared", False))
        if shared is None:
            raise Invalid("shared", "shared must be true or false")
        return shared
