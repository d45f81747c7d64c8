"""Per-job policies as pure functions: catch-up, grace, windows, jitter, retry maths."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from veggiecron.errors import Invalid
from veggiecron.jobtypes.http.delivery import is_retryable_status, retry_after_seconds, retry_delay
from veggiecron.policies import (
    ON_TIME_SECONDS,
    CatchUp,
    CatchUpPolicy,
    Jittered,
    Window,
    iso_utc_micros,
    jitter_offset,
    parse_policy,
    plan_slots,
)
from veggiecron.schedules import Cron, DailyAt, Interval

T0 = 1_800_000_000.0
EVERY_10 = Interval(10)


def test_on_time_slot_runs_under_every_policy() -> None:
    for catch_up in CatchUp:
        plan = plan_slots(EVERY_10, T0, T0 + 10, T0 + 10.002, CatchUpPolicy(catch_up=catch_up))
        assert plan.run == (T0 + 10,) and plan.missed == () and plan.next_run == T0 + 20


def test_latest_runs_once_for_the_newest_missed_slot() -> None:
    # Down from T0+10 to T0+3605: 360 slots are due; one run, for the latest slot.
    plan = plan_slots(EVERY_10, T0, T0 + 10, T0 + 3605, CatchUpPolicy(CatchUp.LATEST))
    assert plan.run == (T0 + 3600,)
    assert plan.missed == ()
    assert plan.next_run == T0 + 3610


def test_all_runs_every_missed_slot_oldest_first_capped() -> None:
    plan = plan_slots(EVERY_10, T0, T0 + 10, T0 + 55, CatchUpPolicy(CatchUp.ALL))
    assert plan.run == (T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50)
    capped = plan_slots(EVERY_10, T0, T0 + 10, T0 + 1005, CatchUpPolicy(CatchUp.ALL, max_catch_up=3))
    assert capped.run == (T0 + 980, T0 + 990, T0 + 1000)
    assert capped.missed[-1] == T0 + 970 and len(capped.missed) == 3  # the record is bounded too
    assert capped.next_run == T0 + 1010


def test_none_runs_only_an_on_time_slot() -> None:
    late = plan_slots(EVERY_10, T0, T0 + 10, T0 + 55, CatchUpPolicy(CatchUp.NONE))
    assert late.run == () and late.missed == (T0 + 10,) and late.next_run == T0 + 60
    just = plan_slots(EVERY_10, T0, T0 + 10, T0 + 50 + ON_TIME_SECONDS / 2, CatchUpPolicy(CatchUp.NONE))
    assert just.run == (T0 + 50,) and just.missed == (T0 + 10,)


def test_grace_turns_a_late_slot_into_a_missed_one() -> None:
    policy = CatchUpPolicy(CatchUp.LATEST, grace_seconds=2)
    stale = plan_slots(Interval(60), T0, T0 + 60, T0 + 65, policy)
    assert stale.run == () and stale.missed == (T0 + 60,) and stale.next_run == T0 + 120
    fresh = plan_slots(Interval(60), T0, T0 + 60, T0 + 61.5, policy)
    assert fresh.run == (T0 + 60,)
    every = plan_slots(EVERY_10, T0, T0 + 10, T0 + 51, CatchUpPolicy(CatchUp.ALL, grace_seconds=15))
    assert every.run == (T0 + 40, T0 + 50) and every.missed == (T0 + 10, T0 + 20, T0 + 30)


def test_window_bounds_the_runs() -> None:
    window = Window(start_at=T0 + 100, end_at=T0 + 130)
    assert window.next_after(EVERY_10, T0, T0) == T0 + 100
    assert window.next_after(EVERY_10, T0 + 125, T0) == T0 + 130
    assert window.next_after(EVERY_10, T0 + 130, T0) is None  # after end_at: done
    plan = plan_slots(EVERY_10, T0, T0 + 130, T0 + 130.001, CatchUpPolicy(window=window))
    assert plan.run == (T0 + 130,) and plan.next_run is None


def test_jitter_is_stable_bounded_and_spreads_jobs() -> None:
    offsets = [jitter_offset(job_id, 30) for job_id in range(1000)]
    assert all(0 <= o < 30 for o in offsets)
    assert offsets == [jitter_offset(job_id, 30) for job_id in range(1000)]
    assert len({round(o, 3) for o in offsets}) > 900
    assert max(offsets) - min(offsets) > 25
    assert jitter_offset(7, 0) == 0.0
    shifted = Jittered(Cron("* * * * *"), 12.5)
    assert T0 % 60 == 0
    assert shifted.next_after(T0 - 1, 0) == T0 + 12.5
    assert shifted.next_after(T0 + 12.5, 0) == T0 + 72.5
    assert shifted.latest_at_or_before(T0 + 600, 0) == T0 + 540 + 12.5


def test_retry_delay_is_full_jitter_under_an_exponential_cap() -> None:
    rng = random.Random(4)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)):
        delays = [retry_delay(attempt, 1.0, 30.0, rng) for _ in range(500)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds("7", T0) == 7.0
    when = datetime.fromtimestamp(T0 + 30, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(when, T0) == pytest.approx(30, abs=1)
    assert retry_after_seconds("soon", T0) is None
    assert retry_after_seconds(None, T0) is None


@pytest.mark.parametrize(
    ("status", "retry_on", "expected"),
    [
        (500, (), True),
        (503, (), True),
        (429, (), True),
        (408, (), True),
        (404, (), False),
        (400, (), False),
        (401, (), False),
        (404, (404,), True),
    ],
)
def test_which_statuses_are_worth_retrying(status: int, retry_on: tuple[int, ...], expected: bool) -> None:
    assert is_retryable_status(status, retry_on) is expected


def test_a_job_without_policies_gets_the_defaults_a_full_parse_gives() -> None:
    # Jobs with no policy fields share one object; it must equal what parsing the defaults gives.
    explicit = parse_policy({"catch_up": "latest", "max_catch_up": 100, "jitter_seconds": 0})
    assert parse_policy({}) == explicit
    assert parse_policy({}) is parse_policy({})


def test_jobs_giving_the_same_policy_share_one_parsed_object() -> None:
    first = parse_policy({"overlap": "allow", "start_at": 2_000_000_000})
    assert parse_policy({"overlap": "allow", "start_at": 2_000_000_000}) is first
    assert parse_policy({"overlap": "allow", "start_at": 2_000_000_001}) is not first


def test_a_shared_policy_never_stands_for_a_value_that_only_compares_equal() -> None:
    # true == 1 in Python: a cached parse of 1 must not let true through.
    assert parse_policy({"pause_after_failures": 1}).pause_after_failures == 1
    with pytest.raises(Invalid, match="pause_after_failures"):
        parse_policy({"pause_after_failures": True})


def test_an_unhashable_policy_value_is_refused_by_name() -> None:
    with pytest.raises(Invalid, match="jitter_seconds"):
        parse_policy({"jitter_seconds": [1]})


@pytest.mark.parametrize("epoch", [T0, T0 + 0.25, T0 + 0.1234567, T0 + 0.9999996, 0.0, 1_700_000_000.000001])
def test_utc_iso_names_the_same_instant_to_the_microsecond(epoch: float) -> None:
    text = iso_utc_micros(epoch)
    assert text.endswith("+00:00") and "." in text
    assert datetime.fromisoformat(text) == datetime.fromtimestamp(epoch, UTC)


def test_a_jittered_slot_is_never_answered_twice_when_float_rounding_bites() -> None:
    # Found by tests/unit/test_schedule_properties.py: (slot + offset) - offset rounded to just
    # below the slot, and next_after answered the same slot again instead of the one after it.
    timing = Jittered(DailyAt(days=6, hour=13, minute=0, zone="UTC"), offset=31814.9139047529)
    at, anchor = 248659200.0, 248659200.0
    for _ in range(60):
        nxt = timing.next_after(at, anchor)
        assert nxt is not None and nxt > at
        at = nxt
