"""The scheduler holds only the jobs due within its window; the rest wait in the store."""

from __future__ import annotations

from tests.unit.conftest import JOB_TYPES, T0, FakeClock, add_job, compiled
from tests.unit.test_scheduler import RecordingRunner, settle
from veggiecron.scheduler import Scheduler
from veggiecron.store.sqlite import SqliteStore

WINDOW = 100.0


def windowed(store: SqliteStore, clock: FakeClock, runner: RecordingRunner) -> Scheduler:
    return Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=WINDOW)


async def test_only_jobs_due_within_the_window_are_loaded_and_later_ones_arrive_on_refill(
    store: SqliteStore,
) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    near = await add_job(store, "near", "every 30 seconds")
    far = await add_job(store, "far", "every 150 seconds")
    scheduler = windowed(store, clock, runner)
    await scheduler.start()
    try:
        assert scheduler.scheduled_count() == 1  # far is due at T0 + 150, after the horizon
        clock.value = T0 + 60
        await scheduler.loader.refill(clock.now())
        assert scheduler.loader.horizon == T0 + 60 + WINDOW
        assert scheduler.scheduled_count() == 2
        assert scheduler.dispatch_due(T0 + 150) == 1 + 1  # far's first slot and near's latest
        await settle()
        assert (far.id, T0 + 150) in runner.calls and (near.id, T0 + 150) in runner.calls
    finally:
        await scheduler.stop(grace=1)


async def test_a_job_whose_next_run_leaves_the_window_returns_for_it_exactly_once(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    job = await add_job(store, "hourly", "every 80 seconds")
    scheduler = windowed(store, clock, runner)
    await scheduler.start()
    try:
        assert scheduler.dispatch_due(T0 + 80) == 1
        # Its next run (T0 + 160) is after the horizon (T0 + 100): once written, memory lets it go.
        assert scheduler.scheduled_count() == 1
        await scheduler.flush()
        assert scheduler.scheduled_count() == 0
        clock.value = T0 + 90
        await scheduler.loader.refill(clock.now())  # writes the next run first, then reads it back
        assert scheduler.scheduled_count() == 1
        stored = await store.get_job(1, "hourly")
        assert stored.next_run == T0 + 160
        assert scheduler.dispatch_due(T0 + 159.9) == 0
        assert scheduler.dispatch_due(T0 + 160) == 1
        await settle()
        assert runner.calls == [(job.id, T0 + 80), (job.id, T0 + 160)]
        await scheduler.loader.refill(T0 + 95)  # reading the same range again adds nothing
        assert scheduler.dispatch_due(T0 + 239) == 0
    finally:
        await scheduler.stop(grace=1)


async def test_owner_changes_follow_the_window(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = windowed(store, clock, runner)
    await scheduler.start()
    try:
        later = await add_job(store, "later", "every 500 seconds")
        scheduler.upsert(compiled(later))
        assert scheduler.scheduled_count() == 0  # created, but due after the horizon
        soon = await add_job(store, "soon", "every 5 seconds")
        scheduler.upsert(compiled(soon))
        assert scheduler.scheduled_count() == 1
        # Deleted while a refill reads: the row it read must not bring the job back.
        await store.delete_job(soon.id)
        scheduler.remove(soon.id)
        await scheduler.loader.refill(T0 + 450)
        assert scheduler.scheduled_count() == 1  # only "later", now within the window
        assert scheduler.dispatch_due(T0 + 500) == 1
        await settle()
        assert [job_id for job_id, _ in runner.calls] == [later.id]
    finally:
        await scheduler.stop(grace=1)


async def test_a_refill_goes_on_while_writes_fail_and_memory_keeps_what_is_unwritten(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    job = await add_job(store, "a", "every 80 seconds")
    scheduler = windowed(store, clock, runner)
    await scheduler.start()
    try:
        scheduler.dispatch_due(T0 + 80)  # next run T0 + 160 waits in the writer's queue
        original = scheduler.progress.flush

        async def refused() -> bool:
            return False

        scheduler.progress.flush = refused  # type: ignore[method-assign]
        await scheduler.loader.refill(T0 + 90)
        assert scheduler.loader.horizon == T0 + 90 + WINDOW  # moved on: the store's stale row is not needed
        assert scheduler.scheduled_count() == 1  # unwritten, the job stayed in memory
        clock.value = T0 + 160
        assert scheduler.dispatch_due(T0 + 160) == 1
        await settle()
        assert runner.calls == [(job.id, T0 + 80), (job.id, T0 + 160)]
        scheduler.progress.flush = original  # type: ignore[method-assign]
        assert await scheduler.flush()
        assert (await store.get_job(1, "a")).next_run == T0 + 240
    finally:
        await scheduler.stop(grace=1)
