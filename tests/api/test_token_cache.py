"""The token-check cache over the real API: every change to a token or a user shows on the next request."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import replace

import aiohttp
import pytest

from tests.helpers import CLOSE, Api, test_config
from veggiecron.app import Server
from veggiecron.auth import TOKEN_CACHE_SECONDS
from veggiecron.config import SecuritySection

PASSWORD = "s3cret-pass"


class OffsetClock:
    """The wall clock plus an offset the test moves forward: tokens and cache entries age without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def lifetime_days() -> float:
    """Token lifetime of clocked_server; a test parametrizes it to override."""
    return 30.0


@pytest.fixture
async def clocked_server(db_file: str, clock: OffsetClock, lifetime_days: float) -> AsyncIterator[Server]:
    config = replace(test_config(db_file), security=SecuritySection(bcrypt_rounds=4, token_lifetime_days=lifetime_days))
    server = Server(config, clock=clock)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clocked_api(clocked_server: Server, session: aiohttp.ClientSession) -> Api:
    return Api(f"http://127.0.0.1:{clocked_server.port}", session)


def cached(server: Server) -> int:
    assert server.ctx is not None
    return len(server.ctx.accounts.token_cache)


async def user_id(server: Server, username: str) -> int:
    assert server.ctx is not None
    found = await server.store.user_credentials(username)
    assert found is not None
    return found[0].id


async def login(api: Api, username: str = "alice") -> str:
    status, body = await api.call("POST", "/login", json={"username": username, "password": PASSWORD})
    assert status == 200, body
    token: str = body["data"]["token"]
    return token


async def test_a_logged_out_token_is_refused_on_the_next_request(user_api: Api, server: Server) -> None:
    for _ in range(3):
        status, _ = await user_api.call("GET", "/job")
        assert status == 200
    assert cached(server) == 1  # the next check would be answered from the cache
    status, _ = await user_api.call("POST", "/logout")
    assert status == 200
    status, body = await user_api.call("GET", "/job", headers=CLOSE)
    assert status == 401, body


async def test_a_revoked_token_is_refused_on_the_next_request(user_api: Api, server: Server) -> None:
    keeper = user_api.token
    lost = await login(user_api)
    for token in (keeper, lost):
        status, _ = await user_api.call("GET", "/job", token=token)
        assert status == 200
    status, body = await user_api.call("GET", "/tokens", token=lost)
    assert status == 200
    (lost_id,) = [t["id"] for t in body["data"]["tokens"] if t["current"]]
    assert cached(server) == 2
    status, body = await user_api.call("DELETE", f"/tokens/{lost_id}", token=keeper)
    assert status == 200, body
    status, body = await user_api.call("GET", "/job", token=lost, headers=CLOSE)
    assert status == 401, body
    status, _ = await user_api.call("GET", "/job", token=keeper)
    assert status == 200  # the user's other tokens still work


async def test_admin_rights_granted_and_withdrawn_are_seen_on_the_next_request(user_api: Api, server: Server) -> None:
    assert server.ctx is not None
    await user_api.register_and_login("bob", PASSWORD)  # a second user, so admins see more than themselves
    alice = await login(user_api, "alice")
    alice_id = await user_id(server, "alice")

    async def users_seen() -> int:
        status, body = await user_api.call("GET", "/api/v1/user/", token=alice)
        assert status == 200, body
        count: int = body["count"]
        return count

    assert await users_seen() == 1  # not an admin: only herself; and now cached
    await server.ctx.accounts.set_admin(alice_id, True)
    assert await users_seen() == 2
    await server.ctx.accounts.set_admin(alice_id, False)
    assert await users_seen() == 1
    await server.ctx.accounts.ensure_admin("alice")  # what `start.py create-admin alice` calls
    assert await users_seen() == 2


async def test_a_deleted_users_token_is_refused(clocked_api: Api, clocked_server: Server, clock: OffsetClock) -> None:
    assert clocked_server.ctx is not None
    accounts = clocked_server.ctx.accounts
    token = await clocked_api.register_and_login("doomed", PASSWORD)
    status, _ = await clocked_api.call("GET", "/job")
    assert status == 200
    assert cached(clocked_server) == 1
    doomed_id = await user_id(clocked_server, "doomed")
    # Deleted behind the server's back, as another process (or sqlite3 by hand) would.
    with closing(sqlite3.connect(clocked_server.config.db_file)) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM users WHERE id = ?", (doomed_id,))
        db.commit()
    # Another process cannot reach this one's cache: the entry ages out within the cache's lifetime.
    clock.offset += TOKEN_CACHE_SECONDS
    status, body = await clocked_api.call("GET", "/job", token=token, headers=CLOSE)
    assert status == 401, body

    # Code in this process that deletes a user drops the user's entries at once.
    token = await clocked_api.register_and_login("doomed2", PASSWORD)
    status, _ = await clocked_api.call("GET", "/job", token=token)
    assert status == 200
    doomed_id = await user_id(clocked_server, "doomed2")
    with closing(sqlite3.connect(clocked_server.config.db_file)) as db:
        db.execute("DELETE FROM users WHERE id = ?", (doomed_id,))
        db.commit()
    accounts.forget_user(doomed_id)
    status, body = await clocked_api.call("GET", "/job", token=token, headers=CLOSE)
    assert status == 401, body


# Tokens live 2 seconds: shorter than the cache's lifetime, so a cached entry outlives its token.
@pytest.mark.parametrize("lifetime_days", [2 / 86400], ids=["token-lives-2s"])
async def test_an_expired_token_is_refused_although_it_is_cached(
    clocked_api: Api, clocked_server: Server, clock: OffsetClock
) -> None:
    assert clocked_server.ctx is not None
    token = await clocked_api.register_and_login("brief", PASSWORD)
    status, _ = await clocked_api.call("GET", "/job")
    assert status == 200
    assert cached(clocked_server) == 1
    clock.offset += 3  # past the token's 2 seconds, within the cache's lifetime
    assert clock.offset < TOKEN_CACHE_SECONDS
    status, body = await clocked_api.call("GET", "/job", token=token, headers=CLOSE)
    assert status == 401, body
    # A fresh login works under the moved clock: only the old token was refused.
    await clocked_api.register_and_login("brief2", PASSWORD)
    status, _ = await clocked_api.call("GET", "/job")
    assert status == 200
