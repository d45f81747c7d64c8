"""The daemon's own state for /health, /api/health/ and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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

    @property
    def healthy(self) -> bool:
        return self.database and self.scheduler


class Health:
    def __init__(self, database: Database, jobs: JobStore, scheduler: SchedulerStatus, metrics: Metrics) -> None:
        self.database = database
        self.jobs = jobs
        self.scheduler = scheduler
        self.metrics = metrics

    async def probe(self, count_jobs: bool = True) -> HealthReport:
        """Ask the database and the scheduler; any database fault is an answer (unhealthy), not an error."""
        scheduled: int | None = None
        try:
            database = await self.database.ping()
            if database and count_jobs:
                scheduled = await self.jobs.count_scheduled()
        except Exception:  # a database that fails is reported as unavailable, never raised to the client
            database = False
        return HealthReport(
            database,
            self.scheduler.is_alive(),
            scheduled,
            self.scheduler.scheduled_count(),
            self.scheduler.in_flight_count(),
        )

    async def metrics_text(self) -> bytes:
        """The Prometheus exposition, with the job gauges read from the store now."""
        return self.metrics.render(await self.jobs.job_counts_by_state())
