"""Every calendar's days, held in memory so that compiling a job reads no database.

Loaded from the store at start; the calendar service puts and drops entries as it changes them,
and on a cluster every node reloads it every second (reloading.keep_reloading). A compiled job
holds live views (CalendarDays) rather than the days themselves, so a change reaches every
compiled job the moment the book has it, whatever the scheduler cached.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable
from datetime import date

from .calendars import SHARED_PREFIX, Calendar, DaySet

logger = logging.getLogger(__name__)

Key = tuple[int | None, str]  # (owner, name) of a user's own calendar; (None, name) of a shared one


def key_of(user_id: int, ref: str) -> Key:
    return (None, ref[len(SHARED_PREFIX) :]) if ref.startswith(SHARED_PREFIX) else (user_id, ref)


class CalendarDays(Container[date]):
    """The days of one calendar as the book holds them now (none while it does not exist)."""

    __slots__ = ("_book", "_key")

    def __init__(self, book: CalendarBook, key: Key) -> None:
        self._book = book
        self._key = key

    def __contains__(self, day: object) -> bool:
        days = self._book._days.get(self._key)
        return days is not None and day in days


class CalendarBook:
    def __init__(self) -> None:
        self._days: dict[Key, DaySet] = {}
        self._calendars: dict[int, Calendar] = {}

    def load(self, calendars: Iterable[Calendar]) -> list[Calendar]:
        """Replace every entry; answer the calendars that changed (new, changed or gone)."""
        fresh = {c.id: c for c in calendars}
        changed = [c for i, c in fresh.items() if self._calendars.get(i) != c]
        changed += [c for i, c in self._calendars.items() if i not in fresh]
        for calendar in changed:
            if calendar.id in fresh:
                self.put(calendar)
            else:
                self.drop(calendar)
        return changed

    def put(self, calendar: Calendar) -> None:
        previous = self._calendars.get(calendar.id)
        if previous is not None:
            self.drop(previous)
        self._calendars[calendar.id] = calendar
        self._days[_key(calendar)] = calendar.spec.days()

    def drop(self, calendar: Calendar) -> None:
        self._calendars.pop(calendar.id, None)
        self._days.pop(_key(calendar), None)

    def days(self, user_id: int, ref: str) -> DaySet | None:
        return self._days.get(key_of(user_id, ref))

    def skipped(self, user_id: int, refs: tuple[str, ...]) -> tuple[Container[date], ...]:
        """Live views of the calendars a job of this user skips."""
        for ref in refs:
            if self.days(user_id, ref) is None:
                logger.warning("user %d: calendar %r is not known (yet); its days are not skipped", user_id, ref)
        return tuple(CalendarDays(self, key_of(user_id, ref)) for ref in refs)

    def names_skipping(self, user_id: int, refs: tuple[str, ...], day: date) -> tuple[str, ...]:
        """Which of these calendars hold `day` (for the preview of skipped days)."""
        return tuple(ref for ref in refs if (days := self.days(user_id, ref)) is not None and day in days)


def _key(calendar: Calendar) -> Key:
    return (None, calendar.name) if calendar.shared else (calendar.user_id, calendar.name)
