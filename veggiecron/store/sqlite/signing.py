"""Users' signing secrets in SQLite."""

from __future__ import annotations

from ...errors import NotFound
from ...signing import SigningSecret
from .connection import SqliteConnection

_COLUMNS = "id, user_id, secret, date_created"


class SqliteSigningSecrets(SqliteConnection):
    async def create_signing_secret(self, user_id: int, secret: str, now: float) -> SigningSecret:
        (secret_id,) = await self._write(
            [
                (
                    "INSERT INTO signing_secrets (user_id, secret, date_created) VALUES (?, ?, ?)",
                    (user_id, secret, now),
                    False,
                )
            ]
        )
        return SigningSecret(secret_id, user_id, secret, now)

    async def list_signing_secrets(self, user_id: int) -> list[SigningSecret]:
        rows = await self._fetchall(f"SELECT {_COLUMNS} FROM signing_secrets WHERE user_id = ? ORDER BY id", (user_id,))
        return [SigningSecret(*row) for row in rows]

    async def all_signing_secrets(self) -> list[SigningSecret]:
        return [
            SigningSecret(*row) for row in await self._fetchall(f"SELECT {_COLUMNS} FROM signing_secrets ORDER BY id")
        ]

    async def delete_signing_secret(self, user_id: int, secret_id: int) -> None:
        row = await self._fetchone("SELECT id FROM signing_secrets WHERE id = ? AND user_id = ?", (secret_id, user_id))
        if row is None:
            raise NotFound(f"no signing secret {secret_id}", {"id": secret_id})
        await self._write([("DELETE FROM signing_secrets WHERE id = ? AND user_id = ?", (secret_id, user_id), False)])
