"""Per-user quotas: how many jobs, and how many requests a minute their schedules project."""

from __future__ import annotations

from .schedules import Cron, DailyAt, Interval, Schedule, parse_schedule
from .wall_schedules import MonthDays, NthWeekday, Weekly, Windowed


class QuotaUsage:
    """Each user's job count and projected requests a minute, remembered between requests.

    Counting them means reading all of a user's jobs, which made every create cost O(jobs).
    The remembered totals may run high (a job that paused or finished itself still counts), never
    low: a request that would exceed a quota recounts before it is refused. A recount that ran
    while another request changed the totals is discarded, so no change is ever lost.
    """

    def __init__(self, remember: bool = True) -> None:
        """remember False: every check recounts (several nodes share the jobs, so one node's
        remembered totals could run low when another node adds jobs)."""
        self.remember = remember
        self._totals: dict[int, tuple[int, float]] = {}
        self._generations: dict[int, int] = {}

    def get(self, user_id: int) -> tuple[int, float]:
        """The remembered (jobs, requests a minute); unknown totals are too high, which forces a recount."""
        return self._totals.get(user_id, (1 << 62, float("inf")))

    def generation(self, user_id: int) -> int:
        return self._generations.get(user_id, 0)

    def recounted(self, user_id: int, generation: int, jobs: int, rate: float) -> None:
        if self.remember and self._generations.get(user_id, 0) == generation:
            self._totals[user_id] = (jobs, rate)

    def add(self, user_id: int, jobs: int, rate: float) -> None:
        self._generations[user_id] = self._generations.get(user_id, 0) + 1
        known = self._totals.get(user_id)
        if known is not None:
            self._totals[user_id] = (known[0] + jobs, known[1] + rate)


def stored_rate(schedule: str, zone: str, clones: int) -> float:
    """The requests a minute a stored job sends while enabled, from its schedule and clones."""
    return runs_per_minute(parse_schedule(schedule, zone), clones)


def runs_per_minute(schedule: Schedule, clones: int) -> float:
    """An upper bound on the requests a minute a schedule sends (cron fires at most once a minute)."""
    if isinstance(schedule, Interval):
        return clones * 60.0 / schedule.seconds
    if isinstance(schedule, DailyAt):
        return clones / (1440.0 * schedule.days)
    if isinstance(schedule, Cron):
        return float(clones)
    if isinstance(schedule, Windowed):
        return clones / schedule.step
    if isinstance(schedule, Weekly):
        return clones * len(schedule.days) / (7 * 1440.0 * schedule.weeks)
    if isinstance(schedule, MonthDays):
        return clones * len(schedule.days) / (28 * 1440.0)  # February is the shortest month
    if isinstance(schedule, NthWeekday):
        return clones * len(schedule.nths) / (28 * 1440.0)
    return 0.0


def shortest_gap_seconds(schedule: Schedule) -> float | None:
    """The step of a schedule that repeats within the day (quotas.min_interval_seconds bounds it)."""
    if isinstance(schedule, Interval):
        return float(schedule.seconds)
    if isinstance(schedule, Windowed):
        return schedule.step * 60.0
    return None
