"""axe-core (bundled by axe-playwright-python) finds no violation on any dashboard page, light or dark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.helpers import wait_for
from tests.ui.browser import PASSWORD, LiveServer, log_in, open_page

AXE = Axe()


@pytest.fixture(scope="module")
def people(live: LiveServer) -> Iterator[tuple[str, str]]:
    """A user with jobs in every state (a Seed schedule, a follower, failed and good runs), and an admin."""
    name, api = live.new_user("axe")
    live.call(api, "POST", "/calendars", json={"name": "us", "holidays": {"country": "US"}})
    live.run(api.create_job("report", live.sink.url + "/r", "0 8 * * 1-5", tags=["billing", "daily"]))
    live.run(api.create_job("payday", live.sink.url + "/pd", "every business day @ 09:00", skip_calendars=["us"]))
    live.run(api.create_job("ping", live.sink.url + "/p", "every 1 hours", timezone="Europe/London"))
    live.run(api.create_job("flaky", "http://127.0.0.1:9/down", "every 1 hours", pause_after_failures=1, tags=["ops"]))
    live.run(api.create_job("off", live.sink.url + "/o", "every 1 hours", enabled=False))
    live.run(api.create_job("pinged", live.sink.url + "/pd2", "after ping finishes"))  # a chain
    live.call(
        api,
        "POST",
        "/api/v1/schedule/",
        headers={"Authorization": f"Token {api.token}"},
        json={"interval_definition": "1 minutes", "endpoint": live.sink.url + "/seed", "payload": {"a": 1}},
    )
    for job in ("ping", "ping", "flaky"):
        live.call(api, "POST", f"/job/{job}/run")

    async def settled() -> bool:
        status, body = await api.call("GET", "/job/flaky")
        ping = await api.call("GET", "/job/ping")
        pinged = await api.call("GET", "/job/pinged")
        done = body["data"]["state"] == "paused" and len(ping[1]["data"]["runs"]) == 2
        return done and len(pinged[1]["data"]["runs"]) == 2

    live.run(wait_for(settled))
    admin = "axeadmin"
    live.run(live.server.ctx.accounts.register(admin, PASSWORD, is_admin=True))
    yield name, admin


def check(page: Page, what: str) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


PAGES = [
    "/ui/",
    "/ui/?failing=true",
    "/ui/?state=sleeping",  # a filter refused beside its field
    "/ui/jobs/ping",
    "/ui/jobs/flaky",
    "/ui/jobs/ping?outcome=failed",
    "/ui/new",
    "/ui/jobs/report/edit",
    "/ui/jobs/ping/delete",
    "/ui/tokens",
    "/ui/calendars",
    "/ui/jobs/payday",  # its skipped days beside its next runs
    "/ui/jobs/pinged",  # a follower: its parent, and runs naming the parent's runs
    "/ui/audit",
    "/ui/no-such-page",
]


@pytest.mark.slow
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_page_has_no_axe_violation(
    browser: Browser, live: LiveServer, people: tuple[str, str], dark: bool
) -> None:
    user, admin = people
    with open_page(browser, live, dark=dark) as watched:
        page = watched.page
        page.goto("/ui/login")
        check(page, "login")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
        check(page, "login refused")
        log_in(page, user)
        for path in PAGES:
            page.goto(path)
            check(page, path)
        # A form refused, its errors beside the fields.
        page.goto("/ui/new")
        page.get_by_label("Name", exact=True).fill("bad name")
        page.get_by_label("Schedule", exact=True).fill("every blue moon")
        page.get_by_role("button", name="Create job").click()
        page.get_by_text("name must be").wait_for()
        check(page, "refused form")
        page.get_by_role("button", name="Log out").click()
        log_in(page, admin)
        page.goto("/ui/users")
        check(page, "users")
        # The refused login (401), filter (400) and missing page (404) above are logged as failed
        # loads; nothing else may be.
        expected = ("status of 401", "status of 400", "status of 404")
        assert [e for e in watched.errors if not any(code in e for code in expected)] == []
