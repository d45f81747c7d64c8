"""The wall clock steps (an NTP correction, a VM restored from a snapshot) while jobs are scheduled.

Slots are wall-clock times, so a step back never fires a slot again (jobs wait until the clock
reaches their next slot once more), and a step forward is downtime seen from the inside: each
job's catch-up policy decides. How long a run waited is measured on the monotonic clock.
"""

from __future__ import annotations

from collections import Counter

from tests.unit.conftest import CONFIG, JOB_TYPES, T0, FakeClock, add_job, compiled
from tests.unit.test_scheduler import RecordingRunner, settle
from veggiecron.model import RunOutcome
from veggiecron.scheduler import Scheduler
from veggiecron.store.sqlite import SqliteStore

HOUR, DAY = 3600.0, 86400.0


async def test_a_step_back_of_an_hour_fires_no_slot_twice(store: SqliteStore) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=DAY)
    jobs = [await add_job(store, "interval", "every 10 seconds"), await add_job(store, "cron", "* * * * *")]
    for job in jobs:
        scheduler.upsert(compiled(job))
    for _ in range(9):  # 90 seconds pass
        clock.value += 10
        scheduler.dispatch_due(clock.now())
        await settle()
    fired_before = len(runner.calls)
    clock.step(-HOUR)
    for _ in range(int((HOUR + 120) / 10)):  # an hour and two minutes pass after the step
        clock.value += 10
        scheduler.dispatch_due(clock.now())
        await settle()
    assert all(count == 1 for count in Counter(runner.calls).values()), "a slot fired twice"
    after = runner.calls[fired_before:]
    # Nothing until the clock reached the next slots again; then every slot, in order, on time.
    assert min(due for _, due in after) == T0 + 100
    assert clock.now() == T0 + 210
    assert [due for job_id, due in after if job_id == jobs[0].id] == [T0 + 100 + 10 * k for k in range(12)]
    assert [due for job_id, due in after if job_id == jobs[1].id] == [T0 + 120, T0 + 180]


async def test_a_step_forward_of_a_day_follows_each_jobs_catch_up_policy(store: SqliteStore) -> None:
    latest = await add_job(store, "latest")  # every 10 seconds
    every = await add_job(store, "all", catch_up="all", max_catch_up=5, overlap="allow")
    none = await add_job(store, "none", catch_up="none")
    hourly = await add_job(store, "hourly", "every 1 hours")  # after the window's horizon
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=300)
    await scheduler.loader.start()
    clock.step(DAY + 5)  # five seconds after a slot of each job
    await scheduler.loader.refill(clock.now())  # the horizon moves to the new present: the hourly job loads
    scheduler.dispatch_due(clock.now())
    await settle()
    assert await scheduler.flush()
    by_job = {
        job.id: sorted(due - T0 for job_id, due in runner.calls if job_id == job.id)
        for job in (latest, every, none, hourly)
    }
    assert by_job[latest.id] == [DAY]  # one run, for the newest slot
    assert by_job[every.id] == [DAY - 40, DAY - 30, DAY - 20, DAY - 10, DAY]  # the newest max_catch_up
    assert by_job[none.id] == []  # late slots are not run
    assert by_job[hourly.id] == [DAY]
    runs, _ = await store.list_runs(none.id, 10, 0)
    assert [(r.due_at, r.outcome) for r in runs] == [(T0 + 10, RunOutcome.MISSED)]
    missed, _ = await store.list_runs(every.id, 20, 0)
    oldest = min((r for r in missed if r.outcome is RunOutcome.MISSED), key=lambda r: r.due_at)
    assert oldest.error is not None and "8,630 older slots" in oldest.error
    assert scheduler.current(latest).next_run == T0 + DAY + 10
    await scheduler.loader.stop()


async def test_a_run_waiting_for_a_connection_times_out_by_elapsed_time_whatever_the_wall_clock_does(
    store: SqliteStore,
) -> None:
    clock, runner = FakeClock(T0), RecordingRunner()
    runner.release.clear()  # the first run holds the target's one connection
    scheduler = Scheduler(store, runner, JOB_TYPES, clock, flush_interval=0.01, window=DAY, lane_limit=1)
    first, queued = await add_job(store, "first", "every 1 hours"), await add_job(store, "queued", "every 1 hours")
    for job in (first, queued):
        scheduler.upsert(compiled(job))
    clock.value = T0 + HOUR
    scheduler.dispatch_due(clock.now())
    await settle()
    for step in (DAY, -2 * DAY):  # forward a day, then back past where it started
        clock.step(step)
        scheduler.gate.expire(clock.now())
        assert scheduler.in_flight_count() == 2, "the waiting run timed out on a wall-clock step"
    clock.value += CONFIG.http_client.timeout_seconds + 1  # its timeout really passes
    scheduler.gate.expire(clock.now())
    assert await scheduler.flush()
    runs, _ = await store.list_runs(queued.id, 10, 0)
    assert [(r.outcome, r.error_class, round(r.duration_ms)) for r in runs] == [
        (RunOutcome.FAILED, "timeout", (CONFIG.http_client.timeout_seconds + 1) * 1000)
    ]
    runner.release.set()
    await settle()
