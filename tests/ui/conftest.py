"""Fixtures of the dashboard's tests: a server with two users, and a cookie-keeping client for each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.helpers import Api
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, Watched, open_page, require_browser
from tests.ui.client import Dashboard
from veggiecron.app import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PASSWORD = "s3cret-pass"


@pytest.fixture
async def base_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def alice(base_url: str, api: Api) -> AsyncIterator[Dashboard]:
    """Alice, registered through the API and logged in to the dashboard."""
    await api.register_and_login("alice", PASSWORD)
    dashboard = Dashboard(base_url)
    page = await dashboard.login("alice", PASSWORD)
    assert page.status == 303, page.text
    yield dashboard
    await dashboard.close()


@pytest.fixture
async def anonymous(base_url: str) -> AsyncIterator[Dashboard]:
    dashboard = Dashboard(base_url)
    yield dashboard
    await dashboard.close()


# Real-browser tests (tests/ui/test_browser.py, test_accessibility.py): one server for the
# session, one Chromium per module, a fresh browser context (cookies, storage) for every test.
# Module, not session: Playwright's sync API holds an event loop in the main thread while it
# runs, and the asyncio tests of the other modules need that thread free.


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser()
    server = LiveServer(str(tmp_path_factory.mktemp("live") / "veggiecron.db"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser(live: LiveServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def watched(browser: Browser, live: LiveServer) -> Iterator[Watched]:
    """A page in a fresh context; the test fails when the page logged any console error."""
    with open_page(browser, live) as watched:
        yield watched
        assert watched.errors == [], watched.errors
