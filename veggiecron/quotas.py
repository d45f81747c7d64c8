"""Per-user quotas: how many jobs, and how many requests a minute their schedules project."""

from __future__ import annotations

from typing import Any

from .config import QuotasSection
from .errors import Forbidden, Invalid
from .follow import MAX_CHAIN, After
from .jobtypes.registry import JobTypes
from .model import Job, User
from .schedules import Cron, DailyAt, Interval, Schedule, parse_schedule
from .store import JobStore
from .wall_schedules import MonthDays, NthWeekday, Weekly, Windowed

SCHEDULES_PAGE = 10_000  # jobs read at a time when a recount walks chains


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


class Quotas:
    """The quotas of the jobs service: what a user's jobs may send, checked before each is stored."""

    def __init__(self, settings: QuotasSection, jobs: JobStore, types: JobTypes, shared: bool) -> None:
        """shared: other nodes change the same jobs (quota totals are then never remembered)."""
        self.settings = settings
        self.jobs = jobs
        self.types = types
        self.usage = QuotaUsage(remember=not shared)

    async def check(
        self, user: User, schedule: Schedule, clones: int, job_id: int | None = None, current_rate: float = 0.0
    ) -> float:
        """Refuse a job that would take the user past a quota (admins are exempt).

        current_rate: what the job sends now (0 for a new or disabled job). Answers the new job's
        projected requests a minute, for `usage.add` once the job is stored.
        """
        quotas = self.settings
        gap = shortest_gap_seconds(schedule)
        if gap is not None and gap < quotas.min_interval_seconds:
            raise Invalid("schedule", f"the shortest interval allowed is {quotas.min_interval_seconds} seconds")
        rate = runs_per_minute(schedule, clones)
        if user.is_admin:
            return rate
        jobs, projected = self.usage.get(user.id)
        new_jobs = 1 if job_id is None else 0
        if jobs + new_jobs > quotas.max_jobs_per_user or projected - current_rate + rate > quotas.max_runs_per_minute:
            jobs, projected = await self._count_usage(user.id)  # the remembered totals may be stale: recount
        if jobs + new_jobs > quotas.max_jobs_per_user:
            raise Forbidden(
                f"quota exceeded: at most {quotas.max_jobs_per_user} jobs per user",
                {"quota": "max_jobs_per_user", "limit": quotas.max_jobs_per_user},
            )
        total = projected - current_rate + rate
        if total > quotas.max_runs_per_minute:
            raise Forbidden(
                f"quota exceeded: your enabled jobs would send {total:.0f} requests a minute; "
                f"the limit is {quotas.max_runs_per_minute}",
                {"quota": "max_runs_per_minute", "limit": quotas.max_runs_per_minute},
            )
        return rate

    async def _count_usage(self, user_id: int) -> tuple[int, float]:
        generation = self.usage.generation(user_id)
        jobs = await self.jobs.count_jobs(user_id)
        projected = 0.0
        schedules: dict[str, tuple[str, str]] | None = None
        for _job_id, text, zone, job_type, data in await self.jobs.enabled_job_timings(user_id):
            if schedules is None and text.startswith("after "):  # a follower: its chain is walked
                schedules = await self._schedules_by_name(user_id)
            projected += self._chain_rate(schedules or {}, text, zone, job_type, data)
        self.usage.recounted(user_id, generation, jobs, projected)
        return jobs, projected

    async def _schedules_by_name(self, user_id: int) -> dict[str, tuple[str, str]]:
        """(schedule, timezone) of each of the user's jobs, enabled or not, read in pages: walking
        chains with a query per link made a recount cost a query per follower, and on several nodes
        (where every create recounts) creating the n-th follower cost n queries."""
        schedules: dict[str, tuple[str, str]] = {}
        offset = 0
        while True:
            page, total = await self.jobs.list_jobs(user_id, SCHEDULES_PAGE, offset)
            schedules.update((job.name, (job.schedule, job.timezone)) for job in page)
            offset += len(page)
            if not page or offset >= total:
                return schedules

    def _chain_rate(
        self, schedules: dict[str, tuple[str, str]], text: str, zone: str, job_type: str, data: dict[str, Any]
    ) -> float:
        """The requests a minute a stored job sends while enabled; a follower runs as often as the
        head of its chain, found in `schedules` (each job's schedule and timezone, by name)."""
        try:
            schedule = parse_schedule(text, zone)
            clones = self.types.parse(job_type, data, strict=False).number_of_clones
        except Invalid:
            return 0.0
        for _ in range(MAX_CHAIN):  # up the chain to its head
            if not isinstance(schedule, After):
                return runs_per_minute(schedule, clones)
            parent = schedules.get(schedule.parent)
            if parent is None:
                return 0.0
            try:
                schedule = parse_schedule(*parent)
            except Invalid:
                return 0.0
        return 0.0

    def rate_of(self, job: Job) -> float:
        """The requests a minute a stored job is projected to send while enabled (0 for a follower:
        its chain's rate is added when it is created or changed, so the remembered totals run high,
        never low, and a recount finds the true figure)."""
        return self._stored_rate(job.schedule, job.timezone, job.type, job.data)

    def _stored_rate(self, schedule: str, zone: str, job_type: str, data: dict[str, Any]) -> float:
        try:
            return stored_rate(schedule, zone, self.types.parse(job_type, data, strict=False).number_of_clones)
        except Invalid:
            return 0.0
