"""A schedule that skips the days of calendars: a slot whose local date (in the job's zone) is in any
of them is not a slot at all, so the scheduler neither runs it nor counts it as missed (pure).

Applied when a job is compiled, under its jitter: the scheduler and the cluster planner see one
more Timing and need no change.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .policies import Timing
from .wall_clock import wall_time_to_epoch

# Bound on the days one question skips: a calendar that excludes every day for longer than this
# (ten years and more) leaves the job without a next slot rather than looping.
MAX_DAYS_SKIPPED = 3700


@dataclass(frozen=True, slots=True)
class SkipDays:
    """The slots of `schedule` whose local date is in none of `calendars`."""

    schedule: Timing
    zone: str
    calendars: tuple[Container[date], ...]

    def skips(self, instant: float) -> bool:
        day = _local_day(instant, ZoneInfo(self.zone))
        return day is not None and any(day in calendar for calendar in self.calendars)

    def next_after(self, after: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        at = after
        for _ in range(MAX_DAYS_SKIPPED):
            candidate = self.schedule.next_after(at, anchor)
            if candidate is None:
                return None
            day = _local_day(candidate, tz)
            if day is None or not any(day in calendar for calendar in self.calendars):
                return candidate
            # Every slot of a skipped day is skipped: go on from just before the next day starts.
            try:
                at = max(candidate, math.nextafter(wall_time_to_epoch(day + timedelta(days=1), time(), tz), -math.inf))
            except (OverflowError, ValueError):
                return None
        return None

    def latest_at_or_before(self, at: float, anchor: float) -> float | None:
        tz = ZoneInfo(self.zone)
        for _ in range(MAX_DAYS_SKIPPED):
            candidate = self.schedule.latest_at_or_before(at, anchor)
            if candidate is None:
                return None
            day = _local_day(candidate, tz)
            if day is None or not any(day in calendar for calendar in self.calendars):
                return candidate
            try:
                at = math.nextafter(min(candidate, wall_time_to_epoch(day, time(), tz)), -math.inf)
            except (OverflowError, ValueError):
                return None
        return None


def _local_day(instant: float, tz: ZoneInfo) -> date | None:
    try:
        return datetime.fromtimestamp(instant, tz).date()
    except (OverflowError, ValueError, OSError):
        return None


def skipping(schedule: Timing, zone: str, calendars: tuple[Container[date], ...]) -> Timing:
    """The schedule, wrapped when there are days to skip."""
    return SkipDays(schedule, zone, calendars) if calendars else schedule
