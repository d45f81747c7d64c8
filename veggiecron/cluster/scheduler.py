"""The scheduler of one node among several sharing a PostgreSQL database.

A claimer claims the slots due within the next `claim_ahead` seconds (by the database's clock,
skipping jobs other nodes are claiming) and holds them; a firer sends each when it is due,
through the same lane gate as the single scheduler. Results are written where this node still
owns the claim. Leases are renewed on a timer; claims of dead nodes are reaped and sent again
with a higher epoch. The claimer looks again when the earliest next run comes within reach,
when an API write on any node notifies one, and at least every poll interval.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..clock import Clock, SystemClock
from ..compiler import compile_job
from ..jobtypes.registry import JobTypes
from ..logs import job_fields
from ..model import Claim, CompiledJob, DueJob, Job, Run, RunOutcome, SlotDecision
from ..scheduler.background import drain
from ..scheduler.executor import log_run, send
from ..scheduler.failures import Notifier
from ..scheduler.gate import STOPPED, LaneGate
from ..scheduler.ports import Runner
from ..store import ClaimStore, Listening
from ..times import iso_utc_micros
from .leases import Key, LeaseKeeper
from .planner import plan_claims
from .recovery import recover_skipped
from .results import ResultWriter
from .settings import ClusterSettings, node_identity

__all__ = ["ClusterScheduler", "ClusterSettings", "node_identity"]

logger = logging.getLogger(__name__)

COMPILED_CACHE = 100_000  # compiled jobs kept by (id, version); cleared when it grows past this
MAX_IDLE_WAIT = 60.0


class ClusterScheduler:
    def __init__(
        self,
        store: ClaimStore,
        runner: Runner,
        job_types: JobTypes,
        clock: Clock | None = None,
        *,
        owner: str,
        settings: ClusterSettings = ClusterSettings(),  # noqa: B008 - frozen
        lane_limit: int | None = None,
        run_listeners: Sequence[Callable[[Run], None]] = (),
        on_refused: Callable[[int], None] = lambda n: None,
        on_reaped: Callable[[int], None] = lambda n: None,
        on_claimed: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        """on_claimed is told how long each claim took, from asking to the answer."""
        self.store = store
        self.runner = runner
        self.job_types = job_types
        self.clock: Clock = clock or SystemClock()
        self.settings = settings
        self.owner = owner
        self.run_listeners = tuple(run_listeners)
        self._on_claimed = on_claimed
        self.notifier = Notifier(runner)
        self.leases = LeaseKeeper(store, self.owner, settings.lease, settings.reap_interval, self._lost, self._reaped)
        self.results = ResultWriter(
            store,
            self.owner,
            settings.lease,
            settings.flush_interval,
            self.notifier,
            self._admit_claims,
            on_refused,
            self._recorded,
            lambda: self._claim_wakeup.set(),  # followers' slots were written: claim them now
        )
        self._on_reaped = on_reaped
        self._on_refused = on_refused
        self.gate = LaneGate(self.clock, lane_limit, self)
        self._compiled: dict[tuple[int, int], CompiledJob] = {}
        self._planned: dict[int, CompiledJob] = {}  # the jobs of the claim under way
        self._heap: list[tuple[float, int, CompiledJob, int]] = []  # (due_at, seq, job, epoch) claimed, not yet due
        self._sequence = itertools.count()
        self._active: dict[Key, asyncio.Task[Run]] = {}  # runs being sent
        self._triggered_by: dict[Key, str] = {}  # claimed slots of followers: the parent's run_id
        self._release: list[Claim] = []
        self.offset = 0.0  # the database's clock minus this node's
        self._next_look = 0.0  # when the claimer looks again, on the database's clock
        self._short_of_room = False  # the claimer took fewer than it could: results written make room
        self._claim_wakeup = asyncio.Event()
        self._fire_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening: Listening | None = None

    # lifecycle

    async def start(self) -> None:
        self._listening = await self.store.listen(self._notified)
        self.leases.start()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="veggiecron-claimer"),
            asyncio.create_task(self._fire_loop(), name="veggiecron-firer"),
            asyncio.create_task(self.results.run(self._stopping), name="veggiecron-results"),
        ]
        logger.info("cluster node %s started (lease %.1fs)", self.owner, self.settings.lease)

    async def stop(self, grace: float) -> None:
        """Stop claiming; hand back the slots not sent; give runs in flight `grace` seconds."""
        self._stopping.set()
        self._claim_wakeup.set()
        self._fire_wakeup.set()
        await self.leases.stop_reaping()
        await asyncio.gather(*self._tasks[:2], return_exceptions=True)
        self._release += [Claim(job.id, due, epoch) for due, _, job, epoch in self._heap]
        self._heap.clear()
        self.gate.stop()  # runs waiting in a lane are released too (see record_unsent)
        if self.gate.tasks:
            logger.info("waiting up to %.1fs for %d runs in flight", grace, len(self.gate.tasks))
            await drain(self.gate.tasks, grace)
        await self.notifier.stop(grace)
        await asyncio.gather(*self._tasks[2:], return_exceptions=True)
        await self.results.flush()
        if self._release:
            for claim in self._release:
                self.leases.drop((claim.job_id, claim.due_at))
            try:
                await self.store.release(self.owner, self._release)
            except Exception as exc:  # they lapse at their lease's end instead, and are reaped then
                logger.warning("could not hand back %d claims: %s", len(self._release), exc)
        await self.leases.stop()
        if self._listening is not None:
            await self._listening.close()

    def is_alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks[:2])

    def scheduled_count(self) -> int:
        """Slots this node claimed and holds until they are due."""
        return len(self._heap)

    def in_flight_count(self) -> int:
        return self.gate.in_flight_count()

    # the jobs service's port: the database holds every job; nothing to keep in step here

    def upsert(self, job: CompiledJob, keep_progress: bool = False) -> None:
        self._compiled[(job.id, job.version)] = job
        if job.enabled and job.next_run is not None:
            self._notified(job.next_run)  # the store notified every node; this one need not wait for it

    def remove(self, job_id: int) -> None:
        """Slots of the job this node holds and has not sent are not sent."""
        for i, (_due, _seq, job, _epoch) in enumerate(self._heap):
            if job.id == job_id:
                self._heap[i] = (-math.inf, -1, job, -1)  # epoch -1: never sent
        heapq.heapify(self._heap)

    def current(self, job: Job) -> Job:
        return job

    def follow(self, job: CompiledJob, parent_id: int | None, on: str | None) -> None:
        """Followers are in the store: a parent's result there triggers them (see finish.py)."""

    def unfollow(self, job_id: int) -> None:
        """As follow."""

    async def flush(self) -> bool:
        return await self.results.flush()

    async def run_now(self, job: CompiledJob) -> float:
        """Claim a slot of the job at the database's now and send it from this node."""
        claim = await self.store.claim_now(self.owner, job.id, self.settings.lease)
        if claim is None:
            return self.clock.now()
        self.leases.hold(claim)
        self.gate.admit(job, claim.due_at, claim.epoch)
        return claim.due_at

    async def deliver(self, job: CompiledJob) -> Run:
        claim = await self.store.claim_now(self.owner, job.id, self.settings.lease)
        if claim is None:
            return Run(job.id, self.clock.now(), self.clock.now(), 0.0, RunOutcome.FAILED, error="the job is gone")
        self.leases.hold(claim)
        return await self.gate.spawn(job, claim.due_at, epoch=claim.epoch)

    # claiming

    def _notified(self, due: float) -> None:
        """An API write set a next run: look now if it falls before the claimer's next look."""
        if due - self.settings.claim_ahead <= self._next_look:
            self._claim_wakeup.set()
        if due <= self.clock.now() + self.offset + self.settings.claim_ahead:
            self.leases.reap_soon()  # perhaps a run an api node stored for a scheduler node to send

    def _plan(self, due: Sequence[DueJob], now: float) -> Sequence[SlotDecision]:
        self._planned = {}
        return plan_claims(due, now, self._compile_due)

    def _compile_due(self, item: DueJob) -> CompiledJob | None:
        job = self._compile(item.job)
        if job is not None:
            self._planned[job.id] = job
        return job

    def _compile(self, job: Job) -> CompiledJob | None:
        key = (job.id, job.version)
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = compile_job(job, self.job_types)
            except Exception:  # recorded by the planner; the other jobs go on
                logger.exception(
                    "job %d (%s): cannot be compiled", job.id, job.name, extra=job_fields(job.id, job.name)
                )
                return None
            if len(self._compiled) >= COMPILED_CACHE:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    async def _claim_loop(self) -> None:
        settings = self.settings
        while not self._stopping.is_set():
            self._claim_wakeup.clear()
            room = settings.max_held - len(self.leases.held)
            self._short_of_room = room < settings.claim_batch
            wait = settings.poll_interval * random.uniform(0.8, 1.0)
            try:
                if self.leases.valid() and room > 0:
                    limit = min(settings.claim_batch, room)
                    sent_at = self.clock.now()
                    asked = time.perf_counter()
                    claims, db_now = await self.store.claim_due(
                        self.owner, settings.claim_ahead, limit, settings.lease, self._plan
                    )
                    self._on_claimed(time.perf_counter() - asked)
                    self.offset = db_now - (sent_at + self.clock.now()) / 2
                    self._hold([(self._planned[c.job_id], c) for c in claims])
                    if len(self._planned) >= limit:
                        await asyncio.sleep(0)
                        continue  # more may be due: claim again at once
                    next_due, db_now = await self.store.next_due()
                    if next_due is not None:
                        # Claims are batched: each covers the next claim_ahead, so looking again
                        # before half of it has passed would only claim a few slots at a time (a
                        # transaction per slot for jobs spread over the second). Notifications
                        # of a job due sooner still wake the claimer at once.
                        soonest = max(settings.claim_ahead / 2, next_due - settings.claim_ahead - db_now)
                        wait = min(wait, soonest)
            except Exception as exc:  # the database may be away: try again after the poll interval
                logger.warning("claiming due runs failed: %s", exc)
            wait = min(wait, MAX_IDLE_WAIT)
            self._next_look = self.clock.now() + self.offset + wait
            try:
                await asyncio.wait_for(self._claim_wakeup.wait(), timeout=wait)
            except TimeoutError:
                pass

    def _hold(self, claims: list[tuple[CompiledJob, Claim]]) -> None:
        for job, claim in claims:
            self.leases.hold(claim)
            if claim.triggered_by is not None:
                self._triggered_by[(claim.job_id, claim.due_at)] = claim.triggered_by
            heapq.heappush(self._heap, (claim.due_at, next(self._sequence), job, claim.epoch))
        if claims:
            self._fire_wakeup.set()

    def _admit_claims(self, claims: list[Claim]) -> None:
        """Claims that start now (promoted buffered slots, reaped ones): compile and hold them."""
        self._spawn_background(self._admit_claims_async(claims))

    async def _admit_claims_async(self, claims: list[Claim]) -> None:
        # Read afresh: these slots were claimed long ago or by another node, and the job may have
        # changed since (its current version is what is sent).
        try:
            jobs = await self.store.jobs_by_id(sorted({c.job_id for c in claims}))
        except Exception as exc:  # the claims lapse and are reaped again
            logger.warning("loading the jobs of %d claims failed: %s; they are left to lapse", len(claims), exc)
            self._let_lapse(claims)
            return
        known = {job.id: compiled for job in jobs if (compiled := self._compile(job)) is not None}
        self._hold([(known[c.job_id], c) for c in claims if c.job_id in known])
        self._let_lapse([c for c in claims if c.job_id not in known])

    def _let_lapse(self, claims: list[Claim]) -> None:
        """Claims this node took and will not send: no longer renewed, so that their leases lapse
        and a node reaps them again. Renewed while never sent, they would be held forever."""
        for claim in claims:
            key = (claim.job_id, claim.due_at)
            if self.leases.holds(key, claim.epoch):
                self.leases.drop(key)

    def _reaped(self, claims: list[Claim]) -> None:
        self._on_reaped(sum(1 for claim in claims if claim.epoch > 1))  # epoch 1: asked of an api node
        self._spawn_background(self._recover(claims))

    async def _recover(self, claims: list[Claim]) -> None:
        """Send the reaped claims, and the slots skipped behind them as their jobs' catch_up says."""
        recovered = await recover_skipped(self.store, self.owner, self.settings.lease, claims, self._compile)
        await self._admit_claims_async([*claims, *recovered])

    def _lost(self, keys: list[Key]) -> None:
        """Claims taken over by other nodes: stop sending them; a run in flight is abandoned, its
        result never written (counted with the results the database refused)."""
        abandoned = 0
        for key in keys:
            task = self._active.get(key)
            if task is not None:
                task.cancel()
                abandoned += 1
        if abandoned:
            self._on_refused(abandoned)

    def _spawn_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # firing

    # the lane gate's owner (scheduler.ports.GateOwner)

    def deadlines_changed(self) -> None:
        self._fire_wakeup.set()

    def job_settled(self, job_id: int) -> None:
        """Nothing to resume: the database plans each job's next slots at every claim."""

    async def _fire_loop(self) -> None:
        while not self._stopping.is_set():
            self._fire_wakeup.clear()
            now = self.clock.now()
            db_now = now + self.offset
            while self._heap and self._heap[0][0] <= db_now:
                due, _, job, epoch = heapq.heappop(self._heap)
                if epoch > 0 and self.leases.holds((job.id, due), epoch):
                    self.gate.admit(job, due, epoch)
            self.gate.expire(now)
            next_due = self._heap[0][0] - self.offset if self._heap else math.inf
            delay = min(next_due, self.gate.next_deadline()) - self.clock.now()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._fire_wakeup.wait(), timeout=min(delay, MAX_IDLE_WAIT))
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)

    async def send(self, job: CompiledJob, due: float, epoch: int, waited: float) -> Run:
        key = (job.id, due)
        if not self.leases.valid() or not self.leases.holds(key, epoch):
            # Its lease may have lapsed: another node sends it (or already did). Nothing is recorded here.
            self.leases.drop(key)
            logger.warning(
                "job %d (%s): slot due at %s not sent: this node's lease on it lapsed",
                job.id,
                job.name,
                iso_utc_micros(due),
                extra=job_fields(job.id, job.name),
            )
            return Run(job.id, due, self.clock.now(), 0.0, RunOutcome.FAILED, error="not sent: the lease lapsed")
        task = asyncio.current_task()
        if task is not None:
            self._active[key] = task  # type: ignore[assignment]
        try:
            run = await send(self.runner, self.clock, job, due, epoch, waited, self._triggered_by.get(key))
        finally:
            self._active.pop(key, None)
        self._finished(job, run, epoch)
        return run

    def record_unsent(self, job: CompiledJob, run: Run, epoch: int) -> None:
        """A run the gate did not send (cancelled, or its lane's wait timed out)."""
        key = (job.id, run.due_at)
        if not self.leases.holds(key, epoch):
            return  # taken over by another node: not this node's to record
        if self._stopping.is_set() and run.error == STOPPED and run.attempts == 0 and key not in self._active:
            self.leases.drop(key)
            self._release.append(Claim(job.id, run.due_at, epoch))  # never sent: another node sends it
            return
        self._finished(job, run, epoch)

    def _recorded(self, claims: list[Claim]) -> None:
        """Results written (or refused): the claims are done with, and there is room for more."""
        for claim in claims:
            self._triggered_by.pop((claim.job_id, claim.due_at), None)
            if self.leases.holds((claim.job_id, claim.due_at), claim.epoch):
                self.leases.drop((claim.job_id, claim.due_at))
        if self._short_of_room:
            self._claim_wakeup.set()

    def _finished(self, job: CompiledJob, run: Run, epoch: int) -> None:
        log_run(job, run)
        self.results.add(job, run, epoch)
        for listener in self.run_listeners:
            listener(run)
