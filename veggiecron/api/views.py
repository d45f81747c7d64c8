"""How domain records look in answers."""

from __future__ import annotations

from typing import Any

from ..model import Job, Run, TokenInfo, User, idempotency_key
from ..policies import POLICY_FIELDS, parse_policy
from ..times import iso_utc_millis, with_utc

# Each epoch field of an answer has an ISO 8601 UTC twin named <field>_utc; scripts keep the epoch.


def user_view(user: User) -> dict[str, Any]:
    view = {"username": user.username, "date_created": user.date_created, "date_updated": user.date_updated}
    return with_utc(view, "date_created", "date_updated")


def job_view(job: Job) -> dict[str, Any]:
    view = {
        "name": job.name,
        "type": job.type,
        "data": job.data,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "enabled": job.enabled,
        "state": job.state.value,
        "tags": list(job.tags),
        "next_run": job.next_run,
        "date_created": job.date_created,
        "date_updated": job.date_updated,
        **{key: job.policy.get(key) for key in POLICY_FIELDS},
        "consecutive_failures": job.consecutive_failures,
        "paused_reason": job.paused_reason,
    }
    window = parse_policy(job.policy).catch_up.window  # stored policies are valid; parsing is cached
    view["start_at_utc"], view["end_at_utc"] = iso_utc_millis(window.start_at), iso_utc_millis(window.end_at)
    return with_utc(view, "next_run", "date_created", "date_updated")


def run_view(run: Run) -> dict[str, Any]:
    view = {
        "id": run.id,
        # The slot's key, sent as Idempotency-Key: known before the run is recorded (POST /job/N/run answers it).
        "run_id": idempotency_key(run.job_id, run.due_at),
        "due_at": run.due_at,
        "started_at": run.started_at,
        "lateness_ms": round(run.lateness_ms, 3),
        "duration_ms": round(run.duration_ms, 3),
        "outcome": run.outcome.value,
        "attempts": run.attempts,
        "status_code": run.status_code,
        "error": run.error,
        "response_excerpt": run.response_excerpt,
        "error_class": run.error_class,
        "pool_wait_ms": None if run.pool_wait_ms is None else round(run.pool_wait_ms, 3),
        "triggered_by": run.triggered_by,  # a follower's run: the parent's run_id
    }
    return with_utc(view, "due_at", "started_at")


def token_view(token: TokenInfo) -> dict[str, Any]:
    view = {"id": token.id, "created_at": token.created_at, "expires_at": token.expires_at, "current": token.current}
    return with_utc(view, "created_at", "expires_at")
