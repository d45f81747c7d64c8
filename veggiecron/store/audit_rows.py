"""Audit rows as both stores write and read them (store.sqlite.audit, store.postgres.audit)."""

from __future__ import annotations

from typing import Any

import orjson

from ..audit import AuditEntry

AUDIT_COLUMNS = "id, at, actor, actor_id, owner_id, address, token_id, action, target, changes"
AUDIT_INSERT_COLUMNS = "at, actor, actor_id, owner_id, address, token_id, action, target, changes"


def audit_params(entry: AuditEntry) -> tuple[Any, ...]:
    changes = None if entry.changes is None else orjson.dumps(entry.changes).decode()
    return (
        entry.at,
        entry.actor,
        entry.actor_id,
        entry.owner_id,
        entry.address,
        entry.token_id,
        entry.action,
        entry.target,
        changes,
    )


def audit_from_row(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row[0],
        at=row[1],
        actor=row[2],
        actor_id=row[3],
        owner_id=row[4],
        address=row[5],
        token_id=row[6],
        action=row[7],
        target=row[8],
        changes=None if row[9] is None else orjson.loads(row[9]),
    )


def pause_changes(reason: str) -> str:
    """The changes of an auto-pause's row, as JSON text (the store writes the row beside the pause)."""
    return orjson.dumps(
        {"enabled": {"old": True, "new": False}, "paused_reason": {"old": None, "new": reason}}
    ).decode()
