"""Fixtures: the real server in-process on a free port, a real sink, and an API client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, start_sink, test_config
from tests.postgres import PostgresServer
from veggiecron.app import Server


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    sink, runner = await start_sink()
    yield sink
    await runner.cleanup()


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    return str(tmp_path / "veggiecron-test.db")


@pytest.fixture
async def server(db_file: str) -> AsyncIterator[Server]:
    server = await start_server(test_config(db_file))
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(server: Server, session: aiohttp.ClientSession) -> Api:
    return Api(f"http://127.0.0.1:{server.port}", session)


@pytest.fixture
async def user_api(api: Api) -> Api:
    """An API client already registered and logged in as 'alice'."""
    await api.register_and_login()
    return api


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (see tests/postgres.py)."""
    server = PostgresServer.start()
    server.prepare_template()
    yield server


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """The URL of a fresh, migrated, empty database of its own."""
    url = await postgres_server.create_database()
    yield url
    await postgres_server.drop_database(url)
