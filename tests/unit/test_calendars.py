"""Calendars in-process: specs read and written back, the book's live views, and the business-day form."""

from __future__ import annotations

from datetime import date

import pytest

from veggiecron import grammar
from veggiecron.calendar_book import CalendarBook
from veggiecron.calendars import Calendar, CalendarSpec, parse_spec, spec_from_json, validate_references
from veggiecron.errors import Invalid
from veggiecron.schedules import parse_schedule
from veggiecron.ui.words import schedule_words
from veggiecron.wall_schedules import WEEKDAYS, Weekly


def calendar(id: int, user_id: int, name: str, spec: CalendarSpec, shared: bool = False) -> Calendar:
    return Calendar(id, user_id, name, shared, spec, 0.0, 0.0)


@pytest.mark.parametrize(
    "fields",
    [
        {"dates": ["2026-12-24", {"from": "2026-12-27", "to": "2026-12-31"}]},
        {"holidays": {"country": "US", "subdivision": "CA"}},
        {"holidays": {"country": "FR"}},
        {"holidays": {"market": "NYSE"}},
    ],
)
def test_a_spec_is_written_back_as_it_was_given(fields: dict[str, object]) -> None:
    spec = parse_spec(fields)
    assert spec.to_json() == fields and spec_from_json(spec.to_json()) == spec


def test_listed_days_and_holidays_are_in_their_calendar() -> None:
    listed = parse_spec({"dates": ["2026-12-24", {"from": "2026-12-27", "to": "2026-12-31"}]}).days()
    assert date(2026, 12, 24) in listed and date(2026, 12, 29) in listed
    assert date(2026, 12, 25) not in listed and date(2027, 1, 1) not in listed
    california = parse_spec({"holidays": {"country": "US", "subdivision": "CA"}}).days()
    assert date(2026, 3, 31) in california  # Cesar Chavez Day: California's, not the nation's
    assert date(2026, 3, 31) not in parse_spec({"holidays": {"country": "US"}}).days()
    nyse = parse_spec({"holidays": {"market": "NYSE"}}).days()
    assert date(2026, 4, 3) in nyse and date(2026, 4, 6) not in nyse  # Good Friday


def test_the_book_hands_out_live_views_that_follow_changes() -> None:
    book = CalendarBook()
    views = book.skipped(1, ("mine", "shared:nyse"))  # not known yet: they skip nothing
    day = date(2026, 12, 24)
    assert not any(day in v for v in views)
    mine = calendar(1, 1, "mine", parse_spec({"dates": ["2026-12-24"]}))
    book.put(mine)
    assert day in views[0] and day not in views[1]
    book.put(calendar(2, 7, "nyse", parse_spec({"holidays": {"market": "NYSE"}}), shared=True))
    assert date(2026, 12, 25) in views[1]
    assert book.skipped(2, ("mine",))[0].__contains__(day) is False  # another user's "mine"
    changed = book.load([calendar(2, 7, "nyse", parse_spec({"holidays": {"market": "NYSE"}}), shared=True)])
    assert changed == [mine] and day not in views[0]  # gone from the store: gone from the views
    assert book.load([calendar(2, 7, "nyse", parse_spec({"holidays": {"market": "NYSE"}}), shared=True)]) == []


def test_skip_calendars_are_names_of_calendars() -> None:
    assert validate_references(["a", "shared:b", "a"]) == ("a", "shared:b")
    for bad in ("x", ["a b"], [1], ["x" * 65], [f"c{i}" for i in range(17)]):
        with pytest.raises(Invalid):
            validate_references(bad)


def test_every_business_day_reads_writes_and_is_said_in_words() -> None:
    schedule = parse_schedule("Every Business Days @ 7:05", "Europe/Paris")
    assert schedule == Weekly(WEEKDAYS, 7, 5, 1, "Europe/Paris", business=True)
    assert schedule.format() == "every business day @ 07:05"
    assert parse_schedule(schedule.format(), "Europe/Paris") == schedule
    assert grammar.is_schedule("every business day @ 09:00") and not grammar.is_schedule("every business @ 09:00")
    assert schedule_words("every business day @ 09:00", "UTC") == "Business days at 09:00"
    with pytest.raises(Invalid) as refused:
        parse_schedule("every business hour @ 09:00", "UTC")
    assert refused.value.data["position"] == len("every business ")
