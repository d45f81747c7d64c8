"""Schedules written in words, read word by word so that an error names the first word it could not read.

    every <days> @ HH:MM                      every monday @ 09:00, every mon,wed,fri @ 17:30,
                                              every weekday @ 09:30, every weekend day @ 10:00
    every business day @ HH:MM                weekdays that none of the job's skip_calendars holds
    every N weeks on <days> @ HH:MM           every 2 weeks on monday @ 09:00
    <days of the month> of <months> @ HH:MM   1st,15th of month @ 12:00, last day of month @ 23:00
    <nths> <day> of <months> @ HH:MM          first monday of month @ 08:00, 2nd,4th tuesday of jan,jul @ 18:00
    every [N] minute(s)|hour(s) from HH:MM to HH:MM [on <days>]
    after <job> [fails|finishes]              after export, after export fails (see follow.py)

<days> is weekday(s), weekend day(s), weekend(s) or day names (monday, mondays, mon) joined by commas;
<months> is month (also "the month", "every month", "each month") or month names (january, jan).
The reader also walks the older forms (intervals, `every N days @`, `once @`), which schedules.py reads
itself, so that their errors name a word too; for those it answers None. Another set of days (such
as business days, from calendars) is one more entry in `_day_set`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .follow import WORDS as AFTER_WORDS
from .follow import After
from .wall_schedules import (
    ALL_MONTHS,
    DAY_NAMES,
    LAST,
    MAX_WEEKS,
    MONTH_NAMES,
    WEEKDAYS,
    WEEKEND,
    MonthDays,
    NthWeekday,
    WallSchedule,
    Weekly,
    Windowed,
    ordinal,
)

_TOKEN = re.compile(r"[,@]|[^ \t\n\r\f\v,@]+")  # ASCII whitespace only, as the published pattern
_NUMBER = re.compile(r"[0-9]+")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
DAY_WORDS = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name + "s": i for i, name in enumerate(DAY_NAMES)},
    **{name[:3]: i for i, name in enumerate(DAY_NAMES)},
}
MONTH_WORDS = {**{n: i + 1 for i, n in enumerate(MONTH_NAMES)}, **{n[:3]: i + 1 for i, n in enumerate(MONTH_NAMES)}}
NTH_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": LAST}
ORDINALS = {**{ordinal(n): n for n in range(1, 32)}, **NTH_WORDS}
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
MAX_INTERVAL_SECONDS = 366 * 86400
MAX_DAYS = 3660
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February at its longest
_DAYS_EXPECTED = "weekday, weekend day or a day's name such as monday"
_STARTS = "'every', 'once', 'after', an ordinal such as 1st or first, 'last', or a 5-field cron expression"
JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")  # a job's name (job_fields.NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str  # as written
    word: str  # lower case (ASCII only: no other letter reads as one of the grammar's words)
    start: int


class UnreadWord(Exception):
    """Where the reader stopped: `position` is where the word starts (0 is the first character), or
    the schedule's length when it ended early; `expected` says what would have been read there."""

    def __init__(self, text: str, word: _Word | None, expected: str) -> None:
        self.position = len(text) if word is None else word.start
        self.word = "" if word is None else word.text[:40]
        self.expected = expected
        where = f"ends at position {self.position}" if word is None else f"at position {self.position}"
        self.reason = (
            f"the schedule {where} where {expected} was expected"
            if word is None
            else f"could not read {self.word!r} {where}: expected {expected}"
        )
        super().__init__(self.reason)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.words = [
            _Word(m.group(), m.group().lower() if m.group().isascii() else m.group(), m.start())
            for m in _TOKEN.finditer(text)
        ]
        self.index = 0

    def peek(self) -> str | None:
        return self.words[self.index].word if self.index < len(self.words) else None

    def current(self) -> _Word | None:
        return self.words[self.index] if self.index < len(self.words) else None

    def next(self) -> _Word:
        word = self.words[self.index]
        self.index += 1
        return word

    def fail(self, expected: str, at: _Word | None = None) -> UnreadWord:
        return UnreadWord(self.text, at or self.current(), expected)

    def take(self, *words: str) -> _Word:
        if self.peek() not in words:
            raise self.fail(" or ".join(repr(w) for w in words))
        return self.next()

    def end(self) -> None:
        if self.index < len(self.words):
            raise self.fail("the end of the schedule")

    def time_of_day(self) -> tuple[int, int]:
        match = _TIME.fullmatch(self.peek() or "")
        if match is None:
            raise self.fail("a time of day from 00:00 to 23:59, such as 09:30")
        self.next()
        return int(match.group(1)), int(match.group(2))

    def at(self) -> tuple[int, int]:
        self.take("@")
        return self.time_of_day()

    def count(self, number: _Word | None, low: int, high: int, what: str) -> int:
        value = 1 if number is None else int(number.word)
        if not low <= value <= high:
            raise self.fail(f"a number of {what} from {low} to {high}", number)
        return value


def read_words(text: str, zone: str) -> WallSchedule | After | None:
    """The schedule in words; None for the older forms schedules.py reads; UnreadWord when it stops."""
    reader = _Reader(text)
    first = reader.peek()
    if first == "after":
        reader.next()
        return _after(reader)
    if first == "every":
        reader.next()
        return _every(reader, zone)
    if first == "once":
        reader.next()
        reader.take("@")
        raise reader.fail("epoch seconds or an ISO 8601 time with an offset, such as 2030-01-01T12:00:00Z")
    if first in ORDINALS:
        return _of_month(reader, zone)
    raise reader.fail(_STARTS)


def _every(reader: _Reader, zone: str) -> WallSchedule | None:
    number = reader.next() if _NUMBER.fullmatch(reader.peek() or "") else None
    word = reader.peek() or ""
    unit = word.removesuffix("s")
    if unit in UNIT_SECONDS:
        reader.next()
        size = UNIT_SECONDS[unit]
        count = reader.count(number, 1, MAX_INTERVAL_SECONDS // size, f"{unit}s")
        if reader.peek() is None:
            return None  # an interval
        if unit == "second" or reader.peek() != "from":
            raise reader.fail("'from' or the end of the schedule" if unit != "second" else "the end of the schedule")
        reader.next()
        reader.count(number, 1, 86400 // size, f"{unit}s in a window")
        start = reader.time_of_day()
        reader.take("to")
        end = reader.time_of_day()
        days = WEEKDAYS + WEEKEND
        if reader.peek() == "on":
            reader.next()
            days = _day_set(reader)
        reader.end()
        return Windowed(count * size // 60, start[0] * 60 + start[1], end[0] * 60 + end[1], days, zone)
    if unit == "day":
        reader.next()
        reader.count(number, 1, MAX_DAYS, "days")
        reader.at()
        reader.end()
        return None  # every N days @ HH:MM
    if unit == "week":
        reader.next()
        weeks = reader.count(number, 1, MAX_WEEKS, "weeks")
        reader.take("on")
        days = _day_set(reader)
        hour, minute = reader.at()
        reader.end()
        return Weekly(days, hour, minute, weeks, zone)
    if number is None and word == "business":
        reader.next()
        reader.take("day", "days")
        hour, minute = reader.at()
        reader.end()
        return Weekly(WEEKDAYS, hour, minute, 1, zone, business=True)
    if number is None and (word in DAY_WORDS or word in _SETS):
        days = _day_set(reader)
        hour, minute = reader.at()
        reader.end()
        return Weekly(days, hour, minute, 1, zone)
    if number is not None:
        raise reader.fail("seconds, minutes, hours, days or weeks")
    raise reader.fail(f"a number, second, minute, hour, day, week, {_DAYS_EXPECTED}")


def _after(reader: _Reader) -> After:
    """after <job> [fails|finishes]: the job's name as written (names are case-sensitive)."""
    name = reader.current()
    if name is None or not JOB_NAME.fullmatch(name.text):
        raise reader.fail("the name of the job to run after (letters, digits, '_', '.', ':' or '-')")
    reader.next()
    on = "ok"
    if reader.peek() in AFTER_WORDS:
        on = AFTER_WORDS[reader.next().word]
    reader.end()
    return After(name.text, on)


_SETS = {"weekday": WEEKDAYS, "weekdays": WEEKDAYS, "weekend": WEEKEND, "weekends": WEEKEND}


def _day_set(reader: _Reader) -> tuple[int, ...]:
    word = reader.peek()
    if word in _SETS:
        reader.next()
        if word == "weekend" and reader.peek() in ("day", "days"):
            reader.next()
        return _SETS[word]
    if word not in DAY_WORDS:
        raise reader.fail(_DAYS_EXPECTED)
    days = {DAY_WORDS[reader.next().word]}
    while reader.peek() == ",":
        reader.next()
        if reader.peek() not in DAY_WORDS:
            raise reader.fail("a day's name such as monday")
        days.add(DAY_WORDS[reader.next().word])
    return tuple(sorted(days))


def _months(reader: _Reader) -> tuple[int, ...]:
    word = reader.peek()
    if word in ("the", "every", "each"):
        reader.next()
        reader.take("month")
        return ALL_MONTHS
    if word == "month":
        reader.next()
        return ALL_MONTHS
    if word not in MONTH_WORDS:
        raise reader.fail("'month' or a month's name such as jan")
    months = {MONTH_WORDS[reader.next().word]}
    while reader.peek() == ",":
        reader.next()
        if reader.peek() not in MONTH_WORDS:
            raise reader.fail("a month's name such as jan")
        months.add(MONTH_WORDS[reader.next().word])
    return tuple(sorted(months))


def _of_month(reader: _Reader, zone: str) -> WallSchedule:
    items = [reader.next()]
    while reader.peek() == ",":
        reader.next()
        if reader.peek() not in ORDINALS:
            raise reader.fail("an ordinal such as 15th or first, or last")
        items.append(reader.next())
    word = reader.peek()
    if word in DAY_WORDS:
        for item in items:
            if item.word not in NTH_WORDS and ORDINALS[item.word] > 5:
                raise reader.fail("first to fifth (or 1st to 5th), or last, before a day's name", item)
        weekday = DAY_WORDS[reader.next().word]
        reader.take("of")
        months = _months(reader)
        hour, minute = reader.at()
        reader.end()
        nths = tuple(sorted({ORDINALS[item.word] for item in items}))
        return NthWeekday(nths, weekday, months, hour, minute, zone)
    if word in ("day", "days"):
        reader.next()
    elif word != "of":
        raise reader.fail("'day', 'of' or a day's name such as monday")
    reader.take("of")
    months = _months(reader)
    hour, minute = reader.at()
    reader.end()
    days = tuple(sorted({ORDINALS[item.word] for item in items}))
    if not any(d == LAST or d <= DAYS_IN_MONTH[m - 1] for d in days for m in months):
        raise reader.fail("a day that these months have (none of them has these days)", items[0])
    return MonthDays(days, months, hour, minute, zone)
