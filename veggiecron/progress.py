"""What the scheduler learns, buffered and written to the store in one transaction per batch."""

from __future__ import annotations

import asyncio
import logging
import time

from .errors import StoreUnavailable
from .model import Run
from .store import SqliteStore

logger = logging.getLogger(__name__)

PRUNE_EVERY = 60.0
MAX_PENDING = 100_000  # writes kept in memory while the database refuses them


class ProgressWriter:
    """Buffers finished runs, next-run times, run counts, failed tasks, failure streaks and pauses."""

    def __init__(self, store: SqliteStore, flush_interval: float, run_history_per_job: int) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.run_history_per_job = run_history_per_job
        self.runs: list[Run] = []
        self.next_runs: list[tuple[int, int, float | None]] = []  # (job_id, version, next_run)
        self.counts: dict[int, int] = {}  # job_id -> runs dispatched since the last write
        self.failures: list[tuple[int, str, float, str]] = []  # (job_id, task_id, initiated_at, reason)
        self.streaks: dict[int, int] = {}  # job_id -> consecutive failed runs
        self.pauses: list[tuple[int, int, str]] = []  # (job_id, version, reason)
        # Jobs whose last run was dispatched but not yet written as done: job_id -> version.
        self.finished: dict[int, int] = {}
        self._lock = asyncio.Lock()

    def pending(self) -> bool:
        return bool(self.runs or self.next_runs or self.counts or self.failures or self.streaks or self.pauses)

    async def flush(self) -> bool:
        """Write everything pending in one transaction; keep it for the next try if the write fails.

        Answers False when the database refused the write.
        """
        # The lock makes a caller wait for a write already under way, so after flush() returns
        # everything queued before the call is in the database.
        async with self._lock:
            if not self.pending():
                return True
            runs, self.runs = self.runs, []
            next_runs, self.next_runs = self.next_runs, []
            counts, self.counts = self.counts, {}
            failures, self.failures = self.failures, []
            streaks, self.streaks = self.streaks, {}
            pauses, self.pauses = self.pauses, []
            try:
                await self.store.record_progress(
                    runs, next_runs, list(counts.items()), failures, list(streaks.items()), pauses
                )
            except StoreUnavailable as exc:
                logger.warning("could not record %d runs, will retry: %s", len(runs), exc.description)
                self.runs = (runs + self.runs)[-MAX_PENDING:]
                self.next_runs = (next_runs + self.next_runs)[-MAX_PENDING:]
                self.failures = (failures + self.failures)[-MAX_PENDING:]
                self.pauses = pauses + self.pauses
                for job_id, count in counts.items():
                    self.counts[job_id] = self.counts.get(job_id, 0) + count
                self.streaks = {**streaks, **self.streaks}
                return False
            for job_id, version, next_run in next_runs:
                if next_run is None and self.finished.get(job_id) == version:
                    del self.finished[job_id]
            return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Flush every flush_interval and prune old runs every minute, until `stopping` is set."""
        last_prune = time.monotonic()
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.flush_interval)
            except TimeoutError:
                pass
            await self.flush()
            if time.monotonic() - last_prune >= PRUNE_EVERY:
                last_prune = time.monotonic()
                try:
                    await self.store.prune_runs(self.run_history_per_job)
                    await self.store.prune_tokens(time.time())
                except StoreUnavailable as exc:
                    logger.warning("pruning run history failed: %s", exc.description)
