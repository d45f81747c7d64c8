"""At api.max_connections, which connection makes room: one idle between requests before a new one
whose first request may already be on its way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import start_server, test_config
from veggiecron.app import Server
from veggiecron.config import ApiSection

BOUND = 8
REQUEST = b"GET /health HTTP/1.1\r\nHost: veggiecron\r\n\r\n"

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def bounded(tmp_path: Path) -> AsyncIterator[Server]:
    api = ApiSection(max_body_bytes=64 * 1024, max_connections=BOUND)
    server = await start_server(test_config(str(tmp_path / "bound.db"), api=api))
    yield server
    await server.stop()


async def answered(connection: Connection) -> bytes:
    """The status line of the answer to one request on this connection ('' if it was closed)."""
    reader, writer = connection
    writer.write(REQUEST)
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    length = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(int(length.split(b":")[1]))
    return head.split(b"\r\n", 1)[0]


async def closed(connection: Connection) -> bool:
    reader, _writer = connection
    try:
        return await asyncio.wait_for(reader.read(1), timeout=2) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


async def test_at_the_bound_a_connection_idle_between_requests_gives_way_before_a_new_one(bounded: Server) -> None:
    def connect() -> asyncio.Future[Connection]:
        return asyncio.ensure_future(asyncio.open_connection("127.0.0.1", bounded.port))

    # A new connection, its request not sent yet: the longest idle of all.
    newcomer = await connect()
    await asyncio.sleep(0.1)
    # The rest of the bound: keep-alive connections that had a request answered, idle since.
    served = [await connect() for _ in range(BOUND - 1)]
    for connection in served:
        assert (await answered(connection)).endswith(b"200 OK")
    # One more connection: the first served one is closed to make room, not the newcomer.
    extra = await connect()
    assert await closed(served[0])
    assert (await answered(newcomer)).endswith(b"200 OK")
    assert (await answered(extra)).endswith(b"200 OK")
    for _reader, writer in [newcomer, *served, extra]:
        writer.close()
