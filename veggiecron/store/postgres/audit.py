"""The audit log in PostgreSQL (see store.sqlite.audit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from ...audit import AuditEntry
from ..audit_rows import AUDIT_COLUMNS, AUDIT_INSERT_COLUMNS, audit_from_row, audit_params
from .connection import PostgresConnection

INSERT_AUDIT = f"INSERT INTO audit_log ({AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"


async def write_audit(conn: asyncpg.Connection, entries: Sequence[AuditEntry]) -> None:
    """Insert these rows on a connection inside the transaction of the change they describe."""
    if entries:
        await conn.executemany(INSERT_AUDIT, [audit_params(entry) for entry in entries])


class PostgresAudit(PostgresConnection):
    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        async with self._transaction() as conn:
            await write_audit(conn, entries)

    async def list_audit(
        self, about: int | None, limit: int, offset: int, action: str | None = None, target: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        conditions: list[str] = ["TRUE"]
        params: list[Any] = []
        if about is not None:
            params.append(about)
            conditions.append(f"(owner_id = ${len(params)} OR actor_id = ${len(params)})")
        if action is not None:
            params.append(action)
            conditions.append(f"action = ${len(params)}")
        if target is not None:
            params.append(target)
            conditions.append(f"target = ${len(params)}")
        where = " AND ".join(conditions)
        return await self._page(AUDIT_COLUMNS, "audit_log", where, params, "id DESC", limit, offset, audit_from_row)

    async def token_id_of(self, token_hash: str) -> int | None:
        found = await self._fetchval("SELECT id FROM tokens WHERE token_hash = $1", token_hash)
        return None if found is None else int(found)

    async def trim_audit(self, before: float, batch: int) -> int:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
                before,
                batch,
            )
            left = await conn.fetchval("SELECT count(*) FROM audit_log WHERE at < $1", before)
        return int(left)
