"""Accounts.authenticate answers from a small cache: how often it asks the store, and what it refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.conftest import T0, FakeClock
from veggiecron.auth import Accounts, Passwords, TokenCache, Tokens
from veggiecron.model import User
from veggiecron.store.sqlite import SqliteStore

TTL = 5.0


class CountingStore(SqliteStore):
    """The real store, counting token lookups; `gate`, when set, holds each lookup's answer back.

    `read` is set once a lookup's query has run: the read goes to the store's own reader thread,
    so a lookup that has been counted may not have read anything yet.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.lookups = 0
        self.gate: asyncio.Event | None = None
        self.read = asyncio.Event()

    async def user_for_token(self, token_hash: str, now: float) -> tuple[User, float] | None:
        self.lookups += 1
        found = await super().user_for_token(token_hash, now)
        self.read.set()
        if self.gate is not None:
            await self.gate.wait()
        return found


@pytest.fixture
async def counting_store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    store = CountingStore(str(tmp_path / "tokens.db"))
    await store.open()
    await store.create_user("alice", "x", T0)
    yield store
    await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def make_accounts(store: CountingStore, clock: FakeClock, lifetime: float = 3600, entries: int = 100) -> Accounts:
    return Accounts(store, Passwords(4), Tokens("unit-key"), lifetime, clock, token_cache=TokenCache(TTL, entries))


async def alice(store: CountingStore) -> User:
    found = await store.user_credentials("alice")
    assert found is not None
    return found[0]


async def test_repeated_checks_within_the_lifetime_ask_the_store_once(
    counting_store: CountingStore, clock: FakeClock
) -> None:
    accounts = make_accounts(counting_store, clock)
    token, _ = await accounts.issue_token(await alice(counting_store))
    for _ in range(50):
        user = await accounts.authenticate(token)
        assert user is not None and user.username == "alice"
        clock.value += 0.05  # 2.5 seconds in all: inside the cache's lifetime
    assert counting_store.lookups == 1
    clock.value = T0 + TTL + 0.01
    assert await accounts.authenticate(token) is not None
    assert counting_store.lookups == 2  # the entry aged out, so the store was asked again


async def test_wrong_tokens_are_not_cached(counting_store: CountingStore, clock: FakeClock) -> None:
    accounts = make_accounts(counting_store, clock)
    for _ in range(3):
        assert await accounts.authenticate("not-a-token") is None
    assert counting_store.lookups == 3
    assert len(accounts.token_cache) == 0


async def test_an_expired_token_is_refused_from_the_cache(counting_store: CountingStore, clock: FakeClock) -> None:
    accounts = make_accounts(counting_store, clock, lifetime=2)
    token, _ = await accounts.issue_token(await alice(counting_store))
    assert await accounts.authenticate(token) is not None
    clock.value += 2  # expires_at is exclusive, as in the store's query
    assert await accounts.authenticate(token) is None


async def test_the_cache_keeps_at_most_its_size_evicting_the_oldest(
    counting_store: CountingStore, clock: FakeClock
) -> None:
    accounts = make_accounts(counting_store, clock, entries=3)
    user = await alice(counting_store)
    tokens = [(await accounts.issue_token(user))[0] for _ in range(5)]
    for token in tokens:
        assert await accounts.authenticate(token) is not None
    assert len(accounts.token_cache) == 3 and counting_store.lookups == 5
    assert await accounts.authenticate(tokens[-1]) is not None
    assert counting_store.lookups == 5  # among the newest three: cached
    assert await accounts.authenticate(tokens[0]) is not None
    assert counting_store.lookups == 6  # evicted: asked again


async def test_a_clock_moved_back_does_not_stretch_an_entrys_life(
    counting_store: CountingStore, clock: FakeClock
) -> None:
    accounts = make_accounts(counting_store, clock)
    token, _ = await accounts.issue_token(await alice(counting_store))
    await accounts.authenticate(token)
    clock.value -= 3600
    await accounts.authenticate(token)
    assert counting_store.lookups == 2


async def test_a_lookup_in_flight_across_a_logout_is_not_cached(
    counting_store: CountingStore, clock: FakeClock
) -> None:
    accounts = make_accounts(counting_store, clock)
    token, _ = await accounts.issue_token(await alice(counting_store))
    counting_store.gate = asyncio.Event()
    check = asyncio.create_task(accounts.authenticate(token))
    # The logout must come after the query has read the token, not merely after it was counted.
    await asyncio.wait_for(counting_store.read.wait(), timeout=5)
    await accounts.logout(token)
    counting_store.gate.set()
    assert await check is not None  # it read the token before the logout
    counting_store.gate = None
    assert await accounts.authenticate(token) is None


async def test_set_admin_and_logout_drop_the_entries_they_change(
    counting_store: CountingStore, clock: FakeClock
) -> None:
    accounts = make_accounts(counting_store, clock)
    user = await alice(counting_store)
    token, _ = await accounts.issue_token(user)
    other, _ = await accounts.issue_token(user)
    for each in (token, other):
        checked = await accounts.authenticate(each)
        assert checked is not None and not checked.is_admin
    await accounts.set_admin(user.id, True)
    assert len(accounts.token_cache) == 0  # both of the user's tokens
    checked = await accounts.authenticate(token)
    assert checked is not None and checked.is_admin
    await accounts.logout(token)
    assert await accounts.authenticate(token) is None
