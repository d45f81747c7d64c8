"""Users, tokens (keyed hashes only) and groups in PostgreSQL."""

from __future__ import annotations

import asyncpg

from ...errors import Conflict
from ...model import Group, TokenInfo, User
from ..rows import USER_COLUMNS, user_from_row
from .connection import PostgresConnection

USER_COLUMNS_U = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))


class PostgresAccounts(PostgresConnection):
    async def create_user(
        self, username: str, password_hash: str, now: float, is_admin: bool = False, email: str = ""
    ) -> User:
        try:
            user_id = await self._fetchval(
                "INSERT INTO users (username, password_hash, is_admin, date_created, date_updated, email) "
                "VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
                username,
                password_hash,
                is_admin,
                now,
                email,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"the username {username!r} is taken", {"field": "username"}) from None
        return User(user_id, username, is_admin, now, now, email)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return user_from_row(row) if row else None

    async def set_admin(self, user_id: int, is_admin: bool, now: float) -> None:
        await self._execute("UPDATE users SET is_admin = $2, date_updated = $3 WHERE id = $1", user_id, is_admin, now)

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

    async def create_token(self, user_id: int, token_hash: str, now: float, expires_at: float) -> None:
        await self._execute(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            user_id,
            token_hash,
            now,
            expires_at,
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

    async def delete_user_token(self, user_id: int, token_id: int) -> bool:
        status = await self._execute("DELETE FROM tokens WHERE id = $1 AND user_id = $2", token_id, user_id)
        return status != "DELETE 0"

    async def delete_token(self, token_hash: str) -> None:
        await self._execute("DELETE FROM tokens WHERE token_hash = $1", token_hash)

    async def delete_user_tokens(self, user_id: int) -> None:
        await self._execute("DELETE FROM tokens WHERE user_id = $1", user_id)

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
