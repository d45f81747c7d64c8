"""Journeys through the dashboard in a real browser (Chromium, driven by Playwright).

Each test uses a user of its own on the session's server; every page it visits must log no
console error, Content-Security-Policy violations included (see the `watched` fixture).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.ui.browser import LiveServer, Watched, log_in, sink_hits
from veggiecron.ui import base


def mark_page(page: Page) -> None:
    """Leave a mark on the page's window: still there later, the page was not reloaded."""
    page.evaluate("window.vcNotReloaded = true")


def settled(page: Page) -> None:
    """Wait until htmx has settled the last swap: the new content's forms are wired only then
    (a key pressed in those 20 ms would submit the form without htmx, reloading the page)."""
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping, .htmx-request")).to_have_count(0)


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.vcNotReloaded === true"))


@pytest.mark.slow
def test_create_a_job_watch_the_preview_and_see_its_run_appear(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, _api = live.new_user("creator")
    log_in(page, name)
    page.get_by_role("link", name="New job").first.click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    preview = page.locator("#preview li")
    expect(preview).to_have_count(5)
    first_before = preview.first.inner_text()
    page.get_by_label("Name", exact=True).fill("beat")
    page.get_by_label("URL", exact=True).fill(live.sink.url + "/beat")
    schedule = page.get_by_label("Schedule", exact=True)
    schedule.fill("")
    schedule.press_sequentially("every day @ 04:30", delay=20)
    expect(preview.first).to_contain_text("04:30:00")
    assert preview.first.inner_text() != first_before
    schedule.fill("every 99 parsecs")
    expect(page.locator("#preview")).to_contain_text("unrecognised schedule")
    schedule.fill("every 1 seconds")
    expect(preview).to_have_count(5)
    page.get_by_label("Tags", exact=True).fill("demo")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/ui/jobs/beat")
    expect(page.locator("#flash")).to_contain_text("Job beat created.")
    mark_page(page)
    # It fires at the sink, and its run shows in the history without a reload.
    expect(page.locator("#history tbody tr").first).to_contain_text("ok", timeout=15_000)
    assert sink_hits(live, "/beat") >= 1 and not_reloaded(page)
    expect(page.locator("#summary")).to_contain_text("200")


def test_a_failing_job_shows_in_the_failing_filter_and_the_title(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, api = live.new_user("failing")
    live.run(api.create_job("healthy", live.sink.url + "/ok", "every 1 hours"))
    live.run(api.create_job("broken", "http://127.0.0.1:9/refused", "every 1 hours", tags=["ops"]))
    live.call(api, "POST", "/job/broken/run")
    log_in(page, name)
    expect(page).to_have_title(re.compile(r"^\(1 failing\) Jobs"), timeout=10_000)
    page.get_by_label("Failing only").check()
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#job-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("broken")
    expect(rows.first).to_contain_text("failed")
    expect(rows.first).to_contain_text("connect")
    page.get_by_label("Search names and URLs").fill("nothing-like-it")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No job matches these filters.")).to_be_visible()


def test_pause_resume_run_now_and_delete_in_place(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, api = live.new_user("actor")
    live.run(api.create_job("first", live.sink.url + "/first", "every 1 hours"))
    live.run(api.create_job("second", live.sink.url + "/second", "every 1 hours"))
    log_in(page, name)
    mark_page(page)
    row = page.locator("#job-rows tr", has_text="first")
    other = page.locator("#job-rows tr", has_text="second")
    row.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("disabled")
    expect(page.locator("#flash")).to_contain_text("Job first paused")
    expect(other).to_contain_text("scheduled")
    settled(page)
    # By keyboard: focus the button and press Enter; focus stays on it after the swap.
    resume = row.get_by_role("button", name="Resume")
    resume.focus()
    page.keyboard.press("Enter")
    expect(row).to_contain_text("scheduled")
    expect(row.get_by_role("button", name="Pause")).to_be_focused()
    settled(page)
    row.get_by_role("button", name="Run now").click()
    expect(page.locator("#flash")).to_contain_text("Job first started")
    expect(row).to_contain_text("ok", timeout=10_000)  # the live refresh brings the run's outcome
    assert sink_hits(live, "/first") == 1 and sink_hits(live, "/second") == 0
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text("Job first deleted.")
    expect(other).to_have_count(1)
    assert not_reloaded(page)
    status, body = live.call(api, "GET", "/job")
    assert [job["name"] for job in body["data"]["jobs"]] == ["second"]
    # A dismissed confirmation deletes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    other.get_by_role("button", name="Delete").click()
    expect(other).to_have_count(1)
    assert live.call(api, "GET", "/job/second")[0] == 200


def test_the_job_page_acts_in_place_and_deletes(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, api = live.new_user("pager")
    live.run(api.create_job("solo", live.sink.url + "/solo", "*/5 * * * *", timezone="Europe/Paris"))
    log_in(page, name)
    page.get_by_role("link", name="solo").click()
    expect(page.get_by_role("heading", name="solo")).to_be_visible()
    expect(page.locator("ol.upcoming li")).to_have_count(5)
    expect(page.get_by_text("Every 5 minutes", exact=False).first).to_be_visible()
    summary = page.locator("#summary")
    summary.get_by_role("button", name="Pause").click()
    expect(summary).to_contain_text("disabled")
    summary.get_by_role("button", name="Resume").click()
    expect(summary).to_contain_text("scheduled")
    page.once("dialog", lambda dialog: dialog.accept())
    summary.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/ui/")
    expect(page.locator("#flash")).to_contain_text("Job solo deleted.")


def test_another_users_job_is_never_shown_or_reachable(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    _owner, api = live.new_user("owner")
    live.run(api.create_job("private", live.sink.url + "/private", "every 1 hours"))
    name, _ = live.new_user("snoop")
    log_in(page, name)
    expect(page.get_by_text("You have no jobs yet.")).to_be_visible()
    page.get_by_label("Search names and URLs").fill("private")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#job-rows tr")).to_have_count(0)
    watched.errors.clear()
    response = page.goto("/ui/jobs/private")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    # The 404 itself is the one console line expected here (Chromium logs failed loads).
    watched.errors[:] = [e for e in watched.errors if "404" not in e]


def test_the_list_refreshes_while_visible_and_pauses_while_hidden(
    watched: Watched, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "REFRESH_MS", 300)
    page = watched.page
    name, api = live.new_user("watcher")
    live.run(api.create_job("one", live.sink.url + "/one", "every 1 hours"))
    refreshes: list[str] = []
    page.on("request", lambda request: refreshes.append(request.url) if "rows=1" in request.url else None)
    log_in(page, name)
    mark_page(page)
    page.wait_for_timeout(1000)
    assert len(refreshes) >= 2
    # A job created elsewhere appears, after the rows already there.
    live.run(api.create_job("two", live.sink.url + "/two", "every 1 hours"))
    expect(page.locator("#job-rows tr")).to_have_count(2)
    expect(page.locator("#job-rows tr").first).to_contain_text("one")
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(200)
    hidden_from = len(refreshes)
    page.wait_for_timeout(1200)
    assert len(refreshes) == hidden_from  # nothing while hidden
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(200)
    assert len(refreshes) > hidden_from  # at once when shown again
    assert not_reloaded(page)


@pytest.mark.slow
def test_a_schedule_in_words_is_previewed_as_typed_and_shown_in_words(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, _api = live.new_user("wordsmith")
    log_in(page, name)
    page.get_by_role("link", name="New job").first.click()
    preview = page.locator("#preview li")
    expect(preview).to_have_count(5)
    page.get_by_label("Name", exact=True).fill("standup")
    page.get_by_label("URL", exact=True).fill(live.sink.url + "/standup")
    schedule = page.get_by_label("Schedule", exact=True)
    schedule.fill("every weekday at 09:30")
    expect(page.locator("#preview")).to_contain_text("could not read 'at' at position 14")
    schedule.fill("")
    schedule.press_sequentially("every weekday @ 09:30", delay=20)
    expect(preview).to_have_count(5)
    for item in preview.all():
        expect(item).to_contain_text("09:30:00")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/ui/jobs/standup")
    expect(page.get_by_text("Weekdays at 09:30").first).to_be_visible()


def test_a_job_skips_a_calendars_days_set_in_the_form(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    name, api = live.new_user("planner")
    off = datetime.now(ZoneInfo("UTC")).date() + timedelta(days=2)
    status, _ = live.call(api, "POST", "/calendars", json={"name": "offsite", "dates": [off.isoformat()]})
    assert status == 201
    log_in(page, name)
    page.get_by_role("link", name="Calendars").first.click()
    expect(page.get_by_role("heading", name="Calendars")).to_be_visible()
    expect(page.locator("table")).to_contain_text(off.isoformat())
    page.get_by_role("link", name="New job").first.click()
    page.get_by_label("Name", exact=True).fill("daily")
    page.get_by_label("URL", exact=True).fill(live.sink.url + "/daily")
    page.get_by_label("Schedule", exact=True).fill("every day @ 12:00")
    page.get_by_label("Skip the days of calendars", exact=True).fill("offsite")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/ui/jobs/daily")
    skipped = page.locator("ul.skipped li")
    expect(skipped).to_have_count(1)
    expect(skipped.first).to_contain_text(f"{off.isoformat()} 12:00:00")
    expect(skipped.first).to_contain_text("(offsite)")
    expect(page.locator("ol.upcoming")).not_to_contain_text(f"{off.isoformat()} 12:00")


def test_a_follower_is_previewed_in_words_and_the_chain_is_walked_by_its_links(
    watched: Watched, live: LiveServer
) -> None:
    page = watched.page
    name, api = live.new_user("chainer")
    status, _ = live.call(
        api,
        "POST",
        "/job",
        json={"name": "export", "data": {"url": live.sink.url + "/export"}, "schedule": "every 1 hours"},
    )
    assert status == 201
    log_in(page, name)
    page.get_by_role("link", name="New job").first.click()
    page.get_by_label("Name", exact=True).fill("report")
    page.get_by_label("URL", exact=True).fill(live.sink.url + "/report")
    schedule = page.get_by_label("Schedule", exact=True)
    schedule.fill("")
    schedule.press_sequentially("after export finishes", delay=20)
    expect(page.locator("#preview-follows")).to_contain_text("After each run (any outcome) of export")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/ui/jobs/report")
    chain = page.locator("#chain")
    expect(chain).to_contain_text("Runs after")
    chain.get_by_role("link", name="export").click()
    page.wait_for_url("**/ui/jobs/export")
    expect(page.locator("#chain")).to_contain_text("Followed by")
    settled(page)
    page.locator("#job-run").click()
    expect(page.locator("#flash")).to_contain_text("export")
    page.locator("#chain").get_by_role("link", name="report").click()
    page.wait_for_url("**/ui/jobs/report")
    # The follower's run names the parent's run that triggered it (the page refreshes itself).
    expect(page.locator("#history .triggered")).to_contain_text("after run ", timeout=15_000)
    assert sink_hits(live, "/report") == 1
