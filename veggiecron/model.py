"""Domain records: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"  # due while the previous run was in flight (overlap policy)
    MISSED = "missed"  # not run: later than the job's grace, or passed over by its catch-up policy


class JobState(StrEnum):
    SCHEDULED = "scheduled"  # enabled, with a next run
    DISABLED = "disabled"  # switched off by its owner
    DONE = "done"  # no run left (a `once` job that has fired)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    date_created: float
    date_updated: float
    email: str = ""


@dataclass(frozen=True)
class SeedFields:
    """What a Seed Scheduler schedule holds beyond its job."""

    uuid: str
    cron_definition: str | None
    interval_definition: str | None
    endpoint: str
    auth_token: str | None
    payload: Any
    created_by: int | None
    updated_by: int | None


@dataclass(frozen=True)
class Webhook:
    """A subscription: POST to `target` when `event` happens to one of the owner's schedules."""

    id: int
    user_id: int
    event: str
    target: str
    created: float
    updated: float


@dataclass(frozen=True)
class FailedTask:
    """A run that failed for good, kept so it can be requeued."""

    id: int
    job_id: int
    task_id: str
    initiated_at: float
    reason: str


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """What one run of an http job sends; built from a job's validated `data`."""

    url: str
    # scheme://host:port, what per-target connection limits count by (the runner's slots and
    # the scheduler's lanes); computed once when the target is built.
    connection_key: str
    host: str = ""  # the URL's host name or address, checked against the outbound policy
    verb: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    number_of_clones: int = 1
    enable_shadows: bool = False
    timeout: float = 30.0
    retries: int = 0
    success_codes: frozenset[int] = field(default_factory=lambda: frozenset(range(200, 300)))
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    retry_on: frozenset[int] = frozenset()  # 4xx answers retried anyway (5xx, 408 and 429 always are)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    user_id: int
    name: str
    type: str
    data: dict[str, Any]
    schedule: str
    timezone: str
    enabled: bool
    next_run: float | None
    anchor: float  # start of the schedule's interval grid (epoch seconds)
    version: int  # bumped on every owner change; stale scheduler writes are dropped
    date_created: float
    date_updated: float
    max_runs: int | None = None  # the job disables itself after this many runs
    run_count: int = 0  # runs dispatched so far
    keep_failures: bool = False  # a run that fails for good is kept as a failed task to requeue
    policy: dict[str, Any] = field(default_factory=dict)  # the job's policy fields as given (see policies.py)
    consecutive_failures: int = 0
    paused_reason: str | None = None  # why the job disabled itself

    @property
    def state(self) -> JobState:
        if not self.enabled:
            return JobState.DISABLED
        if self.next_run is None:
            return JobState.DONE
        return JobState.SCHEDULED


@dataclass(frozen=True)
class Run:
    """One run's outcome as recorded in the history."""

    job_id: int
    due_at: float
    started_at: float
    duration_ms: float
    outcome: RunOutcome
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    id: int | None = None
    error_class: str | None = None  # dns, connect, timeout, tls, http_status, body_too_large, invalid_url

    @property
    def lateness_ms(self) -> float:
        return (self.started_at - self.due_at) * 1000.0
