"""Property tests (Hypothesis) of skip calendars: a schedule that skips calendars' days yields exactly
the plain schedule's slots whose local date (in the job's zone) is in none of them, forward
(next_after) and backward (latest_at_or_before), over every form of schedule, random zones and
instants clustered on DST changes. The oracle is the unwrapped schedule plus a date filter.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_word_schedule_properties import checks, instants, zones
from veggiecron.calendars import CalendarSpec
from veggiecron.policies import CatchUp, CatchUpPolicy, Jittered, plan_slots
from veggiecron.schedules import parse_schedule
from veggiecron.skip_days import MAX_DAYS_SKIPPED, SkipDays

SCHEDULES = (
    "every 7 minutes",
    "every 5 hours",
    "every day @ 00:30",
    "every day @ 02:30",
    "every 3 days @ 23:00",
    "every weekday @ 09:30",
    "every business day @ 00:00",
    "every mon,thu @ 01:59",
    "1st,15th of month @ 12:00",
    "last day of month @ 23:59",
    "every 30 minutes from 22:00 to 02:00",
    "0 */6 * * *",
    "30 2 * * *",
)


def local_day(instant: float, zone: str) -> date:
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).date()


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, float, float, frozenset[date]]:
    zone = draw(zones)
    at = draw(instants(zone))
    anchor = at - draw(st.integers(0, 20 * 86400))
    text = draw(st.sampled_from(SCHEDULES))
    around = local_day(at, zone)
    days = draw(st.sets(st.integers(-25, 40), max_size=30))
    # Runs of consecutive days, too: a whole week skipped, and the DST day itself.
    if draw(st.booleans()):
        start = draw(st.integers(-10, 10))
        days |= set(range(start, start + draw(st.integers(1, 12))))
    return text, zone, anchor, at, frozenset(around + timedelta(days=d) for d in days)


@given(cases())
@checks(150)
def test_next_slots_are_the_plain_ones_off_the_skipped_days(
    case: tuple[str, str, float, float, frozenset[date]],
) -> None:
    text, zone, anchor, at, skipped = case
    plain = parse_schedule(text, zone)
    wrapped = SkipDays(plain, zone, (skipped,))
    expected: list[float] = []
    t = at
    for _ in range(20_000):
        slot = plain.next_after(t, anchor)
        if slot is None or len(expected) == 8:
            break
        if local_day(slot, zone) not in skipped:
            expected.append(slot)
        t = slot
    got: list[float] = []
    t = at
    while len(got) < len(expected):
        slot = wrapped.next_after(t, anchor)
        assert slot is not None
        got.append(slot)
        t = slot
    assert got == expected


@given(cases())
@checks(150)
def test_the_latest_slot_is_the_plain_latest_off_the_skipped_days(
    case: tuple[str, str, float, float, frozenset[date]],
) -> None:
    text, zone, anchor, at, skipped = case
    plain = parse_schedule(text, zone)
    wrapped = SkipDays(plain, zone, (skipped,))
    # The oracle walks forward from the anchor: every plain slot up to `at`, the last one kept.
    expected = None
    t = anchor
    for _ in range(20_000):
        slot = plain.next_after(t, anchor)
        if slot is None or slot > at:
            break
        if local_day(slot, zone) not in skipped:
            expected = slot
        t = slot
    assert wrapped.latest_at_or_before(at, anchor) == expected


@given(cases())
@checks(60)
def test_missed_slots_on_skipped_days_are_neither_run_nor_missed(
    case: tuple[str, str, float, float, frozenset[date]],
) -> None:
    text, zone, anchor, at, skipped = case
    plain = parse_schedule(text, zone)
    wrapped = SkipDays(plain, zone, (skipped,))
    due = wrapped.next_after(anchor, anchor)
    if due is None or due > at:
        return
    plan = plan_slots(wrapped, anchor, due, at, CatchUpPolicy(catch_up=CatchUp.ALL, max_catch_up=1000))
    assert all(local_day(slot, zone) not in skipped for slot in (*plan.run, *plan.missed))
    if plan.next_run is not None:
        assert local_day(plan.next_run, zone) not in skipped and plan.next_run > at


@given(zones, st.integers(0, 3))
@checks(20)
def test_a_calendar_of_every_day_ends_the_schedule_rather_than_looping(zone: str, which: int) -> None:
    class Everything:
        def __contains__(self, day: object) -> bool:
            return True

    plain = parse_schedule(SCHEDULES[which], zone)
    wrapped = SkipDays(plain, zone, (Everything(),))
    now = datetime(2026, 3, 1).timestamp()
    assert wrapped.next_after(now, now - 86400) is None
    assert wrapped.latest_at_or_before(now, now - 400 * 86400) is None
    assert MAX_DAYS_SKIPPED >= 3660  # a ten-year shutdown is still skipped, not given up on


def test_jitter_applies_after_the_skipped_days_are_taken_out() -> None:
    zone = "Europe/London"
    plain = parse_schedule("every day @ 23:50", zone)
    start = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo(zone)).timestamp()  # the day before the clocks change
    skipped = CalendarSpec(ranges=((date(2026, 3, 29), date(2026, 3, 29)),)).days()
    timing = Jittered(SkipDays(plain, zone, (skipped,)), 20 * 60.0)  # pushes 23:50 past midnight
    first = timing.next_after(start, start)
    second = timing.next_after(first, start) if first is not None else None
    assert first is not None and second is not None
    # The 28th's slot runs (jittered into the 29th); the 29th's slot is skipped; the 30th's runs.
    assert local_day(first - 1200, zone) == date(2026, 3, 28)
    assert local_day(second - 1200, zone) == date(2026, 3, 30)
    assert math.isclose(second - first, 2 * 86400 - 3600)
