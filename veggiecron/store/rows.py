"""Columns and row -> record conversions, the same for both stores (their tables have the same columns)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson

from ..calendars import Calendar, spec_from_json
from ..model import FailedTask, Job, JobState, NewJob, Run, RunOutcome, SeedFields, User, Webhook

JOB_COLUMNS = (
    "id, user_id, name, type, data, schedule, timezone, enabled, next_run, anchor, version, "
    "date_created, date_updated, max_runs, run_count, keep_failures, policy, consecutive_failures, paused_reason, "
    "tags, after_job, after_on"
)
JOB_COLUMNS_J = ", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))
JOB_COLUMN_COUNT = len(JOB_COLUMNS.split(","))
RUN_INSERT_COLUMNS = (
    "job_id, due_at, started_at, duration_ms, outcome, attempts, status_code, error, response_excerpt, error_class, "
    "pool_wait_ms, triggered_by"
)
RUN_COLUMNS = f"id, {RUN_INSERT_COLUMNS}"
USER_COLUMNS = "id, username, is_admin, date_created, date_updated, email"
SEED_COLUMNS = (
    "s.uuid, s.cron_definition, s.interval_definition, s.endpoint, s.auth_token, s.payload, s.created_by, s.updated_by"
)
NO_TAGS: tuple[str, ...] = ()
# A job's state (model.Job.state) as a condition on its row, in SQL both stores read (SQLite keeps
# booleans as 0 and 1, which AND and NOT take as they are).
STATE_SQL = {
    JobState.SCHEDULED: "enabled AND (next_run IS NOT NULL OR after_on IS NOT NULL)",
    JobState.PAUSED: "NOT enabled AND paused_reason IS NOT NULL",
    JobState.DISABLED: "NOT enabled AND paused_reason IS NULL",
    JobState.DONE: "enabled AND next_run IS NULL AND after_on IS NULL",
}
FAILED_COLUMNS = "f.id, f.job_id, f.task_id, f.initiated_at, f.reason"
WEBHOOK_COLUMNS = "id, user_id, event, target, created, updated"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % _ and \\ taken literally (with ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def tags_json(tags: Sequence[str]) -> str:
    return orjson.dumps(list(tags)).decode()


def job_from_row(row: Sequence[Any]) -> Job:
    # Type, schedule and timezone repeat across jobs: interned, a million jobs share a few strings.
    return Job(
        id=row[0],
        user_id=row[1],
        name=row[2],
        type=sys.intern(row[3]),
        data=orjson.loads(row[4]),
        schedule=sys.intern(row[5]),
        timezone=sys.intern(row[6]),
        enabled=bool(row[7]),
        next_run=row[8],
        anchor=row[9],
        version=row[10],
        date_created=row[11],
        date_updated=row[12],
        max_runs=row[13],
        run_count=row[14],
        keep_failures=bool(row[15]),
        policy=orjson.loads(row[16]),
        consecutive_failures=row[17],
        paused_reason=row[18],
        tags=NO_TAGS if row[19] == "[]" else tuple(sys.intern(t) for t in orjson.loads(row[19])),
        after_job=row[20],
        after_on=row[21],
    )


def job_created(job_id: int, new: NewJob) -> Job:
    """The job a store answers right after inserting `new` (version 1, nothing run yet)."""
    return Job(
        id=job_id,
        user_id=new.user_id,
        name=new.name,
        type=new.type,
        data=new.data,
        schedule=new.schedule,
        timezone=new.timezone,
        enabled=new.enabled,
        next_run=new.next_run,
        anchor=new.anchor,
        version=1,
        date_created=new.created_at,
        date_updated=new.created_at,
        max_runs=new.max_runs,
        keep_failures=new.keep_failures,
        policy=new.policy,
        tags=new.tags,
        after_job=new.after_job,
        after_on=new.after_on,
    )


OUTCOMES = {outcome.value: outcome for outcome in RunOutcome}  # a dict lookup: RunOutcome(text) is slower


def run_from_row(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        job_id=row[1],
        due_at=row[2],
        started_at=row[3],
        duration_ms=row[4],
        outcome=OUTCOMES[row[5]],
        attempts=row[6],
        status_code=row[7],
        error=row[8],
        response_excerpt=row[9],
        error_class=row[10],
        pool_wait_ms=row[11],
        triggered_by=row[12],
    )


def user_from_row(row: Sequence[Any]) -> User:
    return User(
        id=row[0], username=row[1], is_admin=bool(row[2]), date_created=row[3], date_updated=row[4], email=row[5]
    )


def seed_params(seed: SeedFields) -> tuple[Any, ...]:
    payload = None if seed.payload is None else orjson.dumps(seed.payload).decode()
    return (
        seed.uuid,
        seed.cron_definition,
        seed.interval_definition,
        seed.endpoint,
        seed.auth_token,
        payload,
        seed.created_by,
        seed.updated_by,
    )


def seed_from_row(row: Sequence[Any]) -> SeedFields:
    return SeedFields(
        row[0], row[1], row[2], row[3], row[4], None if row[5] is None else orjson.loads(row[5]), row[6], row[7]
    )


def failed_from_row(row: Sequence[Any]) -> FailedTask:
    return FailedTask(row[0], row[1], row[2], row[3], row[4])


def webhook_from_row(row: Sequence[Any]) -> Webhook:
    return Webhook(row[0], row[1], row[2], row[3], row[4], row[5])


CALENDAR_COLUMNS = "id, user_id, name, shared, spec, date_created, date_updated"


def calendar_from_row(row: Sequence[Any]) -> Calendar:
    spec = row[4]
    return Calendar(
        id=row[0],
        user_id=row[1],
        name=row[2],
        shared=bool(row[3]),
        spec=spec_from_json(orjson.loads(spec) if isinstance(spec, str | bytes) else spec),
        date_created=row[5],
        date_updated=row[6],
    )
