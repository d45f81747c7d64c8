"""Every calendar's days, held in memory so that compiling a job reads no database.

Loaded from the store at start; the calendar service puts and drops entries as it changes them
(on a cluster, every node also reloads it on a timer: see CalendarService.keep_fresh).
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable
from datetime import date

from .calendars import SHARED_PREFIX, Calendar, DaySet

logger = logging.getLogger(__name__)


class CalendarBook:
    def __init__(self) -> None:
        self._own: dict[tuple[int, str], DaySet] = {}
        self._shared: dict[str, DaySet] = {}
        self._specs: dict[int, Calendar] = {}

    def load(self, calendars: Iterable[Calendar]) -> bool:
        """Replace every entry; answer whether anything changed."""
        fresh = {c.id: c for c in calendars}
        if fresh == self._specs:
            return False
        self._own.clear()
        self._shared.clear()
        self._specs = {}
        for calendar in fresh.values():
            self.put(calendar)
        return True

    def put(self, calendar: Calendar) -> None:
        previous = self._specs.get(calendar.id)
        if previous is not None:
            self.drop(previous)
        self._specs[calendar.id] = calendar
        if calendar.shared:
            self._shared[calendar.name] = calendar.spec.days()
        else:
            self._own[(calendar.user_id, calendar.name)] = calendar.spec.days()

    def drop(self, calendar: Calendar) -> None:
        self._specs.pop(calendar.id, None)
        if calendar.shared:
            self._shared.pop(calendar.name, None)
        else:
            self._own.pop((calendar.user_id, calendar.name), None)

    def days(self, user_id: int, ref: str) -> DaySet | None:
        if ref.startswith(SHARED_PREFIX):
            return self._shared.get(ref[len(SHARED_PREFIX) :])
        return self._own.get((user_id, ref))

    def skipped(self, user_id: int, refs: tuple[str, ...]) -> tuple[Container[date], ...]:
        """The day sets a job of this user skips; a name not (or no longer) known skips nothing."""
        found = []
        for ref in refs:
            days = self.days(user_id, ref)
            if days is None:
                logger.warning("user %d: calendar %r is not known; its days are not skipped", user_id, ref)
            else:
                found.append(days)
        return tuple(found)

    def names_skipping(self, user_id: int, refs: tuple[str, ...], day: date) -> tuple[str, ...]:
        """Which of these calendars hold `day` (for the preview of skipped days)."""
        return tuple(ref for ref in refs if (days := self.days(user_id, ref)) is not None and day in days)


NO_CALENDARS = CalendarBook()  # for compiling where no calendar is known (tools, tests)
