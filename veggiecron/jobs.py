"""The jobs service: validation and the rules of a job's life, shared by every API."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .config import Config
from .errors import Invalid
from .model import HttpTarget, Job, Run, User
from .runners.http import parse_http_data
from .scheduler import Clock, Scheduler
from .schedules import Once, get_zone, parse_schedule
from .store import SqliteStore

JOB_TYPES = ("http",)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
CREATE_FIELDS = ("name", "type", "data", "schedule", "timezone", "enabled")
UPDATE_FIELDS = ("data", "schedule", "timezone", "enabled")
RECENT_RUNS = 10


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise Invalid("name", "name must be 1 to 128 characters: letters, digits, '_', '.', ':' or '-'")
    return name


def _validate_enabled(value: object) -> bool:
    if isinstance(value, bool):
        return value
    # Form posts carry text.
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise Invalid("enabled", "enabled must be true or false")


def _check_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in fields:
        if key not in allowed:
            raise Invalid(key, f"unknown or unchangeable field {key!r}; allowed: {', '.join(allowed)}")


class JobService:
    """Create, change, delete and trigger jobs; keeps the store and the scheduler in step."""

    def __init__(self, store: SqliteStore, scheduler: Scheduler, config: Config, clock: Clock) -> None:
        self.store = store
        self.scheduler = scheduler
        self.config = config
        self.clock = clock

    def build_target(self, job: Job) -> HttpTarget:
        return parse_http_data(job.data, self.config.http_client)

    async def create(self, user: User, fields: dict[str, Any]) -> Job:
        _check_fields(fields, CREATE_FIELDS)
        name = validate_name(fields.get("name"))
        job_type = fields.get("type", "http")
        if job_type not in JOB_TYPES:
            raise Invalid("type", f"type must be one of: {', '.join(JOB_TYPES)}")
        data = fields.get("data")
        parse_http_data(data, self.config.http_client)
        assert isinstance(data, dict)  # parse_http_data accepts only objects
        zone = fields.get("timezone", "UTC")
        get_zone(zone)
        schedule = parse_schedule(fields.get("schedule"), zone)
        enabled = _validate_enabled(fields.get("enabled", True))
        now = self.clock.now()
        anchor = now  # the interval grid starts at the creation instant
        job = await self.store.create_job(
            user_id=user.id,
            name=name,
            type=job_type,
            data=data,
            schedule=schedule.format(),
            timezone=zone,
            enabled=enabled,
            next_run=schedule.first_run(now, anchor),
            anchor=anchor,
            now=now,
        )
        self.scheduler.upsert(job)
        return job

    async def get(self, user: User, name: str) -> Job:
        return self.scheduler.current(await self.store.get_job(user.id, name))

    async def list_jobs(self, user: User, limit: int, offset: int) -> tuple[list[Job], int]:
        jobs, count = await self.store.list_jobs(user.id, limit, offset)
        return [self.scheduler.current(job) for job in jobs], count

    async def update(self, user: User, name: str, fields: dict[str, Any]) -> Job:
        _check_fields(fields, UPDATE_FIELDS)
        if not fields:
            raise Invalid("body", f"nothing to change; send any of: {', '.join(UPDATE_FIELDS)}")
        # Write the scheduler's queued next-run times first, so this read sees where the job stands.
        await self.scheduler.flush()
        job = await self.store.get_job(user.id, name)
        now = self.clock.now()
        data = fields.get("data", job.data)
        if "data" in fields:
            parse_http_data(data, self.config.http_client)
        zone = fields.get("timezone", job.timezone)
        get_zone(zone)
        schedule = parse_schedule(fields.get("schedule", job.schedule), zone)
        enabled = _validate_enabled(fields["enabled"]) if "enabled" in fields else job.enabled
        anchor, next_run = job.anchor, job.next_run
        if schedule.format() != job.schedule or zone != job.timezone:
            anchor = now  # the interval grid starts at the creation instant
            next_run = schedule.first_run(now, anchor)
        elif enabled and not job.enabled and not isinstance(schedule, Once):
            # Slots that passed while the job was disabled are not run.
            next_run = schedule.first_run(now, anchor)
        changed = replace(
            job,
            data=data,
            schedule=schedule.format(),
            timezone=zone,
            enabled=enabled,
            anchor=anchor,
            next_run=next_run,
            date_updated=now,
        )
        updated = await self.store.update_job(changed)
        self.scheduler.upsert(updated)
        return updated

    async def delete(self, user: User, name: str) -> Job:
        job = await self.store.get_job(user.id, name)
        self.scheduler.remove(job.id)
        await self.store.delete_job(job.id)
        return job

    async def run_now(self, user: User, name: str) -> tuple[Job, float]:
        job = await self.store.get_job(user.id, name)
        return job, self.scheduler.run_now(job)

    async def runs(self, user: User, name: str, limit: int, offset: int) -> tuple[Job, list[Run], int]:
        job = await self.store.get_job(user.id, name)
        runs, count = await self.store.list_runs(job.id, limit, offset)
        return job, runs, count

    async def recent_runs(self, job: Job) -> list[Run]:
        runs, _count = await self.store.list_runs(job.id, RECENT_RUNS, 0)
        return runs
