"""Idle and slow clients cannot take the server: 2,000 idle keep-alive connections and 200 clients
sending their bodies a byte a second, against a server limited to 1,024 open files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from datetime import datetime

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.helpers import Api, Sink, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timing]

FD_LIMIT = 1024
IDLE, SLOW = 2000, 200
IDLE_TIMEOUT, BODY_TIMEOUT = 3.0, 2.0
# start.py in a process whose open files limit is FD_LIMIT, soft and hard: the server cannot raise it.
LIMITED = (
    "import resource, sys; "
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT})); "
    "sys.argv[0] = 'start.py'; import start; sys.exit(start.main())"
)


async def idle_client(port: int, closed: list[float]) -> None:
    """One request on a keep-alive connection, then silence until the server closes it."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed.append(time.monotonic())
        return
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: veggiecron\r\n\r\n")
        while await reader.read(65536):  # the answer, then nothing until the server hangs up
            pass
    except OSError:
        pass
    finally:
        writer.close()
    closed.append(time.monotonic())


async def slow_client(port: int, closed: list[float]) -> None:
    """A body of 1,000 bytes announced, sent a byte a second."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed.append(time.monotonic())
        return
    try:
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: veggiecron\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        while not reader.at_eof():
            writer.write(b" ")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(65536), timeout=1.0)
    except OSError:
        pass
    finally:
        writer.close()
    closed.append(time.monotonic())


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_idle_and_slow_clients_neither_starve_others_nor_exhaust_descriptors(sink: Sink) -> None:
    daemon = Daemon(
        launcher=LIMITED,
        api={"idle_timeout_seconds": IDLE_TIMEOUT, "body_timeout_seconds": BODY_TIMEOUT},
        http_client={"pool_size": 10, "pool_per_host": 10},
    )
    idle_closed: list[float] = []
    slow_closed: list[float] = []
    attackers: list[asyncio.Task[None]] = []
    try:
        port = await daemon.start()
        assert daemon.process is not None
        pid = daemon.process.pid
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            api = Api(f"http://127.0.0.1:{port}", session)
            await api.register_and_login()
            await api.create_job("beat", sink.url + "/beat", schedule="every 1 seconds")
            attack_started = time.time()
            attackers += [asyncio.create_task(slow_client(port, slow_closed)) for _ in range(SLOW)]
            opening = asyncio.Semaphore(200)

            async def opened_idle() -> None:
                async with opening:
                    task = asyncio.create_task(idle_client(port, idle_closed))
                    attackers.append(task)
                    await asyncio.sleep(0)

            await asyncio.gather(*(opened_idle() for _ in range(IDLE)))
            # Meanwhile other clients are served, each on a connection of its own, and in time.
            peak = 0
            for _ in range(10):
                started = time.monotonic()
                status, body = await api.call("GET", "/job/beat")
                assert status == 200, body
                status, body = await api.call("POST", "/login", json={"username": "alice", "password": "s3cret-pass"})
                assert status == 200, body
                assert time.monotonic() - started < 1.0
                peak = max(peak, open_fds(pid))
                await asyncio.sleep(0.1)
            assert peak < FD_LIMIT
            _, metrics = await fetch_metrics(session, port)
            assert metric(metrics, "veggiecron_fd_limit") == FD_LIMIT
            most = metric(metrics, "veggiecron_client_connections_max")
            assert 0 < metric(metrics, "veggiecron_client_connections") <= most < FD_LIMIT
            assert metric(metrics, 'veggiecron_client_connections_closed_total{reason="idle"}') > 0
            assert 0 < metric(metrics, "veggiecron_open_fds") < FD_LIMIT
            # Idle and body timeouts close the rest.
            await wait_for(lambda: len(slow_closed) == SLOW, timeout=BODY_TIMEOUT + 3)
            await wait_for(lambda: len(idle_closed) == IDLE, timeout=IDLE_TIMEOUT + 3)
            attack_ended = time.time()
        # The job fired every second, on time, all along.
        dues = [datetime.fromisoformat(h.headers["X-Veggiecron-Scheduled-At"]).timestamp() for h in sink.paths("/beat")]
        during = [
            (h.arrived_at - due) for h, due in zip(sink.paths("/beat"), dues, strict=True) if due > attack_started
        ]
        assert len(during) >= int(attack_ended - attack_started) - 1, during
        assert max(during) < 0.25, during
        log = daemon.log.read_text()
        assert re.search(r"file descriptors open of a limit of 1024: near it", log), log[-2000:]
        assert "the most this server holds" in log
        assert daemon.running
    finally:
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
        await daemon.close()


async def fetch_metrics(session: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        return response.status, await response.text()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")
