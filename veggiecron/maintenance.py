"""Housekeeping on a timer: trim each job's run history, forget expired tokens, trim the audit log.

Run history is trimmed job by job in small batches, so that its cost follows what it deletes and no
write waits behind it: the jobs that recorded runs since the last pass are trimmed every pass (one
new run, one old run deleted), and a sweep walks every job, page by page, at the start (a database
that arrives with a backlog is brought within its limits at once) and then every SWEEP_SECONDS (the
age limit reaches jobs that no longer run). While a batch finds a full batch to delete, the next
follows at once; otherwise the trim waits for the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .audit_trail import trim_audit_log
from .clock import Clock
from .errors import StoreUnavailable
from .model import Run
from .store import AccountStore, AuditLog, RunHistory

logger = logging.getLogger(__name__)

EVERY_SECONDS = 60.0
SWEEP_SECONDS = 3600.0  # how often every job is visited, not only those that ran
JOBS_PER_BATCH = 50
PAUSE_BETWEEN_BATCHES = 0.005  # seconds at least: API writes and run records take their turn in between
# And twice as long as the batch took: working off a backlog, the trim holds the writer (and a core)
# a third of the time at most. Unpaced (5 ms between batches), 2,000,000 runs of a 5,000,000 backlog
# went in a minute, but API writes waited twice as long at p99 and dispatch lateness p99 rose
# eightfold (bench.history); at a third, such a backlog goes in under two minutes.
IDLE_PER_BUSY = 2.0


@dataclass(frozen=True)
class Retention:
    """How much of each job's history is kept: at most `per_job` runs (0: no count limit) and none
    older than `max_age_days` (0: no age limit). Both 0: run history is never trimmed."""

    per_job: int
    max_age_days: float = 0.0

    @property
    def trims(self) -> bool:
        return self.per_job > 0 or self.max_age_days > 0


class Maintenance:
    def __init__(
        self,
        runs: RunHistory,
        accounts: AccountStore,
        clock: Clock,
        retention: Retention,
        audit: AuditLog | None = None,
        audit_max_age_days: float = 365.0,
        observe_batch: Callable[[float], None] | None = None,
    ) -> None:
        self.audit = audit
        self.audit_max_age_days = audit_max_age_days
        self.runs = runs
        self.accounts = accounts
        self.clock = clock
        self.retention = retention
        self._ran: set[int] = set()  # jobs that recorded runs since their last trim
        self._next_sweep = 0.0  # monotonic; 0: the sweep at the start is due
        self.longest_batch_seconds = 0.0  # the longest a trim batch held the writer (bench.history reads it)
        self._observe_batch = observe_batch  # each batch's seconds, for the metrics
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def observe_run(self, run: Run) -> None:
        """A run was recorded (a run listener of the scheduler): its job is trimmed at the next pass."""
        self._ran.add(run.job_id)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="veggiecron-maintenance")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run_once(self) -> None:
        try:
            if self.retention.trims:
                await self.trim_history()
            await self.accounts.prune_tokens(self.clock.now())
        except StoreUnavailable as exc:
            logger.warning("trimming run history and tokens failed, will retry: %s", exc.description)
        if self.audit is not None:
            await trim_audit_log(self.audit, self.clock.now(), self.audit_max_age_days)

    async def trim_history(self) -> int:
        """One pass: the jobs that ran, then (when due) every job; answer how many runs went."""
        ran, self._ran = sorted(self._ran), set()
        deleted = await self._trim(ran)
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            after = 0
            while not self._stopping.is_set():
                page = await self.runs.job_ids_after(after, JOBS_PER_BATCH * 20)
                if not page:
                    break
                deleted += await self._trim(page)
                after = page[-1]
        if deleted:
            logger.info("run history trimmed: %d runs deleted", deleted)
        return deleted

    async def _trim(self, job_ids: list[int]) -> int:
        retention = self.retention
        older_than = self.clock.now() - retention.max_age_days * 86400.0 if retention.max_age_days > 0 else 0.0
        step = self.runs.trim_rows_per_step
        deleted = 0
        i = 0
        while i < len(job_ids) and not self._stopping.is_set():
            batch = job_ids[i : i + JOBS_PER_BATCH]
            count, held = await self.runs.trim_runs(batch, retention.per_job, older_than, step)
            self.longest_batch_seconds = max(self.longest_batch_seconds, held)
            if self._observe_batch is not None:
                self._observe_batch(held)
            if count < 0:  # another node is trimming: this pass leaves it to that node
                return deleted
            deleted += count
            if count < step:
                i += JOBS_PER_BATCH  # this batch of jobs is within its limits
            await asyncio.sleep(max(PAUSE_BETWEEN_BATCHES, held * IDLE_PER_BUSY))
        return deleted

    async def _loop(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                # The first pass soon after the start: a backlog is worked off at once.
                await asyncio.wait_for(self._stopping.wait(), timeout=1.0 if first else EVERY_SECONDS)
            except TimeoutError:
                first = False
                await self.run_once()
