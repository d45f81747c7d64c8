"""Schedule strings -> Schedule objects. Pure: every method takes the time it reasons about.

Grammar (case-insensitive):
    every [N] second(s) | minute(s) | hour(s)
    every [N] day(s) @ HH:MM
    once @ <epoch seconds | ISO 8601 timestamp with offset>
    <5-field cron expression>, e.g. */5 * * * *
Wall-clock forms (`@ HH:MM` and cron) use the job's time zone. In a DST gap the run fires at
the first instant after the gap; a wall time that occurs twice fires once, at the first.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import Invalid

GRAMMAR = (
    "every N seconds | every [N] minute(s) | every [N] hour(s) | every [N] day(s) @ HH:MM | "
    "once @ <epoch seconds or ISO 8601> | a 5-field cron expression such as '*/5 * * * *'"
)
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
MAX_INTERVAL_SECONDS = 366 * 86400
MAX_DAYS = 3660
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


def wall_time_to_epoch(day: date, at: time, tz: ZoneInfo) -> float:
    """Epoch seconds of a wall-clock time; DST gaps resolve to the end of the gap, folds to the first."""
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: the first of two occurrences
    instant = local.timestamp()
    if datetime.fromtimestamp(instant, tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # The wall time does not exist: find the transition, the first instant after the gap.
    low = local.replace(fold=1).timestamp()  # the gap start read with the later offset: before the gap
    high = instant
    offset_after = datetime.fromtimestamp(high, tz).utcoffset()
    low, high = min(low, high), max(low, high)
    while high - low > 1:
        middle = math.floor((low + high) / 2)
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return float(high)


Schedule = Interval | DailyAt | Once | Cron


def parse_schedule(text: object, zone: str = "UTC") -> Schedule:
    """Parse a schedule string; raise Invalid('schedule') whose description shows the grammar."""
    if not isinstance(text, str):
        raise _invalid("schedule must be a string")
    if not isinstance(zone, str):
        raise Invalid("timezone", "timezone must be an IANA time zone name such as 'Europe/London'")
    return _parse_schedule(text, zone)


# Schedules are immutable, and most jobs share a few schedule strings: one object serves them all.
@functools.lru_cache(maxsize=4096)
def _parse_schedule(text: str, zone: str) -> Interval | DailyAt | Once | Cron:
    if len(text) > 200:
        raise _invalid("schedule is too long (200 characters at most)")
    normalized = " ".join(text.strip().split()).lower()
    get_zone(zone)
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
            raise _invalid(f"invalid cron expression: {exc}") from None
        return Cron(expression, zone)
    raise _invalid(f"unrecognised schedule {text.strip()[:80]!r}")


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


def _invalid(reason: str) -> Invalid:
    return Invalid("schedule", f"{reason}. A schedule is one of: {GRAMMAR}", {"grammar": GRAMMAR})
