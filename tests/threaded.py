"""The real server in a thread of its own, for blocking clients (schemathesis, requests, hypothesis).

Every destination but loopback is refused, and tests that let generated data create jobs move
the URLs they carry onto a local sink (bench.fuzz.confine_case), so nothing calls out.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

import tornado.web

from bench.fuzz import loopback_only
from tests.helpers import Sink, start_sink, test_config
from veggiecron.api import openapi
from veggiecron.app import Server
from veggiecron.config import Config, QuotasSection


def with_openapi_routes(application: tornado.web.Application, ctx: Any) -> tornado.web.Application:
    """Add openapi.routes to an application built by make_app, unless it already has them."""
    targets = {rule.target for rule in application.wildcard_router.rules}
    if openapi.OpenApiHandler not in targets:
        application.wildcard_router.add_rules(openapi.routes({"ctx": ctx}))
    return application


async def add_openapi_routes(server: Server) -> str:
    assert server.http_server is not None
    with_openapi_routes(server.http_server.request_callback, server.ctx)  # type: ignore[arg-type]
    return f"http://127.0.0.1:{server.port}"


def fuzz_config(db_file: str) -> Config:
    config = test_config(db_file)
    return replace(
        config,
        # Issues OIDC tokens, so that data.oidc and the JWKS are in the document and fuzzed too.
        app=replace(config.app, public_url="https://cron.example.org"),
        log_level="WARNING",
        # schemathesis reuses names it has seen (the fuzz user's) with wrong passwords: no lockouts.
        security=replace(config.security, login_failures_per_user=10**6, login_failures_per_address=10**6),
        # Bound what generated jobs may send to the sink.
        quotas=QuotasSection(max_jobs_per_user=200, max_runs_per_minute=600),
    )


class ThreadedServer:
    """The real server in its own thread and event loop, with a loopback sink beside it."""

    def __init__(self, db_file: str) -> None:
        self.db_file = db_file
        self.config = fuzz_config(db_file)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="veggiecron-under-test", daemon=True)
        self.server: Server | None = None
        self.sink: Sink | None = None
        self._sink_runner: Any = None
        self.base_url = ""
        self.tokens: Any = None  # what a test keeps its fuzz user's token in
        self.session: Any = None  # a requests.Session: one connection for many requests

    async def _start(self) -> None:
        self.sink, self._sink_runner = await start_sink()
        self.server = Server(self.config)
        loopback_only(self.server.outbound)
        await self.server.start()
        self.base_url = await add_openapi_routes(self.server)

    async def _stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self._sink_runner is not None:
            await self._sink_runner.cleanup()

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
