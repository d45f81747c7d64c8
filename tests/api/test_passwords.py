"""Passwords count whole (bcrypt over an HMAC-SHA256 pre-hash), on every path that hashes or checks one.

Register, /login, the Seed API's token-auth and HTTP Basic: any Unicode password gets an answer,
never a 5xx, and a password that registered logs in on every path. Hashes written as plain bcrypt
(before the pre-hash) still log in, and are rewritten at the first successful login.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from typing import Any

import aiohttp
import bcrypt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Api, start_server, test_config
from tests.threaded import ThreadedServer
from veggiecron.app import Server
from veggiecron.passwords import BCRYPT_BYTES, SCHEME_PREFIX, hash_password, verify_password

# passlib's documented example of bcrypt_sha256 (version 2) for the password "password".
PASSLIB_EXAMPLE = "$bcrypt-sha256$v=2,t=2b,r=12$n79VH.0Q2TMWmt3Oqt9uku$Kq4Noyk3094Y2QlB8NdRT8SvGiI4ft2"
LONG = "a" * BCRYPT_BYTES  # the 72 bytes plain bcrypt stops at


def basic(username: str, password: str) -> dict[str, str]:
    """HTTP Basic with the credentials as UTF-8 (requests would insist on Latin-1)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def logs_in_everywhere(api: Api, username: str, password: str) -> tuple[int, int, int]:
    """The statuses of /login, the Seed API's token-auth and HTTP Basic with these credentials."""
    credentials = {"username": username, "password": password}
    login, _ = await api.call("POST", "/login", json=credentials)
    token_auth, _ = await api.call("POST", "/api/token-auth/", json=credentials)
    basic_auth, _ = await api.call("GET", "/api/v1/", headers=basic(username, password))
    return login, token_auth, basic_auth


OK, REFUSED = (200, 200, 200), (401, 400, 401)  # token-auth answers wrong credentials as DRF does


def test_hashes_are_passlibs_bcrypt_sha256_v2() -> None:
    """The format and the pre-hash are passlib's: its published example verifies, and only for its password."""
    assert verify_password("password", PASSLIB_EXAMPLE)
    assert not verify_password("passwore", PASSLIB_EXAMPLE)
    hashed = hash_password("x" * 1000, 4)
    assert hashed.startswith(SCHEME_PREFIX + "v=2,t=2b,r=4$")
    assert verify_password("x" * 1000, hashed) and not verify_password("x" * 999 + "y", hashed)
    # Plain bcrypt hashes of the first 72 bytes, as stored before, still verify.
    legacy = bcrypt.hashpw(("é" * 36).encode(), bcrypt.gensalt(4)).decode()
    assert verify_password("é" * 36, legacy) and verify_password("é" * 40, legacy)
    assert not verify_password("é" * 35, legacy)
    assert not verify_password("x", "!") and not verify_password("x", "$bcrypt-sha256$v=2,t=2b,r=4$short$x")


async def test_a_1024_byte_password_works_and_1025_characters_are_a_400(api: Api) -> None:
    password = "p" * 1024
    status, body = await api.call("POST", "/register", json={"username": "long", "password": password})
    assert status == 201, body
    assert await logs_in_everywhere(api, "long", password) == OK
    assert await logs_in_everywhere(api, "long", password[:-1]) == REFUSED
    status, body = await api.call("POST", "/register", data={"username": "longer", "password": password + "p"})
    assert status == 400 and body["data"]["field"] == "password", body
    assert "1024 characters" in body["description"]
    assert await logs_in_everywhere(api, "longer", password + "p") == REFUSED  # nothing was registered


async def test_passwords_sharing_their_first_72_bytes_are_different(api: Api) -> None:
    status, body = await api.call("POST", "/register", json={"username": "first", "password": LONG + "-one"})
    assert status == 201, body
    assert await logs_in_everywhere(api, "first", LONG + "-two") == REFUSED
    assert await logs_in_everywhere(api, "first", LONG) == REFUSED
    assert await logs_in_everywhere(api, "first", LONG + "-one") == OK
    # Non-ASCII: 144 bytes, the first 72 of them shared.
    status, body = await api.call("POST", "/register", json={"username": "accent", "password": "é" * 72})
    assert status == 201, body
    assert await logs_in_everywhere(api, "accent", "é" * 36 + "ü" * 36) == REFUSED
    assert await logs_in_everywhere(api, "accent", "é" * 72) == OK


async def stored_hash(server: Server, username: str) -> str:
    found = await server.store.user_credentials(username)
    assert found is not None
    return found[1]


async def check_legacy_hash_upgrade(server: Server, api: Api, how: str) -> None:
    """A plain bcrypt hash put in the store logs in by `how`, and is rewritten in the new scheme by that login."""
    password = "é" * 36 + "-and-more-after-the-72nd-byte"
    legacy = bcrypt.hashpw(password.encode()[:BCRYPT_BYTES], bcrypt.gensalt(4)).decode()
    await server.store.create_user("veteran", legacy, 1_800_000_000.0)
    if how == "wrong password":  # a failed login leaves the hash as it is
        assert await logs_in_everywhere(api, "veteran", "é" * 35) == REFUSED
        assert await stored_hash(server, "veteran") == legacy
        return
    if how == "basic":
        status, body = await api.call("GET", "/api/v1/", headers=basic("veteran", password))
    else:
        path = "/login" if how == "login" else "/api/token-auth/"
        status, body = await api.call("POST", path, json={"username": "veteran", "password": password})
    assert status == 200, body
    upgraded = await stored_hash(server, "veteran")
    assert upgraded.startswith(SCHEME_PREFIX + "v=2,t=2b,r=4$"), upgraded
    assert await logs_in_everywhere(api, "veteran", password) == OK
    # From now on every byte counts: the legacy hash took this one too (the same first 72 bytes).
    assert await logs_in_everywhere(api, "veteran", "é" * 36 + "-something-else") == REFUSED
    assert await stored_hash(server, "veteran") == upgraded


@pytest.mark.parametrize("how", ["login", "token-auth", "basic", "wrong password"])
async def test_a_plain_bcrypt_hash_logs_in_and_is_upgraded(server: Server, api: Api, how: str) -> None:
    await check_legacy_hash_upgrade(server, api, how)


async def test_a_plain_bcrypt_hash_is_upgraded_on_postgresql(postgres_url: str, session: aiohttp.ClientSession) -> None:
    server = await start_server(test_config("unused.db", database=postgres_url))
    try:
        await check_legacy_hash_upgrade(server, Api(f"http://127.0.0.1:{server.port}", session), "login")
    finally:
        await server.stop()


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
@given(password=st.text(max_size=120) | st.text(NON_ASCII, min_size=20, max_size=300))
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
