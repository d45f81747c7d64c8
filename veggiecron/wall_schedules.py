"""Schedules on named days: days of the week, days of the month, the nth weekday of a month, and
windows of the day stepped every N minutes. Pure: every method takes the time it reasons about.

Each is a set of wall-clock slots in the job's zone, read as instants by wall_time_to_epoch (a slot in
a DST gap fires at the first instant after the gap, a slot that occurs twice fires at the first), so
they follow the same DST rules as `every day @ HH:MM` and cron. A schedule yields its slots in wall
order from a day; the instant of the next slot is found by walking them from the wall time of `after`.
"""

from __future__ import annotations

import bisect
import calendar
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .wall_clock import wall_time_to_epoch

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday()
MONTH_NAMES = "january february march april may june july august september october november december".split()
WEEKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
WEEKEND: tuple[int, ...] = (5, 6)
EVERY_DAY: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
ALL_MONTHS: tuple[int, ...] = tuple(range(1, 13))
LAST = -1  # "last day" / "last monday": the last of the month
NTH_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", LAST: "last"}
HORIZON_YEARS = 60  # a slot further away than this is never (the fifth Monday of February: every 28 years)
MAX_WEEKS = 520


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st, 31st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_days(days: tuple[int, ...], plural: bool) -> str:
    """weekday(s), weekend day(s), monday, or mon,wed,fri."""
    if days == WEEKDAYS:
        return "weekdays" if plural else "weekday"
    if days == WEEKEND:
        return "weekend days" if plural else "weekend day"
    if len(days) == 1:
        return DAY_NAMES[days[0]]
    return ",".join(DAY_NAMES[d][:3] for d in days)


def format_months(months: tuple[int, ...]) -> str:
    return "month" if months == ALL_MONTHS else ",".join(MONTH_NAMES[m - 1][:3] for m in months)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _WallSlots:
    """The walk shared by every schedule here: subclasses say which days and which minutes of them."""

    __slots__ = ()
    zone: str

    def _minutes(self) -> tuple[int, ...]:
        """Minutes after the day's midnight, ascending (past 1440 runs into the next day)."""
        raise NotImplementedError

    def _days(self, start: date, forward: bool, anchor: date) -> Iterator[date]:
        """The days the schedule fires on from `start` (itself included), in order, within the horizon."""
        raise NotImplementedError

    def _slots(self, wall: datetime, forward: bool, anchor: date) -> Iterator[datetime]:
        """Wall-clock slots from `wall` on (forward) or back (not forward), in wall order."""
        minutes = self._minutes()
        reach = timedelta(days=max(minutes) // 1440)  # a day's slots can run into the next days
        start = wall.date() - reach if forward else wall.date()
        for day in self._days(start, forward, anchor):
            base = datetime.combine(day, time())
            offset = (wall - base) // timedelta(minutes=1)
            if forward:
                for m in minutes[bisect.bisect_left(minutes, offset) :]:
                    yield base + timedelta(minutes=m)
            else:
                for m in reversed(minutes[: bisect.bisect_right(minutes, offset)]):
                    yield base + timedelta(minutes=m)

    def next_after(self, after: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        wall = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
        # A slot before the wall time of `after` is not after it; past it, only the second pass of a
        # repeated hour can hold slots whose (first) instant has passed: walk on until truly after.
        try:
            for slot in self._slots(wall, True, _local_day(anchor, tz)):
                instant = wall_time_to_epoch(slot.date(), slot.time(), tz)
                if instant > after:
                    return instant
        except (OverflowError, ValueError):  # past year 9999
            return None
        return None

    def first_run(self, now: float, anchor: float) -> float | None:
        return self.next_after(now, anchor)

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        wall = datetime.fromtimestamp(at, tz).replace(tzinfo=None)
        anchor_day = _local_day(anchor, tz)
        try:
            latest = None
            # In the second pass of a repeated hour, slots ahead on the wall clock already ran.
            for slot in self._slots(wall, True, anchor_day):
                instant = wall_time_to_epoch(slot.date(), slot.time(), tz)
                if instant > at:
                    break
                latest = instant
            if latest is None:
                for slot in self._slots(wall, False, anchor_day):
                    if slot.date() < anchor_day - timedelta(days=2):
                        return None
                    latest = wall_time_to_epoch(slot.date(), slot.time(), tz)
                    if latest <= at:
                        break
        except (OverflowError, ValueError):
            return None
        return latest if latest is not None and anchor < latest <= at else None


def _local_day(instant: float, tz: ZoneInfo) -> date:
    try:
        return datetime.fromtimestamp(instant, tz).date()
    except (OverflowError, ValueError, OSError):
        return date.min


def _each_day(start: date, forward: bool) -> Iterator[date]:
    step = timedelta(days=1 if forward else -1)
    day = start
    for _ in range(HORIZON_YEARS * 366):
        yield day
        day += step


def _each_month(start: date, forward: bool) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    for _ in range(HORIZON_YEARS * 12):
        yield year, month
        month += 1 if forward else -1
        if month > 12:
            year, month = year + 1, 1
        elif month < 1:
            year, month = year - 1, 12


def _in_month_order(start: date, forward: bool, days_of: list[date]) -> Iterator[date]:
    ordered = sorted(set(days_of), reverse=not forward)
    return (d for d in ordered if (d >= start if forward else d <= start))


@dataclass(frozen=True, slots=True)
class Weekly(_WallSlots):
    """On some days of the week at a wall-clock time, every `weeks` weeks counted from the week
    (Monday to Sunday, in the zone) of the anchor: the job's creation or its last schedule change."""

    days: tuple[int, ...]  # date.weekday(): 0 is Monday; ascending, distinct
    hour: int
    minute: int
    weeks: int = 1
    zone: str = "UTC"
    # `every business day`: Monday to Friday here; the job's skip_calendars take away the rest.
    business: bool = False

    def _minutes(self) -> tuple[int, ...]:
        return (self.hour * 60 + self.minute,)

    def _days(self, start: date, forward: bool, anchor: date) -> Iterator[date]:
        first_monday = anchor - timedelta(days=anchor.weekday())
        day = start
        for _ in range(HORIZON_YEARS * 53):
            week = (day - first_monday).days // 7
            monday = first_monday + timedelta(weeks=week)
            if week % self.weeks == 0:  # on the grid: its days from `day` on (or back)
                days = [monday + timedelta(days=d) for d in self.days]
                yield from (d for d in (days if forward else reversed(days)) if (d >= day if forward else d <= day))
            # the next week on the grid, forward or back
            skip = (-week) % self.weeks or self.weeks if forward else (week % self.weeks) or self.weeks
            day = monday + timedelta(weeks=skip) if forward else monday - timedelta(weeks=skip - 1, days=1)

    def format(self) -> str:
        at = f"@ {_hhmm(self._minutes()[0])}"
        if self.business:
            return f"every business day {at}"
        if self.weeks == 1:
            return f"every {format_days(self.days, plural=False)} {at}"
        return f"every {self.weeks} weeks on {format_days(self.days, plural=len(self.days) > 1)} {at}"


@dataclass(frozen=True, slots=True)
class MonthDays(_WallSlots):
    """On days of the month (1 to 31, LAST for the last) of some months, at a wall-clock time;
    a day a month lacks (the 31st of April) is skipped in that month."""

    days: tuple[int, ...]  # ascending (LAST, being -1, first)
    months: tuple[int, ...]
    hour: int
    minute: int
    zone: str = "UTC"

    def _minutes(self) -> tuple[int, ...]:
        return (self.hour * 60 + self.minute,)

    def _days(self, start: date, forward: bool, anchor: date) -> Iterator[date]:
        for year, month in _each_month(start, forward):
            if month in self.months:
                length = calendar.monthrange(year, month)[1]
                found = [date(year, month, length if d == LAST else d) for d in self.days if d <= length]
                yield from _in_month_order(start, forward, found)

    def format(self) -> str:
        numbered = [ordinal(d) for d in self.days if d != LAST]
        named = ",".join([*numbered, "last day"] if LAST in self.days else numbered)
        return f"{named} of {format_months(self.months)} @ {_hhmm(self._minutes()[0])}"


@dataclass(frozen=True, slots=True)
class NthWeekday(_WallSlots):
    """On the first to fifth (or LAST) such weekday of some months, at a wall-clock time; a fifth
    one a month lacks is skipped in that month."""

    nths: tuple[int, ...]  # ascending (LAST, being -1, first)
    weekday: int
    months: tuple[int, ...]
    hour: int
    minute: int
    zone: str = "UTC"

    def _minutes(self) -> tuple[int, ...]:
        return (self.hour * 60 + self.minute,)

    def _days(self, start: date, forward: bool, anchor: date) -> Iterator[date]:
        for year, month in _each_month(start, forward):
            if month in self.months:
                yield from _in_month_order(start, forward, nth_weekdays(year, month, self.weekday, self.nths))

    def format(self) -> str:
        nths = ",".join(NTH_WORDS[n] for n in sorted(self.nths, key=lambda n: n == LAST))
        months = format_months(self.months)
        return f"{nths} {DAY_NAMES[self.weekday]} of {months} @ {_hhmm(self._minutes()[0])}"


def nth_weekdays(year: int, month: int, weekday: int, nths: tuple[int, ...]) -> list[date]:
    length = calendar.monthrange(year, month)[1]
    first = 1 + (weekday - date(year, month, 1).weekday()) % 7
    every = list(range(first, length + 1, 7))
    return [date(year, month, every[-1] if n == LAST else every[n - 1]) for n in nths if n == LAST or n <= len(every)]


@dataclass(frozen=True, slots=True)
class Windowed(_WallSlots):
    """Every `step` minutes from `start` to `end` (minutes of the day, both included) on some days of
    the week; the grid starts at `start` each day. An `end` before `start` runs past midnight."""

    step: int
    start: int
    end: int
    days: tuple[int, ...] = EVERY_DAY
    zone: str = "UTC"

    def _minutes(self) -> tuple[int, ...]:
        return _window_minutes(self.step, self.start, self.end)

    def _days(self, start: date, forward: bool, anchor: date) -> Iterator[date]:
        return (day for day in _each_day(start, forward) if day.weekday() in self.days)

    def format(self) -> str:
        if self.step % 60 == 0:
            unit, count = "hour", self.step // 60
        else:
            unit, count = "minute", self.step
        every = f"every {unit}" if count == 1 else f"every {count} {unit}s"
        on = "" if self.days == EVERY_DAY else f" on {format_days(self.days, plural=len(self.days) > 1)}"
        return f"{every} from {_hhmm(self.start)} to {_hhmm(self.end)}{on}"


@functools.lru_cache(maxsize=1024)
def _window_minutes(step: int, start: int, end: int) -> tuple[int, ...]:
    """A window's minutes after the midnight it opens on (computed once: a day can hold 1,441)."""
    return tuple(range(start, (end if end >= start else end + 1440) + 1, step))


WallSchedule = Weekly | MonthDays | NthWeekday | Windowed
