"""Calendars over the real API: created from dates or holidays, listed, changed and deleted; a job's
skip_calendars takes their days out of its schedule (next_run, preview), a change reschedules the
jobs at once, a calendar in use cannot be deleted, and shared ones are an admin's."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import Api, Sink, assert_error, wait_for
from veggiecron.app import Server


def job(name: str, schedule: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "data": {"url": "http://127.0.0.1:9/"}, "schedule": schedule, **extra}


def local_dates(times: list[float], zone: str) -> list[date]:
    return [datetime.fromtimestamp(t, ZoneInfo(zone)).date() for t in times]


async def next_runs(api: Api, name: str, count: int = 10) -> dict[str, Any]:
    status, body = await api.call("GET", f"/job/{name}/next", params={"count": count})
    assert status == 200, body
    return body["data"]


async def admin_api(server: Server, api: Api) -> Api:
    assert server.ctx is not None
    user = await server.ctx.accounts.ensure_admin("ops")
    token, _ = await server.ctx.accounts.issue_token(user)
    admin = Api(api.base, api.session)
    admin.token = token
    return admin


async def test_a_calendar_of_dates_is_created_read_listed_and_deleted(user_api: Api) -> None:
    fields = {"name": "shutdown", "dates": ["2026-12-24", {"from": "2026-12-27", "to": "2026-12-31"}]}
    status, body = await user_api.call("POST", "/calendars", json=fields)
    assert status == 201, body
    assert body["data"]["name"] == "shutdown" and body["data"]["shared"] is False
    assert body["data"]["dates"] == fields["dates"]
    status, body = await user_api.call("GET", "/calendars/shutdown")
    assert status == 200 and body["data"]["dates"] == fields["dates"]
    status, body = await user_api.call("GET", "/calendars")
    assert status == 200 and [c["name"] for c in body["data"]["calendars"]] == ["shutdown"]
    status, body = await user_api.call("POST", "/calendars", json=fields)
    assert_error(status, body, 409, "name")
    status, body = await user_api.call("DELETE", "/calendars/shutdown")
    assert status == 200, body
    status, body = await user_api.call("GET", "/calendars/shutdown")
    assert status == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "x"}, "dates"),
        ({"name": "x", "dates": []}, "dates"),
        ({"name": "x", "dates": ["2026-02-30"]}, "dates[0]"),
        ({"name": "x", "dates": [{"from": "2026-12-31", "to": "2026-12-01"}]}, "dates[0]"),
        ({"name": "x", "dates": [{"from": "2000-01-01", "to": "2030-01-01"}]}, "dates"),
        ({"name": "x", "dates": ["2026-01-01"], "holidays": {"country": "US"}}, "dates"),
        ({"name": "x", "holidays": {"country": "ZZ"}}, "holidays.country"),
        ({"name": "x", "holidays": {"country": "US", "subdivision": "XX"}}, "holidays.subdivision"),
        ({"name": "x", "holidays": {"market": "NOPE"}}, "holidays.market"),
        ({"name": "shared:x", "dates": ["2026-01-01"]}, "name"),
        ({"name": "a b", "dates": ["2026-01-01"]}, "name"),
        ({"name": "x", "dates": ["2026-01-01"], "color": "red"}, "color"),
    ],
)
async def test_bad_calendars_are_refused_naming_the_field(user_api: Api, fields: dict[str, Any], field: str) -> None:
    status, body = await user_api.call("POST", "/calendars", json=fields)
    assert_error(status, body, 400, field)
    status, body = await user_api.call("GET", "/calendars")
    assert body["data"]["calendars"] == []


async def test_a_job_skips_the_listed_days_in_its_next_run_and_preview(user_api: Api, server: Server) -> None:
    zone = "America/New_York"
    today = datetime.now(ZoneInfo(zone)).date()
    skipped = [today + timedelta(days=n) for n in (1, 2, 4)]
    status, body = await user_api.call(
        "POST", "/calendars", json={"name": "off", "dates": [d.isoformat() for d in skipped]}
    )
    assert status == 201, body
    status, body = await user_api.call(
        "POST", "/job", json=job("daily", "every day @ 12:00", timezone=zone, skip_calendars=["off"])
    )
    assert status == 201, body
    assert body["data"]["skip_calendars"] == ["off"]
    data = await next_runs(user_api, "daily", 6)
    days = local_dates([r["at"] for r in data["runs"]], zone)
    assert not set(days) & set(skipped)
    assert days == sorted(days) and len(days) == 6
    # The preview names the skipped days and the calendar that takes each away.
    assert local_dates([s["at"] for s in data["skipped"]], zone) == skipped
    assert all(s["calendars"] == ["off"] for s in data["skipped"])
    status, body = await user_api.call("GET", "/job/daily")
    assert local_dates([body["data"]["next_run"]], zone)[0] == days[0]


async def test_every_business_day_is_the_weekdays_no_calendar_holds(user_api: Api) -> None:
    zone = "Europe/Paris"
    status, body = await user_api.call("POST", "/calendars", json={"name": "fr", "holidays": {"country": "FR"}})
    assert status == 201, body
    status, body = await user_api.call(
        "POST", "/job", json=job("open", "Every Business Day @ 9:00", timezone=zone, skip_calendars=["fr"])
    )
    assert status == 201, body
    assert body["data"]["schedule"] == "every business day @ 09:00"
    data = await next_runs(user_api, "open", 60)
    days = local_dates([r["at"] for r in data["runs"]], zone)
    import holidays

    french = holidays.country_holidays("FR")
    assert all(d.weekday() < 5 and d not in french for d in days)
    first, last = days[0], days[-1]
    every = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert days == [d for d in every if d.weekday() < 5 and d not in french]
    assert all(datetime.fromtimestamp(r["at"], ZoneInfo(zone)).hour == 9 for r in data["runs"])


async def test_changing_a_calendar_reschedules_its_jobs_at_once(user_api: Api) -> None:
    zone = "UTC"
    tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    status, _ = await user_api.call("POST", "/calendars", json={"name": "c", "dates": ["2000-01-01"]})
    assert status == 201
    await user_api.create_job("j", "http://127.0.0.1:9/", schedule="every day @ 23:59", skip_calendars=["c"])
    before = (await next_runs(user_api, "j", 1))["runs"][0]["at"]
    # Today's 23:59 (or tomorrow's if it passed): skip that day, and the next run moves a day on.
    first_day = local_dates([before], zone)[0]
    status, body = await user_api.call("PUT", "/calendars/c", json={"dates": [first_day.isoformat()]})
    assert status == 200, body
    status, body = await user_api.call("GET", "/job/j")
    assert body["data"]["next_run"] == before + 86400
    assert (await next_runs(user_api, "j", 1))["runs"][0]["at"] == before + 86400
    status, body = await user_api.call(
        "PUT", "/calendars/c", json={"dates": [(tomorrow + timedelta(days=30)).isoformat()]}
    )
    assert status == 200
    status, body = await user_api.call("GET", "/job/j")
    assert body["data"]["next_run"] == before
    status, body = await user_api.call("PUT", "/calendars/c", json={"name": "other", "dates": ["2026-01-01"]})
    assert_error(status, body, 400, "name")


async def test_a_calendar_in_use_cannot_be_deleted_and_names_the_jobs(user_api: Api) -> None:
    await user_api.call("POST", "/calendars", json={"name": "hol", "holidays": {"country": "US", "subdivision": "CA"}})
    await user_api.create_job("a", "http://127.0.0.1:9/", schedule="every day @ 10:00", skip_calendars=["hol"])
    await user_api.create_job("b", "http://127.0.0.1:9/", schedule="every day @ 10:00", skip_calendars=["hol"])
    status, body = await user_api.call("DELETE", "/calendars/hol")
    assert status == 409, body
    assert body["data"]["jobs"] == ["a", "b"]
    status, body = await user_api.call("PATCH", "/job/a", json={"skip_calendars": None})
    assert status == 200 and body["data"]["skip_calendars"] is None
    await user_api.call("DELETE", "/job/b")
    status, body = await user_api.call("DELETE", "/calendars/hol")
    assert status == 200, body


async def test_a_job_naming_a_calendar_that_does_not_exist_is_refused(user_api: Api) -> None:
    status, body = await user_api.call("POST", "/job", json=job("x", "every day @ 10:00", skip_calendars=["nope"]))
    assert_error(status, body, 409, "skip_calendars")
    status, body = await user_api.call("POST", "/job", json=job("x", "every day @ 10:00", skip_calendars="nope"))
    assert_error(status, body, 400, "skip_calendars")
    status, body = await user_api.call("GET", "/job")
    assert body["data"]["jobs"] == []


async def test_calendars_are_per_user_and_shared_ones_are_an_admins(server: Server, user_api: Api) -> None:
    await user_api.call("POST", "/calendars", json={"name": "mine", "dates": ["2026-01-01"]})
    bob = Api(user_api.base, user_api.session)
    await bob.register_and_login("bob")
    status, body = await bob.call("GET", "/calendars/mine")
    assert status == 404
    status, body = await bob.call("POST", "/job", json=job("x", "every day @ 10:00", skip_calendars=["mine"]))
    assert_error(status, body, 409, "skip_calendars")
    status, body = await bob.call("POST", "/calendars", json={"name": "mine", "dates": ["2026-02-02"]})
    assert status == 201  # names are unique per user
    status, body = await bob.call("POST", "/calendars", json={"name": "s", "shared": True, "dates": ["2026-01-01"]})
    assert status == 403
    admin = await admin_api(server, user_api)
    status, body = await admin.call(
        "POST", "/calendars", json={"name": "nyse", "shared": True, "holidays": {"market": "NYSE"}}
    )
    assert status == 201 and body["data"]["name"] == "shared:nyse"
    status, body = await bob.call("GET", "/calendars")
    assert [c["name"] for c in body["data"]["calendars"]] == ["mine", "shared:nyse"]
    await bob.create_job(
        "trade",
        "http://127.0.0.1:9/",
        schedule="every business day @ 09:30",
        timezone="America/New_York",
        skip_calendars=["shared:nyse"],
    )
    status, body = await bob.call("PUT", "/calendars/shared:nyse", json={"holidays": {"market": "NYSE"}})
    assert status == 403
    status, body = await admin.call("DELETE", "/calendars/shared:nyse")
    assert status == 409 and body["data"]["jobs"] == ["trade"]


def zone_at_midday() -> tuple[str, date]:
    """A zone where it is now near midday (so today's date holds for the test's seconds), and its date."""
    hours = 12 - datetime.now(ZoneInfo("UTC")).hour
    hours = max(-12, min(14, hours))
    zone = "Etc/GMT" + (f"{-hours:+d}" if hours else "")  # Etc/GMT-3 is three hours ahead of UTC
    return zone, datetime.now(ZoneInfo(zone)).date()


async def test_a_calendar_change_stops_and_restarts_a_running_job_without_a_restart(user_api: Api, sink: Sink) -> None:
    zone, today = zone_at_midday()
    status, _ = await user_api.call("POST", "/calendars", json={"name": "today", "dates": ["2000-01-01"]})
    assert status == 201
    await user_api.create_job(
        "tick", sink.url + "/tick", schedule="every 1 seconds", timezone=zone, skip_calendars=["today"]
    )
    await wait_for(lambda: len(sink.paths("/tick")) >= 2, timeout=10)
    # Today becomes a skipped day: the running job stops at once, without a restart.
    status, body = await user_api.call("PUT", "/calendars/today", json={"dates": [today.isoformat()]})
    assert status == 200, body
    await asyncio.sleep(0.5)  # a run already sent may still land
    stopped = len(sink.paths("/tick"))
    await asyncio.sleep(2.5)
    assert len(sink.paths("/tick")) == stopped
    status, body = await user_api.call("GET", "/job/tick")
    assert local_dates([body["data"]["next_run"]], zone)[0] == today + timedelta(days=1)
    status, body = await user_api.call("GET", "/job/tick/runs")
    assert all(run["outcome"] == "ok" for run in body["data"]["runs"])  # nothing missed nor skipped
    # And back: it runs again at once.
    status, body = await user_api.call("PUT", "/calendars/today", json={"dates": ["2000-01-01"]})
    assert status == 200
    await wait_for(lambda: len(sink.paths("/tick")) >= stopped + 2, timeout=10)


async def test_a_form_post_names_calendars_as_text(user_api: Api) -> None:
    for name in ("a", "b"):
        status, _ = await user_api.call("POST", "/calendars", json={"name": name, "dates": ["2030-01-01"]})
        assert status == 201
    form = {"name": "f", "type": "http", "data": '{"url": "http://127.0.0.1:9/"}', "schedule": "every day @ 10:00"}
    status, body = await user_api.call("POST", "/job", data={**form, "skip_calendars": "a, b"})
    assert status == 201, body
    assert body["data"]["skip_calendars"] == ["a", "b"]
