"""Database: a store's life, opened (and migrated) and closed."""

from __future__ import annotations

from tests.contract.conftest import T0, StoreOpener, make_job
from veggiecron.model import User
from veggiecron.store import Store


async def test_a_fresh_store_is_empty(store: Store) -> None:
    assert await store.list_users(None, 10, 0) == ([], 0)
    assert await store.job_counts_by_state() == {"scheduled": 0, "paused": 0, "disabled": 0, "done": 0}
    assert await store.list_groups(10, 0) == ([], 0)


async def test_ping_answers_while_open(store: Store) -> None:
    assert await store.ping() is True


async def test_the_schema_version_is_positive_and_survives_reopening(open_store: StoreOpener) -> None:
    store = await open_store()
    version = await store.schema_version()
    assert version > 0
    alice = await store.create_user("alice", "hash", T0)
    job = await make_job(store, alice.id, "job")
    reopened = await open_store.reopen(store)
    # Opening a migrated database again migrates nothing: same version, same data.
    assert await reopened.schema_version() == version
    assert await reopened.ping() is True
    assert await reopened.get_user(alice.id) == alice
    assert await reopened.get_job(alice.id, "job") == job


async def test_two_stores_on_one_database_see_each_others_writes(open_store: StoreOpener, store: Store) -> None:
    # `start.py create-admin` opens the database the running daemon holds: the daemon must see
    # the admin (and token) it writes.
    second = await open_store()
    user: User = await second.create_user("alice", "hash", T0)
    await second.create_token(user.id, "service-token", T0, T0 + 3600)
    assert await store.get_user(user.id) == user
    assert await store.user_for_token("service-token", T0) == (user, T0 + 3600)
    assert await second.schema_version() == await store.schema_version()
