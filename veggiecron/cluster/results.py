"""Results of claimed runs, written in batches where the node still owns the claim (fencing).

A result whose claim was taken over meanwhile (this node stalled past its lease and another
node re-sent the slot with a higher epoch) touches no row: it is dropped and counted. The
streak changes the database reports become failure, recovery and pause notifications.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..errors import StoreUnavailable
from ..logs import job_fields
from ..model import Claim, CompiledJob, Finished, Run, StreakChange
from ..scheduler.background import flush_every
from ..scheduler.failures import Notifier
from ..store import ClaimStore

logger = logging.getLogger(__name__)

MAX_BATCH = 2000
# Results that arrived while a flush wrote are written at once only when they are this many: a
# busy node's latecomers make batches of their own, a few make a statement's fixed cost per result.
DRAIN_AT_LEAST = 50
MAX_PENDING = 100_000  # results kept in memory while the database refuses them


class ResultWriter:
    def __init__(
        self,
        store: ClaimStore,
        owner: str,
        lease: float,
        flush_interval: float,
        notifier: Notifier,
        promoted: Callable[[list[Claim]], None],
        refused: Callable[[int], None],
        written: Callable[[list[Claim]], None],
        triggered: Callable[[], None] = lambda: None,
    ) -> None:
        """promoted gets buffered slots that start now on this node; refused counts fenced-off results;
        written is told of every claim whose result the database answered for (taken or refused);
        triggered, that the results wrote followers' slots (see finish.py)."""
        self.store = store
        self.owner = owner
        self.lease = lease
        self.flush_interval = flush_interval
        self.notifier = notifier
        self._promoted = promoted
        self._refused = refused
        self._written = written
        self._triggered = triggered
        self.pending: list[tuple[CompiledJob, Finished]] = []
        self._lock = asyncio.Lock()

    def add(self, job: CompiledJob, run: Run, epoch: int) -> None:
        claim = Claim(job.id, run.due_at, epoch)
        finished = Finished(claim, run, job.version, job.keep_failures, job.policy.pause_after_failures)
        self.pending.append((job, finished))

    async def flush(self) -> bool:
        """Write what is pending; False when the database refused (the results are kept for later).

        Everything pending when the flush starts, and then the results that arrived meanwhile while
        they are at least DRAIN_AT_LEAST. Draining until nothing was pending, a node sending 1,000
        runs a second wrote each batch's latecomers at once, one to four results a statement: it
        made fifteen times the statements its flush interval allows, and PostgreSQL's fixed cost
        per statement made most of its cost per run. A saturated node's latecomers are hundreds,
        and are still written at once (taking only what was pending, its statements grew to a
        thousand results, whose plans cost PostgreSQL twice as much per result)."""
        async with self._lock:
            owed = len(self.pending)
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    report = await self.store.finish_runs(self.owner, self.lease, [f for _, f in batch])
                except StoreUnavailable as exc:
                    logger.warning("could not record %d runs, will retry: %s", len(batch), exc.description)
                    self.pending = [*batch, *self.pending][-MAX_PENDING:]
                    return False
                owed -= len(batch)
                self._written([f.claim for _, f in batch])
                if report.triggered:
                    self._triggered()
                self._account(batch, report.accepted, report.streaks, list(report.promoted))
                if owed <= 0 and len(self.pending) < DRAIN_AT_LEAST:
                    break  # the few that arrived meanwhile wait for the next flush
            return True

    def _account(
        self,
        batch: list[tuple[CompiledJob, Finished]],
        accepted: frozenset[tuple[int, float]],
        streaks: tuple[StreakChange, ...],
        promoted: list[Claim],
    ) -> None:
        refused = [f for _, f in batch if (f.claim.job_id, f.claim.due_at) not in accepted]
        if refused:
            logger.warning(
                "%d results refused: their slots were taken over by another node (e.g. job %d due at %.3f)",
                len(refused),
                refused[0].claim.job_id,
                refused[0].claim.due_at,
            )
            self._refused(len(refused))
        latest: dict[int, tuple[CompiledJob, Run]] = {}
        for job, f in batch:
            latest[job.id] = (job, f.run)
        for change in streaks:
            job, run = latest[change.job_id]
            if change.before == 0 and change.after > 0:
                self.notifier.send(job, run, "failure")
            elif change.before > 0 and change.after == 0:
                self.notifier.send(job, run, "recovery")
            if change.paused:
                reason = f"paused after {change.after} consecutive failed runs; last error: {run.error}"
                logger.warning("job %d (%s): %s", job.id, job.name, reason, extra=job_fields(job.id, job.name))
                self.notifier.send(job, run, "paused", reason)
        if promoted:
            self._promoted(promoted)

    async def run(self, stopping: asyncio.Event) -> None:
        await flush_every(self.flush_interval, self.flush, stopping)
