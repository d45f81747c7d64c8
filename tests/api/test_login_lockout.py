"""A stranger cannot lock a user out: failed logins slow the address they come from.

Each client below talks from its own loopback address (the whole of 127.0.0.0/8 is local), so
the server sees them as different machines.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
import pytest

from tests.helpers import Api, start_server, test_config
from veggiecron.app import Server
from veggiecron.config import SecuritySection

PASSWORD = "s3cret-pass"


@pytest.fixture
async def guarded(db_file: str) -> AsyncIterator[Server]:
    security = SecuritySection(
        bcrypt_rounds=4, login_failures_per_user=3, login_failures_per_address=6, login_failures_global=12
    )
    server = await start_server(replace(test_config(db_file), security=security))
    yield server
    await server.stop()


@asynccontextmanager
async def client_from(server: Server, address: str) -> AsyncIterator[Api]:
    """An API client whose connections leave from `address`."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Api(f"http://127.0.0.1:{server.port}", session)


async def login(api: Api, username: str, password: str) -> int:
    status, _ = await api.call("POST", "/login", json={"username": username, "password": password})
    return status


async def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(guarded: Server) -> None:
    async with client_from(guarded, "127.0.0.3") as alice:
        await alice.register_and_login("alice", PASSWORD)
    async with client_from(guarded, "127.0.0.2") as stranger:
        statuses = [await login(stranger, "alice", "guess") for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]  # the stranger's address is slowed ...
        assert await login(stranger, "alice", PASSWORD) == 429  # ... even with the right password
    async with client_from(guarded, "127.0.0.3") as alice:
        assert await login(alice, "alice", PASSWORD) == 200  # ... and alice is not
        # The Seed API's password paths follow the same rule.
        status, body = await alice.call("POST", "/api/token-auth/", json={"username": "alice", "password": PASSWORD})
        assert status == 200 and body["token"], body
        basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        status, _ = await alice.call("GET", "/api/v1/schedule/", headers={"Authorization": basic})
        assert status == 200


async def test_one_address_guessing_many_names_is_slowed_but_not_the_names(guarded: Server) -> None:
    async with client_from(guarded, "127.0.0.3") as bob:
        await bob.register_and_login("bob", PASSWORD)
    async with client_from(guarded, "127.0.0.4") as guesser:
        statuses = [await login(guesser, f"nobody{i}", "x") for i in range(7)]
        assert statuses == [401] * 6 + [429]
    async with client_from(guarded, "127.0.0.5") as bob:
        assert await login(bob, "bob", PASSWORD) == 200


async def test_spraying_from_many_addresses_hits_a_global_ceiling_that_spares_clean_addresses(
    guarded: Server,
) -> None:
    async with client_from(guarded, "127.0.0.3") as carol:
        await carol.register_and_login("carol", PASSWORD)
    sprayers = [f"127.0.1.{i}" for i in range(1, 13)]  # 12 addresses, one guess each: the ceiling
    for address in sprayers:
        async with client_from(guarded, address) as sprayer:
            assert await login(sprayer, "carol", "guess") == 401
    async with client_from(guarded, sprayers[0]) as sprayer:
        assert await login(sprayer, "carol", "another guess") == 429  # an address that failed waits now
    async with client_from(guarded, "127.0.2.1") as carol:
        assert await login(carol, "carol", PASSWORD) == 200  # an address that never failed does not
