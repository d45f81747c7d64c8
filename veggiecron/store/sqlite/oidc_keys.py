"""The server's OIDC signing keys in SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...audit import AuditEntry
from ...oidc_keys import OidcKey
from .audit import audit_statements
from .connection import SqliteConnection

_COLUMNS = "id, kid, private_key, public_jwk, created_at, retired_at"


class SqliteOidcKeys(SqliteConnection):
    async def all_oidc_keys(self) -> list[OidcKey]:
        return [OidcKey(*row) for row in await self._fetchall(f"SELECT {_COLUMNS} FROM oidc_keys ORDER BY id")]

    async def add_oidc_key(
        self,
        kid: str,
        private_key: str,
        public_jwk: str,
        now: float,
        retire_others: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        # The first key (retire_others false) only while there is no active key: servers that
        # start at once agree on one.
        first = "" if retire_others else " WHERE NOT EXISTS (SELECT 1 FROM oidc_keys WHERE retired_at IS NULL)"
        statements: list[tuple[str, Any, bool]] = [
            (
                f"INSERT INTO oidc_keys (kid, private_key, public_jwk, created_at) SELECT ?, ?, ?, ?{first}",
                (kid, private_key, public_jwk, now),
                False,
            )
        ]
        if retire_others:
            statements.insert(0, ("UPDATE oidc_keys SET retired_at = ? WHERE retired_at IS NULL", (now,), False))
        await self._write(statements + audit_statements(audit))
