"""Compile a job once: its schedule, policy and target parsed into a CompiledJob (pure, no I/O).

The jobs service compiles a request as it validates it and hands the result to the scheduler;
the scheduler compiles only jobs it loads from the store. Nothing parses a job twice.
"""

from __future__ import annotations

from .jobtypes.base import Target
from .jobtypes.registry import JobTypes
from .model import CompiledJob, Job
from .policies import JobPolicy, Timing, Window, jitter_key, job_timing, parse_policy
from .schedules import Once, Schedule, parse_schedule


def compile_parts(job: Job, schedule: Schedule, policy: JobPolicy, target: Target) -> CompiledJob:
    """A stored job with its already parsed parts."""
    return CompiledJob(
        id=job.id,
        version=job.version,
        name=job.name,
        schedule=job.schedule,
        anchor=job.anchor,
        enabled=job.enabled,
        next_run=job.next_run,
        run_count=job.run_count,
        max_runs=job.max_runs,
        keep_failures=job.keep_failures,
        consecutive_failures=job.consecutive_failures,
        timing=job_timing(schedule, policy, jitter_key(job.user_id, job.name)),
        target=target,
        policy=policy,
        overlap=policy.overlap_for(target.enable_shadows),
    )


def compile_job(job: Job, job_types: JobTypes) -> CompiledJob:
    """Parse a stored job by its type (raises Invalid when its data no longer validates).

    Its data is read as stored (not held to rules newer than the job): it goes on running.
    """
    target = job_types.parse(job.type, job.data, strict=False)
    return compile_parts(job, parse_schedule(job.schedule, job.timezone), parse_policy(job.policy), target)


def first_run(schedule: Schedule, rules: JobPolicy, now: float, anchor: float, key: str) -> float | None:
    """A new or rescheduled job's first run: its schedule's, shifted by jitter, inside its window."""
    if isinstance(schedule, Once):
        end_at = rules.catch_up.window.end_at
        return schedule.at if end_at is None or schedule.at <= end_at else None
    return rules.catch_up.window.next_after(job_timing(schedule, rules, key), now, anchor)


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


def preview(job: Job, count: int, now: float) -> list[float]:
    """The job's next `count` run times after now (fewer when its schedule ends)."""
    if not job.enabled:
        return []
    schedule = parse_schedule(job.schedule, job.timezone)
    if isinstance(schedule, Once):
        return [job.next_run] if job.next_run is not None else []
    rules = parse_policy(job.policy)
    timing = job_timing(schedule, rules, jitter_key(job.user_id, job.name))
    return upcoming(timing, rules.catch_up.window, job.anchor, now, count)
