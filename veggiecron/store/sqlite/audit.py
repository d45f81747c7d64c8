"""The audit log in SQLite: rows written beside the changes they describe, read newest first, trimmed by age."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...audit import AuditEntry
from ..audit_rows import AUDIT_COLUMNS, AUDIT_INSERT_COLUMNS, audit_from_row, audit_params
from .connection import SqliteConnection, Statement

INSERT_AUDIT = f"INSERT INTO audit_log ({AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def audit_statements(entries: Sequence[AuditEntry]) -> list[Statement]:
    """The inserts of these rows, to run in the transaction of the change they describe."""
    return [(INSERT_AUDIT, audit_params(entry), False) for entry in entries]


class SqliteAudit(SqliteConnection):
    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        await self._write(audit_statements(entries))

    async def list_audit(
        self, about: int | None, limit: int, offset: int, action: str | None = None, target: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        conditions: list[str] = ["1 = 1"]
        params: list[Any] = []
        if about is not None:
            conditions.append("(owner_id = ? OR actor_id = ?)")
            params += [about, about]
        if action is not None:
            conditions.append("action = ?")
            params.append(action)
        if target is not None:
            conditions.append("target = ?")
            params.append(target)
        where = " AND ".join(conditions)
        return await self._page(AUDIT_COLUMNS, "audit_log", where, params, "id DESC", limit, offset, audit_from_row)

    async def token_id_of(self, token_hash: str) -> int | None:
        rows = await self._fetch_by_key("SELECT id FROM tokens WHERE token_hash = ?", (token_hash,))
        return int(rows[0][0]) if rows else None

    async def trim_audit(self, before: float, batch: int) -> int:
        """Delete up to `batch` rows older than `before` (oldest first); answer how many such rows are left."""
        await self._write(
            [
                (
                    "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)",
                    (before, batch),
                    False,
                )
            ]
        )
        (left,) = await self._fetchone("SELECT COUNT(*) FROM audit_log WHERE at < ?", (before,))
        return int(left)
