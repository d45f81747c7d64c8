"""The window loader: jobs due within the next `window` seconds are held in memory, later ones
wait in the store, found by its index on next_run.

Every so often the horizon moves forward and the jobs that came within it are read, a chunk
at a time, while the earlier ones already fire. A job whose next run falls beyond the horizon
leaves memory once its next run time is written.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from ..clock import Clock
from ..model import Job
from ..store import DueWindow
from ..times import iso_utc_micros

logger = logging.getLogger(__name__)

LOAD_CHUNK = 2000  # jobs read from the store per step of loading the window
REFILL_AT = 0.9  # load the next part of the window once less than this fraction of it is held
REFILL_RETRY = 5.0  # seconds between tries while the store cannot be read


class WindowLoader:
    def __init__(
        self,
        store: DueWindow,
        clock: Clock,
        window: float,
        hold: Callable[[Job], None],
        is_held: Callable[[int], bool],
        flush: Callable[[], Awaitable[bool]],
    ) -> None:
        """hold takes a job read from the store into memory; is_held says whether memory already
        has a job; flush writes what the scheduler still holds back (it may fail)."""
        self.store = store
        self.clock = clock
        self.window = window
        self._hold = hold
        self._is_held = is_held
        self._flush = flush
        # Jobs due at or before the horizon are in memory, later ones only in the store.
        self.horizon = clock.now() + window
        self._task: asyncio.Task[None] | None = None
        self._not_before = -math.inf  # after a failed load, when to try again
        self._touched: set[int] | None = None  # jobs the API changed while a load was reading

    async def start(self) -> None:
        """Read the earliest jobs now (a store that cannot be read fails the start); the rest of
        the window loads in the background while the first ones already fire."""
        self.horizon = self.clock.now() + self.window
        after = self._hold_chunk(await self.store.due_jobs(self.horizon, None, LOAD_CHUNK))
        if after is not None:
            self._touched = set()
            self._task = asyncio.create_task(self._refill(after, self.horizon), name="veggiecron-window")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def touch(self, job_id: int) -> None:
        """The API changed the job: a load under way must not overwrite it with an older row."""
        if self._touched is not None:
            self._touched.add(job_id)

    def refill_at(self) -> float:
        """When the loop should move the window on."""
        return max(self.horizon - self.window * REFILL_AT, self._not_before)

    def maybe_refill(self, now: float) -> None:
        if self._task is None and now >= self.refill_at():
            self._start_refill(now)

    async def refill(self, now: float) -> None:
        """Move the window to end at now + window and load what came within it."""
        if self._task is None:
            self._start_refill(now)
        assert self._task is not None
        await asyncio.shield(self._task)

    def _start_refill(self, now: float) -> None:
        old, new = self.horizon, now + self.window
        self.horizon = new  # from here on, a dispatched job due before `new` stays in memory
        self._touched = set()
        self._task = asyncio.create_task(self._refill((old, 1 << 62), new), name="veggiecron-window")

    async def _refill(self, after: tuple[float, int], new: float) -> None:
        """Load the jobs due in (after, new]; on failure, the horizon falls back to `after`."""
        try:
            # A job leaves memory only once its next run is written, so what the store holds for
            # jobs outside memory is current: the load goes on while writes fail (a full disk).
            # Writing first only makes more jobs leave before the read.
            await self._flush()
            position: tuple[float, int] | None = after
            while (position := self._hold_chunk(await self.store.due_jobs(new, position, LOAD_CHUNK))) is not None:
                await asyncio.sleep(0)  # let due jobs fire between chunks
        except Exception as exc:
            logger.warning("loading jobs due before %s failed, will retry: %s", iso_utc_micros(new), exc)
            # Jobs already loaded stay (reading them again skips them); the next try reads on
            # from just before `after`, so jobs sharing its next run time are not passed over.
            self.horizon = math.nextafter(after[0], -math.inf)
            self._not_before = self.clock.now() + REFILL_RETRY
        finally:
            self._touched = None
            self._task = None

    def _hold_chunk(self, jobs: list[Job]) -> tuple[float, int] | None:
        """Hold one chunk read from the store; answer where the next chunk starts, None after the last."""
        for job in jobs:
            if self._is_held(job.id) or (self._touched is not None and job.id in self._touched):
                continue  # what memory holds is newer than the row read
            self._hold(job)
        if len(jobs) < LOAD_CHUNK:
            return None
        last = jobs[-1]
        assert last.next_run is not None
        return (last.next_run, last.id)
