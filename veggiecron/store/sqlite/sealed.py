"""Sealed secrets in SQLite: a sample for the start's key check, and rotate-secrets-key's rewrite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ...sealed_columns import SealedColumn, SealedSample
from .connection import SqliteConnection

# A job's data that may hold a secret (the type tells for sure: see JobTypes.map_secrets).
_HOLDS_SECRET = '%"sealed"%'


class SqliteSealedValues(SqliteConnection):
    async def sealed_sample(self, columns: Sequence[SealedColumn]) -> SealedSample:
        values = []
        for c in columns:  # names from SEALED_COLUMNS, never from a request
            row = await self._fetchone(f"SELECT {c.column} FROM {c.table} WHERE {c.column} LIKE 'v1:%' LIMIT 1")
            if row is not None:
                values.append(row[0])
        job = await self._fetchone("SELECT type, data FROM jobs WHERE data LIKE ? LIMIT 1", (_HOLDS_SECRET,))
        return SealedSample(values, None if job is None else (job[0], orjson.loads(job[1])))

    async def reseal(
        self,
        columns: Sequence[SealedColumn],
        value: Callable[[str], str],
        job_data: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> int:
        async def run() -> int:
            changed = 0
            for c in columns:
                rows = await self.db.execute_fetchall(
                    f"SELECT {c.key}, {c.column} FROM {c.table} WHERE {c.column} IS NOT NULL"
                )
                updates = [(value(stored), key) for key, stored in rows]
                await self.db.executemany(f"UPDATE {c.table} SET {c.column} = ? WHERE {c.key} = ?", updates)
                changed += len(updates)
            rows = await self.db.execute_fetchall("SELECT id, type, data FROM jobs WHERE data LIKE ?", (_HOLDS_SECRET,))
            for job_id, job_type, text in rows:
                data = orjson.loads(text)
                new = job_data(job_type, data)
                if new is not data:
                    await self.db.execute("UPDATE jobs SET data = ? WHERE id = ?", (orjson.dumps(new).decode(), job_id))
                    changed += 1
            return changed

        return await self._transaction(run)
