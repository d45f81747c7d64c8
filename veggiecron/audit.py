"""The audit log's records: who changed what, when and from where (audit_trail.py reads and writes
the rows that are not part of a job write).

A change and its row are written in one transaction by the store (create_job, update_job,
delete_job take the AuditEntry to write); rows are never changed afterwards, only trimmed by age.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Job, User
from .times import iso_utc_millis

SYSTEM = "system"  # the actor of what veggiecron does by itself (auto-pause)
SET = "set"  # what a secret value is written as


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change: a user (and the token and address the request came with), or the system."""

    name: str
    user_id: int | None = None
    address: str | None = None
    token_id: int | None = None

    @classmethod
    def of(cls, user: User, address: str | None = None, token_id: int | None = None) -> Actor:
        return cls(user.username, user.id, address, token_id)


SYSTEM_ACTOR = Actor(SYSTEM)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log.

    owner_id: the account the row is about (the job's owner, the user registered...), so its owner
    sees it; None for server-wide actions (imports by an operator), which only admins see.
    """

    at: float
    actor: str
    action: str
    target: str
    owner_id: int | None = None
    actor_id: int | None = None
    address: str | None = None
    token_id: int | None = None
    changes: dict[str, Any] | None = None
    id: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "at_iso": iso_utc_millis(self.at),
            "actor": self.actor,
            "address": self.address,
            "token_id": self.token_id,
            "action": self.action,
            "target": self.target,
            "changes": self.changes,
        }


# The rows of a write that creates a row (a user, a token), given that row's id: the store calls it
# inside the write's transaction, once the id is known, and writes the rows it answers there.
AuditFor = Callable[[int], Sequence["AuditEntry"]]


def entry(
    actor: Actor, action: str, target: str, at: float, owner_id: int | None, changes: dict[str, Any] | None = None
) -> AuditEntry:
    return AuditEntry(
        at=at,
        actor=actor.name,
        action=action,
        target=target,
        owner_id=owner_id,
        actor_id=actor.user_id,
        address=actor.address,
        token_id=actor.token_id,
        changes=changes,
    )


# Fields of a stored job an owner changes, as the API names them (Job's attribute on the right).
_JOB_FIELDS = (
    ("data", "data"),
    ("schedule", "schedule"),
    ("timezone", "timezone"),
    ("enabled", "enabled"),
    ("policy", "policy"),
    ("tags", "tags"),
    ("max_runs", "max_runs"),
    ("paused_reason", "paused_reason"),
)


def job_target(job: Job | Any) -> str:
    return f"job:{job.name}"


def job_snapshot(job: Job | Any) -> dict[str, Any]:
    """A job's fields as stored, secrets written as "set" (a created or deleted job's row)."""
    return {name: _field(name, getattr(job, attr, None)) for name, attr in _JOB_FIELDS if attr != "paused_reason"}


def job_changes(old: Job, new: Job) -> dict[str, Any]:
    """Field by field, {"field": {"old": ..., "new": ...}} of what differs, as stored."""
    changes = {}
    for name, attr in _JOB_FIELDS:
        before, after = _plain(getattr(old, attr)), _plain(getattr(new, attr))
        if before != after:
            changes[name] = {"old": _field(name, before), "new": _field(name, after)}
    return changes


# Headers that carry credentials (a Seed schedule's auth_token travels in Authorization): their
# values are written as "set", like secrets.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"})


def _field(name: str, value: Any) -> Any:
    value = masked(_plain(value))
    if name == "data" and isinstance(value, dict) and isinstance(value.get("headers"), dict):
        headers = {k: SET if k.lower() in CREDENTIAL_HEADERS else v for k, v in value["headers"].items()}
        value = {**value, "headers": headers}
    return value


def masked(value: Any) -> Any:
    """The value with every secret ({"secret": ...}) written as {"secret": "set"}."""
    if isinstance(value, dict):
        if set(value) == {"secret"}:
            return {"secret": SET}
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
