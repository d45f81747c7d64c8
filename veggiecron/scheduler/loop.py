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
from dataclasses import replace

from ..clock import Clock, SystemClock
from ..compiler import compile_job
from ..jobtypes.registry import JobTypes
from ..logs import job_fields
from ..model import CompiledJob, Job, NextRun, Run, RunOutcome
from ..policies import missed_reason, plan_slots, skipped_reason, slots_through
from ..store import DueWindow
from ..times import iso_utc_micros
from .background import drain
from .chains import ChainTriggers
from .executor import Executor
from .failures import FailureTracker, Notifier
from .gate import LaneGate
from .ports import Runner
from .progress import ProgressWriter
from .restore import restore_held
from .window import WindowLoader

logger = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0  # the loop wakes at least this often even with nothing due
MAX_JOBS_PER_PASS = 1000  # then the loop yields, so I/O and the API keep moving under overload


class Scheduler:
    """Fires due jobs; holds in memory the jobs due within the next `window` seconds."""

    def __init__(
        self,
        store: DueWindow,
        runner: Runner,
        job_types: JobTypes,
        clock: Clock | None = None,
        *,
        flush_interval: float = 0.2,
        window: float = 300.0,
        lane_limit: int | None = None,
        run_listeners: Sequence[Callable[[Run], None]] = (),
    ) -> None:
        """run_listeners are told of every recorded run (metrics); lane_limit None: no lanes (tests)."""
        self.job_types = job_types
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.progress = ProgressWriter(store, flush_interval, self._written)
        self.notifier = Notifier(runner)
        self.failures = FailureTracker(self.progress, self.notifier)
        # The held jobs: each CompiledJob's next_run and run_count are the scheduler's progress, updated
        # in place on every dispatch (no copy per run, and no second object per held job).
        self._entries: dict[int, CompiledJob] = {}
        self.executor = Executor(runner, self.clock, self.progress, self.failures, run_listeners, self)
        self._record = self.executor.record
        # Waiting and buffered slots are stored (the progress writer keeps them): a restart finds them.
        self.gate = LaneGate(self.clock, lane_limit, self, keeper=self.progress)
        self.chains = ChainTriggers(self.clock, self.progress, self.gate, self._record)  # followers, off the heap
        self.executor.listeners += (self.chains.after_run,)  # every run recorded may trigger some
        self.follow, self.unfollow = self.chains.follow, self.chains.unfollow  # the jobs service's port
        self.loader = WindowLoader(store, self.clock, window, self._take_stored, self._entries.__contains__, self.flush)
        # The held jobs themselves, ordered by (next_run, id) (CompiledJob.__lt__), not tuples
        # beside them: a tuple per job was 64 bytes. An entry is live while _entries holds that
        # very object; each object is on the heap at most once, and its next_run changes only
        # once it was popped (see _advance), so the order holds.
        self._heap: list[CompiledJob] = []
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
        self.chains.load(await self.store.follower_jobs(), self.job_types)
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
            await drain(self.gate.tasks, grace)
        await self.notifier.stop(grace)
        if self._writer_task is not None:
            await self._writer_task
        await self.flush()

    async def _restore_held(self) -> None:
        """Run the slots held when the server last stopped or died, or record them as missed."""
        held = self.chains.resume(await self.store.held_slots(), self.job_types)  # followers' triggers go on
        for _stored, slot in held:
            self.progress.held_in_store(slot.job_id, slot.due_at)
            self.progress.release(slot.job_id, slot.due_at)  # held again if it waits for its lane
        restored = restore_held(held, self.clock.now(), self.job_types)
        for job, due in restored.to_run:
            self.gate.admit(job, due)
        for missed_job, run in restored.missed:
            if missed_job is not None:
                self._record(missed_job, run)
            else:
                self.progress.runs.append(run)

    def is_alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def flush(self) -> bool:
        """Write what is pending; False when the database refused it."""
        return await self.progress.flush()

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
        if self.chains.refresh(job):  # a follower: its parent's runs start it, never the heap
            self._entries.pop(job.id, None)
            return
        if not job.enabled or job.next_run is None:
            self.remove(job.id)
            return
        self.loader.touch(job.id)
        self._parked.discard(job.id)  # the new entry goes on the heap (and parks again if it must)
        if job.next_run > self.loader.horizon:
            self._entries.pop(job.id, None)  # due after the window: the store holds it until then
            return
        if self._entries.get(job.id) is job:
            job = replace(job)  # the same object again: a copy, so no object is on the heap twice
        self._entries[job.id] = job
        heapq.heappush(self._heap, job)
        self._compact()
        self.wake()

    def _with_progress(self, job: CompiledJob) -> CompiledJob:
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
        self.loader.touch(job_id)
        self._entries.pop(job_id, None)
        self.gate.forget(job_id)
        self._parked.discard(job_id)
        self.chains.disable(job_id)  # a follower that paused itself skips its triggers

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
        entry = self._entries.get(job.id)
        if entry is None or entry.version != job.version:
            return job
        next_run = entry.next_run
        if next_run is not None and job.id in self._parked:
            # Parked behind its run in flight: the slots until that run ends are skipped, so the
            # earliest it can run is the first slot after now, not the past slot it parked on.
            now = self.clock.now()
            if next_run <= now:
                next_run = self._first_slot_after(entry, now) or next_run
        if next_run != job.next_run:
            return replace(job, next_run=next_run)
        return job

    # the lane gate's owner (ports.GateOwner) and the executor's (ports.ScheduleOwner)

    async def send(self, job: CompiledJob, due: float, epoch: int, waited: float) -> Run:
        return await self.executor.execute(job, due, epoch, waited, self.chains.triggered_by(job.id, due))

    def record_unsent(self, job: CompiledJob, run: Run, epoch: int) -> None:
        self.executor.record_unsent(job, self.chains.stamped(run))

    def deadlines_changed(self) -> None:
        self.wake()

    def is_current(self, job: CompiledJob) -> bool:
        """Whether memory holds no other version of the job (one not in memory may wait in the store)."""
        entry = self._entries.get(job.id)
        return entry is None or entry.version == job.version

    def _take_stored(self, job: Job) -> None:
        """Take a job the window loader read from the store."""
        try:
            compiled = compile_job(job, self.job_types)
        except Exception:  # one unreadable job must not keep the others from running
            logger.exception(
                "job %d (%s): cannot be scheduled, left as stored", job.id, job.name, extra=job_fields(job.id, job.name)
            )
            return
        if compiled.next_run is None:
            return  # the store reads only jobs with a next run; nothing to hold
        self._entries[job.id] = compiled
        heapq.heappush(self._heap, compiled)
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
            next_due = (self._heap[0].next_run or 0.0) if self._heap else math.inf
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
        while self._heap and (self._heap[0].next_run or 0.0) <= now and (limit is None or jobs < limit):
            entry = heapq.heappop(self._heap)
            due = entry.next_run
            if due is None or self._entries.get(entry.id) is not entry:
                continue  # stale: the job changed or was removed
            jobs += 1
            try:
                count += self._dispatch(entry, due, now)
            except Exception:  # one job's bad data must not stop the others
                self._unschedule_after_error(entry, "dispatch failed")
        return count

    def _dispatch(self, job: CompiledJob, due: float, now: float) -> int:
        if self.gate.must_wait(job):
            # Parked off the heap with next_run = due; _resume sums up what passed once the run ends.
            self._parked.add(job.id)
            return 0
        catch_up = job.policy.catch_up
        plan = plan_slots(job.timing, job.anchor, due, now, catch_up)
        slots = plan.run[: self._advance(job, plan.next_run, len(plan.run), now)]
        if plan.dropped:
            logger.warning("job %d (%s): %s", job.id, job.name, plan.dropped)
        for slot in plan.missed:
            error = missed_reason(plan, catch_up, slot, now)
            self._record(job, Run(job.id, slot, now, 0.0, RunOutcome.MISSED, error=error))
        self.gate.start_all(job, slots, now)
        return len(slots) + len(plan.missed)

    def _advance(self, job: CompiledJob, next_run: float | None, slots: int, now: float) -> int:
        """Count `slots` handled slots and move the job on to `next_run`; answer how many max_runs leaves."""
        if next_run is not None and next_run <= now:
            # A schedule must move forward; if one ever does not, retry it shortly instead of spinning.
            logger.error(
                "job %d (%s): schedule %r gave next run %s at or before now; retrying in 1 s",
                job.id,
                job.name,
                job.timing,  # its parsed form: the text as written is in the store
                iso_utc_micros(next_run),
                extra=job_fields(job.id, job.name),
            )
            next_run = now + 1.0
        max_runs = job.max_runs
        if max_runs is not None:
            slots = min(slots, max(0, max_runs - job.run_count))
        if slots:
            job.run_count += slots
            self.progress.count(job.id, slots)
        if max_runs is not None and job.run_count >= max_runs:
            next_run = None  # the store disables the job when it writes the count
        self.progress.next_run(job.id, job.version, next_run)
        job.next_run = next_run
        if next_run is None:
            self._entries.pop(job.id, None)
            self.progress.finished[job.id] = job.version
        else:
            # Due after the horizon, it goes back to the store until its window comes, but only
            # once its next run is written (see _written): while the database refuses writes the
            # store's row is stale, and memory keeps firing the job.
            heapq.heappush(self._heap, job)
        return slots

    def _written(self, next_runs: Collection[NextRun]) -> None:
        """Next run times are in the store: jobs due after the horizon now leave memory."""
        horizon = self.loader.horizon
        for job_id, version, next_run in next_runs:
            if next_run is None or next_run <= horizon or job_id in self._parked:
                continue
            entry = self._entries.get(job_id)
            if entry is not None and entry.version == version and entry.next_run == next_run:
                del self._entries[job_id]  # its heap entry goes stale

    def job_settled(self, job_id: int) -> None:
        """A run of the job ended: resume it if it was parked behind that run."""
        if job_id not in self._parked:
            return
        entry = self._entries.get(job_id)
        if entry is None:
            self._parked.discard(job_id)
        elif not self.gate.must_wait(entry):
            self._parked.discard(job_id)
            try:
                self._resume(entry)
            except Exception:  # as in dispatch_due: one job's bad data must not stop the others
                self._unschedule_after_error(entry, "resuming after its run failed")
            self.wake()

    def _unschedule_after_error(self, job: CompiledJob, what: str) -> None:
        logger.exception(
            "job %d (%s): %s; left unscheduled", job.id, job.name, what, extra=job_fields(job.id, job.name)
        )
        self._entries.pop(job.id, None)

    def _resume(self, job: CompiledJob) -> None:
        """A parked job's wait is over: record the slots that passed as one skipped run, go on."""
        first = job.next_run
        assert first is not None
        # The parked slot was due when it parked, so it is not after the present.
        now = max(self.clock.now(), first)
        passed = slots_through(job.timing, job.policy.catch_up.window, job.anchor, first, now, keep=0)
        skipped = self._advance(job, self._first_slot_after(job, now), passed.count, now)
        if not skipped:
            return
        error = skipped_reason(passed, skipped)
        logger.info("job %d (%s): %s", job.id, job.name, error, extra=job_fields(job.id, job.name))
        self._record(job, Run(job.id, first, now, 0.0, RunOutcome.SKIPPED, error=error))

    @staticmethod
    def _first_slot_after(job: CompiledJob, now: float) -> float | None:
        """The job's first slot after `now` inside its start_at/end_at window (where a parked job resumes)."""
        return job.policy.catch_up.window.next_after(job.timing, now, job.anchor)

    def _compact(self) -> None:
        # Changes leave stale heap entries behind; rebuild once they outnumber the live ones.
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [h for h in self._entries.values() if h.next_run is not None and h.id not in self._parked]
            heapq.heapify(self._heap)
