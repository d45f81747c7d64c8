"""Passwords are cut at bcrypt's 72 bytes in one place, on every path that hashes or checks one.

Register, /login, the Seed API's token-auth and HTTP Basic: any Unicode password gets an answer,
never a 5xx, and a password that registered logs in on every path.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Api
from tests.threaded import ThreadedServer
from veggiecron.auth import BCRYPT_BYTES, password_key


def basic(username: str, password: str) -> dict[str, str]:
    """HTTP Basic with the credentials as UTF-8 (requests would insist on Latin-1)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_password_key_cuts_at_72_bytes_of_utf8() -> None:
    assert password_key("a" * 100) == b"a" * BCRYPT_BYTES
    assert password_key("é" * 72) == "é".encode() * 36  # 144 bytes cut to 72
    assert password_key("\U0001f600" * 20) == "\U0001f600".encode() * 18
    assert password_key("short") == b"short"


async def test_72_non_ascii_characters_register_and_log_in_everywhere(api: Api) -> None:
    """144 bytes: refused at registration (and a 500 at login) before passwords were cut by bytes."""
    password = "é" * 72
    status, body = await api.call("POST", "/register", json={"username": "accent", "password": password})
    assert status == 201, body
    status, body = await api.call("POST", "/login", json={"username": "accent", "password": password})
    assert status == 200, body
    status, body = await api.call("POST", "/api/token-auth/", json={"username": "accent", "password": password})
    assert status == 200, body
    status, body = await api.call("GET", "/api/v1/schedule/", headers=basic("accent", password))
    assert status == 200, body
    status, body = await api.call("POST", "/login", json={"username": "accent", "password": "é" * 35})
    assert status == 401, body


async def test_a_password_longer_than_72_bytes_at_login_is_cut_not_a_500(api: Api) -> None:
    """A user registered with 72 bytes; a longer password with those 72 bytes first logs in, as bcrypt reads them."""
    await api.register_and_login("cut", "é" * 36)
    for path, headers, expected in (
        ("/login", None, 200),
        ("/api/token-auth/", None, 200),
    ):
        status, body = await api.call("POST", path, json={"username": "cut", "password": "é" * 72}, headers=headers)
        assert status == expected, (path, body)
    status, _ = await api.call("GET", "/api/v1/", headers=basic("cut", "é" * 72 + "x" * 500))
    assert status == 200
    status, body = await api.call("POST", "/login", json={"username": "cut", "password": "ü" * 72})
    assert status == 401, body


async def test_register_refuses_more_than_72_characters_and_nul(api: Api) -> None:
    for password in ("a" * 73, "a\x00b", ""):
        status, body = await api.call("POST", "/register", json={"username": "refused", "password": password})
        assert status == 400 and body["data"]["field"] == "password", (password, body)


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    import requests

    with ThreadedServer(str(tmp_path_factory.mktemp("passwords") / "passwords.db")) as running:
        with requests.Session() as running.session:
            yield running


NAMES = (f"user{n}" for n in itertools.count())
NON_ASCII = st.characters(min_codepoint=0x80, exclude_categories=["Cs"])  # requests cannot send a lone surrogate


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(password=st.text(max_size=120) | st.text(NON_ASCII, min_size=20, max_size=80))
def test_any_unicode_password_gets_an_answer_on_every_path(threaded: ThreadedServer, password: str) -> None:
    """Never a 5xx; a password that registered works on /login, token-auth and HTTP Basic."""
    session, base = threaded.session, threaded.base_url
    name = next(NAMES)
    credentials = {"username": name, "password": password}

    def status(method: str, path: str, **kwargs: Any) -> int:
        response = session.request(method, base + path, timeout=30, **kwargs)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        return int(response.status_code)

    registered = status("POST", "/register", json=credentials)
    assert registered in (201, 400)
    assert status("POST", "/register", data=credentials) in (400, 409)  # the same as a form: never a 500
    login = status("POST", "/login", json=credentials)
    token_auth = status("POST", "/api/token-auth/", json=credentials)
    basic_auth = status("GET", "/api/v1/", headers=basic(name, password))
    if registered == 201:
        assert (login, token_auth, basic_auth) == (200, 200, 200)
    else:
        assert (login, token_auth, basic_auth) == (401, 400, 401)
