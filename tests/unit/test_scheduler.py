"""The scheduler's passes with an injected clock: which runs start, when, and what is stored."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

from tests.unit.conftest import JOB_TYPES, T0, FakeClock, add_job, compiled
from veggiecron.model import CompiledJob, Job, RunOutcome, RunResult
from veggiecron.scheduler import Scheduler
from veggiecron.store.sqlite import SqliteStore


class RecordingRunner:
    """Stands in for the HTTP runner: records each run; `release` lets held runs finish."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run(self, job: CompiledJob, due_at: float, epoch: int = 1) -> RunResult:
        self.calls.append((job.id, due_at))
        await self.release.wait()
        return RunResult(RunOutcome.OK, due_at, 1.0, 1, 200, None, "ok")

    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        raise AssertionError("these jobs have no notify_url")


def make_scheduler(
    store: SqliteStore, clock: FakeClock, runner: RecordingRunner, lane_limit: int | None = None
) -> Scheduler:
    # A day-long window: these tests move the clock by hours without running the loop.
    return Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=86400, lane_limit=lane_limit)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_due_jobs_fire_at_their_time_and_not_before(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "a", "every 10 seconds")
    scheduler.upsert(compiled(job))
    assert scheduler.dispatch_due(T0 + 9.999) == 0
    assert scheduler.dispatch_due(T0 + 10) == 1
    await settle()
    assert runner.calls == [(job.id, T0 + 10)]
    assert scheduler.current(job).next_run == T0 + 20


async def test_missed_slots_coalesce_into_one_run(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "a", "every 10 seconds")
    scheduler.upsert(compiled(job))
    # An hour of downtime: one run, and the next one back on the 10-second grid.
    assert scheduler.dispatch_due(T0 + 3600 + 3) == 1
    await settle()
    assert len(runner.calls) == 1
    assert scheduler.current(job).next_run == T0 + 3610


async def test_overlapping_run_is_skipped_unless_shadows_enabled(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()  # runs hang until released
    scheduler = make_scheduler(store, clock, runner)
    plain = await add_job(store, "plain", "every 1 seconds")
    shadow = await add_job(store, "shadow", "every 1 seconds", data={"enable_shadows": True})
    scheduler.upsert(compiled(plain))
    scheduler.upsert(compiled(shadow))
    scheduler.dispatch_due(T0 + 1)
    await settle()
    scheduler.dispatch_due(T0 + 2)
    await settle()
    assert [c[0] for c in runner.calls].count(plain.id) == 1
    assert [c[0] for c in runner.calls].count(shadow.id) == 2
    runner.release.set()
    await settle()
    await scheduler.flush()
    runs, _ = await store.list_runs(plain.id, 10, 0)
    assert sorted(r.outcome for r in runs) == [RunOutcome.OK, RunOutcome.SKIPPED]
    shadow_runs, _ = await store.list_runs(shadow.id, 10, 0)
    assert [r.outcome for r in shadow_runs] == [RunOutcome.OK, RunOutcome.OK]


async def slow_run_in_flight(store: SqliteStore) -> tuple[FakeClock, RecordingRunner, Scheduler, Job]:
    """A job on `every 1 seconds` whose run due at T0 + 1 is in flight until runner.release is set."""
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "slow", "every 1 seconds")
    scheduler.upsert(compiled(job))
    assert scheduler.dispatch_due(T0 + 1) == 1
    await settle()
    return clock, runner, scheduler, job


async def test_slots_passing_during_a_long_run_are_one_skipped_run_and_cost_no_pass(store: SqliteStore) -> None:
    clock, runner, scheduler, job = await slow_run_in_flight(store)
    # While the run is in flight, the job waits off the heap: later passes do not touch it.
    for second in range(2, 6):
        clock.value = T0 + second
        assert scheduler.dispatch_due(T0 + second) == 0
    clock.value = T0 + 5.5
    runner.release.set()
    await settle()
    assert runner.calls == [(job.id, T0 + 1)]
    assert scheduler.current(job).next_run == T0 + 6  # back on the grid, after the present
    assert scheduler.dispatch_due(T0 + 6) == 1
    await settle()
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 10, 0)
    skipped = [r for r in runs if r.outcome is RunOutcome.SKIPPED]
    assert len(skipped) == 1, "four slots passed during one run: one record, not four"
    assert skipped[0].due_at == T0 + 2
    assert skipped[0].error is not None and "skipped 4 slots" in skipped[0].error
    assert sorted(r.outcome for r in runs if r.outcome is not RunOutcome.SKIPPED) == [RunOutcome.OK, RunOutcome.OK]
    stored = await store.get_job(1, "slow")
    assert stored.run_count == 6  # slots handled: 2 runs and 4 skipped


async def test_a_parked_job_shows_its_next_possible_slot_not_a_past_one(store: SqliteStore) -> None:
    clock, runner, scheduler, job = await slow_run_in_flight(store)
    clock.value = T0 + 2
    assert scheduler.dispatch_due(T0 + 2) == 0  # parked on the slot due at T0 + 2
    clock.value = T0 + 4.5
    assert scheduler.current(job).next_run == T0 + 5
    runner.release.set()
    await settle()
    assert scheduler.current(job).next_run == T0 + 5  # resumed: the same slot, now on the heap


async def test_a_job_changed_while_parked_is_scheduled_as_changed(store: SqliteStore) -> None:
    clock, runner, scheduler, job = await slow_run_in_flight(store)
    assert scheduler.dispatch_due(T0 + 2) == 0  # parked behind the run in flight
    changed = await store.update_job(replace(job, schedule="every 10 seconds", next_run=T0 + 10))
    scheduler.upsert(compiled(changed))
    assert scheduler.dispatch_due(T0 + 9) == 0
    runner.release.set()
    await settle()
    clock.value = T0 + 10
    assert scheduler.dispatch_due(T0 + 10) == 1  # the new schedule, not the parked slot
    await settle()
    assert runner.calls == [(job.id, T0 + 1), (job.id, T0 + 10)]


async def test_runs_beyond_a_targets_slots_wait_in_its_lane_first_in_first_out(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    scheduler = make_scheduler(store, clock, runner, lane_limit=2)
    jobs = [
        await add_job(store, f"j{i}", "every 10 seconds", data={"url": f"http://127.0.0.1:9/{i}"}) for i in range(5)
    ]
    other = await add_job(store, "other", "every 10 seconds", data={"url": "http://127.0.0.1:10/"})
    for job in [*jobs, other]:
        scheduler.upsert(compiled(job))
    assert scheduler.dispatch_due(T0 + 10) == 6
    await settle()
    # Two runs hold the slots of 127.0.0.1:9; three wait as records, not tasks. Another target
    # has a lane of its own.
    assert sorted(job_id for job_id, _ in runner.calls) == sorted([jobs[0].id, jobs[1].id, other.id])
    assert scheduler.in_flight_count() == 6
    # Each run that ends hands its slot to the oldest waiting one.
    runner.release.set()
    await settle()
    await settle()
    assert [job_id for job_id, _ in runner.calls][3:] == [jobs[2].id, jobs[3].id, jobs[4].id]
    assert scheduler.in_flight_count() == 0
    await scheduler.flush()
    for job in jobs:
        runs, _ = await store.list_runs(job.id, 10, 0)
        assert [r.outcome for r in runs] == [RunOutcome.OK]


async def test_runs_with_retries_or_clones_do_not_hold_a_lane_slot(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    scheduler = make_scheduler(store, clock, runner, lane_limit=1)
    # A run that retries may sleep for a Retry-After between attempts: it takes the runner's
    # per-host slots attempt by attempt, so it neither waits in nor blocks the lane.
    retrying = await add_job(store, "retrying", "every 10 seconds", data={"retries": 3})
    cloned = await add_job(store, "cloned", "every 10 seconds", data={"number_of_clones": 2})
    plain = await add_job(store, "plain", "every 10 seconds")
    for job in (retrying, cloned, plain):
        scheduler.upsert(compiled(job))
    scheduler.dispatch_due(T0 + 10)
    await settle()
    assert sorted(job_id for job_id, _ in runner.calls) == sorted([retrying.id, cloned.id, plain.id])
    runner.release.set()
    await settle()


async def test_a_job_waiting_in_its_lane_counts_as_in_flight_for_its_overlap(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()
    scheduler = make_scheduler(store, clock, runner, lane_limit=1)
    first = await add_job(store, "first", "every 10 seconds")
    queued = await add_job(store, "queued", "every 10 seconds")
    scheduler.upsert(compiled(first))
    scheduler.upsert(compiled(queued))
    scheduler.dispatch_due(T0 + 10)
    await settle()
    assert [job_id for job_id, _ in runner.calls] == [first.id]
    clock.value = T0 + 20
    assert scheduler.dispatch_due(T0 + 20) == 0  # both still in flight (one waiting): both park
    runner.release.set()
    await settle()
    await settle()
    assert [job_id for job_id, _ in runner.calls] == [first.id, queued.id]
    await scheduler.flush()
    runs, _ = await store.list_runs(queued.id, 10, 0)
    assert sorted(r.outcome for r in runs) == [RunOutcome.OK, RunOutcome.SKIPPED]


async def test_once_job_fires_once_and_is_done_in_the_store(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "once", f"once @ {T0 - 500:.0f}")  # in the past: due at once
    scheduler.upsert(compiled(job))
    assert scheduler.dispatch_due(T0) == 1
    assert scheduler.dispatch_due(T0 + 86400) == 0
    await settle()
    await scheduler.flush()
    stored = await store.get_job(1, "once")
    assert stored.next_run is None and stored.state.value == "done"
    assert await store.due_jobs(math.inf, None, 1000) == []


async def test_removed_or_changed_jobs_do_not_fire_on_stale_entries(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    gone = await add_job(store, "gone", "every 10 seconds")
    moved = await add_job(store, "moved", "every 10 seconds")
    scheduler.upsert(compiled(gone))
    scheduler.upsert(compiled(moved))
    scheduler.remove(gone.id)
    later = await store.update_job(replace(moved, schedule="every hour", next_run=T0 + 3600))
    scheduler.upsert(compiled(later))
    assert scheduler.dispatch_due(T0 + 100) == 0
    assert scheduler.dispatch_due(T0 + 3600) == 1
    await settle()
    assert runner.calls == [(moved.id, T0 + 3600)]


async def test_progress_is_persisted_and_a_new_scheduler_resumes(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "a", "every 10 seconds")
    scheduler.upsert(compiled(job))
    scheduler.dispatch_due(T0 + 10)
    await settle()
    await scheduler.flush()
    assert (await store.get_job(1, "a")).next_run == T0 + 20
    runs, count = await store.list_runs(job.id, 10, 0)
    assert count == 1 and runs[0].due_at == T0 + 10

    # A restart long after: the fresh scheduler loads the job and fires it once.
    clock2, runner2 = FakeClock(T0 + 1000), RecordingRunner()
    restarted = make_scheduler(store, clock2, runner2)
    for stored in await store.due_jobs(math.inf, None, 1000):
        restarted.upsert(compiled(stored))
    assert restarted.dispatch_due(clock2.now()) == 1
    await settle()
    assert runner2.calls == [(job.id, T0 + 1000)]  # catch_up=latest: one run, for the newest missed slot


async def test_stale_scheduler_write_does_not_undo_an_owner_change(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "a", "every 10 seconds")
    scheduler.upsert(compiled(job))
    scheduler.dispatch_due(T0 + 10)  # queues next_run = T0 + 20 for version 1
    changed = await store.update_job(replace(job, schedule="every hour", next_run=T0 + 3600))
    await scheduler.flush()
    assert (await store.get_job(1, "a")).next_run == T0 + 3600
    assert changed.version == 2


async def test_loop_runs_and_stops_with_real_time(store: SqliteStore) -> None:
    """The real loop wakes on upsert and stops on request (short: one due job)."""
    import time

    runner = RecordingRunner()
    scheduler = Scheduler(store, runner, JOB_TYPES, None, flush_interval=0.01)
    await scheduler.start()
    now = time.time()
    job = await add_job(store, "soon", f"once @ {now:.3f}", now=now)
    scheduler.upsert(compiled(job))
    for _ in range(200):
        if runner.calls:
            break
        await asyncio.sleep(0.01)
    assert runner.calls and runner.calls[0][0] == job.id
    assert scheduler.is_alive()
    await scheduler.stop(grace=1)
    assert not scheduler.is_alive()
    runs, count = await store.list_runs(job.id, 10, 0)
    assert count == 1


async def test_owner_change_racing_a_dispatch_does_not_rerun_the_slot(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "a", "every 10 seconds")
    once = await add_job(store, "once", f"once @ {T0 + 10:.0f}")
    scheduler.upsert(compiled(job))
    scheduler.upsert(compiled(once))
    # The owner read both jobs (next_run T0 + 10), then the slot fired before the change was written.
    assert scheduler.dispatch_due(T0 + 10) == 2
    changed = await store.update_job(replace(job, data={"url": "http://127.0.0.1:9/new"}))
    changed_once = await store.update_job(replace(once, data={"url": "http://127.0.0.1:9/new"}))
    scheduler.upsert(compiled(changed), keep_progress=True)
    scheduler.upsert(compiled(changed_once), keep_progress=True)
    assert scheduler.current(changed).next_run == T0 + 20
    assert scheduler.dispatch_due(T0 + 15) == 0
    assert scheduler.dispatch_due(T0 + 20) == 1
    await settle()
    assert [c[1] for c in runner.calls].count(T0 + 10) == 2 and len(runner.calls) == 3


class RunawayClock:
    """Each read is two seconds after the last: the loop is always behind its jobs."""

    def __init__(self, now: float) -> None:
        self.value = now

    def now(self) -> float:
        self.value += 2.0
        return self.value

    def monotonic(self) -> float:
        return self.value


async def test_a_loop_that_cannot_catch_up_still_lets_runs_and_requests_proceed(store: SqliteStore) -> None:
    runner = RecordingRunner()
    await add_job(store, "a", "every 1 seconds")
    scheduler = Scheduler(store, runner, JOB_TYPES, RunawayClock(T0), flush_interval=0.01, window=1e9)
    await scheduler.start()
    try:
        # Without a yield between passes this sleep would never end: the loop would hold the thread.
        await asyncio.wait_for(asyncio.sleep(0.05), timeout=5)
        assert len(runner.calls) >= 2  # runs the loop started got to run
    finally:
        await scheduler.stop(grace=1)


async def test_a_pass_handles_at_most_its_limit_and_leaves_the_rest_due(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    for name in ("a", "b", "c"):
        scheduler.upsert(compiled(await add_job(store, name, "every 10 seconds")))
    assert scheduler.dispatch_due(T0 + 10, limit=2) == 2
    assert scheduler.dispatch_due(T0 + 10, limit=2) == 1
    assert scheduler.dispatch_due(T0 + 10) == 0
