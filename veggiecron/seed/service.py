"""The Seed Scheduler API's domain: schedules, failed tasks and webhooks, as translations onto jobs.

A schedule is an ordinary http job (verb POST, the payload as JSON body, the auth token as a
secret Authorization header) plus a Seed row that remembers the Seed fields; runs, history, metrics
and the scheduler are the same as for every other job. The auth token is stored sealed in both
(sealed.py) and answered as "********".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from ..audit import Actor
from ..clock import Clock
from ..config import Config
from ..errors import Invalid
from ..jobs import JobService
from ..model import FailedTask, Job, SeedFields, User, Webhook
from ..sealed import VERSION, SecretBox
from ..store import SeedStore
from .validation import HIDDEN_TOKEN, SCHEDULE_ADDED, hook_fields, job_name, schedule_text, seed_fields, validated

logger = logging.getLogger(__name__)


class Notifying(Protocol):
    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        """POST a small JSON event once (signed with the owner's signing secrets); None when delivered."""


class SeedService:
    """Schedules, failed tasks and webhooks of the Seed Scheduler API."""

    def __init__(self, jobs: JobService, store: SeedStore, runner: Notifying, config: Config, clock: Clock) -> None:
        self.jobs = jobs
        self.store = store
        self.runner = runner
        self.config = config
        self.clock = clock
        self.box = SecretBox.of(config.security.secrets_key, config.app.key)  # auth tokens are stored sealed
        self._tasks: set[asyncio.Task[Any]] = set()

    # schedules

    def _sealed(self, seed: SeedFields, job: Job | None, given: bool) -> tuple[SeedFields, object]:
        """The Seed fields with their auth token sealed, and the job's Authorization header value:
        a token given as a secret, the stored one kept as {"secret": "set"} (unchanged in the job).

        given: the token is the request's (plain), not the stored one (sealed, or plain when it
        was stored before tokens were sealed: sealed now)."""
        token = seed.auth_token
        if token is None:
            return seed, None
        if not given:
            header = job.data.get("headers", {}).get("Authorization") if job is not None else None
            if token.startswith(VERSION) and isinstance(header, dict):
                return seed, {"secret": "set"}
            token = self.box.open(token) if token.startswith(VERSION) else token
        return replace(seed, auth_token=self.box.seal(token)), {"secret": f"Token {token}"}

    def _job_data(self, seed: SeedFields, authorization: object) -> dict[str, Any]:
        data: dict[str, Any] = {
            "url": seed.endpoint,
            "verb": "POST",
            "json": seed.payload,
            "timeout": self.config.seed.request_timeout_seconds,
            "retries": self.config.seed.retries,
            # Seed Scheduler retries every non-2xx answer, 4xx included.
            "retry_on": list(range(400, 500)),
            # Like Seed's Celery tasks, each due time is delivered even while an earlier one retries.
            "enable_shadows": True,
        }
        if authorization is not None:
            data["headers"] = {"Authorization": authorization}
        return data

    async def create(
        self,
        user: User,
        fields: dict[str, Any],
        describe: Callable[[Job, SeedFields], dict[str, Any]],
        actor: Actor | None = None,
    ) -> tuple[Job, SeedFields]:
        """Create a schedule; its owner's schedule.added webhooks get `describe(job, seed)`."""
        seed, frequency, enabled = validated(fields, None)
        seed, authorization = self._sealed(replace(seed, created_by=user.id, updated_by=user.id), None, True)
        with seed_fields(seed):
            job = await self.jobs.create_job(
                user,
                name=job_name(seed.uuid),
                data=self._job_data(seed, authorization),
                schedule=schedule_text(seed.cron_definition, seed.interval_definition),
                enabled=enabled,
                max_runs=frequency,
                keep_failures=True,
                seed=seed,
                actor=actor,
            )
        self._spawn(self._announce(user, job, describe(job, seed)))
        return job, seed

    async def get(self, user: User, schedule_id: str) -> tuple[Job, SeedFields]:
        job, seed = await self.store.get_seed(user.id, schedule_id)
        return self.jobs.current(job), seed

    async def list_schedules(self, user: User, limit: int, offset: int) -> tuple[list[tuple[Job, SeedFields]], int]:
        items, count = await self.store.list_seeds(user.id, limit, offset)
        return [(self.jobs.current(job), seed) for job, seed in items], count

    async def update(
        self, user: User, schedule_id: str, fields: dict[str, Any], partial: bool, actor: Actor | None = None
    ) -> tuple[Job, SeedFields]:
        await self.jobs.flush()
        job, current = await self.store.get_seed(user.id, schedule_id)
        if not partial and "endpoint" not in fields:
            raise Invalid("endpoint", "This field is required.")
        seed, frequency, enabled = validated(fields, current)
        seed, authorization = self._sealed(
            replace(seed, updated_by=user.id), job, fields.get("auth_token", HIDDEN_TOKEN) != HIDDEN_TOKEN
        )
        with seed_fields(seed):
            changed = await self.jobs.change(
                user,
                job,
                data=self._job_data(seed, authorization),
                schedule=schedule_text(seed.cron_definition, seed.interval_definition),
                zone="UTC",
                enabled=enabled if "enabled" in fields else job.enabled,
                max_runs=frequency if "frequency" in fields else job.max_runs,
                seed=seed,
                actor=actor,
            )
        return changed, seed

    async def delete(self, user: User, schedule_id: str, actor: Actor | None = None) -> None:
        job, _seed = await self.store.get_seed(user.id, schedule_id)
        await self.jobs.delete(user, job.name, actor)

    # failed tasks

    async def failures(self, user: User, limit: int, offset: int) -> tuple[list[FailedTask], int]:
        return await self.store.list_failures(user.id, limit, offset)

    async def failure(self, user: User, failure_id: int) -> FailedTask:
        return await self.store.get_failure(user.id, failure_id)

    async def schedule_ids(self, job_ids: list[int]) -> dict[int, str]:
        """The schedule id of each of these jobs that is a Seed schedule."""
        return await self.store.seed_uuids(job_ids)

    async def requeue(self, user: User) -> int:
        """Deliver each failed task once more; one that fails again is recorded anew."""
        await self.jobs.flush()
        taken = await self.store.take_failures(user.id)
        for failure, job in taken:
            logger.info("job %d (%s): requeueing failed task %s", job.id, job.name, failure.task_id)
            self._spawn(self.jobs.deliver(job))
        return len(taken)

    # webhooks

    async def create_webhook(self, user: User, fields: dict[str, Any]) -> Webhook:
        event, target = hook_fields(fields, None)
        return await self.store.create_webhook(user.id, event, target, self.clock.now())

    async def webhooks(self, user: User, limit: int, offset: int) -> tuple[list[Webhook], int]:
        return await self.store.list_webhooks(user.id, limit, offset)

    async def webhook(self, user: User, hook_id: int) -> Webhook:
        return await self.store.get_webhook(user.id, hook_id)

    async def update_webhook(self, user: User, hook_id: int, fields: dict[str, Any], partial: bool) -> Webhook:
        hook = await self.store.get_webhook(user.id, hook_id)
        if not partial:
            for name in ("event", "target"):
                if name not in fields:
                    raise Invalid(name, "This field is required.")
        event, target = hook_fields(fields, hook)
        changed = replace(hook, event=event, target=target, updated=self.clock.now())
        await self.store.update_webhook(changed)
        return changed

    async def delete_webhook(self, user: User, hook_id: int) -> None:
        hook = await self.store.get_webhook(user.id, hook_id)
        await self.store.delete_webhook(hook.id)

    async def _announce(self, user: User, job: Job, data: dict[str, Any]) -> None:
        """POST schedule.added to the owner's webhooks; failures are logged, never retried."""
        hooks = await self.store.webhooks_for(user.id, SCHEDULE_ADDED)
        if not hooks:
            return
        data = {k: v for k, v in data.items() if k != "auth_token"}
        headers = {}
        if self.config.seed.hook_auth_token:
            headers["Authorization"] = f"Token {self.config.seed.hook_auth_token}"
        for hook in hooks:
            body = {"hook": {"id": hook.id, "event": hook.event, "target": hook.target}, "data": data}
            timeout = self.config.seed.request_timeout_seconds
            error = await self.runner.notify(hook.target, body, headers, timeout, user.id)  # signed as its jobs are
            if error is None:
                logger.info("webhook %d: schedule.added delivered for job %d", hook.id, job.id)
            else:
                logger.warning("webhook %d: schedule.added for job %d not delivered: %s", hook.id, job.id, error)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float) -> None:
        """Give webhook deliveries and requeues in flight `grace` seconds."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
