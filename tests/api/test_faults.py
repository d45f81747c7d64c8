"""Fault tests: real local targets that misbehave on purpose, against the real server.

Targets hang, reset connections, answer 5xx or stream endless bodies (slow and hanging names:
tests/api/test_dns.py). Each
misbehaviour must end as a recorded run outcome with its error_class, the server must keep
serving, and other jobs must stay on time.
"""

from __future__ import annotations

import asyncio
import math
import socket
import statistics
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Sink, start_server, test_config, wait_for
from veggiecron.config import HttpClientSection

Behaviour = Callable[["RawTarget", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawTarget:
    """A TCP server speaking just enough HTTP/1.1 to misbehave in exactly one way."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.url = ""
        self.requests = 0  # request heads read
        self.hung_up = 0  # connections the client closed (or that ended) after a request
        self.bytes_sent = 0
        self.release = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> RawTarget:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            await self.behaviour(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.hung_up += 1
            self._writers.discard(writer)
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)


async def until_client_hangs_up(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def never_answer(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await until_client_hangs_up(reader)


async def reset_connection(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    writer.transport.abort()


def answer(status: int, body: bytes = b"broken") -> Behaviour:
    async def behaviour(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status} Oops\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()

    return behaviour


async def endless_body(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"veggies " * 2048  # 16 KiB
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    while not target.release.is_set():
        writer.write(framed)
        await writer.drain()  # raises once the client hangs up
        target.bytes_sent += len(chunk)


async def headers_then_stall(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst ten.")
    await writer.drain()
    await until_client_hangs_up(reader)


async def not_http(target: RawTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.0 this is not HTTP at all\r\n\r\n")
    await writer.drain()


@asynccontextmanager
async def raw_target(behaviour: Behaviour) -> AsyncIterator[RawTarget]:
    target = await RawTarget(behaviour).start()
    try:
        yield target
    finally:
        await target.stop()


@pytest.fixture
async def hanging() -> AsyncIterator[RawTarget]:
    async with raw_target(never_answer) as target:
        yield target


async def runs_of(api: Api, name: str, limit: int = 500) -> list[dict[str, Any]]:
    status, body = await api.call("GET", f"/job/{name}/runs", params={"limit": limit})
    assert status == 200, body
    return list(body["data"]["runs"])


async def fire_and_wait(api: Api, name: str, timeout: float = 5.0) -> dict[str, Any]:
    """Fire the job now; answer its newest recorded run once the history has it."""
    before = len(await runs_of(api, name))
    status, body = await api.call("POST", f"/job/{name}/run")
    assert status == 202, body

    async def recorded() -> list[dict[str, Any]] | None:
        runs = await runs_of(api, name)
        return runs if len(runs) > before else None

    runs: list[dict[str, Any]] = await wait_for(recorded, timeout=timeout)
    return runs[0]


async def still_serving(api: Api, sink: Sink, name: str) -> None:
    """The API answers and a healthy job still runs and is recorded ok."""
    status, _ = await api.call("GET", "/health")
    assert status == 200
    await api.create_job(name, sink.url, schedule="every 1 hours", data={"url": f"{sink.url}/{name}"})
    run = await fire_and_wait(api, name)
    assert run["outcome"] == "ok" and run["status_code"] == 200, run
    assert sink.paths(f"/{name}")


def scheduled_at(hit_headers: dict[str, str]) -> float:
    return datetime.fromisoformat(hit_headers["X-Veggiecron-Scheduled-At"]).timestamp()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


# --- one misbehaving target at a time --------------------------------------------------------


async def test_a_target_that_never_answers_times_out(user_api: Api, hanging: RawTarget, sink: Sink) -> None:
    await user_api.create_job("hang", hanging.url, schedule="every 1 hours", data={"url": hanging.url, "timeout": 0.5})
    run = await fire_and_wait(user_api, "hang")
    assert run["outcome"] == "failed" and run["error_class"] == "timeout", run
    assert run["error"] == "timeout after 0.5s" and run["status_code"] is None
    assert 450 <= run["duration_ms"] < 2000
    assert hanging.requests == 1
    # The runner hangs up on the target: no socket is left open behind a timed-out run.
    await wait_for(lambda: hanging.hung_up == 1, timeout=2)
    await still_serving(user_api, sink, "after-hang")


async def test_headers_then_a_stalled_body_times_out(user_api: Api, sink: Sink) -> None:
    async with raw_target(headers_then_stall) as target:
        data = {"url": target.url, "timeout": 0.5}
        await user_api.create_job("stall", target.url, schedule="every 1 hours", data=data)
        run = await fire_and_wait(user_api, "stall")
        assert run["outcome"] == "failed" and run["error_class"] == "timeout", run
        assert 450 <= run["duration_ms"] < 2000
        await wait_for(lambda: target.hung_up == 1, timeout=2)


async def test_a_connection_reset_is_a_failed_run_and_the_server_keeps_serving(user_api: Api, sink: Sink) -> None:
    async with raw_target(reset_connection) as target:
        data = {"url": target.url, "retries": 2, "retry_backoff_seconds": 0.01, "timeout": 5}
        await user_api.create_job("reset", target.url, schedule="every 1 hours", data=data)
        run = await fire_and_wait(user_api, "reset")
        assert run["outcome"] == "failed" and run["error_class"] == "connect", run
        assert run["status_code"] is None and run["attempts"] == 3  # a reset is worth retrying
        assert "reset" in run["error"].lower() or "disconnected" in run["error"].lower(), run["error"]
        # aiohttp itself resends an idempotent request once on a dropped connection: 3 to 6 requests.
        assert 3 <= target.requests <= 6
        assert run["duration_ms"] < 2000
    await still_serving(user_api, sink, "after-reset")


async def test_a_reply_that_is_not_http_is_a_failed_run(user_api: Api, sink: Sink) -> None:
    async with raw_target(not_http) as target:
        await user_api.create_job("garbage", target.url, schedule="every 1 hours", data={"url": target.url})
        run = await fire_and_wait(user_api, "garbage")
        assert run["outcome"] == "failed" and run["error_class"] is not None and run["error"], run
        assert run["status_code"] is None and run["duration_ms"] < 2000
    await still_serving(user_api, sink, "after-garbage")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_a_failed_run_with_its_status(user_api: Api, status: int) -> None:
    async with raw_target(answer(status, b"upstream on fire")) as target:
        data = {"url": target.url, "retries": 1, "retry_backoff_seconds": 0.01}
        await user_api.create_job("err", target.url, schedule="every 1 hours", data=data)
        run = await fire_and_wait(user_api, "err")
        assert run["outcome"] == "failed" and run["error_class"] == "http_status", run
        assert run["status_code"] == status and run["error"] == f"HTTP {status}"
        assert run["attempts"] == 2 and target.requests == 2  # 5xx may succeed later: retried
        assert run["response_excerpt"] == "upstream on fire"


# --- an endless body, against a server with a small read cap ----------------------------------

CAP = 64 * 1024


@asynccontextmanager
async def api_of_server_with(
    db_file: str, session: aiohttp.ClientSession, client: HttpClientSection
) -> AsyncIterator[Api]:
    """A server with these http_client settings, and a registered user's client of it."""
    server = await start_server(test_config(db_file, http_client=client))
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login()
        yield api
    finally:
        await server.stop()


@pytest.fixture
async def capped_api(db_file: str, session: aiohttp.ClientSession) -> AsyncIterator[Api]:
    client = HttpClientSection(
        timeout_seconds=5, retry_backoff_seconds=0.05, retry_backoff_max_seconds=0.2, max_response_bytes=CAP
    )
    async with api_of_server_with(db_file, session, client) as api:
        yield api


async def test_an_endless_body_is_capped_promptly(capped_api: Api, sink: Sink) -> None:
    async with raw_target(endless_body) as target:
        data = {"url": target.url, "timeout": 20}
        await capped_api.create_job("endless", target.url, schedule="every 1 hours", data=data)
        run = await fire_and_wait(capped_api, "endless", timeout=5)
        assert run["outcome"] == "failed" and run["error_class"] == "body_too_large", run
        assert run["error"] == f"response body over {CAP} bytes"
        assert run["status_code"] == 200 and run["response_excerpt"].startswith("veggies veggies")
        assert run["duration_ms"] < 2000  # the cap ended it, not the 20 s timeout
        # The runner hangs up instead of draining forever: the target sees the connection end.
        await wait_for(lambda: target.hung_up == 1, timeout=3)
        sent = target.bytes_sent
        assert sent < 64 * 1024 * 1024  # what socket buffers took, not an endless read
    await still_serving(capped_api, sink, "after-endless")


@pytest.fixture
async def two_slot_api(db_file: str, session: aiohttp.ClientSession) -> AsyncIterator[Api]:
    async with api_of_server_with(db_file, session, HttpClientSection(pool_size=4, pool_per_host=2)) as api:
        yield api


@pytest.mark.timing
async def test_runs_waiting_for_a_hanging_targets_slots_time_out_unsent(
    two_slot_api: Api, hanging: RawTarget, sink: Sink
) -> None:
    for i in range(4):
        # The first two hold both slots for 2 s; the other two wait and give up after 0.6 s.
        data = {"url": f"{hanging.url}/{i}", "timeout": 2.0 if i < 2 else 0.6}
        await two_slot_api.create_job(f"hang-{i}", hanging.url, schedule="every 1 hours", data=data)
    await two_slot_api.create_job("healthy", sink.url, schedule="every 1 hours", data={"url": sink.url + "/ok"})
    for i in range(4):
        status, _ = await two_slot_api.call("POST", f"/job/hang-{i}/run")
        assert status == 202
    await wait_for(lambda: hanging.requests == 2, timeout=3)
    status, _ = await two_slot_api.call("POST", "/job/healthy/run")
    assert status == 202
    await wait_for(lambda: sink.paths("/ok"), timeout=2)  # another target is not held up

    async def one_run_each() -> list[dict[str, Any]] | None:
        runs = [await runs_of(two_slot_api, f"hang-{i}") for i in range(4)]
        return [r[0] for r in runs] if all(runs) else None

    runs = await wait_for(one_run_each, timeout=5)
    assert all(r["outcome"] == "failed" and r["error_class"] == "timeout" for r in runs), runs
    sent = [r for r in runs if r["attempts"] == 1]
    unsent = [r for r in runs if r["attempts"] == 0]
    # Two held the target's two slots; two waited for one and failed when their timeout passed.
    assert len(sent) == 2 and len(unsent) == 2, runs
    assert all(r["error"] == "timeout after 0.6s waiting for a connection" for r in unsent), unsent
    assert all(500 <= r["duration_ms"] < 1500 for r in unsent), unsent
    assert all(r["error"] == "timeout after 2s" for r in sent), sent
    assert hanging.requests == 2  # the waiting runs were never sent


# --- many hanging jobs and one healthy job -----------------------------------------------------

HANGING_JOBS = 100
MEASURE_SECONDS = 4.0


async def create_hanging_jobs(api: Api, hanging: RawTarget, timeout: float, **policy: Any) -> None:
    for i in range(HANGING_JOBS):
        data = {"url": f"{hanging.url}/{i}", "timeout": timeout}
        await api.create_job(f"hang-{i}", hanging.url, schedule="every 1 seconds", data=data, **policy)
    # Once the hanging jobs have fired, as many requests hang as the pool lets one target hold.
    await wait_for(lambda: hanging.requests >= min(HANGING_JOBS, HttpClientSection().pool_per_host), timeout=10)


def hits_due_between(sink: Sink, path: str, start: float, end: float) -> list[Any]:
    return [h for h in sink.paths(path) if start <= scheduled_at(h.headers) <= end]


@pytest.mark.timing
@pytest.mark.slow
async def test_a_healthy_job_stays_on_time_while_100_jobs_hang(user_api: Api, hanging: RawTarget, sink: Sink) -> None:
    await user_api.create_job("healthy", sink.url, schedule="every 1 seconds", data={"url": f"{sink.url}/healthy"})
    await create_hanging_jobs(user_api, hanging, timeout=3, overlap="allow")
    start = time.time()
    await asyncio.sleep(MEASURE_SECONDS)  # the window being measured, not a wait for an outcome
    end = time.time() - 1

    # The scheduler dispatches the healthy job on time, every second, and its runs are recorded ok.
    async def window_runs() -> list[dict[str, Any]] | None:
        runs = [r for r in await runs_of(user_api, "healthy") if start <= r["due_at"] <= end]
        return runs if len(runs) >= MEASURE_SECONDS - 1 else None

    runs = await wait_for(window_runs, timeout=5)
    dues = sorted(r["due_at"] for r in runs)
    assert all(abs(b - a - 1.0) < 1e-6 for a, b in zip(dues, dues[1:], strict=False)), dues  # no slot skipped
    assert all(r["outcome"] == "ok" for r in runs), runs
    assert p95([r["lateness_ms"] for r in runs]) < 100, runs
    # Its requests reach the target on time too (it keeps its pooled keep-alive connection).
    hits = hits_due_between(sink, "/healthy", start, end)
    assert len(hits) >= len(runs)
    arrival_ms = [(h.arrived_at - scheduled_at(h.headers)) * 1000 for h in hits]
    assert p95(arrival_ms) < 100, arrival_ms

    # The hanging jobs end as recorded timeouts, one run per second (overlap=allow: none skipped).
    async def three_hung_runs() -> list[dict[str, Any]] | None:
        runs = await runs_of(user_api, "hang-0")
        return runs if len(runs) >= 3 else None

    hung = await wait_for(three_hung_runs, timeout=5)
    assert all(r["outcome"] == "failed" and r["error_class"] == "timeout" for r in hung), hung
    assert all(2900 <= r["duration_ms"] < 4000 for r in hung), hung
    hung_dues = sorted(r["due_at"] for r in hung)
    assert all(abs(b - a - 1.0) < 1e-6 for a, b in zip(hung_dues, hung_dues[1:], strict=False)), hung_dues
    # When the first wave timed out, its slots went to the runs waiting in the lane.
    assert hanging.requests >= 2 * HttpClientSection().pool_per_host


@pytest.mark.timing
@pytest.mark.slow
async def test_a_new_healthy_job_stays_on_time_while_100_jobs_hang(
    user_api: Api, hanging: RawTarget, sink: Sink
) -> None:
    # The hanging jobs fill the pool first; the healthy job then has no pooled connection to reuse,
    # as happens to any job whose keep-alive connection expired (a job firing every few minutes).
    await create_hanging_jobs(user_api, hanging, timeout=10)
    await user_api.create_job("healthy", sink.url, schedule="every 1 seconds", data={"url": f"{sink.url}/healthy"})
    start = time.time()
    await asyncio.sleep(3.0)  # the window being measured, not a wait for an outcome
    end = time.time() - 1
    expected = math.floor(end - start)
    hits = hits_due_between(sink, "/healthy", start, end)
    arrival_ms = [round((h.arrived_at - scheduled_at(h.headers)) * 1000) for h in hits]
    assert len(hits) >= expected and all(ms < 100 for ms in arrival_ms), (expected, arrival_ms)
