"""Domain records: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple, Protocol

from .policies import JobPolicy, Overlap, Timing


class RunOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"  # due while the previous run was in flight (overlap policy)
    MISSED = "missed"  # not run: later than the job's grace, or passed over by its catch-up policy


class JobState(StrEnum):
    SCHEDULED = "scheduled"  # enabled, with a next run
    PAUSED = "paused"  # switched itself off after failing (see paused_reason)
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


class Target(Protocol):
    """One job's parsed `data`: immutable, built once when the job is compiled, sent on every run."""

    job_type: ClassVar[str]  # the type that built it and runs it

    @property
    def lane(self) -> str | None:
        """Runs of targets in one lane share its connection slots (at most the pool's per-host
        limit in flight; the rest wait in line). None: the run takes no lane slot."""

    @property
    def timeout(self) -> float:
        """Seconds a run may take, waiting for its lane included."""

    @property
    def number_of_clones(self) -> int:
        """Copies of each run sent in parallel; quotas count each."""

    @property
    def enable_shadows(self) -> bool:
        """Runs overlap unless the job's overlap policy says otherwise (Seed's enable_shadows)."""

    @property
    def hosts(self) -> tuple[str, ...]:
        """Names or addresses it calls, which the outbound policy must allow."""


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
    tags: tuple[str, ...] = ()  # its owner's labels, for finding jobs (GET /job?tag=)
    # A follower (schedule "after <parent>"): its parent's id (None once the parent is deleted)
    # and the parent's outcome it runs after (see follow.py).
    after_job: int | None = None
    after_on: str | None = None

    @property
    def state(self) -> JobState:
        if not self.enabled:
            return JobState.PAUSED if self.paused_reason is not None else JobState.DISABLED
        if self.next_run is None and self.after_on is None:  # a follower waits for its parent's runs
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
    # From the slot handed to the runner to its request handed to a connection: the name's lookup
    # and the wait for a free connection. None when no request reached a connection.
    pool_wait_ms: float | None = None
    triggered_by: str | None = None  # a follower's run: the run_id of its parent's run that triggered it

    @property
    def lateness_ms(self) -> float:
        return (self.started_at - self.due_at) * 1000.0


@dataclass(frozen=True)
class NewJob:
    """A validated job about to be stored (the store gives it its id and version 1)."""

    user_id: int
    name: str
    type: str
    data: dict[str, Any]
    schedule: str
    timezone: str
    enabled: bool
    next_run: float | None
    anchor: float
    created_at: float
    max_runs: int | None = None
    keep_failures: bool = False
    policy: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    after_job: int | None = None  # see Job.after_job
    after_on: str | None = None


@dataclass(frozen=True)
class JobFilter:
    """Which of a user's jobs a list shows; every condition given must hold."""

    tags: tuple[str, ...] = ()  # jobs carrying every one of these tags
    text: str = ""  # a piece of the name or of the URL, in any letter case
    state: JobState | None = None
    failing: bool = False  # only jobs whose latest run failed (consecutive_failures > 0)

    def __bool__(self) -> bool:
        return bool(self.tags or self.text or self.state is not None or self.failing)


NO_FILTER = JobFilter()


class StoredFlags(NamedTuple):
    """The fields of a compiled job that seldom differ from one job to the next, as stored when
    it was compiled. Held jobs share one instance per combination (see stored_flags)."""

    enabled: bool
    max_runs: int | None
    keep_failures: bool
    consecutive_failures: int


@functools.lru_cache(maxsize=1024)
def stored_flags(enabled: bool, max_runs: int | None, keep_failures: bool, consecutive_failures: int) -> StoredFlags:
    return StoredFlags(enabled, max_runs, keep_failures, consecutive_failures)


@dataclass(slots=True, eq=False)
class CompiledJob:
    """A job with its schedule, policy and target parsed once; the scheduler never parses again.

    The progress fields (next_run, run_count, flags.consecutive_failures) are as stored when the
    job was compiled. A single daemon's scheduler then moves next_run and run_count on in place:
    it holds every job due soon, and one object per held job (not a compiled job plus a record of
    progress beside it) is what keeps a million held jobs in memory; so do the shared flags and
    the derived overlap. Nothing else changes a compiled job; code that needs another version
    makes one with dataclasses.replace.
    """

    id: int
    version: int
    user_id: int  # the owner, whose signing keys sign its requests
    name: str
    anchor: float
    next_run: float | None
    run_count: int
    flags: StoredFlags
    timing: Timing  # the schedule, shifted by the job's jitter
    target: Target  # the job's data, parsed by its type
    policy: JobPolicy

    @property
    def enabled(self) -> bool:
        return self.flags.enabled

    @property
    def max_runs(self) -> int | None:
        return self.flags.max_runs

    @property
    def keep_failures(self) -> bool:
        return self.flags.keep_failures

    @property
    def consecutive_failures(self) -> int:
        return self.flags.consecutive_failures

    @property
    def overlap(self) -> Overlap:
        return self.policy.overlap_for(self.target.enable_shadows)

    def __lt__(self, other: CompiledJob) -> bool:
        """Earlier next run first, then lower id: the order of the scheduler's heap."""
        mine, theirs = self.next_run or 0.0, other.next_run or 0.0
        return mine < theirs or (mine == theirs and self.id < other.id)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a runner reports for one run (all its clones and attempts)."""

    outcome: RunOutcome
    started_at: float
    duration_ms: float
    attempts: int
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    error_class: str | None = None
    pool_wait_ms: float | None = None  # see Run.pool_wait_ms


def idempotency_key(job_id: int, due_at: float) -> str:
    """Names one slot of one job: the same for every attempt and clone, different for every slot."""
    return f"{job_id}-{int(round(due_at * 1_000_000))}"


class NextRun(NamedTuple):
    job_id: int
    version: int  # written only while the job is still at this version
    next_run: float | None


class KeptFailure(NamedTuple):
    """A run that failed for good, to be kept as a failed task (Seed's requeue)."""

    job_id: int
    task_id: str
    initiated_at: float
    reason: str


class Pause(NamedTuple):
    job_id: int
    version: int  # a job changed by its owner since is not paused
    reason: str


class HeldSlot(NamedTuple):
    """A due slot the scheduler took on (its job moved past it) but has not started yet.

    Stored, so that a restart runs it (or records it as missed) instead of losing it.
    """

    job_id: int
    due_at: float
    reason: str  # WAITING for a connection to its target, BUFFERED behind the run in flight, or TRIGGERED
    since: float  # when it was held
    triggered_by: str | None = None  # TRIGGERED: the parent's run_id


WAITING = "waiting"
BUFFERED = "buffered"
# A follower's slot, stored with its parent's run record and kept until the follower's own run is
# recorded: a restart sends it again, so a recorded parent run never loses its follower's run.
TRIGGERED = "triggered"


@dataclass(frozen=True)
class Progress:
    """What the scheduler learned since its last write, written in one transaction."""

    runs: Sequence[Run] = ()
    next_runs: Sequence[NextRun] = ()
    run_counts: Sequence[tuple[int, int]] = ()  # (job_id, runs dispatched since the last write)
    failures: Sequence[KeptFailure] = ()
    streaks: Sequence[tuple[int, int]] = ()  # (job_id, consecutive failed runs)
    pauses: Sequence[Pause] = ()
    held: Sequence[HeldSlot] = ()  # slots taken on but not started
    released: Sequence[tuple[int, float]] = ()  # (job_id, due_at) of held slots that started or were recorded

    def __bool__(self) -> bool:
        return bool(
            self.runs
            or self.next_runs
            or self.run_counts
            or self.failures
            or self.streaks
            or self.pauses
            or self.held
            or self.released
        )


@dataclass(frozen=True)
class TokenInfo:
    """One of a user's tokens as listed (never the token or its hash)."""

    id: int
    created_at: float
    expires_at: float
    current: bool  # the token this request came with


@dataclass(frozen=True)
class Group:
    id: int
    name: str


# Several nodes on one database: a slot is claimed by one node under a lease, fenced by its epoch.


class Claim(NamedTuple):
    """One slot of one job, held by a node: its result is written only while (owner, epoch) still match."""

    job_id: int
    due_at: float
    epoch: int
    triggered_by: str | None = None  # a follower's slot: the parent's run_id, sent with every copy


class NodeSeen(NamedTuple):
    """A node sharing the database, as its last heartbeat left it (times on the database's clock)."""

    name: str
    role: str  # all, api or scheduler
    started: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class DueJob:
    """A job a node found due (or due within its claim-ahead) and locked, with its runs across nodes."""

    job: Job
    in_flight: int  # its slots claimed by any node and not finished
    buffered: bool  # a slot waits for them (overlap buffer_one)
    triggered: tuple[float, ...] = ()  # a follower's slots its parents' results wrote, not yet claimed


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """What one claim does to one job, decided by the node from its policies at the database's now."""

    job_id: int
    next_run: float | None  # None: nothing left (done, or max_runs reached)
    counted: int  # slots handled, towards max_runs
    claims: tuple[float, ...] = ()  # slots this node will send
    buffered: tuple[float, ...] = ()  # a slot that waits for the runs in flight
    records: tuple[Run, ...] = ()  # slots recorded as they are (skipped, missed)
    replace: bool = False  # overlap replace: the runs in flight on any node are cancelled


@dataclass(frozen=True, slots=True)
class Finished:
    """A run a node finished, with what the store needs to account it."""

    claim: Claim
    run: Run
    version: int  # the job's version when it was claimed: a pause applies only to it
    keep_failure: bool  # a failed run is kept as a failed task (Seed's requeue)
    pause_after: int | None  # the job's pause_after_failures


@dataclass(frozen=True, slots=True)
class StreakChange:
    """A job whose consecutive failures changed when results were written."""

    job_id: int
    before: int
    after: int
    paused: bool  # the job disabled itself just now


@dataclass(frozen=True)
class FinishReport:
    accepted: frozenset[tuple[int, float]]  # (job_id, due_at) of the results written; the others were fenced off
    streaks: tuple[StreakChange, ...] = ()
    promoted: tuple[Claim, ...] = ()  # buffered slots that now start, claimed by the writing node
    triggered: int = 0  # followers' slots the results wrote, for a claim to take
