"""The scheduler applying per-job policies, with an injected clock and a runner the test controls."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from tests.unit.conftest import JOB_TYPES, T0, FakeClock, add_job, compiled
from veggiecron.model import CompiledJob, Job, RunOutcome, RunResult
from veggiecron.scheduler import Scheduler
from veggiecron.schedules import parse_schedule
from veggiecron.store.sqlite import SqliteStore


class ScriptedRunner:
    """Each run waits for `gate` (when cleared) and ends with the next outcome of `outcomes`."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float]] = []
        self.finished: list[float] = []
        self.outcomes: list[RunOutcome] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.notifications: list[dict[str, Any]] = []

    async def run(self, job: CompiledJob, due_at: float, epoch: int = 1) -> RunResult:
        self.calls.append((job.id, due_at))
        await self.gate.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else RunOutcome.OK
        self.finished.append(due_at)
        status = 200 if outcome is RunOutcome.OK else 503
        error = None if outcome is RunOutcome.OK else "HTTP 503"
        return RunResult(outcome, due_at, 1.0, 1, status, error, None, None if error is None else "http_status")

    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        assert isinstance(body, dict)
        self.notifications.append({"url": url, **body})
        return None


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def make(store: SqliteStore, *jobs: Job) -> tuple[Scheduler, ScriptedRunner, FakeClock]:
    clock, runner = FakeClock(T0), ScriptedRunner()
    scheduler = Scheduler(store, runner, JOB_TYPES, clock, window=86400)
    for job in jobs:
        scheduler.upsert(compiled(job))
    return scheduler, runner, clock


async def outcomes(store: SqliteStore, scheduler: Scheduler, job: Job) -> list[str]:
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 100, 0)
    return sorted(r.outcome.value for r in runs)


async def test_buffer_one_keeps_one_waiting_run_and_skips_the_rest(store: SqliteStore) -> None:
    job = await add_job(store, "b", overlap="buffer_one")
    scheduler, runner, _ = await make(store, job)
    runner.gate.clear()
    for k in (1, 2, 3):
        scheduler.dispatch_due(T0 + 10 * k)
        await settle()
    assert runner.calls == [(job.id, T0 + 10)]  # T0+20 waits, T0+30 is skipped
    runner.gate.set()
    await settle()
    assert runner.calls == [(job.id, T0 + 10), (job.id, T0 + 20)]
    assert await outcomes(store, scheduler, job) == ["ok", "ok", "skipped"]


async def test_replace_cancels_the_run_in_flight(store: SqliteStore) -> None:
    job = await add_job(store, "r", overlap="replace")
    scheduler, runner, _ = await make(store, job)
    runner.gate.clear()
    scheduler.dispatch_due(T0 + 10)
    await settle()
    scheduler.dispatch_due(T0 + 20)
    await settle()
    runner.gate.set()
    await settle()
    assert runner.finished == [T0 + 20]
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 10, 0)
    replaced = [r for r in runs if r.due_at == T0 + 10]
    assert replaced[0].outcome is RunOutcome.FAILED and "replaced" in (replaced[0].error or "")


async def test_a_run_replaced_before_it_began_is_recorded(store: SqliteStore) -> None:
    job = await add_job(store, "rc", overlap="replace", catch_up="all")
    scheduler, runner, _ = await make(store, job)
    # Two slots due in one pass: the second replaces the first before the first took a step.
    assert scheduler.dispatch_due(T0 + 25) == 2
    await settle()
    assert runner.calls == [(job.id, T0 + 20)]
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 10, 0)
    by_due = {r.due_at: r for r in runs}
    assert by_due[T0 + 20].outcome is RunOutcome.OK
    first = by_due[T0 + 10]
    assert first.outcome is RunOutcome.FAILED and first.error == "cancelled: replaced by a newer run"


async def test_allow_overlaps_and_skip_skips(store: SqliteStore) -> None:
    allow = await add_job(store, "a", overlap="allow")
    skip = await add_job(store, "s")  # the default: enable_shadows false means skip
    scheduler, runner, _ = await make(store, allow, skip)
    runner.gate.clear()
    scheduler.dispatch_due(T0 + 10)
    await settle()
    scheduler.dispatch_due(T0 + 20)
    await settle()
    assert [c for c in runner.calls if c[0] == allow.id] == [(allow.id, T0 + 10), (allow.id, T0 + 20)]
    assert [c for c in runner.calls if c[0] == skip.id] == [(skip.id, T0 + 10)]
    runner.gate.set()
    await settle()
    assert await outcomes(store, scheduler, skip) == ["ok", "skipped"]


async def test_grace_records_a_late_slot_as_missed(store: SqliteStore) -> None:
    job = await add_job(store, "g", "every 60 seconds", grace_seconds=5)
    scheduler, runner, _ = await make(store, job)
    scheduler.dispatch_due(T0 + 60 + 30)  # 30 s late: a stall
    await settle()
    assert runner.calls == []
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 10, 0)
    assert [r.outcome for r in runs] == [RunOutcome.MISSED] and "grace" in (runs[0].error or "")
    assert scheduler.current(job).next_run == T0 + 120


async def test_catch_up_all_runs_each_missed_slot(store: SqliteStore) -> None:
    job = await add_job(store, "all", catch_up="all", overlap="allow")
    scheduler, runner, _ = await make(store, job)
    scheduler.dispatch_due(T0 + 45)
    await settle()
    assert [due for _, due in runner.calls] == [T0 + 10, T0 + 20, T0 + 30, T0 + 40]


async def test_pause_after_failures_and_notifications(store: SqliteStore) -> None:
    job = await add_job(store, "p", pause_after_failures=3, notify_url="http://127.0.0.1:9/events")
    scheduler, runner, _ = await make(store, job)
    runner.outcomes = [RunOutcome.FAILED, RunOutcome.OK, RunOutcome.FAILED, RunOutcome.FAILED, RunOutcome.FAILED]
    for k in range(1, 7):
        scheduler.dispatch_due(T0 + 10 * k)
        await settle()
    # fail, ok (resets), fail, fail, fail -> paused; the sixth slot never runs
    assert len(runner.calls) == 5
    assert [n["event"] for n in runner.notifications] == ["failure", "recovery", "failure", "paused"]
    assert runner.notifications[-1]["paused_reason"].startswith("paused after 3 consecutive failed runs")
    assert runner.notifications[0]["run_id"] == f"{job.id}-{int((T0 + 10) * 1_000_000)}"
    await scheduler.flush()
    stored = await store.get_job(1, "p")
    assert not stored.enabled and stored.state.value == "paused"
    assert stored.paused_reason is not None and "3 consecutive" in stored.paused_reason
    assert stored.consecutive_failures == 3
    assert scheduler.scheduled_count() == 0


async def test_jitter_shifts_a_job_by_a_stable_offset(store: SqliteStore) -> None:
    from veggiecron.compiler import first_run
    from veggiecron.policies import parse_policy

    rules = parse_policy({"jitter_seconds": 30})
    schedule = parse_schedule("* * * * *")
    a = first_run(schedule, rules, T0, T0, "1/a")
    b = first_run(schedule, rules, T0, T0, "1/b")
    assert a is not None and b is not None and a != b
    # T0 is on a minute boundary: the first jittered run is T0 plus the job's offset.
    assert 0 <= a - T0 < 30 and 0 <= b - T0 < 30
    assert first_run(schedule, rules, T0, T0, "1/a") == a


async def test_window_end_makes_the_job_done(store: SqliteStore) -> None:
    job = await add_job(store, "w", end_at=T0 + 25)
    scheduler, runner, _ = await make(store, job)
    for k in (1, 2, 3):
        scheduler.dispatch_due(T0 + 10 * k)
        await settle()
    assert [due for _, due in runner.calls] == [T0 + 10, T0 + 20]
    await scheduler.flush()
    assert (await store.get_job(1, "w")).state.value == "done"


async def test_a_run_that_timed_out_waiting_for_a_connection_is_no_failure_of_its_target(store: SqliteStore) -> None:
    # One connection to the target: the first job's run holds it, the second's waits in the lane.
    holder = await add_job(store, "holder")
    waiter = await add_job(store, "waiter", pause_after_failures=1, notify_url="http://127.0.0.1:9/alerts")
    waiter = await store.update_job(replace(waiter, data={"url": "http://127.0.0.1:9/", "timeout": 5}))
    clock, runner = FakeClock(T0), ScriptedRunner()
    scheduler = Scheduler(store, runner, JOB_TYPES, clock, window=86400, lane_limit=1)
    for job in (holder, waiter):
        scheduler.upsert(compiled(job))
    runner.gate.clear()
    clock.value = T0 + 10
    scheduler.dispatch_due(T0 + 10)
    await settle()
    assert [job_id for job_id, _ in runner.calls] == [holder.id]
    clock.value = T0 + 16
    scheduler.gate.expire(clock.value)  # the waiting run's 5 s timeout passed: it fails unsent
    await scheduler.flush()
    runs, _ = await store.list_runs(waiter.id, 10, 0)
    assert [(r.outcome, r.attempts, r.error_class) for r in runs] == [(RunOutcome.FAILED, 0, "timeout")]
    stored = await store.get_job(1, "waiter")
    assert stored.enabled and stored.consecutive_failures == 0 and stored.paused_reason is None
    assert runner.notifications == []  # no failure notification: the target was never asked
    runner.gate.set()
    await settle()
