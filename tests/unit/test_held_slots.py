"""Slots taken on but not started (waiting for a connection, or buffered) survive a crash or a stop."""

from __future__ import annotations

from tests.unit.conftest import JOB_TYPES, T0, FakeClock, add_job, compiled
from tests.unit.test_scheduler import RecordingRunner, settle
from veggiecron.model import BUFFERED, WAITING, Job, RunOutcome
from veggiecron.scheduler import Scheduler
from veggiecron.store.sqlite import SqliteStore


def scheduler_on(store: SqliteStore, clock: FakeClock, runner: RecordingRunner) -> Scheduler:
    return Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=86400, lane_limit=1)


async def one_waits_in_the_lane(store: SqliteStore) -> tuple[Scheduler, RecordingRunner, Job, Job]:
    """Two jobs on one target with one connection: the first's run hangs, the second's waits."""
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    first = await add_job(store, "first", "every 10 seconds")
    queued = await add_job(store, "queued", "every 10 seconds")
    scheduler = scheduler_on(store, clock, runner)
    for job in (first, queued):
        scheduler.upsert(compiled(job))
    clock.value = T0 + 10
    assert scheduler.dispatch_due(T0 + 10) == 2
    await settle()
    assert [job_id for job_id, _ in runner.calls] == [first.id]
    return scheduler, runner, first, queued


async def test_a_slot_waiting_in_its_lane_is_stored_and_runs_after_a_crash(store: SqliteStore) -> None:
    crashed, hanging, first, queued = await one_waits_in_the_lane(store)
    assert await crashed.flush()
    # Stored together with the write that moved the job past it.
    assert [(job.name, slot.due_at, slot.reason) for job, slot in await store.held_slots()] == [
        ("queued", T0 + 10, WAITING)
    ]
    assert (await store.get_job(1, "queued")).next_run == T0 + 20
    # The process dies here (nothing more of `crashed` is written); a new one starts.
    clock, runner = FakeClock(T0 + 12), RecordingRunner()
    restarted = scheduler_on(store, clock, runner)
    await restarted.start()
    try:
        await settle()
        assert (queued.id, T0 + 10) in runner.calls
        assert await restarted.flush()
        assert await store.held_slots() == []
        runs, _ = await store.list_runs(queued.id, 10, 0)
        assert [(r.due_at, r.outcome) for r in runs] == [(T0 + 10, RunOutcome.OK)]
    finally:
        await restarted.stop(grace=1)
        hanging.release.set()
        await settle()


async def test_a_slot_that_starts_is_released(store: SqliteStore) -> None:
    scheduler, runner, _first, queued = await one_waits_in_the_lane(store)
    assert await scheduler.flush()
    runner.release.set()
    await settle()
    await settle()
    assert (queued.id, T0 + 10) in runner.calls
    assert await scheduler.flush()
    assert await store.held_slots() == []


async def test_a_stop_keeps_waiting_slots_for_the_next_start(store: SqliteStore) -> None:
    scheduler, runner, first, queued = await one_waits_in_the_lane(store)
    await scheduler.stop(grace=0.05)  # the hanging run is cancelled; the waiting one is kept
    assert [slot.job_id for _, slot in await store.held_slots()] == [queued.id]
    runs, _ = await store.list_runs(queued.id, 10, 0)
    assert runs == []  # not recorded as cancelled: it has not happened yet
    cancelled, _ = await store.list_runs(first.id, 10, 0)
    assert [r.error for r in cancelled] == ["cancelled: the server stopped"]
    runner.release.set()


async def test_a_buffered_slot_too_late_for_its_grace_is_recorded_as_missed_with_the_reason(
    store: SqliteStore,
) -> None:
    job = await add_job(store, "buffered", overlap="buffer_one", grace_seconds=5)
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    scheduler = scheduler_on(store, clock, runner)
    scheduler.upsert(compiled(job))
    for slot in (T0 + 10, T0 + 20):
        clock.value = slot
        scheduler.dispatch_due(slot)
        await settle()
    assert await scheduler.flush()
    assert [(slot.due_at, slot.reason) for _, slot in await store.held_slots()] == [(T0 + 20, BUFFERED)]
    restarted = scheduler_on(store, FakeClock(T0 + 40), RecordingRunner())
    await restarted.start()
    try:
        assert await restarted.flush()
        runs, _ = await store.list_runs(job.id, 10, 0)
        assert [(r.due_at, r.outcome) for r in runs] == [(T0 + 20, RunOutcome.MISSED)]
        assert runs[0].error == (
            "missed: 20.0s late after a restart, more than grace_seconds (5); "
            "the slot was waiting behind the run in flight when the server stopped"
        )
        assert await store.held_slots() == []
    finally:
        await restarted.stop(grace=1)
        runner.release.set()
        await settle()
