"""A cookie-keeping client of the dashboard, as a browser without JavaScript uses it (or htmx, when asked)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')


class Page:
    def __init__(self, status: int, text: str, headers: CIMultiDictProxy[str], url: str) -> None:
        self.status = status
        self.text = text
        self.headers = headers
        self.url = url

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def title(self) -> str:
        found = re.search(r"<title>(.*?)</title>", self.text, re.S)
        return unescape(found.group(1)) if found else ""

    def error_beside(self, field: str) -> str:
        """The text of the error shown for a form field (id err-<field>), '' when there is none."""
        found = re.search(rf'<p class="error" id="err-{field}"[^>]*>(.*?)</p>', self.text, re.S)
        return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


class Dashboard:
    """GET and POST /ui/ pages with a cookie jar; posts carry the _xsrf field of the last page seen."""

    def __init__(self, base: str) -> None:
        self.base = base
        # unsafe: keep cookies of an IP address host (127.0.0.1), which aiohttp drops by default.
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.xsrf = ""

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, htmx: bool = False, **params: str) -> Page:
        headers = {"HX-Request": "true"} if htmx else {}
        async with self.session.get(
            self.base + path, params=params or None, headers=headers, allow_redirects=False
        ) as response:
            page = Page(response.status, await response.text(), response.headers, str(response.url))
        found = XSRF_FIELD.search(page.text)
        if found:
            self.xsrf = unescape(found.group(1))
        return page

    async def post(self, path: str, data: dict[str, Any] | None = None, htmx: bool = False, xsrf: bool = True) -> Page:
        form = dict(data or {})
        headers: dict[str, str] = {}
        if xsrf and not self.xsrf:
            await self.get("/ui/login")
        if htmx:
            headers["HX-Request"] = "true"
            if xsrf:
                headers["X-XSRFToken"] = self.xsrf
        elif xsrf:
            form.setdefault("_xsrf", self.xsrf)
        async with self.session.post(self.base + path, data=form, headers=headers, allow_redirects=False) as response:
            return Page(response.status, await response.text(), response.headers, str(response.url))

    async def login(self, username: str, password: str) -> Page:
        await self.get("/ui/login")
        page = await self.post("/ui/login", {"username": username, "password": password})
        if page.status == 303:
            await self.get("/ui/")  # a page of the session, for its _xsrf field
        return page

    def cookie(self, name: str) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None
