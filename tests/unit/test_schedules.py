"""Schedule parsing and next-run maths: pure functions of their inputs, no clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from veggiecron.errors import Invalid
from veggiecron.schedules import Cron, DailyAt, Interval, Once, parse_schedule, wall_time_to_epoch


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0
) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("every hour", Interval(3600)),
        ("every 2 hours", Interval(7200)),
        ("every minute", Interval(60)),
        ("every 5 minutes", Interval(300)),
        ("every 10 seconds", Interval(10)),
        ("every 1 seconds", Interval(1)),
        ("Every   10   Seconds", Interval(10)),
        ("every day @ 13:00", DailyAt(1, 13, 0)),
        ("every 3 days @ 7:30", DailyAt(3, 7, 30)),
        ("every 3 days@07:30", DailyAt(3, 7, 30)),
        ("once @ 1700000000", Once(1700000000.0)),
        ("once @ 2030-01-01T00:00:00Z", Once(utc(2030, 1, 1))),
        ("*/5 * * * *", Cron("*/5 * * * *")),
        ("0 9 * * mon-fri", Cron("0 9 * * MON-FRI")),
    ],
)
def test_parse_every_form(text: str, expected: object) -> None:
    assert parse_schedule(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "every",
        "every blue moon",
        "every 0 seconds",
        "every -5 minutes",
        "every 10 fortnights",
        "every day @ 25:00",
        "every day @ 12:60",
        "every 0 days @ 1:00",
        "once @ soon",
        "once @ -1",
        "once @ 2030-01-01T00:00:00",
        "once @ nan",
        "61 * * * *",
        "* * * *",
        "x" * 300,
        "every 4000 days @ 1:00",
        "every 10000000 hours",
    ],
)
def test_reject_invalid_with_grammar(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule(text)
    assert caught.value.field == "schedule"
    assert "every N seconds" in caught.value.description and "cron" in caught.value.description


def test_reject_non_string_and_unknown_zone() -> None:
    with pytest.raises(Invalid):
        parse_schedule(10)
    with pytest.raises(Invalid) as caught:
        parse_schedule("every hour", "Mars/Olympus")
    assert caught.value.field == "timezone"


@pytest.mark.parametrize(
    "text",
    [
        "every hour",
        "every 2 hours",
        "every minute",
        "every 90 seconds",
        "every second",
        "every day @ 13:00",
        "every 3 days @ 07:30",
        "once @ 1700000000",
        "once @ 1700000000.25",
        "*/5 * * * *",
    ],
)
def test_format_round_trips(text: str) -> None:
    parsed = parse_schedule(text)
    assert parse_schedule(parsed.format()) == parsed


def test_interval_is_anchored_and_never_drifts() -> None:
    schedule = Interval(10)
    anchor = 1_000_000.0
    t = anchor
    # A late dispatch (250 ms) must not push later runs off the grid.
    for step in range(1, 10_000):
        t = schedule.next_after(t + 0.25, anchor)
        assert t == anchor + 10 * (step + 1) or t == anchor + 10 * step
    assert (t - anchor) % 10 == 0


def test_interval_skips_missed_slots_after_downtime() -> None:
    schedule = Interval(60)
    anchor = 0.0
    assert schedule.next_after(3600 * 5 + 1, anchor) == 3600 * 5 + 60
    assert schedule.next_after(59.999, anchor) == 60
    assert schedule.next_after(60, anchor) == 120  # strictly after


def test_daily_at_fires_at_wall_time_every_n_days() -> None:
    schedule = DailyAt(3, 7, 30, "UTC")
    anchor = utc(2026, 1, 1, 12, 0)
    first = schedule.next_after(anchor, anchor)
    assert first == utc(2026, 1, 4, 7, 30)
    assert schedule.next_after(first, anchor) == utc(2026, 1, 7, 7, 30)
    # Same day, before the time: the run is today if today is on the grid.
    assert DailyAt(1, 13, 0, "UTC").next_after(utc(2026, 1, 1, 12, 59), anchor) == utc(2026, 1, 1, 13, 0)


def test_daily_at_across_month_end_and_leap_day() -> None:
    schedule = DailyAt(1, 0, 0, "UTC")
    anchor = utc(2028, 2, 27)
    assert schedule.next_after(utc(2028, 2, 28, 1), anchor) == utc(2028, 2, 29)
    assert schedule.next_after(utc(2028, 2, 29, 1), anchor) == utc(2028, 3, 1)
    assert schedule.next_after(utc(2026, 12, 31, 23, 59), utc(2026, 12, 1)) == utc(2027, 1, 1)


def test_daily_at_spring_forward_fires_after_the_gap() -> None:
    # New York skips 02:00-03:00 on 2026-03-08: a 02:30 run fires at 03:00 EDT (07:00 UTC).
    schedule = DailyAt(1, 2, 30, "America/New_York")
    anchor = utc(2026, 3, 1)
    assert schedule.next_after(utc(2026, 3, 8), anchor) == utc(2026, 3, 8, 7, 0)
    assert schedule.next_after(utc(2026, 3, 8, 7, 0), anchor) == local("America/New_York", 2026, 3, 9, 2, 30)


def test_daily_at_fall_back_fires_once_at_first_occurrence() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01: 01:30 fires once, at 01:30 EDT (05:30 UTC).
    schedule = DailyAt(1, 1, 30, "America/New_York")
    anchor = utc(2026, 10, 1)
    first = schedule.next_after(utc(2026, 11, 1), anchor)
    assert first == utc(2026, 11, 1, 5, 30)
    assert schedule.next_after(first, anchor) == local("America/New_York", 2026, 11, 2, 1, 30)


@pytest.mark.parametrize(
    ("zone", "day", "gap_start", "gap_end_utc"),
    [
        ("Europe/London", (2026, 3, 29), (1, 30), utc(2026, 3, 29, 1, 0)),
        # Lord Howe moves by 30 minutes: 02:00 (+10:30) -> 02:30 (+11:00), at 15:30 UTC the day before.
        ("Australia/Lord_Howe", (2026, 10, 4), (2, 15), utc(2026, 10, 3, 15, 30)),
    ],
)
def test_wall_time_in_gap_resolves_to_end_of_gap(
    zone: str, day: tuple[int, int, int], gap_start: tuple[int, int], gap_end_utc: float
) -> None:
    from datetime import date, time

    assert wall_time_to_epoch(date(*day), time(*gap_start), ZoneInfo(zone)) == gap_end_utc


def test_cron_every_five_minutes_and_dst() -> None:
    schedule = Cron("*/5 * * * *")
    assert schedule.next_after(utc(2026, 1, 1, 0, 0, 1), 0) == utc(2026, 1, 1, 0, 5)
    assert schedule.next_after(utc(2026, 1, 31, 23, 59), 0) == utc(2026, 2, 1, 0, 0)
    ny = Cron("30 2 * * *", "America/New_York")
    assert ny.next_after(utc(2026, 3, 8, 0, 0), 0) == utc(2026, 3, 8, 7, 0)
    fall = Cron("30 1 * * *", "America/New_York")
    first = fall.next_after(utc(2026, 11, 1, 0, 0), 0)
    assert first == utc(2026, 11, 1, 5, 30)
    assert fall.next_after(first, 0) == utc(2026, 11, 2, 6, 30)


def test_cron_leap_day() -> None:
    schedule = Cron("0 12 29 2 *")
    assert schedule.next_after(utc(2026, 3, 1), 0) == utc(2028, 2, 29, 12, 0)


def test_once_fires_once_and_past_fires_at_once() -> None:
    schedule = Once(utc(2026, 6, 1))
    assert schedule.first_run(utc(2026, 7, 1), 0) == utc(2026, 6, 1)  # in the past: due now
    assert schedule.next_after(utc(2026, 5, 1), 0) == utc(2026, 6, 1)
    assert schedule.next_after(utc(2026, 6, 1), 0) is None


@pytest.mark.parametrize(
    ("zone", "day", "at", "first_utc"),
    [
        # London repeats 01:00-02:00 on 2026-10-25: 01:30 fires once, at 01:30 BST (00:30 UTC).
        ("Europe/London", (2026, 10, 25), (1, 30), utc(2026, 10, 25, 0, 30)),
        # Lord Howe repeats 01:30-02:00 on 2026-04-05: 01:45 fires once, at 01:45 +11:00 (14:45 UTC the day before).
        ("Australia/Lord_Howe", (2026, 4, 5), (1, 45), utc(2026, 4, 4, 14, 45)),
    ],
)
def test_fall_back_fires_once_at_the_first_occurrence(
    zone: str, day: tuple[int, int, int], at: tuple[int, int], first_utc: float
) -> None:
    schedule = DailyAt(1, *at, zone)
    anchor = utc(day[0], day[1] - 1 if day[1] > 1 else 1, 1)
    first = schedule.next_after(first_utc - 3600, anchor)
    assert first == first_utc
    following = schedule.next_after(first, anchor)
    assert following - first > 23 * 3600  # no second run in the repeated half hour or hour


def test_cron_in_london_and_lord_howe_across_their_gaps() -> None:
    london = Cron("30 1 * * *", "Europe/London")
    assert london.next_after(utc(2026, 3, 28, 23, 0), 0) == utc(2026, 3, 29, 1, 0)  # 01:30 does not exist
    lord_howe = Cron("15 2 * * *", "Australia/Lord_Howe")
    assert lord_howe.next_after(utc(2026, 10, 3, 12, 0), 0) == utc(2026, 10, 3, 15, 30)  # 02:15 does not exist


@pytest.mark.parametrize("text", ["every 10 seconds", "every 3 days @ 07:30", "*/5 * * * *", "once @ 1770000000"])
def test_latest_at_or_before_agrees_with_next_after(text: str) -> None:
    schedule = parse_schedule(text, "America/New_York")
    anchor = utc(2026, 1, 1)
    t = utc(2026, 3, 8, 12, 0)
    latest = schedule.latest_at_or_before(t, anchor)
    assert latest is not None and latest <= t
    following = schedule.next_after(latest, anchor)
    assert following is None or following > t
