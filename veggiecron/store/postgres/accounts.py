"""Users, tokens (keyed hashes only) and groups in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from ...audit import AuditEntry, AuditFor
from ...errors import Conflict
from ...model import Group, TokenInfo, User
from ..rows import USER_COLUMNS, user_from_row
from .audit import write_audit
from .connection import PostgresConnection

USER_COLUMNS_U = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))


class PostgresAccounts(PostgresConnection):
    async def _insert_audited(self, sql: str, args: Sequence[Any], audit: AuditFor | None) -> int:
        """Insert one row (the statement answers its id) and the audit rows describing it, in one transaction."""
        async with self._transaction() as conn:
            row_id: int = await conn.fetchval(sql, *args)
            if audit is not None:
                await write_audit(conn, audit(row_id))
            return row_id

    async def _change_audited(self, sql: str, args: Sequence[Any], audit: Sequence[AuditEntry], always: bool) -> str:
        """Run one change and write its audit rows in its transaction: always, or only when it
        touched a row. Answers the statement's status."""
        async with self._transaction() as conn:
            status: str = await conn.execute(sql, *args)
            if always or not status.endswith(" 0"):
                await write_audit(conn, audit)
            return status

    async def create_user(
        self,
        username: str,
        password_hash: str,
        now: float,
        is_admin: bool = False,
        email: str = "",
        audit: AuditFor | None = None,
    ) -> User:
        try:
            user_id = await self._insert_audited(
                "INSERT INTO users (username, password_hash, is_admin, date_created, date_updated, email) "
                "VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
                (username, password_hash, is_admin, now, email),
                audit,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"the username {username!r} is taken", {"field": "username"}) from None
        return User(user_id, username, is_admin, now, now, email)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return user_from_row(row) if row else None

    async def set_admin(self, user_id: int, is_admin: bool, now: float, audit: Sequence[AuditEntry] = ()) -> None:
        await self._change_audited(
            "UPDATE users SET is_admin = $2, date_updated = $3 WHERE id = $1", (user_id, is_admin, now), audit, True
        )

    async def list_users(self, only_id: int | None, limit: int, offset: int) -> tuple[list[User], int]:
        where, params = ("id = $1", (only_id,)) if only_id is not None else ("true", ())
        return await self._page(USER_COLUMNS, "users", where, params, "id DESC", limit, offset, user_from_row)

    async def user_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._fetchrow(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1", username)
        return (user_from_row(row), row[6]) if row else None

    async def replace_password_hash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        status = await self._execute(
            "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2", user_id, old_hash, new_hash
        )
        return status == "UPDATE 1"

    async def create_token(
        self, user_id: int, token_hash: str, now: float, expires_at: float, audit: AuditFor | None = None
    ) -> int:
        return await self._insert_audited(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
            (user_id, token_hash, now, expires_at),
            audit,
        )

    async def user_for_token(self, token_hash: str, now: float) -> tuple[User, float] | None:
        row = await self._fetchrow(
            f"SELECT {USER_COLUMNS_U}, t.expires_at FROM tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = $1 AND t.expires_at > $2",
            token_hash,
            now,
        )
        return (user_from_row(row), row[6]) if row else None

    async def list_tokens(
        self, user_id: int, current_hash: str, now: float, limit: int, offset: int
    ) -> tuple[list[TokenInfo], int]:
        count = await self._fetchval("SELECT count(*) FROM tokens WHERE user_id = $1 AND expires_at > $2", user_id, now)
        rows = await self._fetch(
            "SELECT id, created_at, expires_at, token_hash = $3 FROM tokens WHERE user_id = $1 AND expires_at > $2 "
            "ORDER BY id DESC LIMIT $4 OFFSET $5",
            user_id,
            now,
            current_hash,
            limit,
            offset,
        )
        return [TokenInfo(r[0], r[1], r[2], bool(r[3])) for r in rows], int(count)

    async def delete_user_token(self, user_id: int, token_id: int, audit: Sequence[AuditEntry] = ()) -> bool:
        sql = "DELETE FROM tokens WHERE id = $1 AND user_id = $2"
        return await self._change_audited(sql, (token_id, user_id), audit, False) != "DELETE 0"

    async def delete_token(self, token_hash: str, audit: Sequence[AuditEntry] = ()) -> None:
        await self._change_audited("DELETE FROM tokens WHERE token_hash = $1", (token_hash,), audit, False)

    async def delete_user_tokens(self, user_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        # The row is written even when the user held no token: the revocation was asked for and done.
        await self._change_audited("DELETE FROM tokens WHERE user_id = $1", (user_id,), audit, True)

    async def prune_tokens(self, now: float) -> None:
        await self._execute("DELETE FROM tokens WHERE expires_at <= $1", now)

    async def user_group_ids(self, user_id: int) -> list[int]:
        rows = await self._fetch("SELECT group_id FROM user_groups WHERE user_id = $1 ORDER BY group_id", user_id)
        return [r[0] for r in rows]

    async def list_groups(self, limit: int, offset: int) -> tuple[list[Group], int]:
        return await self._page("id, name", "groups", "true", (), "id DESC", limit, offset, lambda r: Group(r[0], r[1]))

    async def get_group(self, group_id: int) -> Group | None:
        row = await self._fetchrow("SELECT id, name FROM groups WHERE id = $1", group_id)
        return Group(row[0], row[1]) if row else None
