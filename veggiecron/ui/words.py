"""How the dashboard words things: schedules, times, durations and states, for people rather than scripts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..errors import Invalid
from ..follow import FOLLOWS_FAILED, FOLLOWS_FINISHED, FOLLOWS_OK, After
from ..json_numbers import digits
from ..model import JobState, RunOutcome
from ..schedules import Cron, DailyAt, Interval, Once, parse_schedule
from ..times import in_zone
from ..wall_schedules import (
    ALL_MONTHS,
    EVERY_DAY,
    LAST,
    MONTH_NAMES,
    NTH_WORDS,
    WEEKDAYS,
    WEEKEND,
    MonthDays,
    NthWeekday,
    Weekly,
    Windowed,
    ordinal,
)
from ..wall_schedules import DAY_NAMES as WEEK_DAYS

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

# (icon symbol in base.html, the word): a state is never shown by colour alone.
STATE_ICONS = {
    JobState.SCHEDULED: "i-clock",
    JobState.PAUSED: "i-pause",
    JobState.DISABLED: "i-off",
    JobState.DONE: "i-done",
}
OUTCOME_ICONS = {
    RunOutcome.OK: "i-ok",
    RunOutcome.FAILED: "i-fail",
    RunOutcome.SKIPPED: "i-skip",
    RunOutcome.MISSED: "i-skip",
}


AFTER_WORDS = {FOLLOWS_OK: "successful run", FOLLOWS_FAILED: "failed run", FOLLOWS_FINISHED: "run (any outcome)"}


def schedule_words(text: str, zone: str) -> str:
    """The schedule as a sentence: 'Every 5 minutes', 'Weekdays at 08:00', 'Once, at 2030-01-01 12:00 UTC'."""
    try:
        schedule = parse_schedule(text, zone)
    except Invalid:
        return text
    if isinstance(schedule, Interval):
        return schedule.format().capitalize()
    if isinstance(schedule, DailyAt):
        at = f"{schedule.hour:02d}:{schedule.minute:02d}"
        return f"Every day at {at}" if schedule.days == 1 else f"Every {schedule.days} days at {at}"
    if isinstance(schedule, Once):
        return f"Once, at {local_time(schedule.at, zone)}"
    if isinstance(schedule, Cron):
        return cron_words(schedule.expression)
    if isinstance(schedule, After):
        return f"After each {AFTER_WORDS[schedule.on]} of {schedule.parent}"
    return _wall_words(schedule)


def follower_words(text: str, zone: str) -> str:
    """A follower's schedule in words ('After each successful run of export'); '' for any other."""
    try:
        schedule = parse_schedule(text, zone)
    except Invalid:
        return ""
    return schedule_words(text, zone) if isinstance(schedule, After) else ""


def _and(items: list[str]) -> str:
    """'Monday', 'Monday and Friday', 'Monday, Wednesday and Friday'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _days(days: tuple[int, ...]) -> str:
    if days == WEEKDAYS:
        return "weekdays"
    if days == WEEKEND:
        return "weekends"
    return _and([WEEK_DAYS[d].capitalize() for d in days])


def _months(months: tuple[int, ...]) -> str:
    return "every month" if months == ALL_MONTHS else _and([MONTH_NAMES[m - 1].capitalize() for m in months])


def _lasts(numbers: tuple[int, ...], word: Callable[[int], object]) -> list[str]:
    """The numbered ones in order, then the last one (LAST sorts first in the schedule)."""
    return [str(word(n)) for n in numbers if n != LAST] + (["last"] if LAST in numbers else [])


def _wall_words(schedule: Weekly | MonthDays | NthWeekday | Windowed) -> str:
    """'Weekdays at 09:30', 'On the first Monday of every month at 08:00', 'Every hour from 08:00 to 18:00'."""
    if isinstance(schedule, Windowed):
        step = Interval(schedule.step * 60).format().capitalize()
        start, end = (f"{m // 60:02d}:{m % 60:02d}" for m in (schedule.start, schedule.end))
        past_midnight = " the next day" if schedule.end < schedule.start else ""
        on = "" if schedule.days == EVERY_DAY else f" on {_days(schedule.days)}"
        return f"{step} from {start} to {end}{past_midnight}{on}"
    at = f"at {schedule.hour:02d}:{schedule.minute:02d}"
    if isinstance(schedule, Weekly):
        days = _days(schedule.days)
        if schedule.business:
            return f"Business days {at}"
        if schedule.weeks > 1:
            return f"Every {schedule.weeks} weeks on {days} {at}"
        return f"{days.capitalize()} {at}" if schedule.days in (WEEKDAYS, WEEKEND) else f"Every {days} {at}"
    if isinstance(schedule, MonthDays):
        named = _and(_lasts(schedule.days, ordinal)) + (" day" if LAST in schedule.days else "")
        return f"On the {named} of {_months(schedule.months)} {at}"
    nths = _lasts(schedule.nths, NTH_WORDS.get)
    return f"On the {_and(nths)} {WEEK_DAYS[schedule.weekday].capitalize()} of {_months(schedule.months)} {at}"


def _number(field: str, high: int) -> int | None:
    return int(field) if digits(field) and int(field) <= high else None


def cron_words(expression: str) -> str:
    """Common cron shapes in words; anything else as 'Cron <expression>'."""
    minute, hour, day, month, weekday = expression.split()
    fallback = f"Cron {expression}"
    if month != "*" or (day != "*" and weekday != "*"):
        return fallback
    m, h = _number(minute, 59), _number(hour, 23)
    if day == weekday == "*":
        if hour == "*" and minute == "*":
            return "Every minute"
        if hour == "*" and minute.startswith("*/") and digits(minute[2:]):
            return f"Every {int(minute[2:])} minutes"
        if hour == "*" and m is not None:
            return f"Every hour at minute {m}"
        if hour.startswith("*/") and digits(hour[2:]) and m is not None:
            return f"Every {int(hour[2:])} hours at minute {m}"
    if m is None or h is None:
        return fallback
    at = f"{h:02d}:{m:02d}"
    if day == weekday == "*":
        return f"Every day at {at}"
    if day != "*":
        d = _number(day, 31)
        return f"Monthly on day {d} at {at}" if d else fallback
    if weekday in ("1-5", "MON-FRI"):
        return f"Weekdays at {at}"
    if weekday in ("0,6", "6,0", "SAT,SUN"):
        return f"Weekends at {at}"
    names = [DAYS[int(w) % 7] for w in weekday.split(",") if digits(w) and int(w) <= 7]
    if names and len(names) == len(weekday.split(",")):
        return f"Every {', '.join(names)} at {at}"
    return fallback


def local_time(epoch: float, zone: str) -> str:
    """2026-11-30 09:45:00 GMT: the wall-clock time in the zone, with the zone's abbreviation."""
    moment = in_zone(epoch, ZoneInfo(zone)) or datetime.fromtimestamp(epoch, UTC)  # past 9999 there: UTC
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo("UTC")).isoformat(timespec="seconds")


def relative(epoch: float, now: float) -> str:
    """'in 4 min', '12 s ago', 'now'."""
    delta = epoch - now
    size = abs(delta)
    if size < 1:
        return "now"
    for limit, unit, divisor in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if size < limit:
            amount = f"{int(size // divisor)} {unit}"
            break
    else:
        days = int(size // 86400)
        amount = f"{days} day" if days == 1 else f"{days} days"
    return f"in {amount}" if delta > 0 else f"{amount} ago"


def duration(ms: float) -> str:
    """25 ms, 1.2 s, 3 min."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.0f} min"
