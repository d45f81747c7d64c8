"""The scheduling loop: one asyncio task, a heap of next-run times, one timer; no task per job.

Each pass reads the clock once and hands every due job to its policies: the catch-up plan says
which slots run (after downtime, by default one run for all missed slots), the overlap policy
says what happens while a run is still in flight, and the failure streak may pause the job.
What the scheduler learns goes to a ProgressWriter, which writes it in batches.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .errors import StoreUnavailable
from .model import HttpTarget, Job, Run, RunOutcome
from .policies import (
    JobPolicy,
    Overlap,
    Timing,
    jitter_key,
    job_timing,
    parse_policy,
    plan_slots,
    slots_through,
    utc_iso,
)
from .progress import ProgressWriter
from .runners.http import HttpResult, idempotency_key
from .schedules import parse_schedule
from .store import SqliteStore

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0  # the loop wakes at least this often even with nothing due
LOAD_CHUNK = 2000  # jobs read from the store per step of loading the window
REFILL_AT = 0.9  # load the next part of the window once less than this fraction of it is held
MAX_JOBS_PER_PASS = 1000  # then the loop yields, so I/O and the API keep moving under overload
REFILL_RETRY = 5.0  # seconds between tries while the store cannot be read
NOTIFY_TIMEOUT = 10.0


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class Runner(Protocol):
    async def run(self, job_id: int, target: HttpTarget, due_at: float) -> HttpResult: ...

    async def notify(self, url: str, body: object, headers: dict[str, str], timeout: float) -> str | None: ...


@dataclass(slots=True, eq=False)
class _Entry:
    """What the scheduler holds per scheduled job: the fields of the job it reads, its parsed
    parts and its progress. Not the Job itself: a million held jobs would each carry their raw
    data, policy and dates, which live parsed here or only in the store.

    The job fields are as its owner last wrote them; the scheduler's progress since then lives
    in `next_run` and `run_count`, updated in place on every dispatch (no copy per run).
    """

    id: int
    version: int
    name: str
    schedule: str
    anchor: float
    max_runs: int | None
    keep_failures: bool
    consecutive_failures: int  # as stored when the job was loaded; the scheduler's own count is _streaks
    timing: Timing  # the schedule, shifted by the job's jitter
    target: HttpTarget
    policy: JobPolicy
    overlap: Overlap
    next_run: float | None
    run_count: int


@dataclass(slots=True, eq=False)
class _Waiting:
    """A due run waiting in its lane for a connection slot: a few bytes, not a task."""

    entry: _Entry
    due: float
    since: float
    timer: asyncio.TimerHandle | None = None  # fails the run when its timeout passes first
    done: bool = False  # started, timed out or cancelled: left in the lane's deque until it surfaces


class Scheduler:
    """Fires due jobs; holds in memory the jobs due within the next `window` seconds.

    Jobs due later wait in the store, found by its index on next_run: every so often the
    scheduler moves its horizon forward and loads the jobs that came within it. A job whose next
    run falls beyond the horizon leaves memory once its next run time is written.
    """

    def __init__(
        self,
        store: SqliteStore,
        runner: Runner,
        build_target: Callable[[Job], HttpTarget],
        clock: Clock | None = None,
        flush_interval: float = 0.2,
        run_history_per_job: int = 100,
        window: float = 300.0,
        lane_limit: int | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.build_target = build_target
        self.clock: Clock = clock or SystemClock()
        self.progress = ProgressWriter(store, flush_interval, run_history_per_job)
        self._entries: dict[int, _Entry] = {}
        self._heap: list[tuple[float, int, int]] = []  # (next_run, job_id, version)
        self._running: dict[int, set[asyncio.Task[Run]]] = {}  # runs in flight per job
        self._buffered: dict[int, tuple[_Entry, float]] = {}  # overlap=buffer_one: the run waiting
        # Jobs whose due slot waits for the run in flight (overlap skip, or buffer_one with one
        # run already waiting). They leave the heap: the slots that pass meanwhile are summed up
        # once the run ends, not handled one by one, so an overloaded target costs one step per run.
        self._parked: set[int] = set()
        self._replaced: set[asyncio.Task[Run]] = set()  # runs cancelled by overlap=replace
        self._streaks: dict[int, int] = {}  # consecutive failed runs per job
        self._tasks: set[asyncio.Task[Any]] = set()
        self._began: dict[asyncio.Task[Any], float] = {}  # run tasks whose coroutine started, and when
        # At most lane_limit scheduled runs in flight per target (the runner's per-host pool); the
        # rest wait in their lane, first in first out, so an overloaded or hanging target holds
        # due runs as small records instead of thousands of tasks. None: no lanes (tests).
        self.lane_limit = lane_limit
        self._lanes: dict[str, deque[_Waiting]] = {}
        self._lane_runs: dict[str, int] = {}  # runs started per lane and not yet finished
        self._waiting: dict[int, list[_Waiting]] = {}  # per job
        self.on_run: Callable[[Run], None] | None = None  # told of every recorded run (metrics)
        self.window = window
        # Jobs due at or before the horizon are in memory, later ones only in the store.
        self._horizon = self.clock.now() + window
        self._refill_task: asyncio.Task[None] | None = None
        self._refill_not_before = -math.inf  # after a failed load, when to try again
        self._touched: set[int] | None = None  # jobs the API changed while a load was reading
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Load the jobs due within the window and start the loop and the writer."""
        self._horizon = self.clock.now() + self.window
        # The earliest jobs are read before anything starts (a store that cannot be read fails
        # the start); the rest of the window loads while the first ones already fire.
        after = self._hold_chunk(await self.store.due_jobs(self._horizon, None, LOAD_CHUNK))
        if after is not None:
            self._touched = set()
            self._refill_task = asyncio.create_task(self._refill(after, self._horizon), name="veggiecron-window")
        logger.info("scheduler started; loading the jobs due within %.0f s", self.window)
        self._loop_task = asyncio.create_task(self._loop(), name="veggiecron-scheduler")
        self._writer_task = asyncio.create_task(self.progress.run(self._stopping), name="veggiecron-writer")

    async def stop(self, grace: float) -> None:
        """Stop dispatching, give runs in flight `grace` seconds, then write what is pending."""
        self._stopping.set()
        self._wakeup.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._refill_task is not None:
            self._refill_task.cancel()
            await asyncio.gather(self._refill_task, return_exceptions=True)
        for lane in self._lanes.values():
            for waiting in lane:
                if not waiting.done:
                    self._give_up(waiting, "cancelled: the server stopped")
        self._lanes.clear()
        if self._tasks:
            logger.info("waiting up to %.1fs for %d runs in flight", grace, len(self._tasks))
            _done, still_running = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        if self._writer_task is not None:
            await self._writer_task
        await self.flush()

    async def _load(self, after: tuple[float, int] | None, until: float) -> None:
        """Hold every job due in (after, until] that is not held yet, a chunk at a time."""
        while (after := self._hold_chunk(await self.store.due_jobs(until, after, LOAD_CHUNK))) is not None:
            await asyncio.sleep(0)  # let due jobs fire between chunks

    def _hold_chunk(self, jobs: list[Job]) -> tuple[float, int] | None:
        """Hold one chunk read from the store; answer where the next chunk starts, None after the last."""
        for job in jobs:
            if job.id in self._entries or (self._touched is not None and job.id in self._touched):
                continue  # what memory holds is newer than the row read
            self._hold_unless_bad(job)
        self.wake()
        if len(jobs) < LOAD_CHUNK:
            return None
        last = jobs[-1]
        assert last.next_run is not None
        return (last.next_run, last.id)

    def _start_refill(self, now: float) -> None:
        """Move the horizon to now + window, then load the jobs that came within it."""
        old, new = self._horizon, now + self.window
        self._horizon = new  # from here on, a dispatched job due before `new` stays in memory
        self._touched = set()
        self._refill_task = asyncio.create_task(self._refill((old, 1 << 62), new), name="veggiecron-window")

    async def refill(self, now: float) -> None:
        """Move the window to end at now + window and load what came within it (the loop does this)."""
        if self._refill_task is None:
            self._start_refill(now)
        assert self._refill_task is not None
        await asyncio.shield(self._refill_task)

    def horizon(self) -> float:
        return self._horizon

    def _refill_at(self) -> float:
        return max(self._horizon - self.window * REFILL_AT, self._refill_not_before)

    async def _refill(self, after: tuple[float, int], new: float) -> None:
        """Load the jobs due in (after, new]; on failure, the horizon falls back to `after`."""
        try:
            # Jobs that left memory before the horizon moved must have their next run in the
            # store before it is read, or they would be passed over.
            if not await self.progress.flush():
                raise StoreUnavailable("the next run times could not be written")
            await self._load(after, new)
        except Exception as exc:
            logger.warning("loading jobs due before %.0f failed, will retry: %s", new, exc)
            # Jobs already loaded stay (reading them again skips them); the next try reads on
            # from just before `after`, so jobs sharing its next run time are not passed over.
            self._horizon = math.nextafter(after[0], -math.inf)
            self._refill_not_before = self.clock.now() + REFILL_RETRY
        finally:
            self._touched = None
            self._refill_task = None

    def _hold_unless_bad(self, job: Job) -> None:
        try:
            self._hold(job)
        except Exception:  # one unreadable job must not keep the others from running
            logger.exception("job %d: cannot be scheduled, left as stored", job.id)

    def _hold(self, job: Job) -> None:
        self._entries[job.id] = self.entry_for(job)
        heapq.heappush(self._heap, (job.next_run or 0.0, job.id, job.version))

    def is_alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def flush(self) -> None:
        await self.progress.flush()

    # changes from the API

    def entry_for(self, job: Job) -> _Entry:
        """Parse a job's schedule, target and policies (raises Invalid when they are bad)."""
        policy = parse_policy(job.policy)
        target = self.build_target(job)
        timing = job_timing(parse_schedule(job.schedule, job.timezone), policy, jitter_key(job.user_id, job.name))
        overlap = policy.overlap_for(target.enable_shadows)
        return _Entry(
            job.id,
            job.version,
            job.name,
            job.schedule,
            job.anchor,
            job.max_runs,
            job.keep_failures,
            job.consecutive_failures,
            timing,
            target,
            policy,
            overlap,
            job.next_run,
            job.run_count,
        )

    def upsert(self, job: Job, keep_progress: bool = False) -> None:
        """Take a created or changed job into account at once.

        keep_progress: the owner changed the job but not its timing, so a slot the scheduler
        dispatched while the change was being written must not come back.
        """
        if keep_progress:
            job = self._with_progress(job)
        elif job.consecutive_failures:
            self._streaks[job.id] = job.consecutive_failures
        else:
            self._streaks.pop(job.id, None)
        if not job.enabled or job.next_run is None:
            self.remove(job.id)
            return
        entry = self.entry_for(job)  # parsed first: a bad job raises before anything changes
        if self._touched is not None:
            self._touched.add(job.id)
        self._parked.discard(job.id)  # the new entry goes on the heap (and parks again if it must)
        if job.next_run > self._horizon:
            self._entries.pop(job.id, None)  # due after the window: the store holds it until then
            return
        self._entries[job.id] = entry
        heapq.heappush(self._heap, (job.next_run, job.id, job.version))
        self._compact()
        self.wake()

    def _with_progress(self, job: Job) -> Job:
        previous = self._entries.get(job.id)
        if previous is not None and previous.version == job.version - 1:
            if previous.run_count > job.run_count:
                job = replace(job, run_count=previous.run_count)
            if previous.next_run is not None and (job.next_run is None or previous.next_run > job.next_run):
                return replace(job, next_run=previous.next_run)
        elif self.progress.finished.get(job.id) == job.version - 1:
            return replace(job, next_run=None)  # its last run was dispatched; nothing is left
        return job

    def remove(self, job_id: int) -> None:
        # The heap entry goes stale and is dropped when it surfaces.
        if self._touched is not None:
            self._touched.add(job_id)
        self._entries.pop(job_id, None)
        self._buffered.pop(job_id, None)
        self._parked.discard(job_id)

    def wake(self) -> None:
        self._wakeup.set()

    def run_now(self, job: Job) -> float:
        """Fire a job at once, outside its schedule and its overlap policy (its next run stays)."""
        now = self.clock.now()
        self._admit(self.entry_for(job), now)
        return now

    async def deliver(self, job: Job) -> Run:
        """Run a job once now, outside its schedule, and answer the recorded run."""
        return await self._spawn(self.entry_for(job), self.clock.now())

    def current(self, job: Job) -> Job:
        """The job with the scheduler's next run time, which may be ahead of the stored one."""
        entry = self._entries.get(job.id)
        if entry is None or entry.version != job.version:
            return job
        next_run = entry.next_run
        if next_run is not None and entry.id in self._parked:
            # Parked behind its run in flight: the slots until that run ends are skipped, so the
            # earliest it can run is the first slot after now, not the past slot it parked on.
            now = self.clock.now()
            if next_run <= now:
                next_run = self._first_slot_after(entry, now) or next_run
        if next_run != job.next_run:
            return replace(job, next_run=next_run)
        return job

    def scheduled_count(self) -> int:
        """Jobs held in memory: those due within the window."""
        return len(self._entries)

    def in_flight_count(self) -> int:
        """Runs started or waiting in their lane."""
        return sum(len(tasks) for tasks in self._running.values()) + sum(map(len, self._waiting.values()))

    # the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            now = self.clock.now()
            try:
                self.dispatch_due(now, MAX_JOBS_PER_PASS)
            except Exception:  # the loop must outlive any single bad job
                logger.exception("scheduler pass failed")
            if self._refill_task is None and now >= self._refill_at():
                self._start_refill(now)
            delay = min(self._heap[0][0] if self._heap else math.inf, self._refill_at()) - self.clock.now()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=min(delay, MAX_IDLE_WAIT))
                except TimeoutError:
                    pass
            else:
                # Behind schedule: let the runs just started, and the API, take a turn before the
                # next pass. Without this, a loop that cannot catch up would never yield at all.
                await asyncio.sleep(0)

    def dispatch_due(self, now: float, limit: int | None = None) -> int:
        """Hand the jobs due at `now` (at most `limit`) to their policies; answer how many slots were handled."""
        count = 0
        jobs = 0
        while self._heap and self._heap[0][0] <= now and (limit is None or jobs < limit):
            due, job_id, version = heapq.heappop(self._heap)
            entry = self._entries.get(job_id)
            if entry is None or entry.version != version or entry.next_run != due:
                continue  # stale: the job changed, was removed, or was already advanced
            jobs += 1
            try:
                count += self._dispatch(entry, due, now)
            except Exception:  # one job's bad data must not stop the others
                logger.exception("job %d: dispatch failed; the job is left unscheduled", job_id)
                self._entries.pop(job_id, None)
        return count

    def _dispatch(self, entry: _Entry, due: float, now: float) -> int:
        if self._must_wait(entry):
            # Parked off the heap with next_run = due; _resume sums up what passed once the run ends.
            self._parked.add(entry.id)
            return 0
        plan = plan_slots(entry.timing, entry.anchor, due, now, entry.policy.catch_up)
        slots = self._advance(entry, plan.next_run, plan.run, now)
        for slot in plan.missed:
            self._record(Run(entry.id, slot, now, 0.0, RunOutcome.MISSED, error=self._missed_reason(entry, slot, now)))
        for slot in slots:
            self._start(entry, slot, now)
        return len(slots) + len(plan.missed)

    def _must_wait(self, entry: _Entry) -> bool:
        """Whether the job's next slot can only be skipped, because of the runs in flight."""
        if entry.overlap is Overlap.SKIP:
            return self._in_flight(entry.id)
        if entry.overlap is Overlap.BUFFER_ONE:
            return entry.id in self._buffered
        return False

    def _advance(
        self, entry: _Entry, next_run: float | None, slots: tuple[float, ...], now: float
    ) -> tuple[float, ...]:
        """Count `slots` as handled and move the job on to `next_run`; answer the slots max_runs leaves."""
        if next_run is not None and next_run <= now:
            # A schedule must move forward; if one ever does not, retry it shortly instead of spinning.
            logger.error(
                "job %d: schedule %r gave next run %.3f at or before now; retrying in 1 s",
                entry.id,
                entry.schedule,
                next_run,
            )
            next_run = now + 1.0
        max_runs = entry.max_runs
        if max_runs is not None:
            slots = slots[: max(0, max_runs - entry.run_count)]
        if slots:
            entry.run_count += len(slots)
            self.progress.counts[entry.id] = self.progress.counts.get(entry.id, 0) + len(slots)
        if max_runs is not None and entry.run_count >= max_runs:
            next_run = None  # the store disables the job when it writes the count
        self.progress.next_runs.append((entry.id, entry.version, next_run))
        entry.next_run = next_run
        if next_run is None:
            self._entries.pop(entry.id, None)
            self.progress.finished[entry.id] = entry.version
        elif next_run > self._horizon:
            self._entries.pop(entry.id, None)  # back to the store until its window comes
        else:
            heapq.heappush(self._heap, (next_run, entry.id, entry.version))
        return slots

    def _resume(self, entry: _Entry) -> None:
        """A parked job's wait is over: record the slots that passed as one skipped run, go on."""
        first = entry.next_run
        assert first is not None
        # The parked slot was due when it parked, so it is not after the present.
        now = max(self.clock.now(), first)
        passed = slots_through(entry.timing, entry.policy.catch_up.window, entry.anchor, first, now)
        skipped = self._advance(entry, self._first_slot_after(entry, now), tuple(passed), now)
        if not skipped:
            return
        if len(skipped) == 1:
            error = "skipped: the previous run was still in flight"
        else:
            error = (
                f"skipped {len(skipped)} slots due from {utc_iso(skipped[0])} to {utc_iso(skipped[-1])}:"
                " the previous run was still in flight"
            )
        logger.info("job %d: %s", entry.id, error)
        self._record(Run(entry.id, skipped[0], now, 0.0, RunOutcome.SKIPPED, error=error))

    @staticmethod
    def _first_slot_after(entry: _Entry, now: float) -> float | None:
        """The job's first slot after `now` inside its start_at/end_at window (where a parked job resumes)."""
        return entry.policy.catch_up.window.next_after(entry.timing, now, entry.anchor)

    @staticmethod
    def _missed_reason(entry: _Entry, slot: float, now: float) -> str:
        grace = entry.policy.catch_up.grace_seconds
        if grace is not None and now - slot > grace:
            return f"missed: {now - slot:.1f}s late, more than grace_seconds ({grace:g})"
        return f"missed: passed over by catch_up={entry.policy.catch_up.catch_up.value}"

    def _start(self, entry: _Entry, slot: float, now: float) -> None:
        """Start a run of a due slot, as the job's overlap policy says."""
        job_id = entry.id
        if not self._in_flight(job_id) or entry.overlap is Overlap.ALLOW:
            self._admit(entry, slot)
        elif entry.overlap is Overlap.REPLACE:
            for task in self._running.get(job_id, ()):
                self._replaced.add(task)
                task.cancel()
            for waiting in list(self._waiting.get(job_id, ())):
                self._give_up(waiting, "cancelled: replaced by a newer run")
            self._admit(entry, slot)
        elif entry.overlap is Overlap.BUFFER_ONE and job_id not in self._buffered:
            self._buffered[job_id] = (entry, slot)
        else:
            logger.info("job %d: run due at %.3f skipped, the previous run was still in flight", job_id, slot)
            error = "skipped: the previous run was still in flight"
            self._record(Run(job_id, slot, now, 0.0, RunOutcome.SKIPPED, error=error))

    def _in_flight(self, job_id: int) -> bool:
        return job_id in self._running or job_id in self._waiting

    def _admit(self, entry: _Entry, due: float) -> None:
        """Start a scheduled run now if its lane has a free slot, else queue it in the lane."""
        target = entry.target
        if self.lane_limit is None or target.retries or target.number_of_clones > 1:
            # A run with retries sleeps between attempts and clones use several connections:
            # such runs take the runner's per-host slots attempt by attempt, not a lane's slot
            # for their whole length (a Retry-After could hold one for an hour).
            self._spawn(entry, due)
            return
        lane = target.connection_key  # runs to one target share its connection slots
        started = self._lane_runs.get(lane, 0)
        if started < self.lane_limit and not self._lanes.get(lane):
            self._lane_runs[lane] = started + 1
            self._spawn(entry, due, lane)
            return
        waiting = _Waiting(entry, due, self.clock.now())
        # A run that gets no slot within the job's timeout fails unsent; one that gets a slot has
        # the whole timeout for its attempt.
        waiting.timer = asyncio.get_running_loop().call_later(entry.target.timeout, self._expire, waiting)
        self._lanes.setdefault(lane, deque()).append(waiting)
        self._waiting.setdefault(entry.id, []).append(waiting)

    def _lane_freed(self, lane: str) -> None:
        """A run of the lane ended: hand its slot to the first run still waiting, or free it."""
        queue = self._lanes.get(lane)
        while queue:
            waiting = queue.popleft()
            if waiting.done:
                continue
            if self._stopping.is_set():
                self._give_up(waiting, "cancelled: the server stopped")
                continue
            if self.clock.now() - waiting.since >= waiting.entry.target.timeout:
                self._expire(waiting)  # its timer is due in this very pass
                continue
            self._unwait(waiting)
            self._spawn(waiting.entry, waiting.due, lane)
            return
        self._lanes.pop(lane, None)
        started = self._lane_runs.get(lane, 0) - 1
        if started > 0:
            self._lane_runs[lane] = started
        else:
            self._lane_runs.pop(lane, None)

    def _unwait(self, waiting: _Waiting) -> None:
        waiting.done = True
        if waiting.timer is not None:
            waiting.timer.cancel()
        job_id = waiting.entry.id
        of_job = self._waiting.get(job_id)
        if of_job is not None:
            of_job.remove(waiting)
            if not of_job:
                del self._waiting[job_id]

    def _expire(self, waiting: _Waiting) -> None:
        """Its timeout passed before its lane had a slot: the run fails without being sent."""
        if waiting.done:
            return
        timeout = waiting.entry.target.timeout
        self._give_up(waiting, f"timeout after {timeout:g}s waiting for a connection", "timeout")

    def _give_up(self, waiting: _Waiting, error: str, error_class: str | None = None) -> None:
        """Record a waiting run that will not be sent, and let its job go on."""
        if not waiting.done:
            self._unwait(waiting)
        now = self.clock.now()
        entry = waiting.entry
        elapsed = (now - waiting.since) * 1000
        run = Run(entry.id, waiting.due, now, elapsed, RunOutcome.FAILED, error=error, error_class=error_class)
        self._record(run)
        if error_class is not None:  # a timeout counts towards the job's failures; a cancellation does not
            self._after_run(entry, run)
        self._settled(entry.id)

    def _spawn(self, entry: _Entry, due: float, lane: str | None = None) -> asyncio.Task[Run]:
        task = asyncio.create_task(self._execute(entry, due))
        self._tasks.add(task)
        self._running.setdefault(entry.id, set()).add(task)
        task.add_done_callback(lambda done: self._finished_task(entry, due, done, lane))
        return task

    def _finished_task(self, entry: _Entry, due: float, task: asyncio.Task[Any], lane: str | None) -> None:
        job_id = entry.id
        began = self._began.pop(task, None)
        if task.cancelled():
            # Recorded here, not in _execute: a task cancelled before its first step never ran it.
            now = self.clock.now()
            started = now if began is None else began
            reason = "replaced by a newer run" if task in self._replaced else "the server stopped"
            self._record(
                Run(job_id, due, started, (now - started) * 1000, RunOutcome.FAILED, error=f"cancelled: {reason}")
            )
        self._tasks.discard(task)
        self._replaced.discard(task)
        running = self._running.get(job_id)
        if running is not None:
            running.discard(task)
            if not running:
                del self._running[job_id]
        if lane is not None:
            self._lane_freed(lane)
        self._settled(job_id)

    def _settled(self, job_id: int) -> None:
        """A run of the job ended: start its buffered run, or resume it if it was parked."""
        waiting = self._buffered.pop(job_id, None) if not self._in_flight(job_id) else None
        if waiting is not None:
            if self._stopping.is_set():
                error = "cancelled: the server stopped"
                self._record(Run(job_id, waiting[1], self.clock.now(), 0.0, RunOutcome.FAILED, error=error))
            else:
                self._admit(*waiting)
        if job_id in self._parked:
            entry = self._entries.get(job_id)
            if entry is None:
                self._parked.discard(job_id)
            elif not self._must_wait(entry):
                self._parked.discard(job_id)
                try:
                    self._resume(entry)
                except Exception:  # as in dispatch_due: one job's bad data must not stop the others
                    logger.exception("job %d: resuming after its run failed; the job is left unscheduled", job_id)
                    self._entries.pop(job_id, None)
                self.wake()

    async def _execute(self, entry: _Entry, due: float) -> Run:
        job_id = entry.id
        started = self.clock.now()
        task = asyncio.current_task()
        if task is not None:
            self._began[task] = started
        try:
            result = await self.runner.run(job_id, entry.target, due)
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
                error_class=result.error_class,
            )
        except Exception as exc:
            logger.exception("job %d: run failed inside veggiecron", job_id)
            elapsed = (self.clock.now() - started) * 1000
            run = Run(job_id, due, started, elapsed, RunOutcome.FAILED, error=f"internal error: {type(exc).__name__}")
        self._record(run)
        self._after_run(entry, run)
        return run

    def _record(self, run: Run) -> None:
        if run.outcome is RunOutcome.FAILED:
            logger.info(
                "job %d: run due at %.3f failed after %d attempts: %s", run.job_id, run.due_at, run.attempts, run.error
            )
        else:
            logger.debug("job %d: run due at %.3f %s (%s)", run.job_id, run.due_at, run.outcome.value, run.status_code)
        self.progress.runs.append(run)
        if self.on_run is not None:
            self.on_run(run)

    # failure streaks: kept failures, pauses and notifications

    def _after_run(self, entry: _Entry, run: Run) -> None:
        if entry.keep_failures and run.outcome is RunOutcome.FAILED:
            self.progress.failures.append((entry.id, str(uuid.uuid4()), run.due_at, run.error or "failed"))
        before = self._streaks.get(entry.id, entry.consecutive_failures)
        streak = before + 1 if run.outcome is RunOutcome.FAILED else 0
        if streak == before:
            return
        self._streaks[entry.id] = streak
        self.progress.streaks[entry.id] = streak
        if streak == 0:
            self._notify(entry, run, "recovery")
            return
        if streak == 1:
            self._notify(entry, run, "failure")
        limit = entry.policy.pause_after_failures
        current = self._entries.get(entry.id)
        # A job not in memory may be waiting in the store for its window: pause it there too
        # (the store ignores the pause if the owner changed or deleted the job meanwhile).
        if limit is not None and streak >= limit and (current is None or current.version == entry.version):
            reason = f"paused after {streak} consecutive failed runs; last error: {run.error}"
            logger.warning("job %d: %s", entry.id, reason)
            self.remove(entry.id)
            self.progress.pauses.append((entry.id, entry.version, reason))
            self._notify(entry, run, "paused", reason)

    def _notify(self, entry: _Entry, run: Run, event: str, reason: str | None = None) -> None:
        url = entry.policy.notify_url
        if url is None:
            return
        body = {
            "event": event,
            "job": entry.name,
            "job_id": entry.id,
            "run_id": idempotency_key(entry.id, run.due_at),
            "scheduled_at": utc_iso(run.due_at),
            "outcome": run.outcome.value,
            "status_code": run.status_code,
            "error": run.error,
            "error_class": run.error_class,
            "paused_reason": reason,
        }
        task = asyncio.create_task(self._send_notification(entry.id, url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_notification(self, job_id: int, url: str, body: dict[str, Any]) -> None:
        # A notification that fails is logged and dropped: it never feeds back into the job.
        error = await self.runner.notify(url, body, {}, NOTIFY_TIMEOUT)
        if error is not None:
            logger.warning("job %d: %s notification to %s not delivered: %s", job_id, body["event"], url, error)

    def _compact(self) -> None:
        # Changes leave stale heap entries behind; rebuild once they outnumber the live ones.
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [
                (e.next_run, e.id, e.version)
                for e in self._entries.values()
                if e.next_run is not None and e.id not in self._parked
            ]
            heapq.heapify(self._heap)
