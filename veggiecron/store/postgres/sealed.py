"""Sealed secrets in PostgreSQL: a sample for the start's key check, and rotate-secrets-key's rewrite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ...sealed_columns import SealedColumn, SealedSample
from .connection import PostgresConnection

# A job's data that may hold a secret (the type tells for sure: see JobTypes.map_secrets).
_HOLDS_SECRET = '%"sealed"%'


class PostgresSealedValues(PostgresConnection):
    async def sealed_sample(self, columns: Sequence[SealedColumn]) -> SealedSample:
        values = []
        for c in columns:  # names from SEALED_COLUMNS, never from a request
            found = await self._fetchval(f"SELECT {c.column} FROM {c.table} WHERE {c.column} LIKE 'v1:%' LIMIT 1")
            if found is not None:
                values.append(found)
        job = await self._fetchrow("SELECT type, data::text FROM jobs WHERE data::text LIKE $1 LIMIT 1", _HOLDS_SECRET)
        return SealedSample(values, None if job is None else (job[0], orjson.loads(job[1])))

    async def reseal(
        self,
        columns: Sequence[SealedColumn],
        value: Callable[[str], str],
        job_data: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> int:
        changed = 0
        async with self._transaction() as conn:
            for c in columns:
                rows = await conn.fetch(
                    f"SELECT {c.key}, {c.column} FROM {c.table} WHERE {c.column} IS NOT NULL FOR UPDATE"
                )
                updates = [(value(row[1]), row[0]) for row in rows]
                await conn.executemany(f"UPDATE {c.table} SET {c.column} = $1 WHERE {c.key} = $2", updates)
                changed += len(updates)
            rows = await conn.fetch(
                "SELECT id, type, data::text FROM jobs WHERE data::text LIKE $1 FOR UPDATE", _HOLDS_SECRET
            )
            for job_id, job_type, text in rows:
                data = orjson.loads(text)
                new = job_data(job_type, data)
                if new is not data:
                    await conn.execute(
                        "UPDATE jobs SET data = $1::json WHERE id = $2", orjson.dumps(new).decode(), job_id
                    )
                    changed += 1
        return changed
