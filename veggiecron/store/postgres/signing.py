"""Users' signing secrets in PostgreSQL."""

from __future__ import annotations

from ...errors import NotFound
from ...signing import SigningSecret
from .connection import PostgresConnection

_COLUMNS = "id, user_id, secret, date_created"


class PostgresSigningSecrets(PostgresConnection):
    async def create_signing_secret(self, user_id: int, secret: str, now: float) -> SigningSecret:
        secret_id = await self._fetchval(
            "INSERT INTO signing_secrets (user_id, secret, date_created) VALUES ($1, $2, $3) RETURNING id",
            user_id,
            secret,
            now,
        )
        return SigningSecret(secret_id, user_id, secret, now)

    async def list_signing_secrets(self, user_id: int) -> list[SigningSecret]:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM signing_secrets WHERE user_id = $1 ORDER BY id", user_id)
        return [SigningSecret(*row) for row in rows]

    async def all_signing_secrets(self) -> list[SigningSecret]:
        return [SigningSecret(*row) for row in await self._fetch(f"SELECT {_COLUMNS} FROM signing_secrets ORDER BY id")]

    async def delete_signing_secret(self, user_id: int, secret_id: int) -> None:
        status = await self._execute("DELETE FROM signing_secrets WHERE id = $1 AND user_id = $2", secret_id, user_id)
        if status == "DELETE 0":
            raise NotFound(f"no signing secret {secret_id}", {"id": secret_id})
