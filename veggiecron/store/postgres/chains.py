"""Chains of jobs in PostgreSQL: the followers of a job, read and disabled (store.chain_contract).

The triggers themselves are written with the parent's result (finish.py) and claimed like due
slots (claims.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...audit import AuditEntry
from ...model import Job
from ..rows import JOB_COLUMNS, job_from_row
from .audit import write_audit
from .connection import PostgresConnection


class PostgresChains(PostgresConnection):
    async def follower_jobs(self) -> list[Job]:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE after_on IS NOT NULL ORDER BY id")
        return [job_from_row(row) for row in rows]

    async def followers_of(self, job_id: int) -> list[Job]:
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE after_job = $1 ORDER BY name", job_id)
        return [job_from_row(row) for row in rows]

    async def job_name(self, job_id: int) -> str | None:
        name = await self._fetchval("SELECT name FROM jobs WHERE id = $1", job_id)
        return None if name is None else str(name)

    async def delete_job_disabling(
        self, job_id: int, followers: Sequence[int], now: float, audit: Sequence[AuditEntry] = ()
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET enabled = false, version = version + 1, date_updated = $1 "
                "WHERE id = ANY($2::bigint[]) AND after_job = $3",
                now,
                list(followers),
                job_id,
            )
            await conn.execute("DELETE FROM jobs WHERE id = $1", job_id)
            await write_audit(conn, audit)
