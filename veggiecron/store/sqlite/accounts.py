"""Users, tokens (keyed hashes only) and groups in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ...audit import AuditEntry, AuditFor
from ...errors import Conflict
from ...model import Group, TokenInfo, User
from ..rows import USER_COLUMNS, user_from_row
from .audit import audit_statements
from .connection import SqliteConnection


class SqliteAccounts(SqliteConnection):
    async def _insert_audited(self, sql: str, params: Sequence[Any], audit: AuditFor | None) -> int:
        """Insert one row and the audit rows describing it in one transaction; answer its id."""

        async def run() -> int:
            cursor = await self.db.execute(sql, params)
            row_id = cursor.lastrowid or 0
            await cursor.close()
            await self._execute_all(audit_statements(audit(row_id) if audit is not None else ()))
            return row_id

        return await self._transaction(run)

    async def _delete_audited(self, sql: str, params: Sequence[Any], audit: Sequence[AuditEntry]) -> int:
        """Delete rows and, when any was there, write the audit rows describing it; answer how many."""

        async def run() -> int:
            cursor = await self.db.execute(sql, params)
            deleted = cursor.rowcount
            await cursor.close()
            if deleted:
                await self._execute_all(audit_statements(audit))
            return deleted

        return await self._transaction(run)

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
                "VALUES (?, ?, ?, ?, ?, ?)",
                (username, password_hash, int(is_admin), now, now, email),
                audit,
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"the username {username!r} is taken", {"field": "username"}) from None
        return User(user_id, username, is_admin, now, now, email)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._fetchone(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return user_from_row(row) if row else None

    async def set_admin(self, user_id: int, is_admin: bool, now: float, audit: Sequence[AuditEntry] = ()) -> None:
        await self._write(
            [
                ("UPDATE users SET is_admin = ?, date_updated = ? WHERE id = ?", (int(is_admin), now, user_id), False),
                *audit_statements(audit),
            ]
        )

    async def list_users(self, only_id: int | None, limit: int, offset: int) -> tuple[list[User], int]:
        """Users newest first; only_id restricts the list to one user."""
        where, params = ("id = ?", (only_id,)) if only_id is not None else ("1", ())
        return await self._page(USER_COLUMNS, "users", where, params, "id DESC", limit, offset, user_from_row)

    async def user_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._fetchone(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?", (username,))
        return (user_from_row(row), row[6]) if row else None

    async def replace_password_hash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        async def run() -> bool:
            cursor = await self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", (new_hash, user_id, old_hash)
            )
            replaced = cursor.rowcount == 1
            await cursor.close()
            return replaced

        return await self._transaction(run)

    async def create_token(
        self, user_id: int, token_hash: str, now: float, expires_at: float, audit: AuditFor | None = None
    ) -> int:
        return await self._insert_audited(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (user_id, token_hash, now, expires_at),
            audit,
        )

    async def user_for_token(self, token_hash: str, now: float) -> tuple[User, float] | None:
        """The unexpired token's user and the token's expires_at (callers that cache it must honour it)."""
        row = await self._fetchone(
            f"SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))}, t.expires_at FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.expires_at > ?",
            (token_hash, now),
        )
        return (user_from_row(row), row[6]) if row else None

    async def list_tokens(
        self, user_id: int, current_hash: str, now: float, limit: int, offset: int
    ) -> tuple[list[TokenInfo], int]:
        """The user's unexpired tokens (never their hashes), marking the one in use."""
        return await self._page(
            "id, created_at, expires_at, token_hash = ?",
            "tokens",
            "user_id = ? AND expires_at > ?",
            (user_id, now),
            "id DESC",
            limit,
            offset,
            lambda r: TokenInfo(r[0], r[1], r[2], bool(r[3])),
            column_params=(current_hash,),
        )

    async def delete_user_token(self, user_id: int, token_id: int, audit: Sequence[AuditEntry] = ()) -> bool:
        deleted = await self._delete_audited(
            "DELETE FROM tokens WHERE id = ? AND user_id = ?", (token_id, user_id), audit
        )
        return deleted > 0

    async def delete_user_tokens(self, user_id: int, audit: Sequence[AuditEntry] = ()) -> None:
        # The row is written even when the user held no token: the revocation was asked for and done.
        await self._write([("DELETE FROM tokens WHERE user_id = ?", (user_id,), False), *audit_statements(audit)])

    async def prune_tokens(self, now: float) -> None:
        await self._write([("DELETE FROM tokens WHERE expires_at <= ?", (now,), False)])

    async def delete_token(self, token_hash: str, audit: Sequence[AuditEntry] = ()) -> None:
        await self._delete_audited("DELETE FROM tokens WHERE token_hash = ?", (token_hash,), audit)

    async def user_group_ids(self, user_id: int) -> list[int]:
        rows = await self._fetchall("SELECT group_id FROM user_groups WHERE user_id = ? ORDER BY group_id", (user_id,))
        return [r[0] for r in rows]

    async def list_groups(self, limit: int, offset: int) -> tuple[list[Group], int]:
        return await self._page("id, name", "groups", "1", (), "id DESC", limit, offset, lambda r: Group(r[0], r[1]))

    async def get_group(self, group_id: int) -> Group | None:
        row = await self._fetchone("SELECT id, name FROM groups WHERE id = ?", (group_id,))
        return Group(row[0], row[1]) if row else None
