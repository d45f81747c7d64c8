"""The store contract suite: every test runs once per store implementation, on an empty database.

Adding an implementation is one entry in DATABASES; the tests themselves never name a store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import PostgresServer
from veggiecron.model import Job, NewJob, Run, RunOutcome, SeedFields, User
from veggiecron.store import Store
from veggiecron.store.postgres import PostgresStore
from veggiecron.store.sqlite import SqliteStore

T0 = 1_800_000_000.0  # a whole minute, so schedules and times in the tests line up with it

# Makes an unopened store on one test's database; every call makes another on the SAME database,
# so a test can close a store and open the database again.
MakeStore = Callable[[], Store]
# Provides one test's fresh, empty database for as long as the context lasts.
TestDatabase = Callable[[pytest.FixtureRequest, Path], AbstractAsyncContextManager[MakeStore]]


@asynccontextmanager
async def sqlite_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    path = str(tmp_path / "contract.db")
    yield lambda: SqliteStore(path)


@asynccontextmanager
async def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """A fresh database on the session's PostgreSQL server (tests/postgres.py), dropped afterwards."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database()
    try:
        yield lambda: PostgresStore(url, min_size=1, max_size=4)
    finally:
        await server.drop_database(url)


# One entry per implementation, keyed by the test id it runs under.
DATABASES: dict[str, TestDatabase] = {
    "sqlite": sqlite_database,
    "postgres": postgres_database,
}


class StoreOpener:
    """Opens stores on one test's database; whatever is still open is closed when the test ends."""

    def __init__(self, make: MakeStore) -> None:
        self._make = make
        self._open: list[Store] = []

    async def __call__(self) -> Store:
        store = self._make()
        await store.open()
        self._open.append(store)
        return store

    async def reopen(self, store: Store) -> Store:
        """Close `store` and open its database again, as a restarted daemon would."""
        self._open.remove(store)
        await store.close()
        return await self()

    async def close_all(self) -> None:
        while self._open:
            await self._open.pop().close()


@pytest.fixture(params=list(DATABASES))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreOpener]:
    async with DATABASES[request.param](request, tmp_path) as make:
        opener = StoreOpener(make)
        try:
            yield opener
        finally:
            await opener.close_all()


@pytest.fixture
async def store(open_store: StoreOpener) -> Store:
    """A freshly opened, migrated, empty store (closed by open_store when the test ends)."""
    return await open_store()


@pytest.fixture
async def alice(store: Store) -> User:
    return await store.create_user("alice", "alice-hash", T0)


@pytest.fixture
async def bob(store: Store) -> User:
    return await store.create_user("bob", "bob-hash", T0)


def new_job(user_id: int, name: str, **overrides: Any) -> NewJob:
    """A valid enabled http job due 10 s after T0; `overrides` are NewJob fields."""
    job = NewJob(
        user_id=user_id,
        name=name,
        type="http",
        data={"url": "http://127.0.0.1:9/"},
        schedule="every 10 seconds",
        timezone="UTC",
        enabled=True,
        next_run=T0 + 10,
        anchor=T0,
        created_at=T0,
    )
    return replace(job, **overrides)


async def make_job(store: Store, user_id: int, name: str, seed: SeedFields | None = None, **overrides: Any) -> Job:
    """Store new_job(user_id, name, **overrides), with its Seed row when `seed` is given."""
    return await store.create_job(new_job(user_id, name, **overrides), seed)


def run(job_id: int, due_at: float, **overrides: Any) -> Run:
    """A successful run started on time; `overrides` are Run fields."""
    return replace(Run(job_id, due_at, due_at, 25.0, RunOutcome.OK, attempts=1, status_code=200), **overrides)


def seed_fields(uuid: str, **overrides: Any) -> SeedFields:
    """A Seed schedule's fields for a cron schedule; `overrides` are SeedFields fields."""
    fields = SeedFields(
        uuid=uuid,
        cron_definition="*/5 * * * *",
        interval_definition=None,
        endpoint="http://127.0.0.1:9/hook",
        auth_token=None,
        payload={"kind": "ping", "n": 1},
        created_by=None,
        updated_by=None,
    )
    return replace(fields, **overrides)
