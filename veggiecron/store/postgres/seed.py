"""The Seed Scheduler API's records in PostgreSQL: schedules, failed tasks, webhooks."""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import NotFound
from ...model import FailedTask, Job, SeedFields, Webhook
from ..rows import (
    FAILED_COLUMNS,
    JOB_COLUMN_COUNT,
    JOB_COLUMNS_J,
    SEED_COLUMNS,
    WEBHOOK_COLUMNS,
    failed_from_row,
    job_from_row,
    seed_from_row,
    webhook_from_row,
)
from .connection import PostgresConnection


class PostgresSeedRecords(PostgresConnection):
    async def get_seed(self, user_id: int, uuid: str) -> tuple[Job, SeedFields]:
        row = await self._fetchrow(
            f"SELECT {JOB_COLUMNS_J}, {SEED_COLUMNS} FROM seed_schedules s JOIN jobs j ON j.id = s.job_id "
            "WHERE s.uuid = $1 AND j.user_id = $2",
            uuid,
            user_id,
        )
        if row is None:
            raise NotFound("Not found.")
        return job_from_row(row), seed_from_row(row[JOB_COLUMN_COUNT:])

    async def list_seeds(self, user_id: int, limit: int, offset: int) -> tuple[list[tuple[Job, SeedFields]], int]:
        return await self._page(
            f"{JOB_COLUMNS_J}, {SEED_COLUMNS}",
            "seed_schedules s JOIN jobs j ON j.id = s.job_id",
            "j.user_id = $1",
            (user_id,),
            "j.date_created DESC, j.id DESC",
            limit,
            offset,
            lambda r: (job_from_row(r), seed_from_row(r[JOB_COLUMN_COUNT:])),
        )

    async def seed_uuids(self, job_ids: Sequence[int]) -> dict[int, str]:
        if not job_ids:
            return {}
        rows = await self._fetch(
            "SELECT job_id, uuid FROM seed_schedules WHERE job_id = ANY($1::bigint[])", list(job_ids)
        )
        return {r[0]: r[1] for r in rows}

    async def list_failures(self, user_id: int, limit: int, offset: int) -> tuple[list[FailedTask], int]:
        return await self._page(
            FAILED_COLUMNS,
            "failed_tasks f JOIN jobs j ON j.id = f.job_id",
            "j.user_id = $1",
            (user_id,),
            "f.id DESC",
            limit,
            offset,
            failed_from_row,
        )

    async def get_failure(self, user_id: int, failure_id: int) -> FailedTask:
        row = await self._fetchrow(
            f"SELECT {FAILED_COLUMNS} FROM failed_tasks f JOIN jobs j ON j.id = f.job_id "
            "WHERE f.id = $1 AND j.user_id = $2",
            failure_id,
            user_id,
        )
        if row is None:
            raise NotFound("Not found.")
        return failed_from_row(row)

    async def take_failures(self, user_id: int) -> list[tuple[FailedTask, Job]]:
        # Deleted and read in one statement: two requeues at once on two nodes never both take a task.
        async with self._transaction() as conn:
            rows = await conn.fetch(
                f"WITH taken AS (DELETE FROM failed_tasks f USING jobs j WHERE j.id = f.job_id AND j.user_id = $1 "
                f"RETURNING {FAILED_COLUMNS}) SELECT taken.*, {JOB_COLUMNS_J} FROM taken JOIN jobs j "
                "ON j.id = taken.job_id ORDER BY taken.id",
                user_id,
            )
        return [(failed_from_row(r), job_from_row(r[5:])) for r in rows]

    async def create_webhook(self, user_id: int, event: str, target: str, now: float) -> Webhook:
        hook_id = await self._fetchval(
            "INSERT INTO webhooks (user_id, event, target, created, updated) VALUES ($1, $2, $3, $4, $4) RETURNING id",
            user_id,
            event,
            target,
            now,
        )
        return Webhook(hook_id, user_id, event, target, now, now)

    async def list_webhooks(self, user_id: int, limit: int, offset: int) -> tuple[list[Webhook], int]:
        return await self._page(
            WEBHOOK_COLUMNS, "webhooks", "user_id = $1", (user_id,), "id DESC", limit, offset, webhook_from_row
        )

    async def get_webhook(self, user_id: int, hook_id: int) -> Webhook:
        row = await self._fetchrow(
            f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND user_id = $2", hook_id, user_id
        )
        if row is None:
            raise NotFound("Not found.")
        return webhook_from_row(row)

    async def update_webhook(self, hook: Webhook) -> None:
        await self._execute(
            "UPDATE webhooks SET event = $2, target = $3, updated = $4 WHERE id = $1",
            hook.id,
            hook.event,
            hook.target,
            hook.updated,
        )

    async def delete_webhook(self, hook_id: int) -> None:
        await self._execute("DELETE FROM webhooks WHERE id = $1", hook_id)

    async def webhooks_for(self, user_id: int, event: str) -> list[Webhook]:
        rows = await self._fetch(
            f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE user_id = $1 AND event = $2 ORDER BY id", user_id, event
        )
        return [webhook_from_row(r) for r in rows]
