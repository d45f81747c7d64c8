"""The Seed Scheduler API's domain: schedules, failed tasks and webhooks, as translations onto jobs.

A schedule is an ordinary http job (verb POST, the payload as JSON body, the auth token as an
Authorization header) plus a seed_schedules row that remembers the Seed fields; runs, history,
metrics and the scheduler are the same as for every other job.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid as uuid_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from .config import Config
from .errors import Invalid
from .jobs import JobService, parse_bool
from .model import FailedTask, Job, SeedFields, User, Webhook
from .runners.http import HttpRunner
from .scheduler import Clock
from .schedules import MAX_INTERVAL_SECONDS, Cron, parse_schedule
from .store import SqliteStore

logger = logging.getLogger(__name__)

SCHEDULE_ADDED = "schedule.added"
WEBHOOK_EVENTS = (SCHEDULE_ADDED,)
INTERVAL_UNITS = {
    "days": Fraction(86400),
    "hours": Fraction(3600),
    "minutes": Fraction(60),
    "seconds": Fraction(1),
    "microseconds": Fraction(1, 1_000_000),
}
_INTERVAL = re.compile(r"^\s*(\d+)\s+(\S+)\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SCHEDULE_FIELDS = (
    "frequency",
    "cron_definition",
    "interval_definition",
    "endpoint",
    "payload",
    "auth_token",
    "enabled",
)


# Errors of the job underneath, named as the Seed field the client sent.
SEED_FIELD_OF = {
    "data.url": "endpoint",
    "data.headers": "auth_token",
    "data.json": "payload",
    "max_runs": "frequency",
}


def job_name(schedule_uuid: str) -> str:
    return f"seed-{schedule_uuid}"


@contextmanager
def seed_fields(seed: SeedFields) -> Iterator[None]:
    """Rename errors raised for the job underneath to the Seed fields they came from."""
    try:
        yield
    except Invalid as exc:
        if exc.field == "schedule":
            field = "cron_definition" if seed.cron_definition is not None else "interval_definition"
        else:
            field = SEED_FIELD_OF.get(exc.field, exc.field)
        if field == exc.field:
            raise
        raise Invalid(field, exc.description) from None


def validate_email(value: object) -> str:
    if value is None or value == "":
        raise Invalid("email", "This field is required.")
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise Invalid("email", "Enter a valid email address.")
    return value


def interval_seconds(text: str) -> int:
    """Seconds of an interval definition such as '1 minutes'; raise Invalid('interval_definition')."""
    match = _INTERVAL.match(text)
    if match is None:
        raise Invalid(
            "interval_definition",
            f"{text} is not a valid interval string: integer and period "
            "(from: days, hours, minutes, seconds, microseconds) e.g. 1 minutes",
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit not in INTERVAL_UNITS:
        raise Invalid(
            "interval_definition",
            f"{text} is not a valid period. Accepted: days, hours, minutes, seconds, microseconds",
        )
    seconds = count * INTERVAL_UNITS[unit]
    if seconds < 1 or seconds.denominator != 1:
        raise Invalid("interval_definition", f"{text} must be a whole number of seconds, at least 1 second")
    if seconds > MAX_INTERVAL_SECONDS:
        raise Invalid("interval_definition", f"{text} is longer than {MAX_INTERVAL_SECONDS // 86400} days")
    return int(seconds)


def _optional_text(fields: dict[str, Any], name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(name, "Not a valid string.")
    if len(value) > limit:
        raise Invalid(name, f"Ensure this field has no more than {limit} characters.")
    return value


def _frequency(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid("frequency", "A valid integer is required.")
    if not 1 <= value <= 2**31 - 1:
        raise Invalid("frequency", "Ensure this value is greater than or equal to 1.")
    return value


def _enabled(value: object) -> bool:
    enabled = parse_bool(value)
    if enabled is None:
        raise Invalid("enabled", "Must be a valid boolean.")
    return enabled


def _endpoint(value: object) -> str:
    if value is None or value == "":
        raise Invalid("endpoint", "This field is required.")
    if not isinstance(value, str):
        raise Invalid("endpoint", "Not a valid string.")
    if len(value) > 500:
        raise Invalid("endpoint", "Ensure this field has no more than 500 characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise Invalid("endpoint", "Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in value for c in " \r\n\t\x00"):
        raise Invalid("endpoint", "Enter a valid URL.")
    return value


class SeedService:
    """Schedules, failed tasks and webhooks of the Seed Scheduler API."""

    def __init__(self, jobs: JobService, store: SqliteStore, runner: HttpRunner, config: Config, clock: Clock) -> None:
        self.jobs = jobs
        self.store = store
        self.runner = runner
        self.config = config
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()

    # schedules

    def _schedule_text(self, cron: str | None, interval: str | None) -> str:
        if (cron is None) == (interval is None):
            raise Invalid("non_field_errors", "Give exactly one of cron_definition and interval_definition.")
        if cron is not None:
            try:
                parsed = parse_schedule(cron)
            except Invalid as exc:
                reason = exc.description.split(". A schedule is one of")[0]
                raise Invalid("cron_definition", f"{cron} is not a valid crontab string: {reason}") from None
            if not isinstance(parsed, Cron):
                raise Invalid("cron_definition", f"{cron} is not a valid crontab string: five fields are needed")
            return parsed.format()
        assert interval is not None
        return f"every {interval_seconds(interval)} seconds"

    def _job_data(self, seed: SeedFields) -> dict[str, Any]:
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
        if seed.auth_token is not None:
            data["headers"] = {"Authorization": f"Token {seed.auth_token}"}
        return data

    def _validated(self, fields: dict[str, Any], current: SeedFields | None) -> tuple[SeedFields, int | None, bool]:
        """Merge the request's fields over the current schedule (None: a new one) and validate them."""
        present = {k: v for k, v in fields.items() if k in SCHEDULE_FIELDS}
        base = current or SeedFields(str(uuid_module.uuid4()), None, None, "", None, {}, None, None)
        endpoint = _endpoint(present.get("endpoint")) if "endpoint" in present or current is None else base.endpoint
        cron = _optional_text(present, "cron_definition", 500) if "cron_definition" in present else base.cron_definition
        interval = (
            _optional_text(present, "interval_definition", 100)
            if "interval_definition" in present
            else base.interval_definition
        )
        auth_token = _optional_text(present, "auth_token", 500) if "auth_token" in present else base.auth_token
        if auth_token is not None and any(c in auth_token for c in "\r\n\x00"):
            raise Invalid("auth_token", "auth_token must not contain line breaks.")
        payload = present.get("payload", base.payload)
        seed = replace(
            base,
            endpoint=endpoint,
            cron_definition=cron,
            interval_definition=interval,
            auth_token=auth_token,
            payload=payload,
        )
        frequency = _frequency(present.get("frequency")) if "frequency" in present else None
        enabled = _enabled(present["enabled"]) if "enabled" in present else True
        return seed, frequency, enabled

    async def create(
        self, user: User, fields: dict[str, Any], describe: Callable[[Job, SeedFields], dict[str, Any]]
    ) -> tuple[Job, SeedFields]:
        """Create a schedule; its owner's schedule.added webhooks get `describe(job, seed)`."""
        seed, frequency, enabled = self._validated(fields, None)
        seed = replace(seed, created_by=user.id, updated_by=user.id)
        with seed_fields(seed):
            job = await self.jobs.create_job(
                user,
                name=job_name(seed.uuid),
                data=self._job_data(seed),
                schedule=self._schedule_text(seed.cron_definition, seed.interval_definition),
                enabled=enabled,
                max_runs=frequency,
                keep_failures=True,
                seed=seed,
            )
        self._spawn(self._announce(user, job, describe(job, seed)))
        return job, seed

    async def get(self, user: User, schedule_id: str) -> tuple[Job, SeedFields]:
        job, seed = await self.store.get_seed(user.id, schedule_id)
        return self.jobs.scheduler.current(job), seed

    async def list_schedules(self, user: User, limit: int, offset: int) -> tuple[list[tuple[Job, SeedFields]], int]:
        items, count = await self.store.list_seeds(user.id, limit, offset)
        return [(self.jobs.scheduler.current(job), seed) for job, seed in items], count

    async def update(
        self, user: User, schedule_id: str, fields: dict[str, Any], partial: bool
    ) -> tuple[Job, SeedFields]:
        await self.jobs.scheduler.flush()
        job, current = await self.store.get_seed(user.id, schedule_id)
        if not partial and "endpoint" not in fields:
            raise Invalid("endpoint", "This field is required.")
        seed, frequency, enabled = self._validated(fields, current)
        seed = replace(seed, updated_by=user.id)
        with seed_fields(seed):
            changed = await self.jobs.change(
                job,
                data=self._job_data(seed),
                schedule=self._schedule_text(seed.cron_definition, seed.interval_definition),
                zone="UTC",
                enabled=enabled if "enabled" in fields else job.enabled,
                max_runs=frequency if "frequency" in fields else job.max_runs,
                seed=seed,
            )
        return changed, seed

    async def delete(self, user: User, schedule_id: str) -> None:
        job, _seed = await self.store.get_seed(user.id, schedule_id)
        await self.jobs.delete(user, job.name)

    # failed tasks

    async def failures(self, user: User, limit: int, offset: int) -> tuple[list[FailedTask], int]:
        return await self.store.list_failures(user.id, limit, offset)

    async def failure(self, user: User, failure_id: int) -> FailedTask:
        return await self.store.get_failure(user.id, failure_id)

    async def requeue(self, user: User) -> int:
        """Deliver each failed task once more; one that fails again is recorded anew."""
        await self.jobs.scheduler.flush()
        taken = await self.store.take_failures(user.id)
        for failure, job in taken:
            logger.info("job %d: requeueing failed task %s", job.id, failure.task_id)
            self._spawn(self.jobs.scheduler.deliver(job))
        return len(taken)

    # webhooks

    def _hook_fields(self, fields: dict[str, Any], current: Webhook | None) -> tuple[str, str]:
        event = fields.get("event", current.event if current else None)
        target = fields.get("target", current.target if current else None)
        if event is None or event == "":
            raise Invalid("event", "This field is required.")
        if event not in WEBHOOK_EVENTS:
            raise Invalid("event", f'"{str(event)[:64]}" is not a valid choice. Events: {", ".join(WEBHOOK_EVENTS)}')
        if target is None or target == "":
            raise Invalid("target", "This field is required.")
        if not isinstance(target, str) or len(target) > 255:
            raise Invalid("target", "Enter a valid URL.")
        try:
            _endpoint(target)
        except Invalid:
            raise Invalid("target", "Enter a valid URL.") from None
        return event, target

    async def create_webhook(self, user: User, fields: dict[str, Any]) -> Webhook:
        event, target = self._hook_fields(fields, None)
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
        event, target = self._hook_fields(fields, hook)
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
            error = await self.runner.notify(hook.target, body, headers, self.config.seed.request_timeout_seconds)
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
