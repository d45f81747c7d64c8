"""Chains of jobs in SQLite: the followers of a job, read and disabled (store.chain_contract)."""

from __future__ import annotations

from collections.abc import Sequence

from ...audit import AuditEntry
from ...model import Job
from ..rows import JOB_COLUMNS, job_from_row
from .audit import audit_statements
from .connection import SqliteConnection


class SqliteChains(SqliteConnection):
    async def follower_jobs(self) -> list[Job]:
        rows = await self._fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE after_on IS NOT NULL ORDER BY id")
        return [job_from_row(row) for row in rows]

    async def followers_of(self, job_id: int) -> list[Job]:
        rows = await self._fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE after_job = ? ORDER BY name", (job_id,))
        return [job_from_row(row) for row in rows]

    async def job_name(self, job_id: int) -> str | None:
        row = await self._fetchone("SELECT name FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else str(row[0])

    async def delete_job_disabling(
        self, job_id: int, followers: Sequence[int], now: float, audit: Sequence[AuditEntry] = ()
    ) -> None:
        await self._write(
            [
                (
                    "UPDATE jobs SET enabled = 0, version = version + 1, date_updated = ? "
                    "WHERE id = ? AND after_job = ?",
                    [(now, follower, job_id) for follower in followers],
                    True,
                ),
                ("DELETE FROM jobs WHERE id = ?", (job_id,), False),
                *audit_statements(audit),
            ]
        )
