"""How domain records look in answers."""

from __future__ import annotations

from typing import Any

from ..model import Job, Run, TokenInfo, User
from ..policies import POLICY_FIELDS


def user_view(user: User) -> dict[str, Any]:
    return {"username": user.username, "date_created": user.date_created, "date_updated": user.date_updated}


def job_view(job: Job) -> dict[str, Any]:
    return {
        "name": job.name,
        "type": job.type,
        "data": job.data,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "enabled": job.enabled,
        "state": job.state.value,
        "next_run": job.next_run,
        "date_created": job.date_created,
        "date_updated": job.date_updated,
        **{key: job.policy.get(key) for key in POLICY_FIELDS},
        "consecutive_failures": job.consecutive_failures,
        "paused_reason": job.paused_reason,
    }


def run_view(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
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
    }


def token_view(token: TokenInfo) -> dict[str, Any]:
    return {"id": token.id, "created_at": token.created_at, "expires_at": token.expires_at, "current": token.current}
