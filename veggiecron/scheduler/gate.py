"""The lane gate: how a due slot starts, by its job's overlap policy and its target's lane.

Overlap: while a job has a run in flight, a new slot is skipped, allowed, buffered (one waits)
or replaces the run in flight. Lanes: at most `lane_limit` scheduled runs in flight per target
(the runner's per-host pool); the rest wait in their lane, first in first out, so an overloaded
or hanging target holds due runs as small records instead of thousands of tasks. A waiting run
that gets no slot within its job's timeout fails unsent. Every time is read from the injected
clock: how long a run waited by its monotonic reading, so that setting the system's clock
neither fails waiting runs at once nor lets them wait forever; the loop asks for the next
deadline and calls expire() when it passes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..clock import Clock
from ..logs import job_fields
from ..model import BUFFERED, WAITING, CompiledJob, HeldSlot, Run, RunOutcome
from ..policies import CatchUp, Overlap
from ..times import iso_utc_micros
from .ports import GateOwner

logger = logging.getLogger(__name__)

SKIPPED = "skipped: the previous run was still in flight"
STOPPED = "cancelled: the server stopped"
REPLACED = "cancelled: replaced by a newer run"


class SlotKeeper(Protocol):
    """Stores the slots the gate holds (waiting in a lane, or buffered) so that a restart finds them."""

    def hold(self, slot: HeldSlot) -> None: ...

    def release(self, job_id: int, due_at: float) -> None: ...


@dataclass(slots=True, eq=False)
class Waiting:
    """A due run waiting in its lane for a connection slot: a few bytes, not a task."""

    job: CompiledJob
    due: float
    epoch: int
    since: float  # monotonic: waits are measured on a clock that does not step
    deadline: float  # monotonic; it fails unsent when no slot comes before this
    done: bool = False  # started, timed out or cancelled: left in the queues until it surfaces


class LaneGate:
    def __init__(
        self,
        clock: Clock,
        lane_limit: int | None,
        owner: GateOwner,
        keeper: SlotKeeper | None = None,
    ) -> None:
        """owner sends the runs let through and records the others (lane_limit None: no lanes,
        for tests). keeper, when given, stores the slots held, and a stop leaves them held for
        the next start instead of recording them as cancelled."""
        self.keeper = keeper
        self.clock = clock
        self.lane_limit = lane_limit
        self.owner = owner
        self.stopping = False
        self.tasks: set[asyncio.Task[Run]] = set()
        self._running: dict[int, set[asyncio.Task[Run]]] = {}  # runs in flight per job
        self._began: dict[asyncio.Task[Run], float] = {}  # run tasks whose coroutine started, and when
        self._replaced: set[asyncio.Task[Run]] = set()  # runs cancelled by overlap=replace
        self._buffered: dict[int, tuple[CompiledJob, float]] = {}  # overlap=buffer_one: the run waiting
        self._lanes: dict[str, deque[Waiting]] = {}
        self._lane_runs: dict[str, int] = {}  # runs started per lane and not yet finished
        self._waiting: dict[int, list[Waiting]] = {}  # per job
        self._deadlines: list[tuple[float, int, Waiting]] = []
        self._sequence = itertools.count()

    # questions the loop asks

    def in_flight(self, job_id: int) -> bool:
        return job_id in self._running or job_id in self._waiting

    def must_wait(self, job: CompiledJob) -> bool:
        """Whether the job's next slot can only be skipped, because of the runs in flight."""
        if job.overlap is Overlap.SKIP:
            return self.in_flight(job.id)
        if job.overlap is Overlap.BUFFER_ONE:
            return job.id in self._buffered
        return False

    def in_flight_count(self) -> int:
        """Runs started or waiting in their lane."""
        return sum(map(len, self._running.values())) + sum(map(len, self._waiting.values()))

    def next_deadline(self) -> float:
        """When the next waiting run times out, as a wall-clock time (inf when none waits)."""
        while self._deadlines and self._deadlines[0][2].done:
            heapq.heappop(self._deadlines)
        if not self._deadlines:
            return math.inf
        return self.clock.now() + self._deadlines[0][0] - self.clock.monotonic()

    # slots coming in

    def start_all(self, job: CompiledJob, slots: Sequence[float], now: float) -> None:
        """Start the slots a catch-up plan runs, oldest first, each as the overlap policy says.

        Under catch_up all, when no run was in flight, every slot of the catch-up is sent: overlap
        holds back the slots of a job still running, not the slots of one catch-up among themselves.
        """
        each = job.policy.catch_up.catch_up is CatchUp.ALL and job.overlap is not Overlap.REPLACE
        each = each and not self.in_flight(job.id)
        for i, slot in enumerate(slots):
            if i and each:
                self.admit(job, slot)
            else:
                self.start(job, slot, now)

    def start(self, job: CompiledJob, slot: float, now: float) -> None:
        """Start a run of a due slot, as the job's overlap policy says."""
        if not self.in_flight(job.id) or job.overlap is Overlap.ALLOW:
            self.admit(job, slot)
        elif job.overlap is Overlap.REPLACE:
            for task in self._running.get(job.id, ()):
                self._replaced.add(task)
                task.cancel()
            for waiting in list(self._waiting.get(job.id, ())):
                self._give_up(waiting, REPLACED)
            self.admit(job, slot)
        elif job.overlap is Overlap.BUFFER_ONE and job.id not in self._buffered:
            self._buffered[job.id] = (job, slot)
            self._hold(job.id, slot, BUFFERED, now)
        else:
            logger.info(
                "job %d (%s): run due at %s skipped: the previous run was still in flight",
                job.id,
                job.name,
                iso_utc_micros(slot),
                extra=job_fields(job.id, job.name),
            )
            self.owner.record_unsent(job, Run(job.id, slot, now, 0.0, RunOutcome.SKIPPED, error=SKIPPED), 1)

    def admit(self, job: CompiledJob, due: float, epoch: int = 1) -> None:
        """Start a run now if its lane has a free slot, else queue it in the lane.

        epoch: which copy of the slot this is (above 1 only when another node's lease on it lapsed).
        """
        lane = job.target.lane  # runs to one target share its connection slots
        if self.lane_limit is None or lane is None:
            self.spawn(job, due, epoch=epoch)
            return
        started = self._lane_runs.get(lane, 0)
        if started < self.lane_limit and not self._lanes.get(lane):
            self._lane_runs[lane] = started + 1
            self.spawn(job, due, lane, epoch)
            return
        since = self.clock.monotonic()
        waiting = Waiting(job, due, epoch, since, since + job.target.timeout)
        heapq.heappush(self._deadlines, (waiting.deadline, next(self._sequence), waiting))
        self.owner.deadlines_changed()  # the loop's timer may be set later than this deadline
        self._lanes.setdefault(lane, deque()).append(waiting)
        self._waiting.setdefault(job.id, []).append(waiting)
        self._hold(job.id, due, WAITING, self.clock.now())

    def spawn(
        self, job: CompiledJob, due: float, lane: str | None = None, epoch: int = 1, waited: float = 0.0
    ) -> asyncio.Task[Run]:
        """Start a run; waited: seconds it waited in its lane for a connection slot."""
        task = asyncio.create_task(self._begin(job, due, epoch, waited))
        self.tasks.add(task)
        self._running.setdefault(job.id, set()).add(task)
        task.add_done_callback(lambda done: self._finished(job, due, epoch, done, lane))
        return task

    def forget(self, job_id: int) -> None:
        """The job left the schedule: its buffered run is dropped."""
        buffered = self._buffered.pop(job_id, None)
        if buffered is not None:
            self._release(job_id, buffered[1])

    def expire(self, now: float | None = None) -> None:
        """Fail the waiting runs whose timeout passed before their lane had a slot.

        The wall-clock `now` callers pass is not used: waits are measured on the monotonic clock.
        """
        elapsed = self.clock.monotonic()
        while self._deadlines and self._deadlines[0][0] <= elapsed:
            _, _, waiting = heapq.heappop(self._deadlines)
            if not waiting.done:
                self._expire(waiting)

    def stop(self) -> int:
        """No run starts from here on. The waiting ones stay held for the next start when a keeper
        stores them, else they are recorded as cancelled; answer how many are kept."""
        self.stopping = True
        kept = 0
        for lane in self._lanes.values():
            for waiting in lane:
                if waiting.done:
                    continue
                if self.keeper is not None:
                    self._unwait(waiting)
                    kept += 1
                else:
                    self._give_up(waiting, STOPPED)
        self._lanes.clear()
        return kept + (len(self._buffered) if self.keeper is not None else 0)

    # runs ending

    async def _begin(self, job: CompiledJob, due: float, epoch: int, waited: float) -> Run:
        task = asyncio.current_task()
        if task is not None:
            self._began[task] = self.clock.now()
        return await self.owner.send(job, due, epoch, waited)

    def _finished(self, job: CompiledJob, due: float, epoch: int, task: asyncio.Task[Run], lane: str | None) -> None:
        began = self._began.pop(task, None)
        if task.cancelled():
            # Recorded here, not in execute: a task cancelled before its first step never ran it.
            now = self.clock.now()
            started = now if began is None else began
            reason = REPLACED if task in self._replaced else STOPPED
            run = Run(job.id, due, started, (now - started) * 1000, RunOutcome.FAILED, error=reason)
            self.owner.record_unsent(job, run, epoch)
        self.tasks.discard(task)
        self._replaced.discard(task)
        running = self._running.get(job.id)
        if running is not None:
            running.discard(task)
            if not running:
                del self._running[job.id]
        if lane is not None:
            self._lane_freed(lane)
        self._job_settled(job.id)

    def _lane_freed(self, lane: str) -> None:
        """A run of the lane ended: hand its slot to the first run still waiting, or free it."""
        queue = self._lanes.get(lane)
        elapsed = self.clock.monotonic()
        while queue:
            waiting = queue.popleft()
            if waiting.done:
                continue
            if self.stopping:
                self._give_up(waiting, STOPPED)
                continue
            if elapsed >= waiting.deadline:
                self._expire(waiting)
                continue
            self._unwait(waiting)
            self._release(waiting.job.id, waiting.due)
            self.spawn(waiting.job, waiting.due, lane, waiting.epoch, elapsed - waiting.since)
            return
        self._lanes.pop(lane, None)
        started = self._lane_runs.get(lane, 0) - 1
        if started > 0:
            self._lane_runs[lane] = started
        else:
            self._lane_runs.pop(lane, None)

    def _unwait(self, waiting: Waiting) -> None:
        waiting.done = True
        of_job = self._waiting.get(waiting.job.id)
        if of_job is not None:
            of_job.remove(waiting)
            if not of_job:
                del self._waiting[waiting.job.id]

    def _expire(self, waiting: Waiting) -> None:
        timeout = waiting.job.target.timeout
        self._give_up(waiting, f"timeout after {timeout:g}s waiting for a connection", "timeout")

    def _give_up(self, waiting: Waiting, error: str, error_class: str | None = None) -> None:
        """Record a waiting run that will not be sent, and let its job go on."""
        if not waiting.done:
            self._unwait(waiting)
        now = self.clock.now()
        job = waiting.job
        self._release(job.id, waiting.due)
        elapsed = (self.clock.monotonic() - waiting.since) * 1000
        run = Run(job.id, waiting.due, now, elapsed, RunOutcome.FAILED, error=error, error_class=error_class)
        self.owner.record_unsent(job, run, waiting.epoch)
        self._job_settled(job.id)

    def _job_settled(self, job_id: int) -> None:
        """A run of the job ended: start its buffered run, then tell the loop."""
        stays = self.stopping and self.keeper is not None  # held for the next start
        buffered = self._buffered.pop(job_id, None) if not self.in_flight(job_id) and not stays else None
        if buffered is not None:
            job, slot = buffered
            self._release(job_id, slot)
            if self.stopping:
                self.owner.record_unsent(
                    job, Run(job_id, slot, self.clock.now(), 0.0, RunOutcome.FAILED, error=STOPPED), 1
                )
            else:
                self.admit(job, slot)
        self.owner.job_settled(job_id)

    def _hold(self, job_id: int, due: float, reason: str, now: float) -> None:
        if self.keeper is not None:
            self.keeper.hold(HeldSlot(job_id, due, reason, now))

    def _release(self, job_id: int, due: float) -> None:
        if self.keeper is not None:
            self.keeper.release(job_id, due)
