"""Schedules in words over the real API: each form is stored in its canonical text, its next_run is
the slot an independent walk over the zone's calendar finds, its preview follows it, and a schedule
that does not parse answers 400 with the grammar and the position of the first word not read."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.helpers import Api, assert_error, start_server, test_config
from veggiecron.config import QuotasSection

Day = Callable[[date, date], bool]  # (the day, the day the job was created) -> does it fire that day


def nth(day: date) -> int:
    return (day.day - 1) // 7 + 1


def is_last_day(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def fortnightly_monday(day: date, created: date) -> bool:
    weeks = ((day - timedelta(days=day.weekday())) - (created - timedelta(days=created.weekday()))).days // 7
    return day.weekday() == 0 and weeks % 2 == 0


# (as written, as stored, zone, which days, the minutes of those days it fires at)
# Times stay clear of the small hours, so no DST change moves them.
FORMS: list[tuple[str, str, str, Day, list[int]]] = [
    ("Every Monday @ 9:00", "every monday @ 09:00", "Europe/London", lambda d, c: d.weekday() == 0, [540]),
    ("every mon, wed, fri @ 17:30", "every mon,wed,fri @ 17:30", "UTC", lambda d, c: d.weekday() in (0, 2, 4), [1050]),
    ("every weekday @ 09:30", "every weekday @ 09:30", "America/New_York", lambda d, c: d.weekday() < 5, [570]),
    ("EVERY WEEKEND DAY @ 10:00", "every weekend day @ 10:00", "Asia/Kolkata", lambda d, c: d.weekday() >= 5, [600]),
    # Without skip_calendars, business days are the weekdays (tests/api/test_calendars.py has them with).
    ("Every Business Day @ 9:00", "every business day @ 09:00", "Europe/London", lambda d, c: d.weekday() < 5, [540]),
    ("every 2 weeks on monday @ 09:00", "every 2 weeks on monday @ 09:00", "Europe/London", fortnightly_monday, [540]),
    ("1st,15th of month @ 12:00", "1st,15th of month @ 12:00", "UTC", lambda d, c: d.day in (1, 15), [720]),
    (
        "last day of the month @ 23:00",
        "last day of month @ 23:00",
        "America/New_York",
        lambda d, c: is_last_day(d),
        [1380],
    ),
    (
        "first monday of month @ 08:00",
        "first monday of month @ 08:00",
        "Europe/London",
        lambda d, c: d.weekday() == 0 and nth(d) == 1,
        [480],
    ),
    (
        "2nd,4th tuesday of month @ 18:00",
        "second,fourth tuesday of month @ 18:00",
        "UTC",
        lambda d, c: d.weekday() == 1 and nth(d) in (2, 4),
        [1080],
    ),
    (
        "first Monday of Jan,Apr,Jul,Oct @ 08:00",
        "first monday of jan,apr,jul,oct @ 08:00",
        "Asia/Kolkata",
        lambda d, c: d.month in (1, 4, 7, 10) and d.weekday() == 0 and nth(d) == 1,
        [480],
    ),
    (
        "every 5 minutes from 09:00 to 17:00",
        "every 5 minutes from 09:00 to 17:00",
        "Asia/Kolkata",
        lambda d, c: True,
        list(range(540, 1021, 5)),
    ),
    (
        "every hour from 8:00 to 18:00 on weekdays",
        "every hour from 08:00 to 18:00 on weekdays",
        "Europe/London",
        lambda d, c: d.weekday() < 5,
        list(range(480, 1081, 60)),
    ),
]


def first_slots(created: float, zone: str, fires_on: Day, minutes: list[int], count: int) -> list[float]:
    """The first `count` slots after `created`, by walking the days of the zone's calendar."""
    tz = ZoneInfo(zone)
    created_day = datetime.fromtimestamp(created, tz).date()
    found: list[float] = []
    for offset in range(400):
        day = created_day + timedelta(days=offset)
        if fires_on(day, created_day):
            for minute in minutes:
                at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).timestamp()
                if at > created:
                    found.append(at)
                    if len(found) == count:
                        return found
    raise AssertionError("no slot within 400 days")


def job(name: str, schedule: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "data": {"url": "http://127.0.0.1:9/"}, "schedule": schedule, **extra}


@pytest.mark.parametrize(("given", "stored", "zone", "fires_on", "minutes"), FORMS, ids=[f[1] for f in FORMS])
async def test_each_form_is_stored_canonically_and_next_run_is_its_first_slot(
    user_api: Api, given: str, stored: str, zone: str, fires_on: Day, minutes: list[int]
) -> None:
    status, body = await user_api.call("POST", "/job", json=job("words", given, timezone=zone))
    assert status == 201, body
    created = body["data"]
    assert created["schedule"] == stored and created["timezone"] == zone
    expected = first_slots(created["date_created"], zone, fires_on, minutes, 5)
    assert created["next_run"] == expected[0]
    status, body = await user_api.call("GET", "/job/words")
    assert status == 200 and body["data"]["schedule"] == stored and body["data"]["next_run"] == expected[0]
    status, body = await user_api.call("GET", "/job/words/next", params={"count": 5})
    assert status == 200, body
    assert [run["at"] for run in body["data"]["runs"]] == expected


async def test_a_job_changed_to_a_form_in_words_is_rescheduled(user_api: Api) -> None:
    await user_api.create_job("change", "http://127.0.0.1:9/", schedule="every 10 seconds")
    status, body = await user_api.call(
        "PATCH", "/job/change", json={"schedule": "every Fri @ 16:45", "timezone": "America/New_York"}
    )
    assert status == 200, body
    changed = body["data"]
    assert changed["schedule"] == "every friday @ 16:45"
    walked = first_slots(changed["date_updated"], "America/New_York", lambda d, c: d.weekday() == 4, [1005], 1)
    assert changed["next_run"] == walked[0]


@pytest.mark.parametrize(
    ("schedule", "position", "word"),
    [
        ("every weekday @ 9.30", 16, "9.30"),
        ("every 10 fortnights", 9, "fortnights"),
        ("every 2 weeks monday @ 09:00", 14, "monday"),
        ("first funday of month @ 08:00", 6, "funday"),
        ("6th monday of month @ 08:00", 0, "6th"),
        ("31st of apr,jun @ 08:00", 0, "31st"),
        ("every 5 minutes from 09:00 until 17:00", 27, "until"),
        ("every hour from 08:00 to 18:00 on holidays", 34, "holidays"),
        ("every monday", 12, ""),
    ],
)
async def test_a_schedule_that_does_not_parse_is_400_with_the_grammar_and_the_position(
    user_api: Api, schedule: str, position: int, word: str
) -> None:
    status, body = await user_api.call("POST", "/job", json=job("bad", schedule))
    assert_error(status, body, 400, "schedule")
    assert body["data"]["position"] == position and body["data"]["word"] == word
    assert f"position {position}" in body["description"]
    assert "every <days> @ HH:MM" in body["data"]["grammar"] and "every N seconds" in body["description"]
    status, body = await user_api.call("GET", "/job")
    assert status == 200 and body["data"]["count"] == 0


async def test_a_bad_change_to_a_form_in_words_changes_nothing(user_api: Api) -> None:
    before = await user_api.create_job("keep", "http://127.0.0.1:9/", schedule="every weekday @ 09:30")
    status, body = await user_api.call("PATCH", "/job/keep", json={"schedule": "every weekday @ 29:30"})
    assert_error(status, body, 400, "schedule")
    assert body["data"]["position"] == 16
    status, body = await user_api.call("GET", "/job/keep")
    assert body["data"]["schedule"] == "every weekday @ 09:30" and body["data"]["next_run"] == before["next_run"]


def test_the_openapi_document_lists_the_forms_and_its_pattern_takes_exactly_them() -> None:
    from jsonschema import Draft202012Validator

    from veggiecron.api import openapi

    document = openapi.document()
    for schema_name in ("JobCreate", "JobUpdate"):
        schedule = document["components"]["schemas"][schema_name]["properties"]["schedule"]
        validator = Draft202012Validator(schedule)
        for form in [f[1] for f in FORMS] + [f[0] for f in FORMS]:
            assert validator.is_valid(form), form
        for never in ("30th,31st of feb @ 10:00", "31st of apr,jun,sep,nov @ 10:00", "every weekday at 09:30"):
            assert not validator.is_valid(never), never
        assert validator.is_valid("31st of apr,jul @ 10:00")  # July has a 31st
        described = schedule["description"]
        assert "every <days> @ HH:MM" in described and "data.position" in described
    examples = document["components"]["schemas"]["JobCreate"]["properties"]["schedule"]["examples"]
    for form in (
        "every weekday @ 09:30",
        "first monday of jan,apr,jul,oct @ 08:00",
        "every 5 minutes from 09:00 to 17:00",
    ):
        assert form in examples


async def test_a_windows_step_is_bounded_like_an_interval(db_file: str, session: aiohttp.ClientSession) -> None:
    config = replace(test_config(db_file), quotas=QuotasSection(min_interval_seconds=120, max_runs_per_minute=1))
    server = await start_server(config)
    try:
        api = Api(f"http://127.0.0.1:{server.port}", session)
        await api.register_and_login("carol")
        status, body = await api.call("POST", "/job", json=job("fast", "every minute from 09:00 to 10:00"))
        assert_error(status, body, 400, "schedule")
        assert "120" in body["description"]
        status, body = await api.call("POST", "/job", json=job("slow", "every 2 minutes from 09:00 to 10:00"))
        assert status == 201, body
        # A window every 2 minutes projects half a request a minute: a second one fits the quota of 1 ...
        status, body = await api.call("POST", "/job", json=job("slow2", "every 2 minutes from 11:00 to 12:00"))
        assert status == 201, body
        # ... and a third does not.
        status, body = await api.call("POST", "/job", json=job("slow3", "every 2 minutes from 13:00 to 14:00"))
        assert status == 403 and body["data"]["quota"] == "max_runs_per_minute", body
    finally:
        await server.stop()
