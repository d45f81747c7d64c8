"""Calendars on the dashboard: the calendars page lists them with what they hold and the jobs that
skip them, the job form edits skip_calendars, and the job page shows the days they take away."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.helpers import Api, Sink
from tests.ui.client import Dashboard


async def test_calendars_are_listed_with_what_they_hold_and_the_jobs_that_skip_them(
    alice: Dashboard, api: Api, sink: Sink
) -> None:
    status, _ = await api.call(
        "POST", "/calendars", json={"name": "us-ca", "holidays": {"country": "US", "subdivision": "CA"}}
    )
    assert status == 201
    status, _ = await api.call(
        "POST", "/calendars", json={"name": "shutdown", "dates": [{"from": "2026-12-27", "to": "2026-12-31"}]}
    )
    assert status == 201
    await api.create_job("payroll", sink.url + "/p", schedule="every business day @ 09:00", skip_calendars=["us-ca"])
    page = await alice.get("/ui/calendars")
    assert page.status == 200
    assert "Public holidays of US-CA" in page.text and "2026-12-27 to 2026-12-31" in page.text
    row = re.search(r"<tr>\s*<td>us-ca.*?</tr>", page.text, re.S)
    assert row is not None and 'href="/ui/jobs/payroll"' in row.group(0)
    row = re.search(r"<tr>\s*<td>shutdown.*?</tr>", page.text, re.S)
    assert row is not None and "none" in row.group(0)
    assert 'href="/ui/calendars" aria-current="page"' in page.text


async def test_the_form_sets_skip_calendars_and_the_job_page_shows_the_skipped_days(
    alice: Dashboard, api: Api, sink: Sink
) -> None:
    zone = "Europe/Berlin"
    today = datetime.now(ZoneInfo(zone)).date()
    off = [today + timedelta(days=2), today + timedelta(days=3)]
    status, _ = await api.call("POST", "/calendars", json={"name": "off", "dates": [d.isoformat() for d in off]})
    assert status == 201
    form = await alice.get("/ui/new")
    assert 'name="skip_calendars"' in form.text and "<code>off</code>" in form.text
    fields = {
        "name": "daily",
        "url": sink.url + "/d",
        "verb": "GET",
        "schedule": "every day @ 12:00",
        "timezone": zone,
        "enabled": "on",
    }
    page = await alice.post("/ui/new", {**fields, "skip_calendars": "nope"})
    assert page.status == 400 and 'id="err-skip_calendars"' in page.text and "nope" in page.text
    status, body = await api.call("GET", "/job")
    assert body["data"]["jobs"] == []
    page = await alice.post("/ui/new", {**fields, "skip_calendars": "off"})
    assert page.status == 303 and page.location == "/ui/jobs/daily"
    status, body = await api.call("GET", "/job/daily")
    assert body["data"]["skip_calendars"] == ["off"]
    page = await alice.get("/ui/jobs/daily")
    skipped = re.search(r'<ul class="skipped".*?</ul>', page.text, re.S)
    assert skipped is not None
    assert re.findall(r"<s>(\d{4}-\d{2}-\d{2}) 12:00", skipped.group(0)) == [d.isoformat() for d in off]
    assert "(off)" in skipped.group(0)
    upcoming = re.search(r'<ol class="upcoming">.*?</ol>', page.text, re.S)
    assert upcoming is not None and not any(d.isoformat() in upcoming.group(0) for d in off)
    # Editing keeps them, and an empty field removes them.
    form = await alice.get("/ui/jobs/daily/edit")
    assert 'name="skip_calendars" value="off"' in form.text
    page = await alice.post("/ui/jobs/daily/edit", {**fields, "skip_calendars": ""})
    assert page.status == 303
    status, body = await api.call("GET", "/job/daily")
    assert body["data"]["skip_calendars"] is None


async def test_the_live_preview_leaves_out_the_named_calendars_days(alice: Dashboard, api: Api) -> None:
    zone = "Asia/Tokyo"
    today = datetime.now(ZoneInfo(zone)).date()
    off = [today + timedelta(days=n) for n in (1, 2)]
    status, _ = await api.call("POST", "/calendars", json={"name": "off", "dates": [d.isoformat() for d in off]})
    assert status == 201
    query = {"schedule": "every day @ 12:00", "timezone": zone}
    plain = await alice.get("/ui/preview", htmx=True, **query)
    skipping = await alice.get("/ui/preview", htmx=True, **query, skip_calendars="off")
    days = re.findall(r"(\d{4}-\d{2}-\d{2}) 12:00:00", plain.text)
    kept = re.findall(r"(\d{4}-\d{2}-\d{2}) 12:00:00", skipping.text)
    assert len(days) == len(kept) == 5
    assert {d.isoformat() for d in off} <= set(days) and not {d.isoformat() for d in off} & set(kept)
    unknown = await alice.get("/ui/preview", htmx=True, **query, skip_calendars="nope")
    assert unknown.status == 200 and "no calendar named &#x27;nope&#x27;" in unknown.text
