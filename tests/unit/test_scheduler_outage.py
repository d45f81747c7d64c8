"""The database refuses writes (a full disk, a read-only file system): jobs keep firing from memory,
however long it lasts, and everything is written once it recovers."""

from __future__ import annotations

from collections.abc import Sequence

from tests.unit.conftest import JOB_TYPES, T0, FakeClock, add_job
from tests.unit.test_scheduler import RecordingRunner, settle
from veggiecron.errors import StoreUnavailable
from veggiecron.model import HeldSlot, Job, Progress
from veggiecron.scheduler import Scheduler
from veggiecron.store.sqlite import SqliteStore

WINDOW = 10.0  # the smallest window: an outage of a minute outlasts it six times


class RefusingStore:
    """The scheduler's view of the store, whose writes fail while `refusing` (reads still work)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.refusing = False

    async def due_jobs(self, until: float, after: tuple[float, int] | None, limit: int) -> list[Job]:
        return await self.store.due_jobs(until, after, limit)

    async def held_slots(self) -> list[tuple[Job, HeldSlot]]:
        return await self.store.held_slots()

    async def follower_jobs(self) -> list[Job]:
        return await self.store.follower_jobs()

    async def record_progress(self, progress: Progress) -> None:
        if self.refusing:
            raise StoreUnavailable("the database's disk is full", {"reason": "database or disk is full"})
        await self.store.record_progress(progress)


def fired(runner: RecordingRunner, job: Job) -> Sequence[float]:
    return [due - T0 for job_id, due in runner.calls if job_id == job.id]


async def test_jobs_keep_firing_through_an_outage_longer_than_the_window(store: SqliteStore) -> None:
    fast = await add_job(store, "fast", "every 1 seconds")
    slow = await add_job(store, "slow", "every 30 seconds")  # due after the first horizon
    clock, runner, refusing = FakeClock(T0), RecordingRunner(), RefusingStore(store)
    scheduler = Scheduler(refusing, runner, JOB_TYPES, clock, flush_interval=0.01, window=WINDOW)
    await scheduler.loader.start()
    refusing.refusing = True
    for second in range(1, 61):
        clock.value = T0 + second
        if clock.value >= scheduler.loader.refill_at():
            await scheduler.loader.refill(clock.value)  # its write fails; the read goes on
        scheduler.dispatch_due(clock.value)
        await settle()
        assert not await scheduler.flush()
    assert fired(runner, fast) == [float(s) for s in range(1, 61)]
    assert fired(runner, slow) == [30.0, 60.0]
    refusing.refusing = False
    assert await scheduler.flush()  # the disk has room again: everything held is written
    runs, count = await store.list_runs(fast.id, 100, 0)
    assert count == 60
    assert (await store.get_job(1, "fast")).next_run == T0 + 61
    assert (await store.get_job(1, "slow")).next_run == T0 + 90
    assert (await store.get_job(1, "fast")).run_count == 60
    await scheduler.loader.stop()
