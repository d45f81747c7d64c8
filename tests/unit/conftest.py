"""Shared parts of the scheduler's unit tests: a clock the test moves, a store in a temp file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from veggiecron.compiler import compile_job
from veggiecron.config import load_config
from veggiecron.jobtypes.base import TypeContext
from veggiecron.jobtypes.registry import JobTypes
from veggiecron.model import CompiledJob, Job, NewJob
from veggiecron.outbound import OutboundPolicy
from veggiecron.schedules import parse_schedule
from veggiecron.store import JobStore
from veggiecron.store.sqlite import SqliteStore

T0 = 1_800_000_000.0  # a whole minute, so cron and interval slots line up with it


class FakeClock:
    """The scheduler's clock, set by the test: setting `value` moves both readings alike, step()
    moves only the wall clock, as when the system's clock is set."""

    def __init__(self, now: float) -> None:
        self.value = now
        self.stepped = 0.0  # the wall clock's steps so far, which the monotonic reading ignores

    def now(self) -> float:
        return self.value

    def monotonic(self) -> float:
        return self.value - self.stepped

    def step(self, seconds: float) -> None:
        self.value += seconds
        self.stepped += seconds


CONFIG = load_config(None)
JOB_TYPES = JobTypes.load(TypeContext(CONFIG, OutboundPolicy(CONFIG.app.env)))


def compiled(job: Job) -> CompiledJob:
    """A stored job as the jobs service hands it to the scheduler."""
    return compile_job(job, JOB_TYPES)


async def create_job(store: JobStore, *, now: float, **fields: Any) -> Job:
    """Store a job; `now` is its creation time, the other fields those of NewJob."""
    return await store.create_job(NewJob(created_at=now, **fields))


async def add_job(
    store: JobStore,
    name: str,
    schedule: str = "every 10 seconds",
    *,
    now: float = T0,
    data: dict[str, Any] | None = None,
    **policy: Any,
) -> Job:
    """Alice's http job on `schedule`, created at `now`: its data is a URL nobody answers plus
    `data`, the other keyword arguments are its policy fields."""
    parsed = parse_schedule(schedule)
    return await create_job(
        store,
        user_id=1,
        name=name,
        type="http",
        data={"url": "http://127.0.0.1:9/", **(data or {})},
        schedule=parsed.format(),
        timezone="UTC",
        enabled=True,
        next_run=parsed.first_run(now, now),
        anchor=now,
        now=now,
        policy=policy,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A migrated store holding one user, alice, with id 1."""
    store = SqliteStore(str(tmp_path / "unit.db"))
    await store.open()
    user = await store.create_user("alice", "x", T0)
    assert user.id == 1
    yield store
    await store.close()
