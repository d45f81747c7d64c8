"""The scheduling loop: one asyncio task, a heap of next-run times, one timer; no task per job.

Each pass reads the clock once, dispatches every entry that is due, computes each job's next
run from `now` (so runs missed during downtime or a stall coalesce into one), and queues the
new next-run times and finished runs for the store, which writes them in batches.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from .errors import StoreUnavailable
from .model import HttpTarget, Job, Run, RunOutcome
from .runners.http import HttpResult
from .schedules import Cron, DailyAt, Interval, Once, parse_schedule
from .store import SqliteStore

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0  # the loop wakes at least this often even with nothing due
PRUNE_EVERY = 60.0
MAX_PENDING = 100_000  # writes kept in memory while the database refuses them


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class Runner(Protocol):
    async def run(self, job_id: int, target: HttpTarget, due_at: float) -> HttpResult: ...


@dataclass(frozen=True)
class _Entry:
    """What the scheduler holds per scheduled job: the job and its parsed parts."""

    job: Job
    schedule: Interval | DailyAt | Once | Cron
    target: HttpTarget


class Scheduler:
    """Fires due jobs; owns the in-memory view of every scheduled job."""

    def __init__(
        self,
        store: SqliteStore,
        runner: Runner,
        build_target: Callable[[Job], HttpTarget],
        clock: Clock | None = None,
        flush_interval: float = 0.2,
        run_history_per_job: int = 100,
    ) -> None:
        self.store = store
        self.runner = runner
        self.build_target = build_target
        self.clock: Clock = clock or SystemClock()
        self.flush_interval = flush_interval
        self.run_history_per_job = run_history_per_job
        self._entries: dict[int, _Entry] = {}
        self._heap: list[tuple[float, int, int]] = []  # (next_run, job_id, version)
        self._in_flight: dict[int, int] = {}
        self._tasks: set[asyncio.Task[Run]] = set()
        self._pending_runs: list[Run] = []
        self._pending_next: list[tuple[int, int, float | None]] = []
        self._flush_lock = asyncio.Lock()
        self._pending_counts: dict[int, int] = {}
        self._pending_failures: list[tuple[int, str, float, str]] = []
        self.on_run: Callable[[Run], None] | None = None  # told of every recorded run (metrics)
        # Jobs whose last run was dispatched but not yet written as done: job_id -> version.
        self._finished: dict[int, int] = {}
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self.last_pass_at = 0.0
        self.dispatched = 0

    # lifecycle

    async def start(self) -> None:
        """Load every scheduled job from the store and start the loop and the writer."""
        for job in await self.store.scheduled_jobs():
            try:
                self.upsert(job)
            except Exception:  # one unreadable job must not keep the others from running
                logger.exception("job %d: cannot be scheduled, left as stored", job.id)
        logger.info("scheduler started with %d scheduled jobs", len(self._entries))
        self._loop_task = asyncio.create_task(self._loop(), name="veggiecron-scheduler")
        self._flush_task = asyncio.create_task(self._flush_loop(), name="veggiecron-run-writer")

    async def stop(self, grace: float) -> None:
        """Stop dispatching, give runs in flight `grace` seconds, then write what is pending."""
        self._stopping.set()
        self._wakeup.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._tasks:
            logger.info("waiting up to %.1fs for %d runs in flight", grace, len(self._tasks))
            _done, still_running = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        if self._flush_task is not None:
            await self._flush_task
        await self.flush()

    def is_alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    # changes from the API

    def upsert(self, job: Job, keep_progress: bool = False) -> None:
        """Take a created or changed job into account at once.

        keep_progress: the owner changed the job but not its timing, so a slot the scheduler
        dispatched while the change was being written must not come back.
        """
        if keep_progress:
            job = self._with_progress(job)
        if not job.enabled or job.next_run is None:
            self.remove(job.id)
            return
        schedule = parse_schedule(job.schedule, job.timezone)
        self._entries[job.id] = _Entry(job, schedule, self.build_target(job))
        heapq.heappush(self._heap, (job.next_run, job.id, job.version))
        self._compact()
        self.wake()

    def _with_progress(self, job: Job) -> Job:
        previous = self._entries.get(job.id)
        if previous is not None and previous.job.version == job.version - 1:
            if previous.job.run_count > job.run_count:
                job = replace(job, run_count=previous.job.run_count)
            if previous.job.next_run is not None and (job.next_run is None or previous.job.next_run > job.next_run):
                return replace(job, next_run=previous.job.next_run)
        elif self._finished.get(job.id) == job.version - 1:
            return replace(job, next_run=None)  # its last run was dispatched; nothing is left
        return job

    def remove(self, job_id: int) -> None:
        # The heap entry goes stale and is dropped when it surfaces.
        self._entries.pop(job_id, None)

    def wake(self) -> None:
        self._wakeup.set()

    def run_now(self, job: Job) -> float:
        """Fire a job at once, outside its schedule (its next run stays as it is)."""
        now = self.clock.now()
        self._spawn(job, self.build_target(job), now)
        return now

    def current(self, job: Job) -> Job:
        """The job with the scheduler's next run time, which may be ahead of the stored one."""
        entry = self._entries.get(job.id)
        if entry is not None and entry.job.version == job.version and entry.job.next_run != job.next_run:
            return replace(job, next_run=entry.job.next_run)
        return job

    def scheduled_count(self) -> int:
        return len(self._entries)

    def in_flight_count(self) -> int:
        return len(self._tasks)

    # the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            now = self.clock.now()
            self.last_pass_at = now
            try:
                self.dispatch_due(now)
            except Exception:  # the loop must outlive any single bad job
                logger.exception("scheduler pass failed")
            delay = self._heap[0][0] - self.clock.now() if self._heap else MAX_IDLE_WAIT
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=min(delay, MAX_IDLE_WAIT))
                except TimeoutError:
                    pass

    def dispatch_due(self, now: float) -> int:
        """Dispatch every entry due at `now`; answer how many runs were started or skipped."""
        count = 0
        while self._heap and self._heap[0][0] <= now:
            due, job_id, version = heapq.heappop(self._heap)
            entry = self._entries.get(job_id)
            if entry is None or entry.job.version != version or entry.job.next_run != due:
                continue  # stale: the job changed, was removed, or was already advanced
            job = entry.job
            next_run = entry.schedule.next_after(now, job.anchor)
            max_runs = job.max_runs
            if max_runs is not None:
                job = replace(job, run_count=job.run_count + 1)
                self._pending_counts[job.id] = self._pending_counts.get(job.id, 0) + 1
                if job.run_count >= max_runs:
                    next_run = None  # the store disables the job when it writes the count
            self._pending_next.append((job.id, job.version, next_run))
            if next_run is None:
                self._entries.pop(job.id, None)
                self._finished[job.id] = job.version
            else:
                self._entries[job.id] = replace(entry, job=replace(job, next_run=next_run))
                heapq.heappush(self._heap, (next_run, job.id, job.version))
            if self._in_flight.get(job.id, 0) and not entry.target.enable_shadows:
                logger.info("job %d: run due at %.3f skipped, the previous run is still in flight", job.id, due)
                self._pending_runs.append(
                    Run(job.id, due, now, 0.0, RunOutcome.SKIPPED, error="skipped: the previous run is still in flight")
                )
            else:
                self._spawn(job, entry.target, due)
            count += 1
        self.dispatched += count
        return count

    def _spawn(self, job: Job, target: HttpTarget, due: float) -> asyncio.Task[Run]:
        task = asyncio.create_task(self._execute(job.id, target, due, job.keep_failures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def deliver(self, job: Job) -> Run:
        """Run a job once now, outside its schedule, and answer the recorded run."""
        return await self._spawn(job, self.build_target(job), self.clock.now())

    async def _execute(self, job_id: int, target: HttpTarget, due: float, keep_failures: bool = False) -> Run:
        self._in_flight[job_id] = self._in_flight.get(job_id, 0) + 1
        started = self.clock.now()
        try:
            result = await self.runner.run(job_id, target, due)
            run = Run(
                job_id,
                due,
                result.started_at,
                result.duration_ms,
                result.outcome,
                result.attempts,
                result.status_code,
                result.error,
                result.response_excerpt,
            )
        except asyncio.CancelledError:
            self._record(
                Run(
                    job_id,
                    due,
                    started,
                    (self.clock.now() - started) * 1000,
                    RunOutcome.FAILED,
                    error="cancelled: the server stopped before the run finished",
                )
            )
            raise
        except Exception as exc:
            logger.exception("job %d: run failed inside veggiecron", job_id)
            run = Run(
                job_id,
                due,
                started,
                (self.clock.now() - started) * 1000,
                RunOutcome.FAILED,
                error=f"internal error: {type(exc).__name__}",
            )
        finally:
            remaining = self._in_flight.get(job_id, 1) - 1
            if remaining:
                self._in_flight[job_id] = remaining
            else:
                self._in_flight.pop(job_id, None)
        self._record(run)
        if keep_failures and run.outcome is RunOutcome.FAILED:
            self._pending_failures.append((job_id, str(uuid.uuid4()), due, run.error or "failed"))
        return run

    def _record(self, run: Run) -> None:
        if run.outcome is RunOutcome.FAILED:
            logger.info(
                "job %d: run due at %.3f failed after %d attempts: %s", run.job_id, run.due_at, run.attempts, run.error
            )
        else:
            logger.debug("job %d: run due at %.3f %s (%s)", run.job_id, run.due_at, run.outcome.value, run.status_code)
        self._pending_runs.append(run)
        if self.on_run is not None:
            self.on_run(run)

    # persistence

    async def _flush_loop(self) -> None:
        last_prune = time.monotonic()
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.flush_interval)
            except TimeoutError:
                pass
            await self.flush()
            if time.monotonic() - last_prune >= PRUNE_EVERY:
                last_prune = time.monotonic()
                try:
                    await self.store.prune_runs(self.run_history_per_job)
                except StoreUnavailable as exc:
                    logger.warning("pruning run history failed: %s", exc.description)

    async def flush(self) -> None:
        """Write pending runs and next-run times in one transaction; keep them if the write fails."""
        # The lock makes a caller wait for a write already under way, so after flush() returns
        # everything queued before the call is in the database.
        async with self._flush_lock:
            if not (self._pending_runs or self._pending_next or self._pending_counts or self._pending_failures):
                return
            runs, self._pending_runs = self._pending_runs, []
            next_runs, self._pending_next = self._pending_next, []
            counts, self._pending_counts = self._pending_counts, {}
            failures, self._pending_failures = self._pending_failures, []
            try:
                await self.store.record_progress(runs, next_runs, list(counts.items()), failures)
                for job_id, version, next_run in next_runs:
                    if next_run is None and self._finished.get(job_id) == version:
                        del self._finished[job_id]
            except StoreUnavailable as exc:
                logger.warning("could not record %d runs, will retry: %s", len(runs), exc.description)
                self._pending_runs = (runs + self._pending_runs)[-MAX_PENDING:]
                self._pending_next = (next_runs + self._pending_next)[-MAX_PENDING:]
                self._pending_failures = (failures + self._pending_failures)[-MAX_PENDING:]
                for job_id, count in counts.items():
                    self._pending_counts[job_id] = self._pending_counts.get(job_id, 0) + count

    def _compact(self) -> None:
        # Changes leave stale heap entries behind; rebuild once they outnumber the live ones.
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [
                (e.job.next_run, e.job.id, e.job.version) for e in self._entries.values() if e.job.next_run is not None
            ]
            heapq.heapify(self._heap)
