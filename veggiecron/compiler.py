"""Compile a job once: its schedule, policy and target parsed into a CompiledJob (pure, no I/O).

The jobs service compiles a request as it validates it and hands the result to the scheduler;
the scheduler compiles only jobs it loads from the store. Nothing parses a job twice.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .calendar_book import CalendarBook
from .jobtypes.base import Target
from .jobtypes.registry import JobTypes
from .model import CompiledJob, Job, stored_flags
from .policies import MAX_SLOTS_EXAMINED, JobPolicy, Timing, Window, jitter_key, job_timing, parse_policy
from .schedules import Once, Schedule, parse_schedule
from .skip_days import skipping

Skipped = tuple[Container[date], ...]  # the day sets of the calendars a job skips


def compile_parts(
    job: Job, schedule: Schedule, policy: JobPolicy, target: Target, skipped: Skipped = ()
) -> CompiledJob:
    """A stored job with its already parsed parts (and the days of its skip_calendars)."""
    return CompiledJob(
        id=job.id,
        version=job.version,
        user_id=job.user_id,
        name=job.name,
        anchor=job.anchor,
        next_run=job.next_run,
        run_count=job.run_count,
        flags=stored_flags(job.enabled, job.max_runs, job.keep_failures, job.consecutive_failures),
        timing=job_timing(skipping(schedule, job.timezone, skipped), policy, jitter_key(job.user_id, job.name)),
        target=target,
        policy=policy,
    )


def compile_job(job: Job, job_types: JobTypes) -> CompiledJob:
    """Parse a stored job by its type (raises Invalid when its data no longer validates).

    Its data is read as stored (not held to rules newer than the job): it goes on running.
    """
    target = job_types.parse(job.type, job.data, strict=False)
    policy = parse_policy(job.policy)
    skipped = job_types.calendars.skipped(job.user_id, policy.skip_calendars)
    return compile_parts(job, parse_schedule(job.schedule, job.timezone), policy, target, skipped)


def first_run(
    schedule: Schedule,
    rules: JobPolicy,
    now: float,
    anchor: float,
    key: str,
    skipped: Skipped = (),
    zone: str = "UTC",
) -> float | None:
    """A new or rescheduled job's first run: its schedule's, off skipped days, shifted by jitter, inside its window."""
    if isinstance(schedule, Once):
        end_at = rules.catch_up.window.end_at
        return schedule.at if end_at is None or schedule.at <= end_at else None
    timing = job_timing(skipping(schedule, zone, skipped), rules, key)
    return rules.catch_up.window.next_after(timing, now, anchor)


def upcoming(timing: Timing, window: Window, anchor: float, after: float, count: int) -> list[float]:
    """The next `count` slots after `after` (fewer when the schedule or its window ends)."""
    times: list[float] = []
    at = after
    while len(times) < count:
        nxt = window.next_after(timing, at, anchor)
        if nxt is None:
            break
        times.append(nxt)
        at = nxt
    return times


def preview(job: Job, count: int, now: float, calendars: CalendarBook | None = None) -> list[float]:
    """The job's next `count` run times after now (fewer when its schedule ends)."""
    if not job.enabled:
        return []
    schedule = parse_schedule(job.schedule, job.timezone)
    if isinstance(schedule, Once):
        return [job.next_run] if job.next_run is not None else []
    rules = parse_policy(job.policy)
    skipped = calendars.skipped(job.user_id, rules.skip_calendars) if calendars is not None else ()
    timing = job_timing(skipping(schedule, job.timezone, skipped), rules, jitter_key(job.user_id, job.name))
    return upcoming(timing, rules.catch_up.window, job.anchor, now, count)


def skipped_slots(
    job: Job, until: float, now: float, calendars: CalendarBook, limit: int
) -> list[tuple[float, tuple[str, ...]]]:
    """The schedule's slots after now, up to `until`, that the job's skip_calendars take away, each
    with the calendars that hold its local date (what the preview shows beside the runs)."""
    rules = parse_policy(job.policy)
    schedule = parse_schedule(job.schedule, job.timezone)
    if not job.enabled or not rules.skip_calendars or isinstance(schedule, Once):
        return []
    zone = ZoneInfo(job.timezone)
    found: list[tuple[float, tuple[str, ...]]] = []
    at = now
    for _ in range(MAX_SLOTS_EXAMINED):
        slot = rules.catch_up.window.next_after(schedule, at, job.anchor)
        if slot is None or slot > until or len(found) >= limit:
            break
        names = calendars.names_skipping(job.user_id, rules.skip_calendars, datetime.fromtimestamp(slot, zone).date())
        if names:
            found.append((slot, names))
        at = slot
    return found
