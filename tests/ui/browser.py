"""Real-browser tests' parts: Debian's Chromium driven by Playwright, and the server in a thread of its own.

Playwright's sync API runs in the test's thread; the server, a sink and their event loop run in
another, as they would in a daemon beside the browser. Chromium is /usr/bin/chromium (the
Debian package; Playwright's own browser downloads are never used). Outside CI, a machine
without it skips these tests and says why; in CI (CI=true) a missing browser fails them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import pytest

from tests.helpers import Api, start_server, start_sink, test_config
from veggiecron.app import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

T = TypeVar("T")
CHROMIUM = os.environ.get("VEGGIECRON_CHROMIUM", "/usr/bin/chromium")
# Headless, and kept off the network: without the last flags Chromium tries to reach its services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "s3cret-pass"


def require_browser() -> None:
    """Skip (outside CI) or fail (in CI) when Chromium or Playwright is missing, saying which."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium ({CHROMIUM}; apt-get install chromium)")
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright and axe-playwright-python (pip install -r requirements-dev.txt)")
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {' and '.join(missing)}; .ci/run installs them in CI")
    pytest.skip(f"browser tests skipped: {' and '.join(missing)} not installed here; .ci/run installs them in CI")


class LiveServer:
    """The server and a sink on an event loop in a thread of their own."""

    def __init__(self, db_file: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-server", daemon=True)
        self.thread.start()
        self.server: Server = self.run(start_server(test_config(db_file)))
        self.sink, self._sink_runner = self.run(start_sink(shutdown_timeout=1))
        self.base = f"http://127.0.0.1:{self.server.port}"
        self._names = itertools.count(1)
        self._clients: list[Api] = []

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def new_user(self, prefix: str = "user") -> tuple[str, Api]:
        """A registered user of a name of its own, and an API client logged in as it."""
        name = f"{prefix}{next(self._names)}"

        async def register() -> Api:
            api = Api(self.base, aiohttp.ClientSession())
            await api.register_and_login(name, PASSWORD)
            return api

        api = self.run(register())
        self._clients.append(api)
        return name, api

    def call(self, api: Api, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.run(api.call(method, path, **kwargs))

    def close(self) -> None:
        for api in self._clients:
            self.run(api.session.close())
        self.run(self._sink_runner.cleanup())
        self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Watched:
    """A page with what its console said: every error, CSP violations included, fails the test."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@contextmanager
def open_page(browser: Browser, live: LiveServer, dark: bool = False) -> Iterator[Watched]:
    context = browser.new_context(base_url=live.base, color_scheme="dark" if dark else "light")
    page = context.new_page()
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.set_default_timeout(10_000)
    try:
        yield watched
    finally:
        context.close()


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/ui/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/")


def sink_hits(live: LiveServer, path: str) -> int:
    return len(live.sink.paths(path))
