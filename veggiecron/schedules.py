"""Schedule strings -> Schedule objects. Pure: every method takes the time it reasons about.

Grammar (case-insensitive):
    every [N] second(s) | minute(s) | hour(s)
    every [N] day(s) @ HH:MM
    once @ <epoch seconds | ISO 8601 timestamp with offset>
    <5-field cron expression>, e.g. */5 * * * *
    and the forms in words that schedule_reader.py reads (weekdays, days of the month, windows,
    and `after <job>`, a follower's, which has no time of its own: see follow.py).
Wall-clock forms (`@ HH:MM`, windows and cron) use the job's time zone. In a DST gap the run fires at
the first instant after the gap; a wall time that occurs twice fires once, at the first.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import Invalid
from .follow import After
from .schedule_reader import MAX_DAYS, MAX_INTERVAL_SECONDS, UNIT_SECONDS, UnreadWord, read_words
from .wall_clock import wall_time_to_epoch
from .wall_schedules import MonthDays, NthWeekday, Weekly, Windowed

GRAMMAR = (
    "every N seconds | every [N] minute(s) | every [N] hour(s) | every [N] day(s) @ HH:MM | "
    "every <days> @ HH:MM | every business day @ HH:MM | every N weeks on <days> @ HH:MM | "
    "<1st,15th,...,last> day of <months> @ HH:MM | "
    "<first,...,fifth,last> <day name> of <months> @ HH:MM | "
    "every [N] minute(s)|hour(s) from HH:MM to HH:MM [on <days>] | "
    "once @ <epoch seconds or ISO 8601> | a 5-field cron expression such as '*/5 * * * *' | "
    "after <job> | after <job> fails | after <job> finishes; "
    "<days> is weekday, weekend day or day names such as mon,wed,fri; <months> is month or names such as jan,jul"
)
__all__ = ["MAX_DAYS", "MAX_INTERVAL_SECONDS", "UNIT_SECONDS", "wall_time_to_epoch"]
# Latest timestamp accepted in a `once` schedule (year 9999), so datetimes never overflow.
MAX_EPOCH = 253402300799.0

_EVERY_UNIT = re.compile(r"^every(?:\s+(\d+))?\s+(second|minute|hour)s?$")
_EVERY_DAY = re.compile(r"^every(?:\s+(\d+))?\s+days?\s*@\s*(\d{1,2}):(\d{2})$")
_ONCE = re.compile(r"^once\s*@\s*(\S.*)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-#LW?]+$")


def get_zone(name: str) -> ZoneInfo:
    """Resolve an IANA zone name or raise Invalid('timezone')."""
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise Invalid("timezone", "timezone must be an IANA time zone name such as 'Europe/London'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdata folder such as 'America'
        raise Invalid("timezone", f"unknown time zone: {name!r}") from None


@dataclass(frozen=True, slots=True)
class Interval:
    """Every `seconds`, on a grid anchored at the job's anchor, so runs never drift."""

    seconds: int

    def next_after(self, after: float, anchor: float) -> float:
        steps = math.floor((after - anchor) / self.seconds) + 1
        candidate = anchor + max(steps, 1) * self.seconds
        # Guard against float rounding landing on `after` itself.
        return float(candidate if candidate > after else candidate + self.seconds)

    def first_run(self, now: float, anchor: float) -> float:
        return self.next_after(now, anchor)

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        steps = math.floor((at - anchor) / self.seconds)
        if steps < 1:
            return None
        candidate = anchor + steps * self.seconds
        return float(candidate if candidate <= at else candidate - self.seconds)

    def format(self) -> str:
        for unit in ("hour", "minute"):
            size = UNIT_SECONDS[unit]
            if self.seconds % size == 0:
                count = self.seconds // size
                return f"every {unit}" if count == 1 else f"every {count} {unit}s"
        return "every second" if self.seconds == 1 else f"every {self.seconds} seconds"


@dataclass(frozen=True, slots=True)
class DailyAt:
    """Every `days` days at a wall-clock time, counted from the anchor's local date."""

    days: int
    hour: int
    minute: int
    zone: str = "UTC"

    def next_after(self, after: float, anchor: float) -> float:
        tz = ZoneInfo(self.zone)
        start = datetime.fromtimestamp(anchor, tz).date()
        today = datetime.fromtimestamp(after, tz).date()
        elapsed = (today - start).days
        k = max(0, elapsed // self.days - 1)
        while True:
            candidate = wall_time_to_epoch(start + timedelta(days=k * self.days), time(self.hour, self.minute), tz)
            if candidate > after:
                return candidate
            k += 1

    def first_run(self, now: float, anchor: float) -> float:
        return self.next_after(now, anchor)

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        start = datetime.fromtimestamp(anchor, tz).date()
        k = (datetime.fromtimestamp(at, tz).date() - start).days // self.days + 1
        while k >= 0:
            candidate = wall_time_to_epoch(start + timedelta(days=k * self.days), time(self.hour, self.minute), tz)
            if candidate <= at:
                return candidate if candidate > anchor else None
            k -= 1
        return None

    def format(self) -> str:
        at = f"{self.hour:02d}:{self.minute:02d}"
        return f"every day @ {at}" if self.days == 1 else f"every {self.days} days @ {at}"


@dataclass(frozen=True, slots=True)
class Once:
    """A single run at `at`; a time already past runs at once."""

    at: float

    def next_after(self, after: float, anchor: float) -> float | None:
        return self.at if self.at > after else None

    def first_run(self, now: float, anchor: float) -> float:
        return self.at

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        return self.at if self.at <= at else None

    def format(self) -> str:
        text = repr(self.at) if self.at != int(self.at) else str(int(self.at))
        return f"once @ {text}"


@dataclass(frozen=True, slots=True)
class Cron:
    """A standard 5-field cron expression evaluated in the job's zone (Debian cron DST rules)."""

    expression: str
    zone: str = "UTC"

    def next_after(self, after: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        # cronsim steps through wall-clock times: in the second pass of a repeated (fall-back) hour
        # it can offer a time of the first pass, which is already past. Walk on until truly after.
        start = datetime.fromtimestamp(math.floor(after), tz)
        for step, candidate in enumerate(CronSim(self.expression, start)):
            if candidate.timestamp() > after:
                return candidate.timestamp()
            if step > 1000:
                break
        return None

    def first_run(self, now: float, anchor: float) -> float | None:
        return self.next_after(now, anchor)

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        # Runs fall on whole minutes; the last one before the next minute is at or before `at`.
        start = datetime.fromtimestamp(math.floor(at / 60) * 60 + 60, tz)
        try:
            candidate = next(iter(CronSim(self.expression, start, reverse=True))).timestamp()
        except StopIteration:
            return None
        # In a repeated hour the backward wall-clock step can skip the first pass's run: step forward.
        following = self.next_after(candidate, anchor)
        while following is not None and following <= at:
            candidate, following = following, self.next_after(following, anchor)
        return candidate if candidate > anchor else None

    def format(self) -> str:
        return self.expression


Schedule = Interval | DailyAt | Once | Cron | Weekly | MonthDays | NthWeekday | Windowed | After


def parse_schedule(text: object, zone: str = "UTC") -> Schedule:
    """Parse a schedule string; raise Invalid('schedule') whose description shows the grammar."""
    if not isinstance(text, str):
        raise _invalid("schedule must be a string")
    if not isinstance(zone, str):
        raise Invalid("timezone", "timezone must be an IANA time zone name such as 'Europe/London'")
    return _parse_schedule(text, zone)


MAX_SCHEDULE_LENGTH = 200  # characters of a job's schedule


# Schedules are immutable, and most jobs share a few schedule strings: one object serves them all.
@functools.lru_cache(maxsize=4096)
def _parse_schedule(text: str, zone: str) -> Schedule:
    if len(text) > MAX_SCHEDULE_LENGTH:
        raise _invalid(f"schedule is too long ({MAX_SCHEDULE_LENGTH} characters at most)")
    get_zone(zone)
    try:
        older = _parse_older_forms(text, zone)
    except _ScheduleInvalid as exc:  # a number or a time out of range: the reader names the word
        try:
            read_words(text, zone)
        except UnreadWord as unread:
            raise _invalid(f"{exc.reason} ({unread.reason})", unread) from None
        raise
    if older is not None:
        return older
    try:
        words = read_words(text, zone)
    except UnreadWord as unread:
        raise _invalid(f"unrecognised schedule {text.strip()[:80]!r}: {unread.reason}", unread) from None
    if words is None:  # the reader takes an older form the older parser did not (never by design)
        raise _invalid(f"unrecognised schedule {text.strip()[:80]!r}")
    return words


def _parse_older_forms(text: str, zone: str) -> Interval | DailyAt | Once | Cron | None:
    """The forms schedules had before the ones in words, read exactly as they always were."""
    normalized = " ".join(text.strip().split()).lower()
    match = _EVERY_UNIT.match(normalized)
    if match:
        count = int(match.group(1) or 1)
        seconds = count * UNIT_SECONDS[match.group(2)]
        if count < 1 or seconds > MAX_INTERVAL_SECONDS:
            raise _invalid(f"interval must be between 1 second and {MAX_INTERVAL_SECONDS // 86400} days")
        return Interval(seconds)
    match = _EVERY_DAY.match(normalized)
    if match:
        days = int(match.group(1) or 1)
        hour, minute = int(match.group(2)), int(match.group(3))
        if not 1 <= days <= MAX_DAYS:
            raise _invalid(f"the number of days must be between 1 and {MAX_DAYS}")
        if hour > 23 or minute > 59:
            raise _invalid(f"{hour}:{minute:02d} is not a time of day (00:00 to 23:59)")
        return DailyAt(days, hour, minute, zone)
    match = _ONCE.match(normalized)
    if match:
        return Once(_parse_instant(text.strip().split("@", 1)[1].strip()))
    fields = normalized.split(" ")
    if len(fields) == 5 and all(_CRON_FIELD.fullmatch(f) for f in fields):
        expression = " ".join(fields).upper()
        try:
            CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
        except (CronSimError, ValueError) as exc:
            raise _cron_invalid(text, fields, exc) from None
        return Cron(expression, zone)
    return None


CRON_FIELDS = ("minute", "hour", "day of the month", "month", "day of the week")


def _cron_invalid(text: str, fields: list[str], exc: Exception) -> Invalid:
    """The first field cronsim refuses on its own (others as '*'), or the day of the month when only
    the days and months together name no day."""
    at = 2
    for i in range(5):
        alone = " ".join(field if j == i else "*" for j, field in enumerate(fields)).upper()
        try:
            CronSim(alone, datetime(2000, 1, 1, tzinfo=UTC))
        except (CronSimError, ValueError):
            at = i
            break
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    position = starts[min(at, len(starts) - 1)]
    reason = f"invalid cron expression: {exc} (the {CRON_FIELDS[at]}, at position {position})"
    return Invalid("schedule", f"{reason}. A schedule is one of: {GRAMMAR}", {"grammar": GRAMMAR, "position": position})


def _parse_instant(value: str) -> float:
    try:
        instant = float(value)
    except ValueError:
        instant = _parse_iso_instant(value)
    if not math.isfinite(instant) or not 0 <= instant <= MAX_EPOCH:
        raise _invalid("once @ timestamp is out of range")
    return instant


def _parse_iso_instant(value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _invalid(f"once @ needs epoch seconds or an ISO 8601 timestamp, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise _invalid("once @ timestamps need an explicit UTC offset, e.g. 2030-01-01T12:00:00Z")
    return parsed.timestamp()


class _ScheduleInvalid(Invalid):
    """A schedule that does not parse; `reason` says why (the description adds the grammar)."""

    def __init__(self, reason: str, data: dict[str, object]) -> None:
        super().__init__("schedule", f"{reason}. A schedule is one of: {GRAMMAR}", data)
        self.reason = reason


def _invalid(reason: str, unread: UnreadWord | None = None) -> _ScheduleInvalid:
    """The error a client sees: the reason, the grammar, and where the reader stopped when it did."""
    data: dict[str, object] = {"grammar": GRAMMAR}
    if unread is not None:
        data.update(position=unread.position, word=unread.word, expected=unread.expected)
    return _ScheduleInvalid(reason, data)
