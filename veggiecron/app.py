"""Build and wire the parts; start and stop them in order; stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import tornado.netutil
import tornado.web

from . import descriptors
from .api.audit import AuditHandler
from .api.base import Context, NotFoundHandler
from .api.calendars import CalendarHandler, CalendarsHandler
from .api.connections import BoundedHTTPServer
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
from .api.oidc import DiscoveryHandler, JwksHandler
from .api.openapi import routes as openapi_routes
from .api.ops import HealthHandler, IndexHandler, NotThisRoleHandler, PrometheusHandler
from .api.seed import routes as seed_routes
from .api.signing import SigningSecretHandler, SigningSecretsHandler
from .audit import SYSTEM_ACTOR
from .audit_trail import AuditTrail
from .auth import Accounts, Passwords, Tokens
from .calendar_service import CalendarService
from .clock import Clock, SystemClock
from .cluster import ClusterScheduler, ClusterSettings, node_identity
from .cluster.api_node import ApiNodeScheduler
from .cluster.nodes import Heartbeat
from .config import Config, is_postgres_url
from .daemon_lock import serving
from .errors import Invalid
from .health import Health
from .jobs import JobService
from .jobtypes.base import TypeContext
from .jobtypes.registry import JobTypes
from .logs import configure_logging  # noqa: F401 - its former home; start-up code imports it from here
from .maintenance import Maintenance, Retention
from .metrics import Metrics
from .metrics_push import MetricsPusher
from .model import Run
from .oidc import OidcIssuer
from .outbound import OutboundPolicy
from .reloading import keep_reloading
from .scheduler import Scheduler
from .sealed import SecretBox
from .sealed_columns import check_secrets_key
from .seed import SeedService
from .signing import SigningBook
from .signing_service import SigningService
from .stop_steps import reported
from .store import Store
from .store.postgres import PostgresStore
from .store.postgres.connection import redact
from .store.sqlite import SqliteStore
from .throttle import AddressThrottle
from .ui import app_settings as ui_settings
from .ui import routes as ui_routes

logger = logging.getLogger(__name__)


JOB_NAME = r"([^/]+)"
# How soon a calendar changed on another node reaches this one's compiled jobs (its own changes: at once).
CALENDAR_RELOAD_SECONDS = 1.0


def make_app(ctx: Context, role: str = "all") -> tornado.web.Application:
    """The tornado application with every route of both APIs and the dashboard; on a scheduler
    node, /health and /metrics alone."""
    args = {"ctx": ctx}
    if role == "scheduler":
        return tornado.web.Application(
            [(r"/health", HealthHandler, args), (r"/metrics", PrometheusHandler, args)],
            default_handler_class=NotThisRoleHandler,
            default_handler_args=args,
            xheaders=False,
        )
    routes = [
        (r"/", IndexHandler, args),
        (r"/health", HealthHandler, args),
        (r"/metrics", PrometheusHandler, args),
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
        (r"/calendars/?", CalendarsHandler, args),
        (r"/calendars/([^/]+)", CalendarHandler, args),
        (r"/audit/?", AuditHandler, args),
        (r"/signing-secrets/?", SigningSecretsHandler, args),
        (r"/\.well-known/openid-configuration", DiscoveryHandler, args),
        (r"/\.well-known/jwks\.json", JwksHandler, args),
        (r"/signing-secrets/([^/]+)", SigningSecretHandler, args),
        *seed_routes(args),
        *openapi_routes(args),
        *ui_routes(args),
    ]
    settings = ui_settings(ctx.config) if ctx is not None else {}  # None: the route table alone (tests)
    return tornado.web.Application(
        routes, default_handler_class=NotFoundHandler, default_handler_args=args, xheaders=False, **settings
    )


def make_store(config: Config) -> Store:
    """The store the configuration names: PostgreSQL for a postgresql:// database, else a SQLite file."""
    if is_postgres_url(config.database):
        return PostgresStore(config.database)
    return SqliteStore(config.db_file, synchronous=config.sqlite.synchronous)


class Server:
    """The whole daemon: store, runner, scheduler and HTTP API, started and stopped in order.

    The composition root: the only place that names a concrete store.
    """

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.outbound = OutboundPolicy(config.app.env, config.http_client.allow_networks)
        clustered = is_postgres_url(config.database)
        self.node = node_identity(config.cluster.node_name) if clustered else ""
        self.signing_book = SigningBook()  # every user's signing keys, read by the runner on each run
        self.box = SecretBox.of(config.security.secrets_key, config.app.key)  # what seals the stored secrets
        overlap = config.security.jwks_overlap_hours * 3600
        self.oidc = OidcIssuer(self.box, self.clock, config.app.public_url, overlap)  # signs jobs' OIDC tokens
        self.job_types = JobTypes.load(TypeContext(config, self.outbound, self.node, self.signing_book, self.oidc))
        self.runner = self.job_types.runners()
        self.metrics = Metrics()
        self.role = config.cluster.role if clustered else "all"  # config refuses another role on SQLite
        self.store: Store
        self.scheduler: Scheduler | ClusterScheduler | ApiNodeScheduler
        self.heartbeat: Heartbeat | None = None
        if clustered:
            self.store, self.scheduler = self._cluster_node(config.database)
        else:
            self.store = make_store(config)
            self.scheduler = Scheduler(
                self.store,
                self.runner,
                self.job_types,
                self.clock,
                flush_interval=config.scheduler.flush_interval_seconds,
                window=config.scheduler.window_seconds,
                lane_limit=config.http_client.pool_per_host,
                run_listeners=[self.metrics.observe_run, self._ran],
            )
        self.oidc.bind(self.store)
        retention = Retention(config.scheduler.run_history_per_job, config.scheduler.run_history_max_age_days)
        self.maintenance = Maintenance(
            self.store,
            self.store,
            self.clock,
            retention,
            audit=self.store,
            audit_max_age_days=config.audit.max_age_days,
            observe_batch=self.metrics.trim_seconds.observe,
        )
        self.metrics.watch_history_trim(lambda: self.maintenance.longest_batch_seconds)
        self.http_server: BoundedHTTPServer | None = None
        self.fd_watch: asyncio.Task[None] | None = None
        self.port: int | None = None
        self.loop_watch: asyncio.Task[None] | None = None
        self.metrics_push: MetricsPusher | None = None
        self._sockets: list[socket.socket] = []
        self._serving = False
        self._database_lock = ExitStack()  # the lock on a SQLite database file, while this server runs
        self.ctx = self._context()
        self.calendar_watch: asyncio.Task[None] | None = None
        self.signing_watch: asyncio.Task[None] | None = None
        self.oidc_watch: asyncio.Task[None] | None = None

    def _ran(self, run: Run) -> None:
        """A run was recorded: its job's history is trimmed at the next pass of the maintenance."""
        self.maintenance.observe_run(run)

    def _cluster_node(self, url: str) -> tuple[Store, ClusterScheduler | ApiNodeScheduler]:
        """One node of several sharing a PostgreSQL database; an api node claims nothing."""
        config, cluster = self.config, self.config.cluster
        store = PostgresStore(url, max_size=max(10, config.http_client.pool_size // 10))
        self.heartbeat = Heartbeat(store, self.node, self.role, cluster.lease_seconds, self.clock)
        if self.role == "api":
            return store, ApiNodeScheduler(store, self.clock, self.node, result_wait=cluster.lease_seconds)
        settings = ClusterSettings(
            lease=cluster.lease_seconds,
            claim_ahead=cluster.claim_ahead_seconds,
            poll_interval=cluster.poll_interval_seconds,
            reap_interval=cluster.reap_interval_seconds,
            claim_batch=cluster.claim_batch,
            max_held=cluster.max_held,
            flush_interval=config.scheduler.flush_interval_seconds,
        )
        scheduler = ClusterScheduler(
            store,
            self.runner,
            self.job_types,
            self.clock,
            owner=self.node,
            settings=settings,
            lane_limit=config.http_client.pool_per_host,
            run_listeners=[self.metrics.observe_run, self._ran],
            on_refused=self.metrics.results_refused.inc,
            on_reaped=self.metrics.claims_reaped.inc,
            on_claimed=self.metrics.claim_seconds.observe,
        )
        self.metrics.watch_leases(scheduler.leases.lease_age)
        return store, scheduler

    def _context(self) -> Context:
        config = self.config
        security = config.security
        shared = is_postgres_url(config.database)
        jobs = JobService(
            self.store,
            self.store,
            self.scheduler,
            config,
            self.clock,
            self.outbound,
            self.job_types,
            shared,
            calendars=self.store,
            audit_log=self.store,
            chains=self.store,
        )
        calendars = CalendarService(self.store, jobs, self.job_types.calendars, self.clock)
        throttle = AddressThrottle(
            security.login_failures_per_user,
            security.login_failures_per_address,
            security.login_failures_global,
            security.login_window_seconds,
        )
        accounts = Accounts(
            self.store,
            Passwords(security.bcrypt_rounds),
            Tokens(config.app.key),
            security.token_lifetime_days * 86400,
            self.clock,
            throttle,
        )
        seed = SeedService(jobs, self.store, self.runner, config, self.clock)
        health = Health(
            self.store,
            self.store,
            self.scheduler,
            self.metrics,
            nodes=self.store if isinstance(self.store, PostgresStore) else None,
            role=self.role,
            lease=config.cluster.lease_seconds,
        )
        audit = AuditTrail(self.store, self.clock, accounts.tokens.digest)
        signing = SigningService(self.store, self.store, self.signing_book, self.clock, self.box)
        return Context(
            config, jobs, accounts, seed, health, self.metrics, self.clock, calendars, audit, signing, self.oidc
        )

    async def start(self) -> None:
        """Bind the port first, so a taken port fails before the database is touched; then start the rest.

        A start that fails half-way leaves the started parts to stop(), which stops only those.
        """
        config = self.config
        family = socket.AF_INET if ":" not in config.host else socket.AF_UNSPEC
        sockets = tornado.netutil.bind_sockets(config.port, config.host, family=family, backlog=1024)
        self._sockets = sockets
        self.port = sockets[0].getsockname()[1]
        # Blocking calls get threads of their own (DNS is not one: the runner asks it asynchronously).
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=config.http_client.resolver_threads, thread_name_prefix="veggiecron-io")
        )
        if not is_postgres_url(config.database):
            # Held for as long as this server runs, so that `veggiecron import` refuses to write
            # behind it; taken once the port is bound, so a taken port leaves no file behind.
            await asyncio.to_thread(self._database_lock.enter_context, serving(config.db_file))
        await self.store.open()
        await self.ctx.calendars.load()  # before the scheduler compiles a job
        await self.ctx.signing.load()  # before the first run is sent
        # Before the scheduler compiles a job: a key that cannot open the stored secrets stops the start.
        await check_secrets_key(self.store, self.job_types, self.box)
        await self.oidc.ensure_key()  # the JWKS always has a key, and a job with data.oidc one to sign with
        await self.runner.start()
        if config.seed.metrics_url:
            self.metrics_push = MetricsPusher(
                config.seed.metrics_url, config.seed.metrics_auth_user, config.seed.metrics_auth_password
            )
            await self.metrics_push.start()
            self.runner.observe_failed_attempts(self.metrics_push.failed_attempt)
        await self.scheduler.start()
        if self.heartbeat is not None:
            await self.heartbeat.start()
        if self.role != "api":  # run history is trimmed by the nodes that write it
            self.maintenance.start()
        self.loop_watch = asyncio.create_task(self.metrics.watch_event_loop(), name="veggiecron-loop-lag")
        # rotate-keys writes to the store: every server, one or several, picks the new key up.
        self.oidc_watch = asyncio.create_task(
            keep_reloading(self.oidc.load, CALENDAR_RELOAD_SECONDS, "OIDC keys"), name="veggiecron-oidc"
        )
        if is_postgres_url(config.database):  # another node may change a calendar
            self.calendar_watch = asyncio.create_task(
                keep_reloading(self.ctx.calendars.reload, CALENDAR_RELOAD_SECONDS, "calendars"),
                name="veggiecron-calendars",
            )
            self.signing_watch = asyncio.create_task(
                keep_reloading(self.ctx.signing.load, CALENDAR_RELOAD_SECONDS, "signing secrets"),
                name="veggiecron-signing",
            )
        fd_limit = descriptors.raise_limit()
        most = config.api.max_connections or descriptors.client_connection_budget(
            fd_limit, config.http_client.pool_size
        )
        # Streaming handlers answer bodies over api.max_body_bytes with a 413, discarding what
        # they receive past the limit; this larger bound only stops endless uploads.
        self.http_server = BoundedHTTPServer(
            make_app(self.ctx, self.role),
            max_body_size=max(8 * config.api.max_body_bytes, 16 * 1024 * 1024),
            idle_connection_timeout=config.api.idle_timeout_seconds,
            body_timeout=config.api.body_timeout_seconds,
            max_connections=most,
            on_closed=self.metrics.connection_closed,
        )
        self.metrics.watch_connections(self.http_server.connection_count, most, descriptors.open_count, fd_limit)
        self.fd_watch = asyncio.create_task(descriptors.watch(), name="veggiecron-descriptors")
        logger.info("open files limit %s: at most %d client connections", fd_limit or "unknown", most)
        self.http_server.add_sockets(self._sockets)
        self._serving = True
        logger.info(
            "%s (%s%s) listening on http://%s:%d, database %s",
            config.app.name,
            config.app.env,
            "" if self.role == "all" else f", {self.role} node",
            config.host,
            self.port,
            redact(config.database) if is_postgres_url(config.database) else os.path.abspath(config.db_file),
        )

    async def stop(self) -> None:
        """Stop accepting requests, let runs in flight finish within the grace period, close the database."""
        serving = self._serving  # else a failed start is undone, and says nothing
        grace = self.config.scheduler.shutdown_grace_seconds
        if serving:
            logger.info("stopping: no new requests; giving runs in flight %.1fs", grace)
        if self.http_server is not None:
            self.http_server.stop()
            await reported("closing client connections", self.http_server.close_all_connections())
        for sock in self._sockets:
            sock.close()  # bound but never served when the start failed; closing twice is harmless
        await reported("Seed deliveries", self.ctx.seed.stop(grace))
        await reported("housekeeping (trimming history)", self.maintenance.stop())
        for watcher in (self.loop_watch, self.fd_watch, self.calendar_watch, self.signing_watch, self.oidc_watch):
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        await reported("the scheduler (runs in flight, results)", self.scheduler.stop(grace))
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        await self.runner.stop()
        if self.metrics_push is not None:
            await self.metrics_push.stop()
        await reported("the database (writes queued)", self.store.close())
        self._database_lock.close()
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
    store = make_store(config)
    await store.open()
    try:
        accounts = Accounts(
            store,
            Passwords(config.security.bcrypt_rounds),
            Tokens(config.app.key),
            config.security.token_lifetime_days * 86400,
            SystemClock(),
        )
        user = await accounts.ensure_admin(username, by=SYSTEM_ACTOR)
        lifetime = config.security.service_token_lifetime_days * 86400
        token, _expires = await accounts.issue_token(user, lifetime, by=SYSTEM_ACTOR)
        logger.info("admin %s (user %d) has a new token", user.username, user.id)
        return token
    finally:
        await store.close()
