"""The server's OIDC signing keys in PostgreSQL (shared by every node)."""

from __future__ import annotations

from collections.abc import Sequence

from ...audit import AuditEntry
from ...oidc_keys import OidcKey
from .audit import write_audit
from .connection import PostgresConnection

_COLUMNS = "id, kid, private_key, public_jwk, created_at, retired_at"


OIDC_KEYS_LOCK = 0x76636F69  # an advisory lock of its own ("vcoi")


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
            # One key change at a time across nodes: nodes starting at once agree on one first key.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", OIDC_KEYS_LOCK)
            if retire_others:
                await conn.execute("UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL", now)
            elif await conn.fetchval("SELECT EXISTS (SELECT 1 FROM oidc_keys WHERE retired_at IS NULL)"):
                return  # the first key: another node made it meanwhile
            await conn.execute(
                "INSERT INTO oidc_keys (kid, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)",
                kid,
                private_key,
                public_jwk,
                now,
            )
            await write_audit(conn, audit)
