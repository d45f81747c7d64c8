"""A closed-loop HTTP/1.1 load generator on raw asyncio (uvloop when installed), run in a process of its own.

Each of `connections` keep-alive connections sends one request, waits for the whole answer,
records its latency and sends the next, until `seconds` have passed (with `pipeline` above 1, it
writes that many requests at once and waits for all their answers). Requests are prebuilt bytes
and answers are framed by Content-Length only (what tornado sends for a finished handler), so the
client costs a small fraction of what the server does and the figures are the server's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.stats import percentile
from start import run


@dataclass(frozen=True)
class LoadPlan:
    """What the load process sends; picklable, so it crosses to a spawned process."""

    port: int
    token: str
    # "read": GET /job/job<i> over the first `jobs` jobs; "write": POST /job, new names;
    # "sink": the request veggiecron sends for a job (bench/sink.py measures itself with it)
    mode: str
    connections: int
    seconds: float
    jobs: int = 1
    target_url: str = "http://127.0.0.1:9/"  # the url of the jobs that "write" creates
    schedule: str = "every 1 hours"  # of created jobs: rare enough not to add dispatch load
    host: str = "127.0.0.1"
    # Requests written back to back on a connection before its answers are read (HTTP/1.1
    # pipelining): lets one load process offer the sink more than it can send one at a time.
    pipeline: int = 1


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    connection_errors: int = 0

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)


def request_maker(plan: LoadPlan) -> Callable[[], bytes]:
    """A function answering the next request's bytes."""
    common = f"Host: {plan.host}:{plan.port}\r\nX-Auth-Token: {plan.token}\r\n"
    if plan.mode == "read":
        reads = [f"GET /job/job{i} HTTP/1.1\r\n{common}\r\n".encode() for i in range(plan.jobs)]
        cycle = itertools.cycle(reads)
        return lambda: next(cycle)
    if plan.mode == "write":
        counter = itertools.count()
        prefix = f"load{os.getpid()}n"

        def write() -> bytes:
            body = json.dumps(
                {
                    "name": f"{prefix}{next(counter)}",
                    "type": "http",
                    "data": {"url": plan.target_url},
                    "schedule": plan.schedule,
                }
            ).encode()
            head = (
                f"POST /job HTTP/1.1\r\n{common}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            return head.encode() + body

        return write
    if plan.mode == "sink":
        request = (
            f"GET /j1 HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\nUser-Agent: veggiecron/bench\r\n"
            "X-Veggiecron-Job: 1\r\nX-Veggiecron-Scheduled-At: 2026-01-01T00:00:00.000000+00:00\r\n"
            "Idempotency-Key: 1-1767225600000000\r\nAccept: */*\r\n\r\n"
        ).encode()
        return lambda: request
    raise ValueError(f"unknown mode {plan.mode!r}")


class ClientConnection(asyncio.Protocol):
    """One keep-alive connection with one batch of requests (usually one) in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[list[int]] | None = None
        self.expected = 0
        self.statuses: list[int] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.waiter is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self.waiter.set_exception(ConnectionError("answer without Content-Length"))
                self.waiter = None
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.statuses.append(int(head[9:12]))
            del self.buffer[:total]
            if len(self.statuses) == self.expected:
                waiter, self.waiter = self.waiter, None
                waiter.set_result(self.statuses)

    async def send(self, requests: list[bytes]) -> list[int]:
        """Send requests back to back; answer their statuses once every response has arrived."""
        if self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.expected, self.statuses = len(requests), []
        self.transport.write(b"".join(requests))
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def generate(plan: LoadPlan, started: Callable[[float], None]) -> LoadResult:
    """Run the plan in this process; call started(epoch) once every connection is open."""
    loop = asyncio.get_running_loop()
    next_request = request_maker(plan)

    async def connect() -> ClientConnection:
        _transport, protocol = await loop.create_connection(ClientConnection, plan.host, plan.port)
        return protocol

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    connections = await asyncio.gather(*(connect() for _ in range(plan.connections)))
    started(time.time())
    begin = time.perf_counter()
    deadline = begin + plan.seconds

    async def worker(connection: ClientConnection) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                while time.perf_counter() < deadline:
                    batch = [next_request() for _ in range(plan.pipeline)]
                    sent = time.perf_counter()
                    answered = await connection.send(batch)
                    latencies.append((time.perf_counter() - sent) * 1000.0)
                    statuses.update(answered)
            except (ConnectionError, OSError):
                errors += 1
                connection.close()
                if time.perf_counter() < deadline:
                    connection = await connect()
        connection.close()

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - begin
    return LoadResult(
        requests=sum(statuses.values()),
        seconds=elapsed,
        latency_p50_ms=percentile(latencies, 0.50),
        latency_p99_ms=percentile(latencies, 0.99),
        latency_max_ms=max(latencies, default=float("nan")),
        statuses=dict(statuses),
        connection_errors=errors,
    )


def _process_main(plan: LoadPlan, pipe: Connection) -> None:
    """The spawned process: report ("started", epoch), then ("done", LoadResult)."""

    async def main() -> LoadResult:
        return await generate(plan, lambda at: pipe.send(("started", at)))

    result = run(main())
    pipe.send(("done", result))
    pipe.close()


class LoadProcess:
    """The generator in a spawned process, so its CPU is not taken from the caller's event loop."""

    def __init__(self, plan: LoadPlan) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe(duplex=False)
        self._process = context.Process(target=_process_main, args=(plan, child), daemon=True)
        self._process.start()
        child.close()

    async def _receive(self, expected: str) -> Any:
        try:
            kind, value = await asyncio.get_running_loop().run_in_executor(None, self._pipe.recv)
        except EOFError:
            raise RuntimeError(f"the load process died (exit code {self._process.exitcode})") from None
        assert kind == expected, (kind, expected)
        return value

    async def started(self) -> float:
        """Wait until every connection is open and the clock runs; answer that moment (epoch seconds)."""
        at: float = await self._receive("started")
        return at

    async def result(self) -> LoadResult:
        result: LoadResult = await self._receive("done")
        await asyncio.get_running_loop().run_in_executor(None, self._process.join, 10)
        return result
