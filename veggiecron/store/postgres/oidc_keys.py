"""The server's OIDC signing keys in PostgreSQL (shared by every node)."""

from __future__ import annotations

from collections.abc import Sequence

from ...audit import AuditEntry
from ...oidc_keys import OidcKey
from .audit import write_audit
from .connection import PostgresConnection

_COLUMNS = "id, kid, private_key, public_jwk, created_at, retired_at"


class PostgresOidcKeys(PostgresConnection):
    async def all_oidc_keys(self) -> list[OidcKey]:
        return [OidcKey(*row) for row in await self._fetch(f"SELECT {_COLUMNS} FROM oidc_keys ORDER BY id")]

    async def add_oidc_key(
        self,
        kid: str,
        private_key: str,
        public_jwk: str,
        now: float,
        retire_others: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        async with self._transaction() as conn:
            if retire_others:
                await conn.execute("UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL", now)
            await conn.execute(
                "INSERT INTO oidc_keys (kid, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)",
                kid,
                private_key,
                public_jwk,
                now,
            )
            await write_audit(conn, audit)
