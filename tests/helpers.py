"""Real parts for tests: the server on a free port, a recording HTTP sink, and waiting with deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from veggiecron.app import Server
from veggiecron.config import (
    ApiSection,
    Config,
    HttpClientSection,
    QuotasSection,
    SchedulerSection,
    SecuritySection,
    load_config,
)

# The server closes the connection after refusing a request before reading its body (see
# tests/api/test_auth.py::test_early_rejection_does_not_break_the_connection); requests expected to
# be refused ask for a connection of their own, so one refusal cannot disturb the next request.
CLOSE = {"Connection": "close"}


def test_config(db_file: str, **overrides: Any) -> Config:
    """Defaults tuned for tests: cheap bcrypt, quick retries, fast flushes, loopback only."""
    config = load_config(None)
    config = replace(
        config,
        host="127.0.0.1",
        port=0,
        db_file=db_file,
        log_level="DEBUG",
        security=SecuritySection(bcrypt_rounds=4, token_lifetime_days=30),
        http_client=HttpClientSection(timeout_seconds=5, retry_backoff_seconds=0.05, retry_backoff_max_seconds=0.2),
        scheduler=SchedulerSection(flush_interval_seconds=0.05, shutdown_grace_seconds=2),
        api=ApiSection(max_body_bytes=64 * 1024),
        # Generous, so tests that create many jobs are not refused; quota tests set their own.
        quotas=QuotasSection(max_jobs_per_user=100_000, max_runs_per_minute=10_000_000),
    )
    return replace(config, **overrides)


test_config.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until predicate() is truthy (awaiting it if needed); fail loudly at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def assert_error(status: int, body: dict[str, Any], expected_status: int, field: str | None = None) -> None:
    """The native API's error envelope with this status (and, when given, naming this field)."""
    assert status == expected_status, body
    assert body["id"] == "error", body
    assert isinstance(body["description"], str) and body["description"], body
    assert isinstance(body["data"], dict), body
    if field is not None:
        assert body["data"].get("field") == field, body


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float


@dataclass(frozen=True)
class Delivery:
    """What a request of a scheduled run says of itself: its job and slot (from its Idempotency-Key),
    the copy (epoch) and the node that sent it."""

    job_id: int
    slot: float  # the due time, from the Idempotency-Key
    epoch: int
    node: str
    arrived: float
    path: str


@dataclass
class Sink:
    """The tests' one local HTTP target: it records every request (`hits`, and each scheduled run's
    request as a Delivery); `status`, `delay`, `body`, `fail_first` and `slow_delay` shape its
    answers. keep_hits False records deliveries only, for loads of thousands a second."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    slow_delay: float = 1.0  # paths under /slow answer after this long
    body: bytes = b"sink ok"
    fail_first: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    keep_hits: bool = True

    def paths(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def between(self, start: float, end: float) -> list[Delivery]:
        """Deliveries of the slots due in [start, end]."""
        return [d for d in self.deliveries if start <= d.slot <= end]

    async def handle(self, request: web.Request) -> web.Response:
        arrived = time.time()
        if self.keep_hits:
            self.hits.append(Hit(request.method, request.path, dict(request.headers), await request.read(), arrived))
        job, _, micros = request.headers.get("Idempotency-Key", "").partition("-")
        if job.isdigit() and micros.isdigit():
            epoch = int(request.headers.get("X-Veggiecron-Epoch", "0"))
            node = request.headers.get("X-Veggiecron-Node", "")
            self.deliveries.append(Delivery(int(job), int(micros) / 1_000_000, epoch, node, arrived, request.path))
        if request.path.startswith("/slow"):
            await asyncio.sleep(self.slow_delay)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503, body=b"not yet")
        return web.Response(status=self.status, body=self.body, headers=self.response_headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve_http(handler: Handler, shutdown_timeout: float = 60.0) -> tuple[str, web.AppRunner]:
    """Serve every method and path with `handler` on a free loopback port: (base url, runner to clean up).

    A short shutdown_timeout lets cleanup() return while handlers still sleep in a delay.
    """
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}", runner


async def start_sink(shutdown_timeout: float = 60.0, keep_hits: bool = True) -> tuple[Sink, web.AppRunner]:
    sink = Sink(keep_hits=keep_hits)
    sink.url, runner = await serve_http(sink.handle, shutdown_timeout)
    return sink, runner


@dataclass
class Reply:
    """An answer as a client sees it: status, body (JSON when it parses, else text), headers, bytes."""

    status: int
    body: Any
    headers: Any  # the response's CIMultiDictProxy
    raw: bytes


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> Reply:
    """One request over real HTTP, for every API client of the tests."""
    async with session.request(method, url, json=json, data=data, headers=headers, params=params) as response:
        raw = await response.read()
        try:
            body = orjson.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Reply(response.status, body, response.headers, raw)


class Api:
    """A small client for the native API over real HTTP."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self.token: str | None = None

    def headers(self, token: str | None = None) -> dict[str, str]:
        token = token or self.token
        return {"X-Auth-Token": token} if token else {}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        merged = {**self.headers(token), **(headers or {})}
        reply = await request(
            self.session, method, self.base + path, json=json, data=data, headers=merged, params=params
        )
        return reply.status, reply.body

    async def register_and_login(self, username: str = "alice", password: str = "s3cret-pass") -> str:
        status, body = await self.call("POST", "/register", json={"username": username, "password": password})
        assert status == 201, body
        status, body = await self.call("POST", "/login", json={"username": username, "password": password})
        assert status == 200, body
        self.token = body["data"]["token"]
        return self.token

    async def create_job(self, name: str, url: str, schedule: str = "every 1 seconds", **extra: Any) -> dict[str, Any]:
        data = extra.pop("data", {"url": url})
        status, body = await self.call(
            "POST", "/job", json={"name": name, "type": "http", "data": data, "schedule": schedule, **extra}
        )
        assert status == 201, body
        return body["data"]


async def start_server(config: Config) -> Server:
    server = Server(config)
    await server.start()
    return server


def sample(text: str, series: str) -> float | None:
    """The value of one series (name with its labels) in a Prometheus text exposition."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None
