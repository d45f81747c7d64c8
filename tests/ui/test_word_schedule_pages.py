"""Schedules in words on the dashboard: the form takes them, the job page and the list write them in
words, and the live preview lists their next runs (or where the schedule stops reading)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.helpers import Api, Sink
from tests.ui.client import Dashboard


async def test_a_job_in_words_is_created_written_in_words_and_previewed(alice: Dashboard, api: Api, sink: Sink) -> None:
    page = await alice.post(
        "/ui/new",
        {
            "name": "review",
            "url": sink.url + "/r",
            "verb": "POST",
            "schedule": "2nd,4th Tuesday of month @ 18:00",
            "timezone": "Europe/London",
            "enabled": "on",
        },
    )
    assert page.status == 303 and page.location == "/ui/jobs/review"
    page = await alice.get("/ui/jobs/review")
    assert "On the second and fourth Tuesday of every month at 18:00" in page.text
    # The next five runs: the second and fourth Tuesdays from today, at 18:00 London time.
    today = datetime.now(ZoneInfo("Europe/London")).date()
    days = (today + timedelta(days=n) for n in range(200))
    tuesdays = [d for d in days if d.weekday() == 1 and (d.day - 1) // 7 + 1 in (2, 4)]
    shown = re.findall(r"(\d{4}-\d{2}-\d{2}) 18:00:00 (?:GMT|BST)", page.text)
    assert {str(d) for d in tuesdays[1:5]} <= set(shown)  # the first may be today's, already past
    listing = await alice.get("/ui/")
    assert "On the second and fourth Tuesday of every month at 18:00" in listing.text


async def test_the_preview_lists_a_window_and_names_where_a_schedule_stops(alice: Dashboard) -> None:
    page = await alice.get(
        "/ui/preview", htmx=True, schedule="every hour from 08:00 to 18:00 on weekdays", timezone="Asia/Tokyo"
    )
    assert page.status == 200 and page.text.count("<li>") == 5
    hours = re.findall(r"\d{4}-\d{2}-\d{2} (\d{2}):00:00 JST", page.text)
    assert len(hours) == 5 and all(8 <= int(h) <= 18 for h in hours)
    page = await alice.get("/ui/preview", htmx=True, schedule="every weekday at 09:30", timezone="UTC")
    assert page.status == 200 and "could not read &#x27;at&#x27; at position 14" in page.text
