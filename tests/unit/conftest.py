"""Shared parts of the scheduler's unit tests: a clock the test moves, a store in a temp file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from veggiecron.config import load_config
from veggiecron.model import HttpTarget, Job
from veggiecron.runners.http import parse_http_data
from veggiecron.store import SqliteStore

T0 = 1_800_000_000.0  # a whole minute, so cron and interval slots line up with it


class FakeClock:
    """The scheduler's clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


def build_target(job: Job) -> HttpTarget:
    return parse_http_data(job.data, load_config(None).http_client)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A migrated store holding one user, alice, with id 1."""
    store = SqliteStore(str(tmp_path / "unit.db"))
    await store.open()
    user = await store.create_user("alice", "x", T0)
    assert user.id == 1
    yield store
    await store.close()
