"""How Seed Scheduler records look in answers: Django REST Framework's shapes, absolute links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...model import FailedTask, Group, Job, SeedFields, User, Webhook
from ...seed.validation import HIDDEN_TOKEN


def iso(epoch: float | None) -> str | None:
    """ISO 8601 in UTC with a Z, as Django REST Framework writes datetimes."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def user_url(base: str, user_id: int | None) -> str | None:
    return None if user_id is None else f"{base}/api/v1/user/{user_id}/"


def schedule_url(base: str, schedule_id: str) -> str:
    return f"{base}/api/v1/schedule/{schedule_id}/"


def schedule_view(job: Job, seed: SeedFields, base: str) -> dict[str, Any]:
    return {
        "url": schedule_url(base, seed.uuid),
        "id": seed.uuid,
        "frequency": job.max_runs,
        "triggered": job.run_count,
        "cron_definition": seed.cron_definition,
        "interval_definition": seed.interval_definition,
        "endpoint": seed.endpoint,
        "payload": seed.payload,
        "auth_token": None if seed.auth_token is None else HIDDEN_TOKEN,  # stored sealed, never answered
        "next_send_at": iso(job.next_run) if job.enabled else None,
        "enabled": job.enabled,
        "created_at": iso(job.date_created),
        "created_by": user_url(base, seed.created_by),
        "updated_at": iso(job.date_updated),
        "updated_by": user_url(base, seed.updated_by),
    }


def failed_task_view(failure: FailedTask, schedule_id: str | None, base: str) -> dict[str, Any]:
    return {
        "url": f"{base}/api/v1/failed-tasks/{failure.id}/",
        "id": failure.id,
        "schedule": schedule_url(base, schedule_id) if schedule_id else None,
        "task_id": failure.task_id,
        "initiated_at": iso(failure.initiated_at),
        "reason": failure.reason,
    }


def webhook_view(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "created": iso(hook.created),
        "updated": iso(hook.updated),
        "event": hook.event,
        "target": hook.target,
        "user": hook.user_id,
    }


def seed_user_view(user: User, group_ids: list[int], base: str) -> dict[str, Any]:
    return {
        "url": user_url(base, user.id),
        "username": user.username,
        "email": user.email,
        "groups": [f"{base}/api/v1/group/{group_id}/" for group_id in group_ids],
    }


def group_view(group: Group, base: str) -> dict[str, Any]:
    return {"url": f"{base}/api/v1/group/{group.id}/", "name": group.name}
