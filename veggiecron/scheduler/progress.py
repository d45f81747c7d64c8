"""What the scheduler learns, buffered and written to the store in one transaction per batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from ..errors import StoreUnavailable
from ..model import HeldSlot, KeptFailure, NextRun, Pause, Progress, Run
from ..store import DueWindow
from .background import flush_every

logger = logging.getLogger(__name__)

# Run records and kept failures held in memory while the database refuses writes; past this the
# oldest are dropped, and the log says how many. Next run times, counts, streaks and pauses are
# one entry per job, so they are never dropped.
MAX_PENDING = 100_000


class ProgressWriter:
    """Buffers finished runs, next-run times, run counts, kept failures, failure streaks and pauses."""

    def __init__(
        self,
        store: DueWindow,
        flush_interval: float,
        written: Callable[[Collection[NextRun]], None] | None = None,
    ) -> None:
        """written is told of the next run times each successful write stored."""
        self.store = store
        self.flush_interval = flush_interval
        self._written = written
        self.runs: list[Run] = []
        # (job_id, version) -> the newest next run: a job advanced many times while the database
        # refuses writes is still one entry.
        self.next_runs: dict[tuple[int, int], float | None] = {}
        self.counts: dict[int, int] = {}  # job_id -> runs dispatched since the last write
        self.failures: list[KeptFailure] = []
        self.streaks: dict[int, int] = {}  # job_id -> consecutive failed runs
        self.pauses: list[Pause] = []
        # Jobs whose last run was dispatched but not yet written as done: job_id -> version.
        self.finished: dict[int, int] = {}
        # Held slots (taken on, not started): those to store, those stored, those to remove.
        # A slot held and released between two writes never reaches the database.
        self.holds: dict[tuple[int, float], HeldSlot] = {}
        self.stored_holds: set[tuple[int, float]] = set()
        self.releases: set[tuple[int, float]] = set()
        # Followers' triggered slots (see chains.py): held until their own run is recorded, whatever
        # the lane gate holds and releases under the same key meanwhile.
        self.triggers: set[tuple[int, float]] = set()
        self._lock = asyncio.Lock()

    def pending(self) -> bool:
        return bool(
            self.runs
            or self.next_runs
            or self.counts
            or self.failures
            or self.streaks
            or self.pauses
            or self.holds
            or self.releases
        )

    def hold(self, slot: HeldSlot) -> None:
        """Store a slot taken on but not started, with the next write (the one that moves its job past it)."""
        key = (slot.job_id, slot.due_at)
        if key in self.triggers:
            return  # held as a trigger already, until its run is recorded
        self.holds[key] = slot
        self.releases.discard(key)

    def hold_trigger(self, slot: HeldSlot, stored: bool = False) -> None:
        """Store a follower's triggered slot with the next write (the one that records its parent's
        run); stored: it is in the store already (read back at start)."""
        key = (slot.job_id, slot.due_at)
        self.triggers.add(key)
        if stored:
            self.stored_holds.add(key)
        else:
            self.holds[key] = slot
            self.releases.discard(key)

    def settle(self, job_id: int, due_at: float) -> None:
        """A triggered slot's run is recorded (in the same write as this release)."""
        self.triggers.discard((job_id, due_at))
        self.release(job_id, due_at)

    def release(self, job_id: int, due_at: float) -> None:
        """The held slot started, or was recorded: it is no longer the store's to keep."""
        key = (job_id, due_at)
        if key in self.triggers:
            return  # a trigger is released by settle, once its run is recorded
        self.holds.pop(key, None)
        if key in self.stored_holds:
            self.stored_holds.discard(key)
            self.releases.add(key)

    def held_in_store(self, job_id: int, due_at: float) -> None:
        """A slot the store already holds (read back at start)."""
        self.stored_holds.add((job_id, due_at))

    def count(self, job_id: int, slots: int) -> None:
        self.counts[job_id] = self.counts.get(job_id, 0) + slots

    def next_run(self, job_id: int, version: int, next_run: float | None) -> None:
        key = (job_id, version)
        self.next_runs.pop(key, None)  # re-inserted at the end: the newest is written last
        self.next_runs[key] = next_run

    async def flush(self) -> bool:
        """Write everything pending in one transaction; keep it for the next try if the write fails.

        Answers False when the database refused the write.
        """
        # The lock makes a caller wait for a write already under way, so after flush() returns
        # everything queued before the call is in the database.
        async with self._lock:
            if not self.pending():
                return True
            batch = Progress(
                runs=self.runs,
                next_runs=[NextRun(job_id, version, at) for (job_id, version), at in self.next_runs.items()],
                run_counts=list(self.counts.items()),
                failures=self.failures,
                streaks=list(self.streaks.items()),
                pauses=self.pauses,
                held=list(self.holds.values()),
                released=list(self.releases),
            )
            self.runs, self.next_runs, self.counts = [], {}, {}
            self.failures, self.streaks, self.pauses = [], {}, []
            # Counted as stored from now on, so that a release during the write removes them.
            self.stored_holds.update(self.holds)
            self.holds, self.releases = {}, set()
            try:
                await self.store.record_progress(batch)
            except StoreUnavailable as exc:
                logger.warning("could not record %d runs, will retry: %s", len(batch.runs), exc.description)
                self._keep(batch)
                return False
            for job_id, version, next_run in batch.next_runs:
                if next_run is None and self.finished.get(job_id) == version:
                    del self.finished[job_id]
            if self._written is not None and batch.next_runs:
                self._written(batch.next_runs)
            return True

    def _keep(self, batch: Progress) -> None:
        """Put a batch the database refused back in front of what was queued since."""
        runs = [*batch.runs, *self.runs]
        failures = [*batch.failures, *self.failures]
        if len(runs) > MAX_PENDING or len(failures) > MAX_PENDING:
            logger.error(
                "the database has refused writes for long: dropping the oldest %d run records and %d kept "
                "failures held in memory (at most %d of each are kept)",
                max(0, len(runs) - MAX_PENDING),
                max(0, len(failures) - MAX_PENDING),
                MAX_PENDING,
            )
        self.runs = runs[-MAX_PENDING:]
        self.failures = failures[-MAX_PENDING:]
        newer = self.next_runs
        self.next_runs = {(n.job_id, n.version): n.next_run for n in batch.next_runs}
        self.next_runs.update(newer)
        for slot in batch.held:
            key = (slot.job_id, slot.due_at)
            if key in self.releases:  # released while the write failed: it never reached the store
                self.releases.discard(key)
            elif key in self.stored_holds and key not in self.holds:
                self.stored_holds.discard(key)
                self.holds[key] = slot
        for key in batch.released:
            if key not in self.holds:
                self.stored_holds.discard(key)
                self.releases.add(key)
        self.pauses = [*batch.pauses, *self.pauses]
        for job_id, count in batch.run_counts:
            self.count(job_id, count)
        self.streaks = {**dict(batch.streaks), **self.streaks}

    async def run(self, stopping: asyncio.Event) -> None:
        """Flush every flush_interval until `stopping` is set."""
        await flush_every(self.flush_interval, self.flush, stopping)
