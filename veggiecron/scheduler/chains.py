"""The single scheduler's followers: a parent's run, once its result is known, starts them at once.

Each trigger is a slot of the follower, due when the parent's result is known. It is held (stored
as a TRIGGERED held slot) in the same write as the parent's run record, and released in the same
write as the follower's own run record: so whenever the parent's run is recorded, the follower's
run is either recorded too or sent again at the next start. The follower is sent without waiting
for that write; its own overlap policy decides, through the lane gate, whether it starts, waits or
is skipped, and a disabled follower records its triggers as skipped.

Only jobs that follow another are held here (a dict by parent id): the jobs of the heap carry
nothing for chains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from ..clock import Clock
from ..compiler import compile_job
from ..follow import SKIPPED_DISABLED, follows
from ..jobtypes.registry import JobTypes
from ..logs import job_fields
from ..model import TRIGGERED, CompiledJob, HeldSlot, Job, Run, RunOutcome, idempotency_key, stored_flags
from .gate import LaneGate
from .progress import ProgressWriter

logger = logging.getLogger(__name__)

Key = tuple[int, float]  # (follower id, slot)


class Follower(NamedTuple):
    job: CompiledJob
    on: str  # follow.FOLLOWS_OK, FOLLOWS_FAILED or FOLLOWS_FINISHED


class ChainTriggers:
    def __init__(
        self, clock: Clock, progress: ProgressWriter, gate: LaneGate, record: Callable[[CompiledJob, Run], None]
    ) -> None:
        """record writes a run the gate never saw (a disabled follower's skipped trigger)."""
        self.clock = clock
        self.progress = progress
        self.gate = gate
        self._record = record
        self._followers: dict[int, dict[int, Follower]] = {}  # parent id -> follower id -> follower
        self._parent_of: dict[int, int] = {}  # follower id -> parent id
        self._pending: dict[Key, str] = {}  # triggered slots not yet recorded -> the parent's run_id
        self._last_slot: dict[int, float] = {}  # follower id -> its newest slot (slots never repeat)

    # the relation, as the jobs service and the store say

    def follow(self, job: CompiledJob, parent_id: int | None, on: str | None) -> None:
        """The job runs after parent_id's runs (on their outcome `on`); parent None: it follows nothing."""
        self.unfollow(job.id, keep_pending=True)
        if parent_id is None or on is None:
            return
        self._followers.setdefault(parent_id, {})[job.id] = Follower(job, on)
        self._parent_of[job.id] = parent_id

    def load(self, jobs: Sequence[Job], job_types: JobTypes) -> None:
        """The followers read from the store at start."""
        for job in jobs:
            try:
                self.follow(compile_job(job, job_types), job.after_job, job.after_on)
            except Exception:  # one unreadable job must not keep the others from running
                logger.exception(
                    "job %d (%s): cannot follow its parent", job.id, job.name, extra=job_fields(job.id, job.name)
                )

    def unfollow(self, job_id: int, keep_pending: bool = False) -> None:
        parent_id = self._parent_of.pop(job_id, None)
        if parent_id is not None:
            of_parent = self._followers.get(parent_id, {})
            of_parent.pop(job_id, None)
            if not of_parent:
                self._followers.pop(parent_id, None)
        if not keep_pending:
            self._last_slot.pop(job_id, None)
            for key in [key for key in self._pending if key[0] == job_id]:
                del self._pending[key]
                self.progress.settle(*key)  # the job is gone: its held triggers went with it

    def refresh(self, job: CompiledJob) -> bool:
        """A follower changed (its data, its policies): answer whether it is one held here."""
        follower = self._find(job.id)
        if follower is None:
            return False
        self._followers[self._parent_of[job.id]][job.id] = follower._replace(job=job)
        return True

    def disable(self, job_id: int) -> None:
        """The follower left the schedule (it paused itself): its triggers are recorded as skipped."""
        follower = self._find(job_id)
        if follower is not None and follower.job.enabled:
            job = follower.job
            flags = stored_flags(False, job.max_runs, job.keep_failures, job.consecutive_failures)
            self.refresh(replace(job, flags=flags))

    def follower(self, job_id: int) -> CompiledJob | None:
        follower = self._find(job_id)
        return None if follower is None else follower.job

    def _find(self, job_id: int) -> Follower | None:
        parent_id = self._parent_of.get(job_id)
        return None if parent_id is None else self._followers[parent_id][job_id]

    def count(self) -> int:
        return len(self._parent_of)

    # runs

    def triggered_by(self, job_id: int, due: float) -> str | None:
        """The parent's run_id of a follower's slot being sent (None: not a triggered slot)."""
        return self._pending.get((job_id, due))

    def stamped(self, run: Run) -> Run:
        """A run the gate recorded unsent (skipped, cancelled, timed out), with its trigger when it has one."""
        parent_run = self._pending.get((run.job_id, run.due_at))
        return run if parent_run is None else replace(run, triggered_by=parent_run)

    def after_run(self, run: Run) -> None:
        """Told of every run recorded (a run listener): a follower's run settles its trigger, and a
        parent's run triggers the followers of its outcome, in the same write as the run itself."""
        if run.triggered_by is not None and self._pending.pop((run.job_id, run.due_at), None) is not None:
            self.progress.settle(run.job_id, run.due_at)
        followers = self._followers.get(run.job_id)
        if not followers:
            return
        parent_run = idempotency_key(run.job_id, run.due_at)
        for follower in list(followers.values()):
            if follows(follower.on, run.outcome.value):
                self._trigger(follower.job, parent_run)

    def _trigger(self, job: CompiledJob, parent_run: str) -> None:
        now = self.clock.now()
        slot = max(now, self._last_slot.get(job.id, 0.0) + 1e-6)  # one slot per trigger, never the same twice
        self._last_slot[job.id] = slot
        self.progress.hold_trigger(HeldSlot(job.id, slot, TRIGGERED, now, parent_run))
        self.start(job, slot, parent_run)

    def start(self, job: CompiledJob, slot: float, parent_run: str) -> None:
        """Send a triggered slot by the follower's overlap policy, or record it skipped when disabled."""
        self._pending[(job.id, slot)] = parent_run
        now = self.clock.now()
        if not job.enabled:
            logger.info(
                "job %d (%s): run triggered by %s skipped: the job is disabled",
                job.id,
                job.name,
                parent_run,
                extra=job_fields(job.id, job.name),
            )
            run = Run(job.id, slot, now, 0.0, RunOutcome.SKIPPED, error=SKIPPED_DISABLED, triggered_by=parent_run)
            self._record(job, run)
            return
        self.gate.start(job, slot, now)

    def resume(self, held: Sequence[tuple[Job, HeldSlot]], job_types: JobTypes) -> list[tuple[Job, HeldSlot]]:
        """Send now the triggers held when the server stopped or died (their followers as they are
        now); answer the other held slots."""
        others = []
        for stored, slot in held:
            if slot.reason != TRIGGERED:
                others.append((stored, slot))
                continue
            self.progress.hold_trigger(slot, stored=True)
            job = self.follower(slot.job_id)
            try:
                job = job or compile_job(stored, job_types)
            except Exception:  # kept held: a fixed job sends it at a later start
                logger.exception("job %d (%s): a triggered run cannot be sent", stored.id, stored.name)
                continue
            self.start(job, slot.due_at, slot.triggered_by or "")
        if len(others) < len(held):
            logger.info("%d triggered runs held when the server stopped are sent now", len(held) - len(others))
        return others
