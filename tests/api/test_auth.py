"""Users and tokens over the real API: /register, /login, /logout and the token on /job."""

from __future__ import annotations

import asyncio
import sqlite3
import string
import time
from contextlib import closing
from typing import Any

import aiohttp
import pytest

from tests.helpers import CLOSE, Api, Sink, assert_error
from veggiecron.app import Server
from veggiecron.passwords import verify_password

PASSWORD = "s3cret-pass"
URLSAFE = set(string.ascii_letters + string.digits + "-_")


async def login(api: Api, username: str = "alice", password: str = PASSWORD) -> str:
    status, body = await api.call("POST", "/login", json={"username": username, "password": password})
    assert status == 200, body
    token = body["data"]["token"]
    assert isinstance(token, str)
    return token


# register


async def test_register_with_json_answers_the_user_without_the_password(api: Api) -> None:
    before = time.time()
    async with api.session.post(api.base + "/register", json={"username": "alice", "password": PASSWORD}) as response:
        status, raw = response.status, await response.text()
        body = await response.json()
    assert status == 201, body
    assert body["id"] == "success"
    assert isinstance(body["description"], str) and "alice" in body["description"]
    data = body["data"]
    assert data["username"] == "alice"
    assert before - 1 <= data["date_created"] <= time.time() + 1
    assert data["date_updated"] == data["date_created"]
    assert not any("password" in key for key in data)
    assert PASSWORD not in raw


async def test_register_with_a_form_body(api: Api) -> None:
    status, body = await api.call("POST", "/register", data={"username": "bob", "password": PASSWORD})
    assert status == 201, body
    assert body["id"] == "success"
    assert body["data"]["username"] == "bob"
    assert PASSWORD not in str(body)
    # The form-registered account works.
    status, body = await api.call("POST", "/login", data={"username": "bob", "password": PASSWORD})
    assert status == 200, body


async def test_a_json_body_curl_labels_as_a_form_is_read_as_json(api: Api) -> None:
    # What `curl -d '{"username": ...}'` sends: JSON under the form content type.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    credentials = f'{{"username": "carol", "password": "{PASSWORD}"}}'.encode()
    async with api.session.post(api.base + "/register", data=credentials, headers=form) as response:
        assert response.status == 201, await response.text()
    async with api.session.post(api.base + "/login", data=b" " + credentials, headers=form) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["data"]["token"]
    # A body that is a form still reads as one, and bad JSON under that label is a 400.
    status, _ = await api.call("POST", "/login", data={"username": "carol", "password": PASSWORD})
    assert status == 200
    async with api.session.post(api.base + "/login", data=b'{"username": ', headers=form) as response:
        assert response.status == 400
        assert (await response.json())["data"]["field"] == "body"


async def test_register_a_taken_username_is_409(api: Api) -> None:
    status, _ = await api.call("POST", "/register", json={"username": "alice", "password": PASSWORD})
    assert status == 201
    status, body = await api.call("POST", "/register", json={"username": "alice", "password": "other-pass"})
    assert_error(status, body, 409)
    status, body = await api.call("POST", "/register", data={"username": "alice", "password": "other-pass"})
    assert_error(status, body, 409)
    # The first password still holds; the second registration changed nothing.
    await login(api)
    status, body = await api.call("POST", "/login", json={"username": "alice", "password": "other-pass"})
    assert_error(status, body, 401)


@pytest.mark.parametrize(
    "username",
    ["bad name", "a-b", "a_b", "x" * 65, "", "ünï", 123, None, "alice\n"],
    ids=["space", "dash", "underscore", "65-chars", "empty", "non-ascii", "number", "null", "trailing-newline"],
)
async def test_register_rejects_a_bad_username(api: Api, username: Any) -> None:
    status, body = await api.call("POST", "/register", json={"username": username, "password": PASSWORD})
    assert_error(status, body, 400, "username")
    if isinstance(username, str) and username:
        status, body = await api.call("POST", "/login", json={"username": username, "password": PASSWORD})
        assert_error(status, body, 401)


async def test_register_a_64_character_username_is_fine(api: Api) -> None:
    name = "a1" * 32
    status, body = await api.call("POST", "/register", json={"username": name, "password": PASSWORD})
    assert status == 201, body
    assert body["data"]["username"] == name


async def test_register_a_missing_username_is_400(api: Api) -> None:
    status, body = await api.call("POST", "/register", json={"password": PASSWORD})
    assert_error(status, body, 400, "username")


@pytest.mark.parametrize(
    "fields",
    [{"password": ""}, {}, {"password": None}, {"password": 12345678}],
    ids=["empty", "missing", "null", "number"],
)
async def test_register_rejects_a_bad_password(api: Api, fields: dict[str, Any]) -> None:
    status, body = await api.call("POST", "/register", json={"username": "alice", **fields})
    assert_error(status, body, 400, "password")
    # Nothing was stored: the name is still free.
    status, body = await api.call("POST", "/register", json={"username": "alice", "password": PASSWORD})
    assert status == 201, body


async def test_register_an_empty_form_password_is_400(api: Api) -> None:
    status, body = await api.call("POST", "/register", data={"username": "alice", "password": ""})
    assert_error(status, body, 400, "password")


async def test_register_with_invalid_json_is_400(api: Api) -> None:
    status, body = await api.call(
        "POST", "/register", data=b'{"username": "alice",', headers={"Content-Type": "application/json"}
    )
    assert_error(status, body, 400, "body")


# login


async def test_login_with_json_answers_a_long_random_token(user_api: Api) -> None:
    before = time.time()
    status, body = await user_api.call("POST", "/login", json={"username": "alice", "password": PASSWORD})
    assert status == 200, body
    assert body["id"] == "success"
    data = body["data"]
    token = data["token"]
    # token_urlsafe(32): 256 bits, 43 characters of the URL-safe alphabet.
    assert len(token) >= 43
    assert set(token) <= URLSAFE
    assert data["username"] == "alice"
    assert data["expires_at"] > before + 86400


async def test_login_with_a_form_body(user_api: Api) -> None:
    status, body = await user_api.call("POST", "/login", data={"username": "alice", "password": PASSWORD})
    assert status == 200, body
    token = body["data"]["token"]
    assert len(token) >= 43
    status, body = await user_api.call("GET", "/job", token=token)
    assert status == 200, body


async def test_two_logins_give_different_tokens_that_both_work(user_api: Api) -> None:
    first, second = await login(user_api), await login(user_api)
    assert first != second
    assert first != user_api.token and second != user_api.token
    for token in (first, second):
        status, body = await user_api.call("GET", "/job", token=token)
        assert status == 200, body


async def test_unknown_user_and_wrong_password_fail_alike(user_api: Api) -> None:
    status_unknown, unknown = await user_api.call("POST", "/login", json={"username": "mallory", "password": PASSWORD})
    status_wrong, wrong = await user_api.call("POST", "/login", json={"username": "alice", "password": "wrong-pass"})
    assert_error(status_unknown, unknown, 401)
    assert_error(status_wrong, wrong, 401)
    assert unknown == wrong
    assert "token" not in unknown["data"]


@pytest.mark.parametrize(
    "fields",
    [{}, {"username": "alice"}, {"password": PASSWORD}, {"username": "alice", "password": ""}],
    ids=["nothing", "no-password", "no-username", "empty-password"],
)
async def test_login_with_missing_credentials_is_401(user_api: Api, fields: dict[str, Any]) -> None:
    status, body = await user_api.call("POST", "/login", json=fields)
    assert_error(status, body, 401)


# the token on /job


@pytest.mark.parametrize("scheme", ["X-Auth-Token", "Token", "Bearer", "bearer"])
async def test_the_token_is_accepted_in_every_documented_header(user_api: Api, scheme: str) -> None:
    token = user_api.token
    assert token is not None
    headers = {"X-Auth-Token": token} if scheme == "X-Auth-Token" else {"Authorization": f"{scheme} {token}"}
    async with user_api.session.get(user_api.base + "/job", headers=headers) as response:
        status, body = response.status, await response.json()
    assert status == 200, body
    assert body["data"]["count"] == 0


JOB_ENDPOINTS = [
    ("GET", "/job", None),
    ("GET", "/job?name=guarded", None),
    ("POST", "/job", {"name": "new", "type": "http", "data": {"url": "http://127.0.0.1:1/"}, "schedule": "every hour"}),
    ("GET", "/job/guarded", None),
    ("PUT", "/job/guarded", {"enabled": False}),
    ("PATCH", "/job/guarded", {"enabled": False}),
    ("DELETE", "/job/guarded", None),
    ("POST", "/job/guarded/run", None),
    ("GET", "/job/guarded/runs", None),
]
BAD_CREDENTIALS = {
    "missing": {},
    "wrong-x-auth-token": {"X-Auth-Token": "not-a-real-token-" + "x" * 30},
    "wrong-bearer": {"Authorization": "Bearer not-a-real-token"},
    "basic-scheme": {"Authorization": "Basic YWxpY2U6czNjcmV0LXBhc3M="},
    "empty-bearer": {"Authorization": "Bearer "},
    "oversized": {"X-Auth-Token": "y" * 5000},
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
async def test_every_job_endpoint_needs_a_valid_token(
    user_api: Api, sink: Sink, session: aiohttp.ClientSession, credentials: str
) -> None:
    """Each endpoint answers 401 and does nothing: the job is still there, unchanged and not run."""
    job = await user_api.create_job("guarded", sink.url + "/guarded", schedule="every 1 hours")
    for method, path, payload in JOB_ENDPOINTS:
        headers = {**BAD_CREDENTIALS[credentials], **CLOSE}
        async with session.request(method, user_api.base + path, json=payload, headers=headers) as response:
            status, body = response.status, await response.json(content_type=None)
            assert response.headers.get("WWW-Authenticate", "").startswith("Token"), (method, path)
        assert_error(status, body, 401)
        assert "token" in body["description"].lower(), (method, path, body)
    status, body = await user_api.call("GET", "/job")
    assert status == 200
    assert [j["name"] for j in body["data"]["jobs"]] == ["guarded"]
    status, body = await user_api.call("GET", "/job/guarded")
    assert status == 200
    assert body["data"]["enabled"] is True and body["data"]["next_run"] == job["next_run"]
    assert body["data"]["runs"] == []
    assert sink.hits == []


async def test_logout_revokes_only_the_token_it_is_sent_with(user_api: Api) -> None:
    first = user_api.token
    second = await login(user_api)
    status, body = await user_api.call("POST", "/logout", token=first)
    assert status == 200, body
    assert body["id"] == "success"
    status, body = await user_api.call("GET", "/job", token=first, headers=CLOSE)
    assert_error(status, body, 401)
    status, body = await user_api.call("GET", "/job", token=second)
    assert status == 200, body
    # The revoked token cannot log out again, and logging in again gives a working token.
    status, body = await user_api.call("POST", "/logout", token=first, headers=CLOSE)
    assert_error(status, body, 401)
    third = await login(user_api)
    status, body = await user_api.call("GET", "/job", token=third)
    assert status == 200, body


async def test_logout_with_the_bearer_header_revokes_that_token(user_api: Api) -> None:
    token = user_api.token
    anonymous = Api(user_api.base, user_api.session)
    status, body = await anonymous.call("POST", "/logout", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    status, body = await user_api.call("GET", "/job", token=token, headers=CLOSE)
    assert_error(status, body, 401)


async def test_logout_without_a_token_is_401(api: Api) -> None:
    status, body = await api.call("POST", "/logout", headers=CLOSE)
    assert_error(status, body, 401)


async def test_a_token_does_not_reach_another_users_jobs(api: Api, session: aiohttp.ClientSession, sink: Sink) -> None:
    alice = Api(api.base, session)
    bob = Api(api.base, session)
    await alice.register_and_login("alice")
    await bob.register_and_login("bob")
    await alice.create_job("mine", sink.url + "/mine", schedule="every 1 hours")
    status, body = await bob.call("GET", "/job")
    assert status == 200
    assert body["data"]["count"] == 0 and body["data"]["jobs"] == []


# storage


async def test_tokens_and_passwords_are_stored_hashed(user_api: Api, server: Server) -> None:
    token = user_api.token
    assert token is not None
    with closing(sqlite3.connect(server.config.db_file)) as db:
        rows = db.execute("SELECT * FROM tokens").fetchall()
        columns = [c[0] for c in db.execute("SELECT * FROM tokens").description]
        users = db.execute("SELECT username, password_hash FROM users").fetchall()
    assert len(rows) == 1
    assert not any(token in str(value) for row in rows for value in row)
    stored_hash = rows[0][columns.index("token_hash")]
    assert stored_hash != token
    assert len(users) == 1
    username, password_hash = users[0]
    assert username == "alice"
    assert password_hash.startswith("$bcrypt-sha256$v=2,t=2b,r=4$")
    assert PASSWORD not in password_hash
    assert verify_password(PASSWORD, password_hash) and not verify_password(PASSWORD + "x", password_hash)


async def test_logout_deletes_the_stored_token(user_api: Api, server: Server) -> None:
    second = await login(user_api)
    status, _ = await user_api.call("POST", "/logout")
    assert status == 200
    with closing(sqlite3.connect(server.config.db_file)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM tokens").fetchone()
    assert count == 1
    status, _ = await user_api.call("GET", "/job", token=second)
    assert status == 200


# the connection after an early refusal


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def assert_connection_survives_or_says_close(server: Server, request: bytes, expected_status: int) -> None:
    """`request` on a raw connection answers `expected_status`, and says `Connection: close` or stays usable."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        await writer.drain()
        status, headers, _ = await asyncio.wait_for(_read_response(reader), 5)
        assert status == expected_status
        if headers.get("connection", "").lower() != "close":
            writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            await writer.drain()
            status, _, _ = await asyncio.wait_for(_read_response(reader), 5)
            assert status == 200
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def test_early_rejection_does_not_break_the_connection(server: Server) -> None:
    """After a 401 to a POST with a body, the connection either stays usable or the 401 says `Connection: close`.

    Tornado closes the connection when a handler finishes before reading the body; unless the response
    says `Connection: close`, keep-alive clients (aiohttp, requests) reuse the dead connection and their
    next POST fails with "Server disconnected".
    """
    payload = b'{"name": "x", "type": "http", "data": {"url": "http://127.0.0.1:1/"}, "schedule": "every hour"}'
    request = (
        b"POST /job HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"X-Auth-Token: wrong\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
    )
    await assert_connection_survives_or_says_close(server, request, 401)


async def test_a_keep_alive_client_can_post_again_after_a_401(api: Api) -> None:
    """The client-visible side of the test above, with aiohttp's default pooled session and an empty body."""
    status, body = await api.call("POST", "/register", json={"username": "alice", "password": PASSWORD})
    assert status == 201
    status, body = await api.call("POST", "/logout", token="wrong")
    assert_error(status, body, 401)
    status, body = await api.call("POST", "/login", json={"username": "alice", "password": PASSWORD})
    assert status == 200, body


async def test_an_unknown_method_does_not_break_the_connection(server: Server) -> None:
    """A 405 for a method tornado does not know is answered before prepare(); the connection must survive or say so."""
    request = b"PROPFIND /register HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
    await assert_connection_survives_or_says_close(server, request, 405)
