"""Long gaps: past slots beyond what is walked are still counted, and every record says what it left out."""

from __future__ import annotations

from tests.unit.conftest import T0
from tests.unit.test_scheduler import settle, slow_run_in_flight
from veggiecron.model import RunOutcome
from veggiecron.policies import (
    MAX_SLOTS_EXAMINED,
    CatchUp,
    CatchUpPolicy,
    Jittered,
    Window,
    iso_utc_micros,
    missed_reason,
    plan_slots,
    slots_through,
)
from veggiecron.schedules import Cron, Interval
from veggiecron.store.sqlite import SqliteStore

EVERY_SECOND = Interval(1)
THREE_HOURS = 3 * 3600  # 10,800 slots of `every 1 seconds`: past the walking limit


def test_catch_up_all_after_a_long_gap_runs_the_newest_slots_and_counts_the_rest() -> None:
    policy = CatchUpPolicy(CatchUp.ALL, max_catch_up=100)
    now = T0 + THREE_HOURS
    plan = plan_slots(EVERY_SECOND, T0, T0 + 1, now, policy)
    assert plan.run == tuple(T0 + s for s in range(THREE_HOURS - 99, THREE_HOURS + 1))  # the newest 100
    assert plan.missed == tuple(T0 + s for s in range(THREE_HOURS - 199, THREE_HOURS - 99))
    oldest = missed_reason(plan, policy, plan.missed[0], now)
    assert f"10,600 older slots due from {iso_utc_micros(T0 + 1)} to {iso_utc_micros(T0 + THREE_HOURS - 200)}" in oldest
    assert "max_catch_up (100)" in oldest
    assert "older slots" not in missed_reason(plan, policy, plan.missed[1], now)


def test_catch_up_all_says_nothing_was_dropped_when_nothing_was() -> None:
    policy = CatchUpPolicy(CatchUp.ALL, max_catch_up=100)
    plan = plan_slots(EVERY_SECOND, T0, T0 + 1, T0 + 150, policy)
    assert len(plan.run) == 100 and len(plan.missed) == 50 and plan.dropped == ""


def test_an_interval_is_counted_exactly_past_the_walking_limit_and_a_calendar_is_bounded() -> None:
    counted = slots_through(Jittered(EVERY_SECOND, 0.25), Window(), T0, T0 + 1.25, T0 + 50_000.5, keep=2)
    assert (counted.count, counted.exact, counted.newest) == (50_000, True, (T0 + 49_999.25, T0 + 50_000.25))
    minutes = slots_through(Cron("* * * * *"), Window(), T0, T0 + 60, T0 + 60 * 20_000, keep=1)
    assert not minutes.exact and minutes.count == MAX_SLOTS_EXAMINED
    assert minutes.newest == (T0 + 60 * 20_000,) and minutes.count_text() == f"more than {MAX_SLOTS_EXAMINED:,}"


async def test_slots_skipped_during_a_three_hour_run_are_all_counted(store: SqliteStore) -> None:
    clock, runner, scheduler, job = await slow_run_in_flight(store)  # every 1 seconds, a run due at T0 + 1
    clock.value = T0 + 2
    assert scheduler.dispatch_due(T0 + 2) == 0  # parked behind the run in flight
    clock.value = T0 + THREE_HOURS + 0.5
    runner.release.set()
    await settle()
    await scheduler.flush()
    runs, _ = await store.list_runs(job.id, 10, 0)
    skipped = [r for r in runs if r.outcome is RunOutcome.SKIPPED]
    assert len(skipped) == 1 and skipped[0].error is not None
    assert (
        f"skipped 10,799 slots due from {iso_utc_micros(T0 + 2)} to {iso_utc_micros(T0 + THREE_HOURS)}"
        in skipped[0].error
    )
    assert (await store.get_job(1, "slow")).run_count == 1 + 10_799
    assert scheduler.current(job).next_run == T0 + THREE_HOURS + 1
