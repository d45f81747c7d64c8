"""Schedules in words: what each form reads as, where it fires (DST days included), its canonical
text, and the position an unreadable schedule names. Times are given, never read from a clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.unit.conftest import T0, FakeClock, add_job, compiled
from tests.unit.test_scheduler import RecordingRunner, make_scheduler, settle
from veggiecron.errors import Invalid
from veggiecron.schedules import DailyAt, Interval, parse_schedule
from veggiecron.store.sqlite import SqliteStore
from veggiecron.wall_schedules import ALL_MONTHS, LAST, MonthDays, NthWeekday, Weekly, Windowed

NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> float:
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=ZoneInfo(zone)).timestamp()


def runs(text: str, zone: str, after: float, count: int, anchor: float | None = None) -> list[float]:
    schedule = parse_schedule(text, zone)
    found: list[float] = []
    at = after
    for _ in range(count):
        nxt = schedule.next_after(at, after if anchor is None else anchor)
        assert nxt is not None
        found.append(nxt)
        at = nxt
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("every monday @ 09:00", Weekly((0,), 9, 0)),
        ("Every MONDAYS@9:00", Weekly((0,), 9, 0)),
        ("every mon,wed,fri @ 17:30", Weekly((0, 2, 4), 17, 30)),
        ("every fri , mon ,wed @ 17:30", Weekly((0, 2, 4), 17, 30)),
        ("every weekday @ 09:30", Weekly((0, 1, 2, 3, 4), 9, 30)),
        ("every weekend day @ 10:00", Weekly((5, 6), 10, 0)),
        ("every weekends @ 10:00", Weekly((5, 6), 10, 0)),
        ("every 2 weeks on monday @ 09:00", Weekly((0,), 9, 0, 2)),
        ("every week on tue,thu @ 07:05", Weekly((1, 3), 7, 5)),
        ("1st,15th of month @ 12:00", MonthDays((1, 15), ALL_MONTHS, 12, 0)),
        ("15th, 1st day of the month @ 12:00", MonthDays((1, 15), ALL_MONTHS, 12, 0)),
        ("last day of month @ 23:00", MonthDays((LAST,), ALL_MONTHS, 23, 0)),
        ("first monday of month @ 08:00", NthWeekday((1,), 0, ALL_MONTHS, 8, 0)),
        ("2nd,4th tuesday of month @ 18:00", NthWeekday((2, 4), 1, ALL_MONTHS, 18, 0)),
        ("first monday of jan,apr,jul,oct @ 08:00", NthWeekday((1,), 0, (1, 4, 7, 10), 8, 0)),
        ("LAST Friday of December @ 16:00", NthWeekday((LAST,), 4, (12,), 16, 0)),
        ("every 5 minutes from 09:00 to 17:00", Windowed(5, 540, 1020)),
        ("every hour from 08:00 to 18:00 on weekdays", Windowed(60, 480, 1080, (0, 1, 2, 3, 4))),
        ("every 90 minutes from 22:00 to 02:00 on sat", Windowed(90, 1320, 120, (5,))),
    ],
)
def test_each_form_reads_as_what_it_says(text: str, expected: object) -> None:
    assert parse_schedule(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("EVERY Monday @ 9:00", "every monday @ 09:00"),
        ("every fri,mon,wed @ 17:30", "every mon,wed,fri @ 17:30"),
        ("every mon,tue,wed,thu,fri @ 09:30", "every weekday @ 09:30"),
        ("every sat, sun @ 10:00", "every weekend day @ 10:00"),
        ("every 2 weeks on mon @ 09:00", "every 2 weeks on monday @ 09:00"),
        ("every 1 week on monday @ 09:00", "every monday @ 09:00"),
        ("every 3 weeks on mon,tue,wed,thu,fri @ 09:00", "every 3 weeks on weekdays @ 09:00"),
        ("15th,first of every month @ 12:00", "1st,15th of month @ 12:00"),
        ("last,1st days of each month @ 0:00", "1st,last day of month @ 00:00"),
        ("2nd,4th tuesday of month @ 18:00", "second,fourth tuesday of month @ 18:00"),
        ("last,1st monday of oct,january,april,jul @ 08:00", "first,last monday of jan,apr,jul,oct @ 08:00"),
        ("1st of jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec @ 1:00", "1st of month @ 01:00"),
        ("every 60 minutes from 8:00 to 18:00 on mon,tue,wed,thu,fri", "every hour from 08:00 to 18:00 on weekdays"),
        ("every 1 minutes from 09:00 to 17:00 on sun,mon,tue,wed,thu,fri,sat", "every minute from 09:00 to 17:00"),
    ],
)
def test_the_stored_form_is_canonical_and_reads_back_the_same(text: str, canonical: str) -> None:
    parsed = parse_schedule(text, NY)
    assert parsed.format() == canonical
    assert parse_schedule(canonical, NY) == parsed


def test_older_forms_read_as_before() -> None:
    assert parse_schedule("every 2 days @ 9:00") == DailyAt(2, 9, 0)
    assert parse_schedule("every 5 minutes") == Interval(300)


def test_weekdays_fire_monday_to_friday_at_the_time_in_the_zone() -> None:
    # Friday 2026-01-16 10:00 in New York: next Monday, Tuesday ... at 09:30 EST (14:30 UTC).
    assert runs("every weekday @ 09:30", NY, local(NY, 2026, 1, 16, 10), 3) == [
        utc(2026, 1, 19, 14, 30),
        utc(2026, 1, 20, 14, 30),
        utc(2026, 1, 21, 14, 30),
    ]
    assert runs("every weekend day @ 10:00", "UTC", utc(2026, 1, 16), 3) == [
        utc(2026, 1, 17, 10),
        utc(2026, 1, 18, 10),
        utc(2026, 1, 24, 10),
    ]
    assert runs("every mon,wed,fri @ 17:30", "UTC", utc(2026, 1, 14, 17, 30), 2) == [
        utc(2026, 1, 16, 17, 30),
        utc(2026, 1, 19, 17, 30),
    ]


def test_a_weekday_in_a_dst_gap_fires_after_it_and_in_a_fold_once() -> None:
    # New York skips 02:00-03:00 on Sunday 2026-03-08 and repeats 01:00-02:00 on Sunday 2026-11-01.
    assert runs("every sunday @ 02:30", NY, utc(2026, 3, 7), 2) == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 15, 6, 30)]
    first, following = runs("every sunday @ 01:30", NY, utc(2026, 10, 31), 2)
    assert first == utc(2026, 11, 1, 5, 30) and following == local(NY, 2026, 11, 8, 1, 30)
    # Asked in the second pass of the repeated hour, the first pass's 01:30 has already fired.
    assert parse_schedule("every sunday @ 01:30", NY).next_after(local(NY, 2026, 11, 1, 1, 10, fold=1), 0) == following


def test_every_two_weeks_counts_from_the_week_the_job_was_created() -> None:
    # Created on Wednesday 2026-01-14: that week's Monday has passed, so the first run is two weeks on.
    created = utc(2026, 1, 14, 12)
    assert runs("every 2 weeks on monday @ 09:00", "UTC", created, 3) == [
        utc(2026, 1, 26, 9),
        utc(2026, 2, 9, 9),
        utc(2026, 2, 23, 9),
    ]
    # That week's Friday is still ahead: it is on the grid.
    assert runs("every 2 weeks on mon,fri @ 09:00", "UTC", created, 3) == [
        utc(2026, 1, 16, 9),
        utc(2026, 1, 26, 9),
        utc(2026, 1, 30, 9),
    ]


def test_days_of_the_month_skip_the_ones_a_month_lacks_and_last_is_the_last() -> None:
    assert runs("1st,15th of month @ 12:00", "UTC", utc(2026, 1, 15, 12), 3) == [
        utc(2026, 2, 1, 12),
        utc(2026, 2, 15, 12),
        utc(2026, 3, 1, 12),
    ]
    assert runs("last day of month @ 23:00", "UTC", utc(2028, 1, 31, 23), 3) == [
        utc(2028, 2, 29, 23),
        utc(2028, 3, 31, 23),
        utc(2028, 4, 30, 23),
    ]
    assert runs("31st of month @ 08:00", "UTC", utc(2026, 1, 31, 9), 2) == [utc(2026, 3, 31, 8), utc(2026, 5, 31, 8)]


def test_nth_weekdays_of_the_month() -> None:
    # January 2026 starts on a Thursday: the first Monday is the 5th; April's is the 6th.
    assert runs("first monday of jan,apr,jul,oct @ 08:00", "UTC", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 5, 8),
        utc(2026, 4, 6, 8),
        utc(2026, 7, 6, 8),
    ]
    assert runs("2nd,4th tuesday of month @ 18:00", "UTC", utc(2026, 1, 1), 3) == [
        utc(2026, 1, 13, 18),
        utc(2026, 1, 27, 18),
        utc(2026, 2, 10, 18),
    ]
    # A fifth Friday only in months that have one; the last Friday in every month.
    assert runs("fifth friday of month @ 12:00", "UTC", utc(2026, 1, 1), 2) == [
        utc(2026, 1, 30, 12),
        utc(2026, 5, 29, 12),
    ]
    assert runs("last friday of month @ 12:00", "UTC", utc(2026, 1, 31), 1) == [utc(2026, 2, 27, 12)]


def test_a_window_starts_its_grid_at_its_start_and_includes_both_ends() -> None:
    day = runs("every 5 minutes from 09:00 to 17:00", "UTC", utc(2026, 1, 14, 8, 59), 98)
    assert day[0] == utc(2026, 1, 14, 9) and day[96] == utc(2026, 1, 14, 17) and day[97] == utc(2026, 1, 15, 9)
    # A step that does not divide the window: 08:00, 08:45 ... 17:45, and never past the end.
    seven = runs("every 45 minutes from 08:00 to 18:00 on weekdays", "UTC", utc(2026, 1, 16, 17, 50), 2)
    assert seven == [utc(2026, 1, 19, 8), utc(2026, 1, 19, 8, 45)]
    hourly = runs("every hour from 08:00 to 18:00 on weekdays", "UTC", utc(2026, 1, 16, 17, 30), 2)
    assert hourly == [utc(2026, 1, 16, 18), utc(2026, 1, 19, 8)]


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    # Opens Saturday 22:00, runs into Sunday 02:00; nothing opens on Sunday night.
    sat = runs("every hour from 22:00 to 02:00 on saturday", "UTC", utc(2026, 1, 17, 21), 6)
    assert sat == [utc(2026, 1, 17, h) for h in (22, 23)] + [utc(2026, 1, 18, h) for h in (0, 1, 2)] + [
        utc(2026, 1, 24, 22)
    ]


def test_a_window_across_dst_changes() -> None:
    # Spring forward: 02:00 and 02:30 do not exist and fire once, at 03:00 EDT, with 03:00 itself.
    spring = runs("every 30 minutes from 01:00 to 03:00", NY, utc(2026, 3, 8, 5), 4)
    assert spring == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7), local(NY, 2026, 3, 9, 1)]
    # Fall back: each wall time fires once, at its first occurrence.
    fall = runs("every 30 minutes from 01:00 to 03:00", NY, utc(2026, 11, 1, 4), 5)
    assert fall == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7), utc(2026, 11, 1, 7, 30)] + [
        utc(2026, 11, 1, 8)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "every weekday @ 09:30",
        "first monday of month @ 08:00",
        "every 2 weeks on mon,thu @ 09:00",
        "last day of month @ 23:00",
    ]
    + ["every 7 minutes from 22:00 to 01:00 on weekdays", "2nd,4th tuesday of jan,jul @ 18:00"],
)
def test_latest_at_or_before_agrees_with_next_after(text: str) -> None:
    schedule = parse_schedule(text, NY)
    anchor = utc(2025, 12, 1)
    for t in (utc(2026, 3, 8, 12), utc(2026, 11, 1, 6, 15), utc(2026, 6, 1, 3, 59)):
        latest = schedule.latest_at_or_before(t, anchor)
        assert latest is not None and latest <= t
        assert schedule.next_after(latest, anchor) == schedule.next_after(t, anchor)
    assert schedule.latest_at_or_before(anchor, anchor) is None  # nothing before the job existed


@pytest.mark.parametrize(
    ("text", "position", "word"),
    [
        ("every 10 fortnights", 9, "fortnights"),
        ("every blue moon", 6, "blue"),
        ("every monday @ 25:00", 15, "25:00"),
        ("every mon,funday @ 09:00", 10, "funday"),
        ("every weekday", 13, ""),
        ("every 2 weeks monday @ 09:00", 14, "monday"),
        ("every 0 weeks on monday @ 09:00", 6, "0"),
        ("6th monday of month @ 08:00", 0, "6th"),
        ("1st,15th of moon @ 12:00", 12, "moon"),
        ("30th,31st of feb @ 12:00", 0, "30th"),
        ("every 5 minutes from 09:00 until 17:00", 27, "until"),
        ("every 5 seconds from 09:00 to 17:00", 16, "from"),
        ("every hour from 08:00 to 18:00 on holidays", 34, "holidays"),
        ("every hour from 08:00 to 18:00 weekdays", 31, "weekdays"),
        ("  every 0 seconds", 8, "0"),
        ("every day @ 24:00", 12, "24:00"),
        ("once @ tomorrow", 7, "tomorrow"),
        ("* * * *", 0, "*"),
    ],
)
def test_a_schedule_that_does_not_parse_names_its_first_unread_word(text: str, position: int, word: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule(text)
    assert caught.value.field == "schedule"
    assert caught.value.data["position"] == position
    assert caught.value.data.get("word", "") == word
    assert f"position {position}" in caught.value.description
    assert "every N seconds" in caught.value.description and "every <days> @ HH:MM" in caught.value.description


def test_a_cron_expression_that_does_not_parse_names_its_field() -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule("0 25 * * *")
    assert caught.value.data["position"] == 2 and "the hour" in caught.value.description
    with pytest.raises(Invalid) as caught:
        parse_schedule("0 0 31 2 *")
    assert caught.value.data["position"] == 4 and "day of the month" in caught.value.description


async def test_the_scheduler_fires_a_weekday_job_on_weekdays_only(store: SqliteStore) -> None:
    # T0 is Friday 2027-01-15 08:00 UTC: Friday 09:30, then Monday 09:30, with the clock moved by hand.
    clock, runner = FakeClock(T0), RecordingRunner()
    scheduler = make_scheduler(store, clock, runner)
    job = await add_job(store, "standup", "every weekday @ 09:30")
    scheduler.upsert(compiled(job))
    friday = utc(2027, 1, 15, 9, 30)
    assert scheduler.dispatch_due(friday - 1) == 0
    clock.value = friday
    assert scheduler.dispatch_due(friday) == 1
    await settle()
    assert runner.calls == [(job.id, friday)]
    assert scheduler.current(job).next_run == utc(2027, 1, 18, 9, 30)
