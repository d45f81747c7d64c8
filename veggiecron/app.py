"""Build and wire the parts; start and stop them in order; stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

import tornado.httpserver
import tornado.netutil
import tornado.web

from .api.base import Context, NotFoundHandler
from .api.native import (
    JobHandler,
    JobNextHandler,
    JobRunHandler,
    JobRunsHandler,
    JobsHandler,
    LoginHandler,
    LogoutHandler,
    RegisterHandler,
    TokenHandler,
    TokensHandler,
)
from .api.openapi import routes as openapi_routes
from .api.ops import HealthHandler, IndexHandler
from .api.seed import routes as seed_routes
from .auth import Accounts, Passwords, Tokens
from .config import Config
from .errors import Invalid
from .jobs import JobService
from .logs import configure_logging  # noqa: F401 - its former home; start-up code imports it from here
from .metrics import Metrics
from .metrics_push import MetricsPusher
from .outbound import OutboundPolicy
from .runners.http import HttpRunner
from .scheduler import Clock, Scheduler, SystemClock
from .seed import SeedService
from .store import SqliteStore
from .throttle import LoginThrottle

logger = logging.getLogger(__name__)

JOB_NAME = r"([^/]+)"


def make_app(ctx: Context) -> tornado.web.Application:
    """The tornado application with every route of both APIs."""
    args = {"ctx": ctx}
    routes = [
        (r"/", IndexHandler, args),
        (r"/health", HealthHandler, args),
        (r"/register", RegisterHandler, args),
        (r"/login", LoginHandler, args),
        (r"/logout", LogoutHandler, args),
        (r"/tokens/?", TokensHandler, args),
        (r"/tokens/([^/]+)", TokenHandler, args),
        (r"/job/?", JobsHandler, args),
        (rf"/job/{JOB_NAME}/run", JobRunHandler, args),
        (rf"/job/{JOB_NAME}/runs", JobRunsHandler, args),
        (rf"/job/{JOB_NAME}/next", JobNextHandler, args),
        (rf"/job/{JOB_NAME}", JobHandler, args),
        *seed_routes(args),
        *openapi_routes(args),
    ]
    return tornado.web.Application(
        routes, default_handler_class=NotFoundHandler, default_handler_args=args, xheaders=False
    )


class Server:
    """The whole daemon: store, runner, scheduler and HTTP API, started and stopped in order."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store = SqliteStore(config.db_file)
        self.outbound = OutboundPolicy(config.app.env, config.http_client.allow_networks)
        self.runner = HttpRunner(config.http_client, self.outbound)
        self.scheduler: Scheduler | None = None
        self.http_server: tornado.httpserver.HTTPServer | None = None
        self.port: int | None = None
        self.metrics = Metrics()
        self.metrics_push: MetricsPusher | None = None
        self.ctx: Context | None = None
        self._sockets: list[socket.socket] = []

    async def start(self) -> None:
        """Bind the port first, so a taken port fails before the database is touched; then start the rest.

        A start that fails half-way leaves the started parts to stop(), which stops only those.
        """
        config = self.config
        family = socket.AF_INET if ":" not in config.host else socket.AF_UNSPEC
        sockets = tornado.netutil.bind_sockets(config.port, config.host, family=family, backlog=1024)
        self._sockets = sockets
        self.port = sockets[0].getsockname()[1]
        # Blocking calls (DNS lookups above all) get threads enough that slow ones cannot starve the rest.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=config.http_client.resolver_threads, thread_name_prefix="veggiecron-io")
        )
        await self.store.open()
        await self.runner.start()
        if config.seed.metrics_url:
            self.metrics_push = MetricsPusher(
                config.seed.metrics_url, config.seed.metrics_auth_user, config.seed.metrics_auth_password
            )
            await self.metrics_push.start()
            self.runner.on_failed_attempt = self.metrics_push.failed_attempt
        jobs = JobService(self.store, None, config, self.clock, self.outbound)  # type: ignore[arg-type]
        self.scheduler = Scheduler(
            self.store,
            self.runner,
            jobs.build_target,
            self.clock,
            flush_interval=config.scheduler.flush_interval_seconds,
            run_history_per_job=config.scheduler.run_history_per_job,
            window=config.scheduler.window_seconds,
            lane_limit=config.http_client.pool_per_host,
        )
        jobs.scheduler = self.scheduler
        self.scheduler.on_run = self.metrics.observe_run
        security = config.security
        throttle = LoginThrottle(
            security.login_failures_per_user, security.login_failures_per_address, security.login_window_seconds
        )
        accounts = Accounts(
            self.store,
            Passwords(config.security.bcrypt_rounds),
            Tokens(config.app.key),
            config.security.token_lifetime_days * 86400,
            self.clock,
            throttle,
        )
        seed = SeedService(jobs, self.store, self.runner, config, self.clock)
        ctx = self.ctx = Context(config, self.store, self.scheduler, jobs, accounts, self.clock, seed, self.metrics)
        await self.scheduler.start()
        # Streaming handlers answer bodies over api.max_body_bytes with a 413, discarding what
        # they receive past the limit; this larger bound only stops endless uploads.
        self.http_server = tornado.httpserver.HTTPServer(
            make_app(ctx),
            max_body_size=max(8 * config.api.max_body_bytes, 16 * 1024 * 1024),
            idle_connection_timeout=75,
        )
        self.http_server.add_sockets(self._sockets)
        logger.info(
            "%s (%s) listening on http://%s:%d, database %s",
            config.app.name,
            config.app.env,
            config.host,
            self.port,
            os.path.abspath(config.db_file),
        )

    async def stop(self) -> None:
        """Stop accepting requests, let runs in flight finish within the grace period, close the database."""
        serving = self.http_server is not None  # else a failed start is undone, and says nothing
        if serving:
            logger.info(
                "stopping: no new requests; giving runs in flight %.1fs", self.config.scheduler.shutdown_grace_seconds
            )
        if self.http_server is not None:
            self.http_server.stop()
            await self.http_server.close_all_connections()
        for sock in self._sockets:
            sock.close()  # bound but never served when the start failed; closing twice is harmless
        if self.ctx is not None:
            await self.ctx.seed.stop(self.config.scheduler.shutdown_grace_seconds)
        if self.scheduler is not None:
            await self.scheduler.stop(self.config.scheduler.shutdown_grace_seconds)
        await self.runner.stop()
        if self.metrics_push is not None:
            await self.metrics_push.stop()
        await self.store.close()
        if serving:
            logger.info("stopped cleanly")


# Every run allocates a few dozen short-lived objects, and at thousands of runs a second the
# default thresholds (700, 10, 10) start a collection every few runs, each walking every live task
# and held job: 15-20% of the loop's time at saturation, and pauses in the lateness tail. Cycles
# are rare here, so the youngest generation is collected after 50,000 allocations instead.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collection() -> None:
    """Raise the collector's thresholds; objects alive after start-up are left out of collections."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly; a signal during the start stops it too."""
    server = Server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(server.start())
    signalled = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return
        starting.result()  # a failed start raises here, after stop() below has undone it
        tune_garbage_collection()
        await signalled
    finally:
        signalled.cancel()
        await server.stop()


async def create_admin(config: Config, username: str) -> str:
    """Create (or promote) an admin user and answer a new service token for it."""
    if not username or len(username) > 254 or any(c.isspace() for c in username):
        raise Invalid("name", "the admin's name must be 1 to 254 characters without spaces")
    store = SqliteStore(config.db_file)
    await store.open()
    try:
        accounts = Accounts(
            store,
            Passwords(config.security.bcrypt_rounds),
            Tokens(config.app.key),
            config.security.token_lifetime_days * 86400,
            SystemClock(),
        )
        user = await accounts.ensure_admin(username)
        token, _expires = await accounts.issue_token(user, config.security.service_token_lifetime_days * 86400)
        logger.info("admin %s (user %d) has a new token", user.username, user.id)
        return token
    finally:
        await store.close()
