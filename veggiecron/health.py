"""The daemon's own state for /health, /api/health/ and /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .cluster.nodes import NodeBook, nodes_report
from .metrics import Metrics
from .store import Database, JobStore


class SchedulerStatus(Protocol):
    def is_alive(self) -> bool: ...

    def scheduled_count(self) -> int: ...

    def in_flight_count(self) -> int: ...


@dataclass(frozen=True)
class HealthReport:
    database: bool  # the database answers
    scheduler: bool  # the scheduler loop is alive
    scheduled_jobs: int | None  # enabled jobs with a next run (None when the database did not say)
    jobs_in_window: int
    runs_in_flight: int
    role: str = "all"
    # Several nodes: each node's row (name, role, started, last heartbeat), and whether a node that
    # sends runs was seen within a lease (None on SQLite, or when the database did not say).
    nodes: list[dict[str, object]] = field(default_factory=list)
    senders_seen: bool | None = None

    @property
    def healthy(self) -> bool:
        return self.database and self.scheduler


LARGE_TABLE = 100_000  # jobs: below this a count is cheap, and always made afresh
SLOW_COUNT = 0.05  # seconds: a count of a large table this slow is reused...
REUSE_FACTOR = 100  # ...for this many times as long as it took,
MAX_REUSE = 60.0  # and never longer than this


class JobGauges:
    """The jobs by state, for /metrics.

    Counting reads every job: a million took half a second of PostgreSQL's CPU, and a Prometheus
    scraping each node every 15 s would have spent 3 % of a core on it. A count of at least
    LARGE_TABLE jobs that took at least SLOW_COUNT is reused for REUSE_FACTOR times as long as it
    took (at most MAX_REUSE), so that the gauges cost the database about 1 % of its time. A smaller
    table is counted afresh at every scrape: its count is cheap, and a slow one there is a busy
    event loop or a wait for a connection, not the count's own cost.
    """

    def __init__(self, jobs: JobStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self.clock = clock
        self._counts: dict[str, int] | None = None
        self._fresh_until = 0.0

    async def counts(self) -> dict[str, int]:
        if self._counts is not None and self.clock() < self._fresh_until:
            return self._counts
        started = self.clock()
        counts = await self.jobs.job_counts_by_state()
        ended = self.clock()
        took = ended - started
        self._counts = counts
        large = sum(counts.values()) >= LARGE_TABLE
        self._fresh_until = ended + min(took * REUSE_FACTOR, MAX_REUSE) if large and took >= SLOW_COUNT else 0.0
        return counts


class Health:
    def __init__(
        self,
        database: Database,
        jobs: JobStore,
        scheduler: SchedulerStatus,
        metrics: Metrics,
        *,
        nodes: NodeBook | None = None,
        role: str = "all",
        lease: float = 10.0,
    ) -> None:
        self.database = database
        self.jobs = jobs
        self.scheduler = scheduler
        self.metrics = metrics
        self.nodes = nodes
        self.role = role
        self.lease = lease
        self.gauges = JobGauges(jobs)

    async def probe(self, count_jobs: bool = True) -> HealthReport:
        """Ask the database and the scheduler; any database fault is an answer (unhealthy), not an error."""
        scheduled: int | None = None
        nodes: list[dict[str, object]] = []
        senders: bool | None = None
        try:
            database = await self.database.ping()
            if database and count_jobs:
                scheduled = await self.jobs.count_scheduled()
            if database and self.nodes is not None:
                nodes, senders = await nodes_report(self.nodes, self.lease)
        except Exception:  # a database that fails is reported as unavailable, never raised to the client
            database = False
        return HealthReport(
            database,
            self.scheduler.is_alive(),
            scheduled,
            self.scheduler.scheduled_count(),
            self.scheduler.in_flight_count(),
            self.role,
            nodes,
            senders,
        )

    async def metrics_text(self) -> bytes:
        """The Prometheus exposition, with the job gauges read from the store (see JobGauges)."""
        return self.metrics.render(await self.gauges.counts())
