"""The scheduling loop: one asyncio task, a heap of next-run times, one timer; no task per job.

Each pass reads the clock once and hands every due job to its policies: the catch-up plan says
which slots run (after downtime, by default one run for all missed slots), the lane gate
applies the overlap policy and the target's lane, and the failure tracker may pause the job.
What the scheduler learns goes to a ProgressWriter, which writes it in batches; the window
loader brings in the jobs that come due, the rest wait in the store.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from ..clock import Clock, SystemClock
from ..compiler import compile_job
from ..config import HttpClientSection
from ..logs import job_fields
from ..model import CompiledJob, Job, NextRun, Run, RunOutcome
from ..policies import CatchUp, Overlap, missed_reason, plan_slots, slots_through, utc_iso
from ..store import DueWindow
from .executor import Executor
from .failures import FailureTracker, Notifier
from .gate import LaneGate
from .ports import Runner
from .progress import ProgressWriter
from .restore import restore_reason
from .window import WindowLoader

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0  # the loop wakes at least this often even with nothing due
MAX_JOBS_PER_PASS = 1000  # then the loop yields, so I/O and the API keep moving under overload


@dataclass(slots=True, eq=False)
class Held:
    """A scheduled job in memory: compiled once, plus the scheduler's progress since it was stored
    (updated in place on every dispatch, no copy per run)."""

    job: CompiledJob
    next_run: float | None
    run_count: int


class Scheduler:
    """Fires due jobs; holds in memory the jobs due within the next `window` seconds."""

    def __init__(
        self,
        store: DueWindow,
        runner: Runner,
        http_defaults: HttpClientSection,
        clock: Clock | None = None,
        *,
        flush_interval: float = 0.2,
        window: float = 300.0,
        lane_limit: int | None = None,
        run_listeners: Sequence[Callable[[Run], None]] = (),
    ) -> None:
        """run_listeners are told of every recorded run (metrics); lane_limit None: no lanes (tests)."""
        self.http_defaults = http_defaults
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.progress = ProgressWriter(store, flush_interval, self._written)
        self.notifier = Notifier(runner)
        self.failures = FailureTracker(self.progress, self.notifier)
        self._entries: dict[int, Held] = {}
        self.executor = Executor(
            runner, self.clock, self.progress, self.failures, run_listeners, self._is_current, self.remove
        )
        self._record = self.executor.record
        self.gate = LaneGate(
            self.clock,
            lane_limit,
            self.executor.execute,
            self.executor.record,
            self.executor.account,
            self._settled,
            self.wake,
            keeper=self.progress,  # waiting and buffered slots are stored: a restart finds them
        )
        self.loader = WindowLoader(store, self.clock, window, self._hold_stored, self._entries.__contains__, self.flush)
        self._heap: list[tuple[float, int, int]] = []  # (next_run, job_id, version)
        # Jobs whose due slot waits for the run in flight (overlap skip, or buffer_one with one
        # run already waiting). They leave the heap: the slots that pass meanwhile are summed up
        # once the run ends, not handled one by one, so an overloaded target costs one step per run.
        self._parked: set[int] = set()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Load the jobs due within the window and start the loop and the writer."""
        await self.loader.start()
        await self._restore_held()
        logger.info("scheduler started; loading the jobs due within %.0f s", self.loader.window)
        self._loop_task = asyncio.create_task(self._loop(), name="veggiecron-scheduler")
        self._writer_task = asyncio.create_task(self.progress.run(self._stopping), name="veggiecron-writer")

    async def stop(self, grace: float) -> None:
        """Stop dispatching, give runs in flight `grace` seconds, then write what is pending."""
        self._stopping.set()
        self._wakeup.set()
        if self._loop_task is not None:
            await self._loop_task
        await self.loader.stop()
        kept = self.gate.stop()
        if kept:
            logger.info("%d due runs not yet started are kept for the next start", kept)
        if self.gate.tasks:
            logger.info("waiting up to %.1fs for %d runs in flight", grace, len(self.gate.tasks))
            _done, still_running = await asyncio.wait(set(self.gate.tasks), timeout=grace)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        await self.notifier.stop(grace)
        if self._writer_task is not None:
            await self._writer_task
        await self.flush()

    async def _restore_held(self) -> None:
        """Run the slots held when the server last stopped or died, or record them as missed."""
        held = await self.store.held_slots()
        now = self.clock.now()
        missed = 0
        for stored, slot in held:
            self.progress.held_in_store(slot.job_id, slot.due_at)
            self.progress.release(slot.job_id, slot.due_at)  # held again if it waits for its lane
            try:
                job: CompiledJob | None = compile_job(stored, self.http_defaults)
            except Exception:
                logger.exception("job %d (%s): a held slot cannot be run", stored.id, stored.name)
                job = None
            reason = restore_reason(job, stored, slot, now)
            if job is not None and reason is None:
                self.gate.admit(job, slot.due_at)
                continue
            missed += 1
            run = Run(slot.job_id, slot.due_at, now, 0.0, RunOutcome.MISSED, error=reason)
            if job is not None:
                self._record(job, run)
            else:
                self.progress.runs.append(run)
        if held:
            logger.info(
                "%d due runs were held when the server stopped: %d run now, %d recorded as missed",
                len(held),
                len(held) - missed,
                missed,
            )

    def is_alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def flush(self) -> bool:
        """Write what is pending; False when the database refused it."""
        return await self.progress.flush()

    def horizon(self) -> float:
        return self.loader.horizon

    async def refill(self, now: float) -> None:
        """Move the window to end at now + window and load what came within it (the loop does this)."""
        await self.loader.refill(now)

    def scheduled_count(self) -> int:
        """Jobs held in memory: those due within the window."""
        return len(self._entries)

    def in_flight_count(self) -> int:
        return self.gate.in_flight_count()

    # changes from the API

    def upsert(self, job: CompiledJob, keep_progress: bool = False) -> None:
        """Take a created or changed job into account at once.

        keep_progress: the owner changed the job but not its timing, so a slot the scheduler
        dispatched while the change was being written must not come back.
        """
        if keep_progress:
            job = self._with_progress(job)
        else:
            self.failures.restart(job)
        if not job.enabled or job.next_run is None:
            self.remove(job.id)
            return
        self.loader.touch(job.id)
        self._parked.discard(job.id)  # the new entry goes on the heap (and parks again if it must)
        if job.next_run > self.loader.horizon:
            self._entries.pop(job.id, None)  # due after the window: the store holds it until then
            return
        self._entries[job.id] = Held(job, job.next_run, job.run_count)
        heapq.heappush(self._heap, (job.next_run, job.id, job.version))
        self._compact()
        self.wake()

    def _with_progress(self, job: CompiledJob) -> CompiledJob:
        previous = self._entries.get(job.id)
        if previous is not None and previous.job.version == job.version - 1:
            if previous.run_count > job.run_count:
                job = replace(job, run_count=previous.run_count)
            if previous.next_run is not None and (job.next_run is None or previous.next_run > job.next_run):
                return replace(job, next_run=previous.next_run)
        elif self.progress.finished.get(job.id) == job.version - 1:
            return replace(job, next_run=None)  # its last run was dispatched; nothing is left
        return job

    def remove(self, job_id: int) -> None:
        # The heap entry goes stale and is dropped when it surfaces.
        self.loader.touch(job_id)
        self._entries.pop(job_id, None)
        self.gate.forget(job_id)
        self._parked.discard(job_id)

    def wake(self) -> None:
        self._wakeup.set()

    async def run_now(self, job: CompiledJob) -> float:
        """Fire a job at once, outside its schedule and its overlap policy (its next run stays)."""
        now = self.clock.now()
        self.gate.admit(job, now)
        return now

    async def deliver(self, job: CompiledJob) -> Run:
        """Run a job once now, outside its schedule, and answer the recorded run."""
        return await self.gate.spawn(job, self.clock.now())

    def current(self, job: Job) -> Job:
        """The job with the scheduler's next run time, which may be ahead of the stored one."""
        held = self._entries.get(job.id)
        if held is None or held.job.version != job.version:
            return job
        next_run = held.next_run
        if next_run is not None and job.id in self._parked:
            # Parked behind its run in flight: the slots until that run ends are skipped, so the
            # earliest it can run is the first slot after now, not the past slot it parked on.
            now = self.clock.now()
            if next_run <= now:
                next_run = self._first_slot_after(held.job, now) or next_run
        if next_run != job.next_run:
            return replace(job, next_run=next_run)
        return job

    def _is_current(self, job: CompiledJob) -> bool:
        """Whether memory holds no other version of the job (one not in memory may wait in the store)."""
        held = self._entries.get(job.id)
        return held is None or held.job.version == job.version

    def _hold_stored(self, job: Job) -> None:
        """Take a job the window loader read from the store."""
        try:
            compiled = compile_job(job, self.http_defaults)
        except Exception:  # one unreadable job must not keep the others from running
            logger.exception(
                "job %d (%s): cannot be scheduled, left as stored", job.id, job.name, extra=job_fields(job.id, job.name)
            )
            return
        self._entries[job.id] = Held(compiled, job.next_run, job.run_count)
        heapq.heappush(self._heap, (job.next_run or 0.0, job.id, job.version))
        self.wake()

    # the loop

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            now = self.clock.now()
            try:
                self.gate.expire(now)
                self.dispatch_due(now, MAX_JOBS_PER_PASS)
            except Exception:  # the loop must outlive any single bad job
                logger.exception("scheduler pass failed")
            self.loader.maybe_refill(now)
            next_due = self._heap[0][0] if self._heap else math.inf
            delay = min(next_due, self.loader.refill_at(), self.gate.next_deadline()) - self.clock.now()
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
            held = self._entries.get(job_id)
            if held is None or held.job.version != version or held.next_run != due:
                continue  # stale: the job changed, was removed, or was already advanced
            jobs += 1
            try:
                count += self._dispatch(held, due, now)
            except Exception:  # one job's bad data must not stop the others
                logger.exception(
                    "job %d (%s): dispatch failed; the job is left unscheduled",
                    job_id,
                    held.job.name,
                    extra=job_fields(job_id, held.job.name),
                )
                self._entries.pop(job_id, None)
        return count

    def _dispatch(self, held: Held, due: float, now: float) -> int:
        job = held.job
        if self.gate.must_wait(job):
            # Parked off the heap with next_run = due; _resume sums up what passed once the run ends.
            self._parked.add(job.id)
            return 0
        catch_up = job.policy.catch_up
        plan = plan_slots(job.timing, job.anchor, due, now, catch_up)
        slots = plan.run[: self._advance(held, plan.next_run, len(plan.run), now)]
        if plan.dropped:
            logger.warning("job %d (%s): %s", job.id, job.name, plan.dropped)
        for slot in plan.missed:
            error = missed_reason(plan, catch_up, slot, now)
            self._record(job, Run(job.id, slot, now, 0.0, RunOutcome.MISSED, error=error))
        # catch_up all sends each slot it caught up on when none was in flight (overlap holds back
        # the slots of a job still running, not the slots of one catch-up among themselves).
        each = catch_up.catch_up is CatchUp.ALL and job.overlap is not Overlap.REPLACE
        each = each and not self.gate.in_flight(job.id)
        for i, slot in enumerate(slots):
            if i and each:
                self.gate.admit(job, slot)
            else:
                self.gate.start(job, slot, now)
        return len(slots) + len(plan.missed)

    def _advance(self, held: Held, next_run: float | None, slots: int, now: float) -> int:
        """Count `slots` handled slots and move the job on to `next_run`; answer how many max_runs leaves."""
        job = held.job
        if next_run is not None and next_run <= now:
            # A schedule must move forward; if one ever does not, retry it shortly instead of spinning.
            logger.error(
                "job %d (%s): schedule %r gave next run %s at or before now; retrying in 1 s",
                job.id,
                job.name,
                job.schedule,
                utc_iso(next_run),
                extra=job_fields(job.id, job.name),
            )
            next_run = now + 1.0
        max_runs = job.max_runs
        if max_runs is not None:
            slots = min(slots, max(0, max_runs - held.run_count))
        if slots:
            held.run_count += slots
            self.progress.count(job.id, slots)
        if max_runs is not None and held.run_count >= max_runs:
            next_run = None  # the store disables the job when it writes the count
        self.progress.next_run(job.id, job.version, next_run)
        held.next_run = next_run
        if next_run is None:
            self._entries.pop(job.id, None)
            self.progress.finished[job.id] = job.version
        else:
            # Due after the horizon, it goes back to the store until its window comes, but only
            # once its next run is written (see _written): while the database refuses writes the
            # store's row is stale, and memory keeps firing the job.
            heapq.heappush(self._heap, (next_run, job.id, job.version))
        return slots

    def _written(self, next_runs: Collection[NextRun]) -> None:
        """Next run times are in the store: jobs due after the horizon now leave memory."""
        horizon = self.loader.horizon
        for job_id, version, next_run in next_runs:
            if next_run is None or next_run <= horizon or job_id in self._parked:
                continue
            held = self._entries.get(job_id)
            if held is not None and held.job.version == version and held.next_run == next_run:
                del self._entries[job_id]  # its heap entry goes stale

    def _settled(self, job_id: int) -> None:
        """A run of the job ended: resume it if it was parked behind that run."""
        if job_id not in self._parked:
            return
        held = self._entries.get(job_id)
        if held is None:
            self._parked.discard(job_id)
        elif not self.gate.must_wait(held.job):
            self._parked.discard(job_id)
            try:
                self._resume(held)
            except Exception:  # as in dispatch_due: one job's bad data must not stop the others
                logger.exception(
                    "job %d (%s): resuming after its run failed; left unscheduled",
                    job_id,
                    held.job.name,
                    extra=job_fields(job_id, held.job.name),
                )
                self._entries.pop(job_id, None)
            self.wake()

    def _resume(self, held: Held) -> None:
        """A parked job's wait is over: record the slots that passed as one skipped run, go on."""
        job, first = held.job, held.next_run
        assert first is not None
        # The parked slot was due when it parked, so it is not after the present.
        now = max(self.clock.now(), first)
        passed = slots_through(job.timing, job.policy.catch_up.window, job.anchor, first, now, keep=0)
        skipped = self._advance(held, self._first_slot_after(job, now), passed.count, now)
        if not skipped:
            return
        if skipped == 1:
            error = "skipped: the previous run was still in flight"
        elif skipped < passed.count:  # max_runs ended the job part-way through the range
            error = f"skipped {skipped} slots due from {utc_iso(first)}: the previous run was still in flight"
        else:
            error = (
                f"skipped {passed.count_text()} slots due from {utc_iso(first)} to {utc_iso(passed.last)}:"
                " the previous run was still in flight"
            )
            if not passed.exact:
                error += f" (counting stops at {passed.count:,} slots)"
        logger.info("job %d (%s): %s", job.id, job.name, error, extra=job_fields(job.id, job.name))
        self._record(job, Run(job.id, first, now, 0.0, RunOutcome.SKIPPED, error=error))

    @staticmethod
    def _first_slot_after(job: CompiledJob, now: float) -> float | None:
        """The job's first slot after `now` inside its start_at/end_at window (where a parked job resumes)."""
        return job.policy.catch_up.window.next_after(job.timing, now, job.anchor)

    def _compact(self) -> None:
        # Changes leave stale heap entries behind; rebuild once they outnumber the live ones.
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [
                (h.next_run, h.job.id, h.job.version)
                for h in self._entries.values()
                if h.next_run is not None and h.job.id not in self._parked
            ]
            heapq.heapify(self._heap)
