"""Logging in and out of the dashboard: the session cookie, XSRF, throttling and headers."""

from __future__ import annotations

import re
from dataclasses import replace

import aiohttp
import pytest
from tornado.web import decode_signed_value

from tests.helpers import Api, start_server, test_config
from tests.ui.client import Dashboard
from tests.ui.conftest import PASSWORD
from veggiecron.app import Server
from veggiecron.ui.base import CSP, SESSION_COOKIE, cookie_secret


async def test_the_login_page_is_a_labelled_form(anonymous: Dashboard) -> None:
    page = await anonymous.get("/ui/login")
    assert page.status == 200
    assert '<label for="username">Username</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert ">Log in</button>" in page.text
    assert 'name="_xsrf"' in page.text


async def test_pages_send_a_strict_content_security_policy_and_no_inline_code(anonymous: Dashboard) -> None:
    page = await anonymous.get("/ui/login")
    policy = page.headers["Content-Security-Policy"]
    assert policy == CSP
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    # Scripts only from files, no style attributes or elements, nothing from another origin.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page.text))
    assert " style=" not in page.text and "<style" not in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)


async def test_a_stranger_is_sent_to_the_login_page_and_back(anonymous: Dashboard, api: Api) -> None:
    await api.register_and_login("alice", PASSWORD)
    page = await anonymous.get("/ui/jobs/x")
    assert page.status == 303 and page.location == "/ui/login?next=%2Fui%2Fjobs%2Fx"
    await anonymous.get("/ui/login", next="/ui/jobs/x")
    page = await anonymous.post("/ui/login", {"username": "alice", "password": PASSWORD, "next": "/ui/jobs/x"})
    assert page.status == 303 and page.location == "/ui/jobs/x"
    # Never to another site.
    page = await anonymous.post("/ui/login", {"username": "alice", "password": PASSWORD, "next": "//evil.example/"})
    assert page.location == "/ui/"


async def test_a_wrong_password_is_refused_in_the_form(anonymous: Dashboard, api: Api) -> None:
    await api.register_and_login("alice", PASSWORD)
    await anonymous.get("/ui/login")
    page = await anonymous.post("/ui/login", {"username": "alice", "password": "wrong"})
    assert page.status == 401
    assert "Wrong username or password." in page.text and 'value="alice"' in page.text
    assert anonymous.cookie(SESSION_COOKIE) is None


async def test_the_session_cookie_is_signed_httponly_samesite_and_holds_a_revocable_token(
    base_url: str, api: Api, server: Server
) -> None:
    await api.register_and_login("alice", PASSWORD)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(base_url + "/ui/login") as response:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', await response.text()).group(1)  # type: ignore[union-attr]
            xsrf_cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in xsrf_cookie and "SameSite=Lax" in xsrf_cookie and "Path=/ui" in xsrf_cookie
        form = {"username": "alice", "password": PASSWORD, "_xsrf": xsrf}
        async with session.post(base_url + "/ui/login", data=form, allow_redirects=False) as response:
            header = next(h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE + "="))
        assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/ui" in header
        assert "Secure" not in header  # plain http here; see the next test
        signed = header.split(";")[0].split("=", 1)[1].strip('"')
        secret = cookie_secret(server.config)
        assert secret != server.config.app.key
        token = decode_signed_value(secret, SESSION_COOKIE, signed)
        assert token is not None
        # The session is an API token of its own: listed, and usable only while the session lasts.
        status, body = await api.call("GET", "/tokens", token=token.decode())
        assert status == 200 and any(t["current"] for t in body["data"]["tokens"])
        async with session.get(base_url + "/ui/") as response:
            page = await response.text()
            assert response.status == 200
            assert token.decode() not in page  # never in the page
        async with session.post(base_url + "/ui/logout", data={"_xsrf": xsrf}, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/ui/login"
        status, _ = await api.call("GET", "/tokens", token=token.decode())
        assert status == 401  # logging out revoked it
    # Replaying the old cookie gets the login page, not the jobs.
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(
            base_url + "/ui/", headers={"Cookie": f"{SESSION_COOKIE}={signed}"}, allow_redirects=False
        ) as response:
            assert response.status == 303 and response.headers["Location"].startswith("/ui/login")


async def test_an_unsigned_or_forged_cookie_is_no_session(base_url: str, api: Api) -> None:
    token = await api.register_and_login("alice", PASSWORD)
    async with aiohttp.ClientSession() as session:
        for value in (token, "2|1:0|10:1700000000|10:vc_session|8:dGVzdA==|" + "0" * 64):
            async with session.get(
                base_url + "/ui/", headers={"Cookie": f"{SESSION_COOKIE}={value}"}, allow_redirects=False
            ) as response:
                assert response.status == 303


async def test_posts_without_the_xsrf_token_are_refused_but_api_clients_are_not(alice: Dashboard, api: Api) -> None:
    page = await alice.post(
        "/ui/new", {"name": "x", "url": "http://127.0.0.1:9/", "schedule": "every 1 hours"}, xsrf=False
    )
    assert page.status == 403 and "expired" in page.text and "Traceback" not in page.text
    page = await alice.post("/ui/login", {"username": "alice", "password": PASSWORD}, xsrf=False)
    assert page.status == 403
    status, body = await api.call("GET", "/job")
    assert body["data"]["count"] == 0  # nothing was created
    status, body = await api.call(
        "POST", "/job", json={"name": "api", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every 1 hours"}
    )
    assert status == 201, body  # the API, authenticated by its token header, needs no XSRF token


async def test_cookies_are_secure_behind_a_proxy_that_ends_tls(db_file: str) -> None:
    config = test_config(db_file)
    server = await start_server(replace(config, seed=replace(config.seed, use_ssl=True)))
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as session:
            await Api(base, session).register_and_login("alice", PASSWORD)
            # A client over plain http would not send a Secure cookie back: this one sends it by hand.
            async with session.get(base + "/ui/login") as response:
                assert "Secure" in response.headers["Set-Cookie"]
                xsrf = re.search(r'name="_xsrf" value="([^"]+)"', await response.text()).group(1)  # type: ignore[union-attr]
            form = {"username": "alice", "password": PASSWORD, "_xsrf": xsrf}
            async with session.post(
                base + "/ui/login", data=form, headers={"Cookie": f"_xsrf={xsrf}"}, allow_redirects=False
            ) as response:
                assert response.status == 303
                cookies = [h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE)]
        assert cookies and all("Secure" in h for h in cookies)
    finally:
        await server.stop()


@pytest.mark.parametrize("failures", [3])
async def test_login_throttling_applies(db_file: str, failures: int) -> None:
    config = test_config(db_file)
    config = replace(config, security=replace(config.security, login_failures_per_user=failures))
    server = await start_server(config)
    dashboard = Dashboard(f"http://127.0.0.1:{server.port}")
    try:
        await dashboard.get("/ui/login")
        for _ in range(failures):
            page = await dashboard.post("/ui/login", {"username": "alice", "password": "wrong"})
            assert page.status == 401
        page = await dashboard.post("/ui/login", {"username": "alice", "password": "wrong"})
        assert page.status == 429 and "Too many failed logins" in page.text and page.headers["Retry-After"]
    finally:
        await dashboard.close()
        await server.stop()
