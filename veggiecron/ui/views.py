"""What a page shows of a job and of a run, worked out once in Python so templates only place it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..jobtypes.base import FormField, JobType
from ..model import Job, JobState, Run, RunOutcome
from .charts import run_chart
from .words import OUTCOME_ICONS, STATE_ICONS, duration, iso, local_time, relative, schedule_words

CHART_RUNS = 20  # runs drawn in a list row's chart


@dataclass(frozen=True, slots=True)
class RunView:
    outcome: str
    icon: str
    due: str
    due_iso: str
    started: str
    lateness: str
    pool_wait: str  # the part of the lateness spent waiting for a connection; empty when under 1 ms
    duration: str
    attempts: int
    status: str
    error: str
    error_class: str
    excerpt: str
    triggered_by: str  # a follower's run: its parent's run_id


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    name: str
    href: str  # /ui/jobs/<name>, the name quoted
    tags: tuple[str, ...]
    seed: str | None  # the Seed Scheduler schedule's id, for jobs made by that API
    schedule: str  # in words
    schedule_text: str  # as written
    timezone: str
    next_local: str
    next_iso: str
    next_relative: str
    state: str
    state_icon: str
    paused_reason: str
    enabled: bool
    failing: bool
    last: RunView | None
    chart: str  # SVG markup, numbers only


def run_view(run: Run, zone: str, now: float) -> RunView:
    return RunView(
        outcome=run.outcome.value,
        icon=OUTCOME_ICONS[run.outcome],
        due=local_time(run.due_at, zone),
        due_iso=iso(run.due_at),
        started=relative(run.started_at, now),
        lateness=duration(max(run.lateness_ms, 0.0)),
        pool_wait=duration(run.pool_wait_ms) if run.pool_wait_ms is not None and run.pool_wait_ms >= 1.0 else "",
        duration=duration(run.duration_ms),
        attempts=run.attempts,
        status=str(run.status_code) if run.status_code is not None else "",
        error=run.error or "",
        error_class=run.error_class or "",
        excerpt=run.response_excerpt or "",
        triggered_by=run.triggered_by or "",
    )


def job_row(job: Job, runs: list[Run], seed: str | None, now: float, chart_size: tuple[int, int] = (120, 28)) -> JobRow:
    """A job as a row of the list (or the head of its page), with its newest runs (newest first)."""
    state = job.state
    has_next = job.next_run is not None and state is JobState.SCHEDULED
    return JobRow(
        id=job.id,
        name=job.name,
        href="/ui/jobs/" + quote(job.name, safe=""),
        tags=job.tags,
        seed=seed,
        schedule=schedule_words(job.schedule, job.timezone),
        schedule_text=job.schedule,
        timezone=job.timezone,
        next_local=local_time(job.next_run, job.timezone) if has_next and job.next_run is not None else "",
        next_iso=iso(job.next_run) if has_next and job.next_run is not None else "",
        next_relative=relative(job.next_run, now) if has_next and job.next_run is not None else "",
        state=state.value,
        state_icon=STATE_ICONS[state],
        paused_reason=job.paused_reason or "",
        enabled=job.enabled,
        failing=job.consecutive_failures > 0,
        last=run_view(runs[0], job.timezone, now) if runs else None,
        chart=run_chart(runs, *chart_size),
    )


def settings_view(job: Job, job_type: JobType) -> list[tuple[str, str]]:
    """The job's settings as (label, text) pairs, for its page: its type's own fields first."""
    data = dict(job.data)
    shown = [(f.label, field_text(data.pop(f.name, f.default), f)) for f in job_type.form_fields]
    shown += [
        ("Schedule", _schedule_setting(job)),
        ("Time zone", job.timezone),
        ("Enabled", "yes" if job.enabled else "no"),
        ("Created", local_time(job.date_created, job.timezone)),
        ("Changed", local_time(job.date_updated, job.timezone)),
    ]
    if job.max_runs is not None:
        shown.append(("Runs", f"{job.run_count} of at most {job.max_runs}"))
    if job.policy:
        shown.append(("Policies", ", ".join(f"{k}: {v}" for k, v in job.policy.items())))
    if data:
        shown.append(("Options", json.dumps(data, indent=1, sort_keys=True)))
    return shown


def field_text(value: object, form_field: FormField) -> str:
    """A type's field as its form shows it: text as it is, a choice in upper case (GET), else JSON."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.upper() if form_field.choices and text.upper() in form_field.choices else text


def _schedule_setting(job: Job) -> str:
    words = schedule_words(job.schedule, job.timezone)
    return words if words.lower() == job.schedule.lower() else f"{words} ({job.schedule})"


OUTCOMES = [o.value for o in RunOutcome]


def page_links(count: int, limit: int, offset: int) -> dict[str, Any]:
    """Previous and next offsets of a paged list (None at the ends) and the range shown."""
    return {
        "first": offset + 1 if count else 0,
        "last": min(offset + limit, count),
        "count": count,
        "previous": max(offset - limit, 0) if offset > 0 else None,
        "next": offset + limit if offset + limit < count else None,
    }
