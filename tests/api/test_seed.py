"""The Seed Scheduler API (/api/v1/, /api/token-auth/, /api/health/, /api/metrics/, /metrics) over real HTTP.

Every test talks to a real server on a free port and, where something is delivered, to a real
local sink. Errors are expected in Django REST Framework's shapes: {"detail": "..."} or
{"field": ["message", ...]}.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon import create_admin
from tests.helpers import Api, Reply, Sink, request, sample, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.store.sqlite import SqliteStore

SCHEDULE_FIELDS = {
    "url",
    "id",
    "frequency",
    "triggered",
    "cron_definition",
    "interval_definition",
    "endpoint",
    "payload",
    "auth_token",
    "next_send_at",
    "enabled",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
}
FAILED_TASK_FIELDS = {"url", "id", "schedule", "task_id", "initiated_at", "reason"}
WEBHOOK_FIELDS = {"id", "created", "updated", "event", "target", "user"}
USER_FIELDS = {"url", "username", "email", "groups"}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
NOT_FOUND = {"detail": "Not found."}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
FAR_FUTURE_CRON = "0 0 1 1 *"  # once a year: the test decides when the schedule runs
ABSENT = object()  # a field left out of a request body
QUIET = 1.5  # seconds of silence that prove a "1 seconds" schedule no longer fires


class SeedClient:
    """A small client for the Seed Scheduler API: Token or Basic auth, absolute or relative URLs."""

    def __init__(self, base: str, session: aiohttp.ClientSession, token: str | None = None) -> None:
        self.base = base
        self.session = session
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> Reply:
        url = path if path.startswith("http") else self.base + path
        merged: dict[str, str] = {}
        token = token or self.token
        if basic is not None:
            merged["Authorization"] = aiohttp.encode_basic_auth(*basic)
        elif token and not anonymous:
            merged["Authorization"] = f"Token {token}"
        merged.update(headers or {})
        return await request(self.session, method, url, json=json, data=data, headers=merged)

    async def create_schedule(self, **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/api/v1/schedule/", json=fields)
        assert reply.status == 201, reply.body
        body: dict[str, Any] = reply.body
        return body

    async def get_ok(self, path: str) -> Any:
        reply = await self.call("GET", path)
        assert reply.status == 200, reply.body
        return reply.body

    async def count(self, path: str) -> int:
        body = await self.get_ok(path)
        count: int = body["count"]
        return count


def parse_time(text: str) -> float:
    """An ISO 8601 time as the API writes it: in UTC, ending in Z."""
    assert isinstance(text, str) and text.endswith("Z"), text
    parsed = datetime.fromisoformat(text[:-1] + "+00:00")
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return parsed.timestamp()


def assert_field_error(reply: Reply, field: str) -> None:
    """400 with DRF's field shape: {field: ["message", ...]} and nothing else."""
    assert reply.status == 400, reply.body
    assert isinstance(reply.body, dict) and set(reply.body) == {field}, reply.body
    messages = reply.body[field]
    assert isinstance(messages, list) and messages, reply.body
    assert all(isinstance(m, str) and m for m in messages), reply.body


def header(hit_headers: dict[str, str], name: str) -> str | None:
    for key, value in hit_headers.items():
        if key.lower() == name.lower():
            return value
    return None


def job_of(schedule: dict[str, Any]) -> str:
    return f"seed-{schedule['id']}"


# fixtures


@pytest.fixture
async def admin_token(server: Server) -> str:
    assert server.ctx is not None
    user = await server.ctx.accounts.ensure_admin("ops")
    token, _ = await server.ctx.accounts.issue_token(user)
    return token


@pytest.fixture
def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def admin(base: str, session: aiohttp.ClientSession, admin_token: str) -> SeedClient:
    return SeedClient(base, session, admin_token)


async def service_client(admin: SeedClient, email: str) -> SeedClient:
    """What a Seed Stack service holds: a token an admin made for its email address."""
    reply = await admin.call("POST", "/api/v1/user/token/", json={"email": email})
    assert reply.status == 201, reply.body
    return SeedClient(admin.base, admin.session, reply.body["token"])


@pytest.fixture
async def client(admin: SeedClient) -> SeedClient:
    return await service_client(admin, "service@example.org")


@pytest.fixture
async def other(admin: SeedClient) -> SeedClient:
    return await service_client(admin, "intruder@example.org")


def native(client: SeedClient) -> Api:
    """The native API with the same token: tokens are shared between the two APIs."""
    api = Api(client.base, client.session)
    api.token = client.token
    return api


async def native_runs(client: SeedClient, schedule: dict[str, Any]) -> dict[str, Any]:
    status, body = await native(client).call("GET", f"/job/{job_of(schedule)}/runs")
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


async def run_now(client: SeedClient, schedule: dict[str, Any]) -> None:
    status, body = await native(client).call("POST", f"/job/{job_of(schedule)}/run")
    assert status == 202, body


# authentication


PROTECTED = [
    ("GET", "/api/v1/"),
    ("GET", "/api/v1/user/"),
    ("GET", "/api/v1/user/1/"),
    ("POST", "/api/v1/user/token/"),
    ("GET", "/api/v1/group/"),
    ("GET", "/api/v1/schedule/"),
    ("POST", "/api/v1/schedule/"),
    ("GET", "/api/v1/schedule/5b6f1c2e-0000-4000-8000-000000000001/"),  # fixed: test ids must not vary
    ("GET", "/api/v1/failed-tasks/"),
    ("POST", "/api/v1/failed-tasks/"),
    ("GET", "/api/v1/webhook/"),
    ("GET", "/api/health/"),
    ("GET", "/api/metrics/"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_no_credentials_is_401_with_a_challenge(
    base: str, session: aiohttp.ClientSession, method: str, path: str
) -> None:
    reply = await SeedClient(base, session).call(method, path, json={} if method == "POST" else None)
    assert reply.status == 401, reply.body
    assert reply.body == NOT_PROVIDED
    assert reply.headers.get("WWW-Authenticate")


async def test_a_bad_token_is_401_invalid_token(base: str, session: aiohttp.ClientSession) -> None:
    reply = await SeedClient(base, session, "not-a-real-token").call("GET", "/api/v1/schedule/")
    assert reply.status == 401
    assert reply.body == {"detail": "Invalid token."}
    assert reply.headers.get("WWW-Authenticate")


async def test_http_basic_auth(base: str, session: aiohttp.ClientSession, api: Api, admin: SeedClient) -> None:
    await api.register_and_login("alice", "s3cret-pass")
    await service_client(admin, "svc@example.org")
    anon = SeedClient(base, session)
    reply = await anon.call("GET", "/api/v1/schedule/", basic=("alice", "s3cret-pass"))
    assert reply.status == 200, reply.body
    assert reply.body["count"] == 0
    reply = await anon.call("GET", "/api/v1/user/", basic=("alice", "s3cret-pass"))
    assert [u["username"] for u in reply.body["results"]] == ["alice"]

    for bad in (("alice", "wrong-pass"), ("nobody", "s3cret-pass"), ("svc@example.org", "!"), ("alice", "")):
        reply = await anon.call("GET", "/api/v1/schedule/", basic=bad)
        assert reply.status == 401, reply.body
        assert set(reply.body) == {"detail"} and reply.body["detail"]
        assert reply.headers.get("WWW-Authenticate")
    reply = await anon.call("GET", "/api/v1/schedule/", headers={"Authorization": "Basic !!!not-base64"})
    assert reply.status == 401 and set(reply.body) == {"detail"}, reply.body


async def test_a_native_login_token_works_and_its_schedules_are_native_jobs(
    base: str, session: aiohttp.ClientSession, user_api: Api, sink: Sink
) -> None:
    assert user_api.token is not None
    seed = SeedClient(base, session, user_api.token)
    created = await seed.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/native", payload={"k": "v"}
    )
    status, body = await user_api.call("GET", "/job")
    assert status == 200, body
    assert [j["name"] for j in body["data"]["jobs"]] == [job_of(created)]
    # And the other way round: the user's native jobs are not schedules.
    await user_api.create_job("plain", sink.url + "/plain", schedule="every 1 hours")
    assert [s["id"] for s in (await seed.get_ok("/api/v1/schedule/"))["results"]] == [created["id"]]


async def test_token_auth_with_json_and_form(base: str, session: aiohttp.ClientSession, api: Api) -> None:
    await api.register_and_login("bob", "bobs-password")
    anon = SeedClient(base, session)
    tokens = []
    for kwargs in (
        {"json": {"username": "bob", "password": "bobs-password"}},
        {"data": {"username": "bob", "password": "bobs-password"}},
    ):
        reply = await anon.call("POST", "/api/token-auth/", **kwargs)  # type: ignore[arg-type]
        assert reply.status == 200, reply.body
        assert set(reply.body) == {"token"}
        tokens.append(reply.body["token"])
    assert tokens[0] != tokens[1]
    for token in tokens:
        reply = await anon.call("GET", "/api/v1/schedule/", token=token)
        assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "bob", "password": "wrong"}, "non_field_errors"),
        ({"username": "nobody", "password": "bobs-password"}, "non_field_errors"),
        ({"username": "bob"}, "password"),
        ({"password": "bobs-password"}, "username"),
        ({}, "username"),
        ({"username": "svc@example.org", "password": "!"}, "non_field_errors"),
    ],
    ids=["wrong-password", "unknown-user", "no-password", "no-username", "empty", "token-only-user"],
)
async def test_token_auth_refuses(
    base: str, session: aiohttp.ClientSession, api: Api, admin: SeedClient, fields: dict[str, str], field: str
) -> None:
    await api.register_and_login("bob", "bobs-password")
    await service_client(admin, "svc@example.org")  # a user made from an email has no password at all
    reply = await SeedClient(base, session).call("POST", "/api/token-auth/", json=fields)
    assert_field_error(reply, field)


# users and tokens for services


async def test_admin_makes_tokens_for_emails(admin: SeedClient) -> None:
    first = await admin.call("POST", "/api/v1/user/token/", json={"email": "svc@example.org"})
    assert first.status == 201, first.body
    assert set(first.body) == {"token"} and first.body["token"]
    svc = SeedClient(admin.base, admin.session, first.body["token"])
    assert (await svc.get_ok("/api/v1/schedule/"))["count"] == 0
    me = (await svc.get_ok("/api/v1/user/"))["results"]
    assert [(u["username"], u["email"]) for u in me] == [("svc@example.org", "svc@example.org")]

    again = await admin.call("POST", "/api/v1/user/token/", data={"email": "svc@example.org"})  # a form works too
    assert again.status == 201, again.body
    assert again.body["token"] != first.body["token"]
    svc2 = SeedClient(admin.base, admin.session, again.body["token"])
    assert (await svc2.get_ok("/api/v1/user/"))["results"] == me  # the same user, not a second one
    users = (await admin.get_ok("/api/v1/user/"))["results"]
    assert sorted(u["username"] for u in users) == ["ops", "svc@example.org"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ""},
        {"email": "not-an-email"},
        {"email": "a@b"},
        {"email": "a b@example.org"},
        {"email": 5},
        {"email": "x@example.org\n"},
    ],
    ids=["missing", "empty", "no-at", "no-dot", "space", "number", "trailing-newline"],
)
async def test_user_token_needs_a_valid_email(admin: SeedClient, body: dict[str, Any]) -> None:
    reply = await admin.call("POST", "/api/v1/user/token/", json=body)
    assert_field_error(reply, "email")
    assert (await admin.get_ok("/api/v1/user/"))["count"] == 1  # no user was made


async def test_user_token_is_for_admins_only(admin: SeedClient, client: SeedClient) -> None:
    reply = await client.call("POST", "/api/v1/user/token/", json={"email": "more@example.org"})
    assert reply.status == 403
    assert reply.body == NO_PERMISSION
    reply = await client.call("POST", "/api/v1/user/token/", anonymous=True, json={"email": "more@example.org"})
    assert reply.status == 401 and reply.body == NOT_PROVIDED
    reply = await client.call("POST", "/api/v1/user/token/", token="bogus", json={"email": "more@example.org"})
    assert reply.status == 401 and reply.body == {"detail": "Invalid token."}
    usernames = [u["username"] for u in (await admin.get_ok("/api/v1/user/"))["results"]]
    assert "more@example.org" not in usernames


async def test_a_refused_non_admin_can_keep_using_its_connection(base: str, client: SeedClient) -> None:
    """The 403 is answered before the body is read; the connection must still be usable or closed cleanly.

    Found by this test: the 403 once left the kept-alive connection broken, so every second
    request of a client that had been refused failed with a connection error.
    """
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as one_connection:
        refused = SeedClient(base, one_connection, client.token)
        for _ in range(3):
            reply = await refused.call("POST", "/api/v1/user/token/", json={"email": "more@example.org"})
            assert reply.status == 403 and reply.body == NO_PERMISSION
        assert (await refused.get_ok("/api/v1/schedule/"))["count"] == 0


async def test_create_admin_command_prints_a_token_the_server_accepts(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    db = str(tmp_path / "admin.db")
    token = await create_admin("boss", "--db-file", db)  # fails unless it exits 0 and prints a token

    server = await start_server(test_config(db))
    try:
        boss = SeedClient(f"http://127.0.0.1:{server.port}", session, token)
        reply = await boss.call("POST", "/api/v1/user/token/", json={"email": "svc@example.org"})
        assert reply.status == 201, reply.body
        users = (await boss.get_ok("/api/v1/user/"))["results"]
        assert sorted(u["username"] for u in users) == ["boss", "svc@example.org"]
        # Each account change has its row: the command's by the system, the Seed user's by the admin.
        rows = (await native(boss).call("GET", "/audit"))[1]["data"]["entries"]
        seen = [(e["actor"], e["action"], e["target"]) for e in reversed(rows)]
        assert seen == [
            ("system", "user.registered", "user:boss"),
            ("system", "token.created", "user:boss"),
            ("boss", "user.registered", "user:svc@example.org"),
            ("boss", "token.created", "user:svc@example.org"),
        ], seen
        assert rows[0]["changes"]["token_id"] and rows[0]["address"] == "127.0.0.1"
    finally:
        await server.stop()


async def test_users_see_themselves_admins_see_everyone(admin: SeedClient, client: SeedClient) -> None:
    mine = await client.get_ok("/api/v1/user/")
    assert mine["count"] == 1 and mine["next"] is None and mine["previous"] is None
    (me,) = mine["results"]
    assert set(me) == USER_FIELDS
    assert me["username"] == me["email"] == "service@example.org"
    assert me["groups"] == []
    assert re.fullmatch(re.escape(client.base) + r"/api/v1/user/\d+/", me["url"]), me
    assert await client.get_ok(me["url"]) == me

    everyone = (await admin.get_ok("/api/v1/user/"))["results"]
    assert me in everyone
    (ops,) = [u for u in everyone if u["username"] == "ops"]
    assert await admin.get_ok(me["url"]) == me  # an admin reads anyone
    reply = await client.call("GET", ops["url"])  # a user reads no one else
    assert reply.status == 404 and reply.body == NOT_FOUND
    for missing in ("/api/v1/user/999999/", "/api/v1/user/abc/"):
        reply = await admin.call("GET", missing)
        assert reply.status == 404 and reply.body == NOT_FOUND


async def test_groups(server: Server, admin: SeedClient, client: SeedClient) -> None:
    empty = await client.get_ok("/api/v1/group/")
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}
    for missing in ("/api/v1/group/1/", "/api/v1/group/x/"):
        reply = await client.call("GET", missing)
        assert reply.status == 404 and reply.body == NOT_FOUND

    # Groups have no API to create them: put one in the database, as an operator would.
    assert isinstance(server.store, SqliteStore)
    db = server.store.db
    me = (await client.get_ok("/api/v1/user/"))["results"][0]
    user_id = int(me["url"].rstrip("/").rsplit("/", 1)[1])
    cursor = await db.execute("INSERT INTO groups (name) VALUES ('field-workers')")
    group_id = cursor.lastrowid
    await db.execute("INSERT INTO user_groups (user_id, group_id) VALUES (?, ?)", (user_id, group_id))
    await db.commit()

    url = f"{client.base}/api/v1/group/{group_id}/"
    listed = await client.get_ok("/api/v1/group/")
    assert listed["count"] == 1 and listed["results"] == [{"url": url, "name": "field-workers"}]
    assert await client.get_ok(url) == {"url": url, "name": "field-workers"}
    assert (await client.get_ok(me["url"]))["groups"] == [url]


async def test_api_root_links_every_collection(client: SeedClient) -> None:
    root = await client.get_ok("/api/v1/")
    assert root == {
        name: f"{client.base}/api/v1/{name}/" for name in ("user", "group", "schedule", "webhook", "failed-tasks")
    }
    for link in root.values():
        await client.get_ok(link)


# schedules: create and validate


async def test_create_a_cron_schedule(client: SeedClient, sink: Sink) -> None:
    before = time.time()
    reply = await client.call(
        "POST",
        "/api/v1/schedule/",
        json={
            "cron_definition": "*/5 * * * *",
            "endpoint": sink.url + "/cron",
            "payload": {"to": "+27123", "content": ["hello", 1, None]},
            "auth_token": "svc-token",
        },
    )
    assert reply.status == 201, reply.body
    body = reply.body
    assert set(body) == SCHEDULE_FIELDS
    assert reply.headers["Location"] == body["url"]
    assert uuid.UUID(body["id"]).version == 4 and str(uuid.UUID(body["id"])) == body["id"]
    assert body["url"] == f"{client.base}/api/v1/schedule/{body['id']}/"
    assert body["frequency"] is None and body["triggered"] == 0 and body["enabled"] is True
    assert body["cron_definition"] == "*/5 * * * *" and body["interval_definition"] is None
    assert body["endpoint"] == sink.url + "/cron"
    assert body["payload"] == {"to": "+27123", "content": ["hello", 1, None]}
    assert body["auth_token"] == "********"  # stored sealed, never answered (tests/api/test_seed_secrets.py)
    created_at, updated_at = parse_time(body["created_at"]), parse_time(body["updated_at"])
    assert before - 1 <= created_at <= updated_at <= time.time() + 1
    next_send_at = parse_time(body["next_send_at"])
    assert next_send_at % 300 == 0 and before < next_send_at <= before + 300
    me = (await client.get_ok("/api/v1/user/"))["results"][0]["url"]
    assert body["created_by"] == body["updated_by"] == me
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1/user/\d+/", me)
    # The stored schedule reads back the same.
    assert await client.get_ok(body["url"]) == body
    assert await client.get_ok(f"/api/v1/schedule/{body['id']}") == body  # the trailing slash is optional


@pytest.mark.parametrize(
    ("interval", "seconds"), [("30 seconds", 30), ("1 minutes", 60), ("2 hours", 7200), ("1 days", 86400)]
)
async def test_create_an_interval_schedule(client: SeedClient, sink: Sink, interval: str, seconds: int) -> None:
    body = await client.create_schedule(interval_definition=interval, endpoint=sink.url + "/i", payload={})
    assert body["interval_definition"] == interval and body["cron_definition"] is None
    assert body["auth_token"] is None
    delay = parse_time(body["next_send_at"]) - parse_time(body["created_at"])
    assert delay == pytest.approx(seconds, abs=0.01)


BAD_SCHEDULES = [
    pytest.param({"cron_definition": "*/5 * * * *", "interval_definition": "1 minutes"}, "non_field_errors", id="both"),
    pytest.param({}, "non_field_errors", id="neither"),
    pytest.param({"cron_definition": None, "interval_definition": ""}, "non_field_errors", id="both-empty"),
    pytest.param({"cron_definition": "99 * * * *"}, "cron_definition", id="cron-minute-99"),
    pytest.param({"cron_definition": "* * * *"}, "cron_definition", id="cron-four-fields"),
    pytest.param({"cron_definition": "every 5 seconds"}, "cron_definition", id="cron-not-cron"),
    pytest.param({"interval_definition": "every one mins"}, "interval_definition", id="interval-words"),
    pytest.param({"interval_definition": "1 weeks"}, "interval_definition", id="interval-weeks"),
    pytest.param({"interval_definition": "0 seconds"}, "interval_definition", id="interval-zero"),
    pytest.param({"interval_definition": "500000 microseconds"}, "interval_definition", id="interval-half-second"),
    pytest.param({"interval_definition": "1 minutes", "endpoint": None}, "endpoint", id="endpoint-null"),
    pytest.param({"interval_definition": "1 minutes", "endpoint": ""}, "endpoint", id="endpoint-empty"),
    pytest.param(
        {"interval_definition": "1 minutes", "endpoint": ABSENT},
        "endpoint",
        id="endpoint-absent",
    ),
    pytest.param(
        {"interval_definition": "1 minutes", "endpoint": "ftp://example.org/x"}, "endpoint", id="endpoint-ftp"
    ),
    pytest.param({"interval_definition": "1 minutes", "endpoint": "not a url"}, "endpoint", id="endpoint-text"),
    pytest.param({"interval_definition": "1 minutes", "frequency": 0}, "frequency", id="frequency-0"),
    pytest.param({"interval_definition": "1 minutes", "frequency": "x"}, "frequency", id="frequency-x"),
    pytest.param({"interval_definition": "1 minutes", "frequency": -2}, "frequency", id="frequency-negative"),
    pytest.param({"interval_definition": "1 minutes", "enabled": "maybe"}, "enabled", id="enabled-maybe"),
    pytest.param(
        {"interval_definition": "400 days"},
        "interval_definition",
        id="interval-400-days",
    ),
    pytest.param(
        {"interval_definition": "1 minutes", "endpoint": "http://example.org:99999/hook"},
        "endpoint",
        id="endpoint-bad-port",
    ),
    pytest.param(
        {"interval_definition": "1 minutes", "auth_token": "abc\r\nX-Injected: 1"},
        "auth_token",
        id="auth-token-line-break",
    ),
]


@pytest.mark.parametrize(("fields", "field"), BAD_SCHEDULES)
async def test_create_refuses_bad_schedules(client: SeedClient, sink: Sink, fields: dict[str, Any], field: str) -> None:
    body = {"endpoint": sink.url + "/bad", "payload": {"a": 1}, **fields}
    body = {k: v for k, v in body.items() if v is not ABSENT}
    reply = await client.call("POST", "/api/v1/schedule/", json=body)
    assert_field_error(reply, field)
    assert await client.count("/api/v1/schedule/") == 0
    status, jobs = await native(client).call("GET", "/job")
    assert status == 200 and jobs["data"]["count"] == 0


async def test_frequency_as_text_and_form_posts_are_accepted(client: SeedClient, sink: Sink) -> None:
    body = await client.create_schedule(interval_definition="1 hours", endpoint=sink.url + "/f", frequency="3")
    assert body["frequency"] == 3
    reply = await client.call(
        "POST",
        "/api/v1/schedule/",
        data={"cron_definition": "0 * * * *", "endpoint": sink.url + "/form", "enabled": "false"},
    )
    assert reply.status == 201, reply.body
    assert reply.body["enabled"] is False and reply.body["next_send_at"] is None
    assert await client.count("/api/v1/schedule/") == 2


# schedules: read, page, change, delete


async def test_list_pages_with_absolute_links(client: SeedClient, sink: Sink) -> None:
    created = [
        (await client.create_schedule(interval_definition="1 hours", endpoint=f"{sink.url}/p{i}"))["id"]
        for i in range(5)
    ]
    first = await client.get_ok("/api/v1/schedule/?limit=2")
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    assert first["next"].startswith(f"{client.base}/api/v1/schedule/?")
    assert "limit=2" in first["next"] and "offset=2" in first["next"]
    assert all(set(item) == SCHEDULE_FIELDS for item in first["results"])

    second = await client.get_ok(first["next"])
    assert second["count"] == 5 and len(second["results"]) == 2
    assert second["previous"].startswith(client.base) and second["next"].startswith(client.base)
    third = await client.get_ok(second["next"])
    assert len(third["results"]) == 1 and third["next"] is None
    assert (await client.get_ok(third["previous"]))["results"] == second["results"]
    assert (await client.get_ok(second["previous"]))["results"] == first["results"]

    seen = [item["id"] for page in (first, second, third) for item in page["results"]]
    assert sorted(seen) == sorted(created) and len(set(seen)) == 5
    everything = await client.get_ok("/api/v1/schedule/")
    assert everything["count"] == 5 and everything["next"] is None and len(everything["results"]) == 5


async def test_unknown_or_malformed_schedule_ids_are_404(client: SeedClient) -> None:
    for schedule_id in (str(uuid.uuid4()), "not-a-uuid", "1", "%27%20OR%201%3D1"):
        path = f"/api/v1/schedule/{schedule_id}/"
        for method, body in (
            ("GET", None),
            ("PATCH", {"enabled": False}),
            ("PUT", {"endpoint": "http://x.org/"}),
            ("DELETE", None),
        ):
            reply = await client.call(method, path, json=body)
            assert reply.status == 404, (method, path, reply.body)
            assert reply.body == NOT_FOUND


async def test_changes_are_validated_like_new_schedules(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(interval_definition="1 hours", endpoint=sink.url + "/put")
    reply = await client.call("PUT", created["url"], json={"interval_definition": "2 minutes"})
    assert_field_error(reply, "endpoint")  # PUT needs an endpoint
    for fields, field in (
        ({"endpoint": "http://example.org:99999/"}, "endpoint"),
        ({"auth_token": "a\nb"}, "auth_token"),
        ({"interval_definition": "400 days"}, "interval_definition"),
        ({"frequency": 0}, "frequency"),
        ({"enabled": "perhaps"}, "enabled"),
    ):
        reply = await client.call("PATCH", created["url"], json=fields)
        assert_field_error(reply, field)
    reply = await client.call("PATCH", created["url"], json={"endpoint": "gopher://x"})
    assert_field_error(reply, "endpoint")
    reply = await client.call("PATCH", created["url"], json={"interval_definition": "1 fortnights"})
    assert_field_error(reply, "interval_definition")
    changes: list[dict[str, str | None]] = [
        {"cron_definition": "0 0 * * *", "interval_definition": "1 hours"},  # both
        {"interval_definition": None},  # clearing one without giving the other
        {"cron_definition": "", "interval_definition": None},
    ]
    for change in changes:
        reply = await client.call("PATCH", created["url"], json=change)
        assert_field_error(reply, "non_field_errors")
    assert await client.get_ok(created["url"]) == created  # nothing changed
    # A write that gives one definition replaces the other: a schedule has exactly one.
    reply = await client.call("PATCH", created["url"], json={"cron_definition": "0 0 * * *"})
    assert reply.status == 200 and reply.body["interval_definition"] is None, reply.body
    assert reply.body["cron_definition"] == "0 0 * * *"


async def test_changing_the_definition_reschedules(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(interval_definition="1 hours", endpoint=sink.url + "/r", payload={"v": 1})
    api = native(client)

    started = time.time()
    reply = await client.call("PATCH", created["url"], json={"interval_definition": "30 seconds"})
    assert reply.status == 200, reply.body
    patched = reply.body
    assert set(patched) == SCHEDULE_FIELDS
    assert patched["interval_definition"] == "30 seconds" and patched["payload"] == {"v": 1}
    assert started + 29 <= parse_time(patched["next_send_at"]) <= time.time() + 31
    assert parse_time(patched["updated_at"]) >= parse_time(created["updated_at"])
    assert patched["created_at"] == created["created_at"]
    status, job = await api.call("GET", f"/job/{job_of(created)}")
    assert status == 200 and job["data"]["schedule"] == "every 30 seconds"

    started = time.time()
    reply = await client.call(
        "PUT", created["url"], json={"endpoint": sink.url + "/r2", "interval_definition": "2 minutes", "payload": [1]}
    )
    assert reply.status == 200, reply.body
    assert reply.body["endpoint"] == sink.url + "/r2" and reply.body["payload"] == [1]
    assert started + 119 <= parse_time(reply.body["next_send_at"]) <= time.time() + 121
    status, job = await api.call("GET", f"/job/{job_of(created)}")
    assert job["data"]["schedule"] == "every 2 minutes"
    assert job["data"]["data"]["url"] == sink.url + "/r2" and job["data"]["data"]["json"] == [1]

    reply = await client.call(
        "PATCH", created["url"], json={"cron_definition": FAR_FUTURE_CRON, "interval_definition": None}
    )
    assert reply.status == 200, reply.body
    assert reply.body["cron_definition"] == FAR_FUTURE_CRON and reply.body["interval_definition"] is None
    next_send = datetime.fromtimestamp(parse_time(reply.body["next_send_at"]), UTC)
    assert (next_send.month, next_send.day, next_send.hour, next_send.minute) == (1, 1, 0, 0)
    assert next_send.year == datetime.now(UTC).year + 1
    assert await client.get_ok(created["url"]) == reply.body


async def test_disabling_stops_deliveries_and_enabling_resumes_them(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(interval_definition="1 seconds", endpoint=sink.url + "/toggle")
    await wait_for(lambda: len(sink.paths("/toggle")) >= 1, timeout=4)

    reply = await client.call("PATCH", created["url"], json={"enabled": False})
    assert reply.status == 200, reply.body
    assert reply.body["enabled"] is False and reply.body["next_send_at"] is None
    await asyncio.sleep(0.3)  # a delivery already under way may still land
    stopped_at = len(sink.paths("/toggle"))
    await asyncio.sleep(QUIET)
    assert len(sink.paths("/toggle")) == stopped_at
    assert (await client.get_ok(created["url"]))["enabled"] is False

    reply = await client.call("PATCH", created["url"], json={"enabled": True})
    assert reply.status == 200 and reply.body["enabled"] is True and reply.body["next_send_at"] is not None
    await wait_for(lambda: len(sink.paths("/toggle")) > stopped_at, timeout=3)


async def test_delete_removes_the_schedule_and_its_deliveries(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(interval_definition="1 seconds", endpoint=sink.url + "/gone")
    await wait_for(lambda: len(sink.paths("/gone")) >= 1, timeout=4)
    reply = await client.call("DELETE", created["url"])
    assert reply.status == 204
    assert reply.raw == b""
    reply = await client.call("GET", created["url"])
    assert reply.status == 404 and reply.body == NOT_FOUND
    assert await client.count("/api/v1/schedule/") == 0
    status, _ = await native(client).call("GET", f"/job/{job_of(created)}")
    assert status == 404
    await asyncio.sleep(0.3)
    deleted_at = len(sink.paths("/gone"))
    await asyncio.sleep(QUIET)
    assert len(sink.paths("/gone")) == deleted_at
    reply = await client.call("DELETE", created["url"])
    assert reply.status == 404 and reply.body == NOT_FOUND


async def test_a_schedule_is_an_ordinary_job(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/job", payload={"msg": "hi"}, auth_token="abc123"
    )
    api = native(client)
    status, body = await api.call("GET", "/job")
    assert status == 200, body
    (job,) = body["data"]["jobs"]
    assert job["name"] == job_of(created) and job["type"] == "http" and job["enabled"] is True
    data = job["data"]
    assert data["url"] == sink.url + "/job" and data["verb"] == "POST"
    assert data["json"] == {"msg": "hi"}
    assert data["headers"] == {"Authorization": {"secret": "set"}}
    assert job["next_run"] == pytest.approx(parse_time(created["next_send_at"]))

    await run_now(client, created)
    await wait_for(lambda: sink.paths("/job"), timeout=4)
    runs = await wait_for(lambda: _runs_if(client, created, 1), timeout=4)
    assert runs[0]["outcome"] == "ok" and runs[0]["status_code"] == 200 and runs[0]["attempts"] == 1
    # A run outside the schedule is not a scheduled trigger: the next send time stays.
    assert (await client.get_ok(created["url"]))["next_send_at"] == created["next_send_at"]


async def _runs_if(client: SeedClient, schedule: dict[str, Any], count: int) -> list[dict[str, Any]] | None:
    data = await native_runs(client, schedule)
    runs: list[dict[str, Any]] = data["runs"]
    return runs if data["count"] >= count else None


# delivery


async def test_interval_deliveries_carry_payload_and_token(client: SeedClient, sink: Sink) -> None:
    payload = {"to": "+27000", "nested": {"list": [1, 2.5, "three"], "none": None}, "uni": "héllo"}
    await client.create_schedule(
        interval_definition="1 seconds", endpoint=sink.url + "/deliver", payload=payload, auth_token="tok-987"
    )
    await client.create_schedule(interval_definition="1 seconds", endpoint=sink.url + "/anon", payload=[1, 2])
    await wait_for(lambda: len(sink.paths("/deliver")) >= 2 and len(sink.paths("/anon")) >= 2, timeout=5)

    for hit in sink.paths("/deliver"):
        assert hit.method == "POST"
        assert json.loads(hit.body) == payload
        assert header(hit.headers, "Content-Type") == "application/json"
        assert header(hit.headers, "Authorization") == "Token tok-987"
    for hit in sink.paths("/anon"):
        assert hit.method == "POST" and json.loads(hit.body) == [1, 2]
        assert header(hit.headers, "Content-Type") == "application/json"
        assert header(hit.headers, "Authorization") is None
    hits = sink.paths("/deliver")
    assert hits[1].arrived_at - hits[0].arrived_at == pytest.approx(1.0, abs=0.5)


async def test_frequency_limits_the_number_of_deliveries(client: SeedClient, sink: Sink) -> None:
    created = await client.create_schedule(
        interval_definition="1 seconds", endpoint=sink.url + "/twice", payload={"n": 2}, frequency=2
    )
    assert created["frequency"] == 2 and created["triggered"] == 0
    await wait_for(lambda: len(sink.paths("/twice")) >= 2, timeout=5)

    async def finished() -> dict[str, Any] | None:
        body = await client.get_ok(created["url"])
        return body if body["enabled"] is False else None

    done = await wait_for(finished, timeout=3)
    assert done["triggered"] == 2 and done["frequency"] == 2 and done["next_send_at"] is None
    await asyncio.sleep(QUIET)
    assert len(sink.paths("/twice")) == 2
    assert (await native_runs(client, created))["count"] == 2


async def test_a_failing_delivery_becomes_a_failed_task_and_is_requeued(client: SeedClient, sink: Sink) -> None:
    sink.status = 500
    created = await client.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/flaky", payload={"p": 1}, auth_token="t"
    )
    await run_now(client, created)

    async def failures(count: int) -> list[dict[str, Any]] | None:
        body = await client.get_ok("/api/v1/failed-tasks/")
        results: list[dict[str, Any]] = body["results"]
        return results if body["count"] == count else None

    (failure,) = await wait_for(lambda: failures(1), timeout=5)
    assert len(sink.paths("/flaky")) == 6  # the first attempt and 5 retries
    assert set(failure) == FAILED_TASK_FIELDS
    assert failure["url"] == f"{client.base}/api/v1/failed-tasks/{failure['id']}/"
    assert failure["schedule"] == created["url"]
    assert uuid.UUID(failure["task_id"])
    assert abs(parse_time(failure["initiated_at"]) - time.time()) < 10
    assert "500" in failure["reason"]
    assert await client.get_ok(failure["url"]) == failure
    assert await client.get_ok(f"/api/v1/failed-tasks/{failure['id']}") == failure
    for missing in ("/api/v1/failed-tasks/999999/", "/api/v1/failed-tasks/abc/"):
        reply = await client.call("GET", missing)
        assert reply.status == 404 and reply.body == NOT_FOUND
    runs = await wait_for(lambda: _runs_if(client, created, 1), timeout=3)
    assert runs[0]["outcome"] == "failed" and runs[0]["attempts"] == 6 and runs[0]["status_code"] == 500

    # Requeued while the endpoint still fails: the task fails again and is recorded anew.
    reply = await client.call("POST", "/api/v1/failed-tasks/")
    assert reply.status == 201 and reply.body == {"requeued_failed_tasks": True}
    (again,) = await wait_for(lambda: failures(1), timeout=5)
    assert again["task_id"] != failure["task_id"]
    await wait_for(lambda: len(sink.paths("/flaky")) == 12, timeout=3)

    # The endpoint recovers: the requeued delivery arrives and nothing is left failed.
    sink.status = 200
    reply = await client.call("POST", "/api/v1/failed-tasks/")
    assert reply.status == 201 and reply.body == {"requeued_failed_tasks": True}
    assert (await client.get_ok("/api/v1/failed-tasks/"))["count"] == 0
    await wait_for(lambda: len(sink.paths("/flaky")) == 13, timeout=3)
    last = sink.paths("/flaky")[-1]
    assert last.method == "POST" and json.loads(last.body) == {"p": 1}
    assert header(last.headers, "Authorization") == "Token t"
    runs = await wait_for(lambda: _runs_if(client, created, 3), timeout=3)
    assert runs[0]["outcome"] == "ok"
    assert (await client.get_ok("/api/v1/failed-tasks/"))["count"] == 0
    reply = await client.call("GET", again["url"])
    assert reply.status == 404


async def test_client_errors_are_retried_too(client: SeedClient, sink: Sink) -> None:
    """Like Seed Scheduler, a 4xx answer (here 401) is retried 5 times before the task is kept as failed."""
    sink.status = 401
    created = await client.create_schedule(cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/denied")
    await run_now(client, created)
    (failure,) = await wait_for(lambda: _failures_if(client, 1), timeout=5)
    assert failure["schedule"] == created["url"] and "401" in failure["reason"]
    assert len(sink.paths("/denied")) == 6


async def test_a_deleted_schedule_takes_its_failed_tasks_along(client: SeedClient, sink: Sink) -> None:
    sink.status = 500
    created = await client.create_schedule(cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/doomed")
    await run_now(client, created)
    await wait_for(lambda: client.count("/api/v1/failed-tasks/"), timeout=5)
    reply = await client.call("DELETE", created["url"])
    assert reply.status == 204
    assert await client.count("/api/v1/failed-tasks/") == 0


# isolation between users


async def test_users_cannot_touch_each_others_schedules_failures_or_hooks(
    client: SeedClient, other: SeedClient, sink: Sink
) -> None:
    sink.status = 500
    schedule = await client.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/mine", payload={"owner": "client"}
    )
    reply = await client.call("POST", "/api/v1/webhook/", json={"event": "schedule.added", "target": sink.url + "/h"})
    assert reply.status == 201, reply.body
    hook = reply.body
    await run_now(client, schedule)
    (failure,) = await wait_for(lambda: _failures_if(client, 1), timeout=5)
    sent = len(sink.paths("/mine"))

    # Lists hold none of them.
    for path in ("/api/v1/schedule/", "/api/v1/failed-tasks/", "/api/v1/webhook/"):
        page = await other.get_ok(path)
        assert page["count"] == 0 and page["results"] == [], path

    # Details, changes and deletes all answer 404.
    attempts = [
        ("GET", schedule["url"], None),
        ("PATCH", schedule["url"], {"enabled": False}),
        ("PUT", schedule["url"], {"endpoint": sink.url + "/stolen", "payload": {"owner": "other"}}),
        ("DELETE", schedule["url"], None),
        ("GET", failure["url"], None),
        ("GET", f"/api/v1/webhook/{hook['id']}/", None),
        ("PUT", f"/api/v1/webhook/{hook['id']}/", {"event": "schedule.added", "target": sink.url + "/stolen"}),
        ("PATCH", f"/api/v1/webhook/{hook['id']}/", {"target": sink.url + "/stolen"}),
        ("DELETE", f"/api/v1/webhook/{hook['id']}/", None),
    ]
    for method, url, body in attempts:
        reply = await other.call(method, url, json=body)
        assert reply.status == 404, (method, url, reply.body)
        assert reply.body == NOT_FOUND
    status, _ = await native(other).call("GET", f"/job/{job_of(schedule)}")
    assert status == 404
    status, _ = await native(other).call("POST", f"/job/{job_of(schedule)}/run")
    assert status == 404

    # Requeueing one's own failed tasks leaves everyone else's alone.
    reply = await other.call("POST", "/api/v1/failed-tasks/")
    assert reply.status == 201
    await asyncio.sleep(0.3)
    assert len(sink.paths("/mine")) == sent
    assert (await client.get_ok("/api/v1/failed-tasks/"))["results"] == [failure]

    # The owner still has everything as it was.
    assert await client.get_ok(schedule["url"]) == schedule
    assert await client.get_ok(f"/api/v1/webhook/{hook['id']}/") == hook
    assert not sink.paths("/stolen")


async def _failures_if(client: SeedClient, count: int) -> list[dict[str, Any]] | None:
    body = await client.get_ok("/api/v1/failed-tasks/")
    results: list[dict[str, Any]] = body["results"]
    return results if body["count"] >= count else None


# webhooks


async def test_webhook_crud(client: SeedClient, sink: Sink) -> None:
    before = time.time()
    reply = await client.call("POST", "/api/v1/webhook/", json={"event": "schedule.added", "target": sink.url + "/a"})
    assert reply.status == 201, reply.body
    hook = reply.body
    assert set(hook) == WEBHOOK_FIELDS
    assert isinstance(hook["id"], int) and hook["event"] == "schedule.added" and hook["target"] == sink.url + "/a"
    me = (await client.get_ok("/api/v1/user/"))["results"][0]["url"]
    assert me.endswith(f"/api/v1/user/{hook['user']}/")
    assert before - 1 <= parse_time(hook["created"]) <= parse_time(hook["updated"]) <= time.time() + 1
    url = f"/api/v1/webhook/{hook['id']}/"

    listed = await client.get_ok("/api/v1/webhook/")
    assert listed["count"] == 1 and listed["results"] == [hook]
    assert await client.get_ok(url) == hook

    reply = await client.call("PUT", url, json={"event": "schedule.added", "target": sink.url + "/b"})
    assert reply.status == 200, reply.body
    assert reply.body["target"] == sink.url + "/b" and reply.body["created"] == hook["created"]
    assert parse_time(reply.body["updated"]) >= parse_time(hook["updated"])
    reply = await client.call("PUT", url, json={"event": "schedule.added"})
    assert_field_error(reply, "target")
    reply = await client.call("PUT", url, json={"target": sink.url + "/c"})
    assert_field_error(reply, "event")
    reply = await client.call("PATCH", url, json={"target": sink.url + "/c"})
    assert reply.status == 200 and reply.body["target"] == sink.url + "/c" and reply.body["event"] == "schedule.added"
    reply = await client.call("PATCH", url, json={"event": "schedule.removed"})
    assert_field_error(reply, "event")
    reply = await client.call("PATCH", url, json={"target": "nowhere"})
    assert_field_error(reply, "target")
    assert (await client.get_ok(url))["target"] == sink.url + "/c"

    reply = await client.call("DELETE", url)
    assert reply.status == 204 and reply.raw == b""
    reply = await client.call("GET", url)
    assert reply.status == 404 and reply.body == NOT_FOUND
    assert await client.count("/api/v1/webhook/") == 0
    for missing in ("/api/v1/webhook/999999/", "/api/v1/webhook/x/"):
        reply = await client.call("GET", missing)
        assert reply.status == 404 and reply.body == NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event": "schedule.deleted", "target": "http://127.0.0.1:9/h"}, "event"),
        ({"target": "http://127.0.0.1:9/h"}, "event"),
        ({"event": "", "target": "http://127.0.0.1:9/h"}, "event"),
        ({"event": "schedule.added"}, "target"),
        ({"event": "schedule.added", "target": "not a url"}, "target"),
        ({"event": "schedule.added", "target": "ftp://127.0.0.1/h"}, "target"),
        ({"event": "schedule.added", "target": 42}, "target"),
    ],
    ids=["unknown-event", "no-event", "empty-event", "no-target", "text-target", "ftp-target", "number-target"],
)
async def test_webhook_refuses_bad_fields(client: SeedClient, fields: dict[str, Any], field: str) -> None:
    reply = await client.call("POST", "/api/v1/webhook/", json=fields)
    assert_field_error(reply, field)
    assert await client.count("/api/v1/webhook/") == 0


async def test_schedule_added_hook_fires_for_its_owner_only(client: SeedClient, other: SeedClient, sink: Sink) -> None:
    reply = await client.call(
        "POST", "/api/v1/webhook/", json={"event": "schedule.added", "target": sink.url + "/hook"}
    )
    assert reply.status == 201
    hook = reply.body

    await other.create_schedule(interval_definition="1 hours", endpoint=sink.url + "/theirs", auth_token="x")
    created = await client.create_schedule(
        cron_definition="0 9 * * 1", endpoint=sink.url + "/ours", payload={"hello": "world"}, auth_token="secret"
    )
    await wait_for(lambda: sink.paths("/hook"), timeout=4)
    await asyncio.sleep(0.3)  # time for a wrong delivery (the other user's schedule) to show up
    (hit,) = sink.paths("/hook")
    assert hit.method == "POST"
    assert header(hit.headers, "Content-Type") == "application/json"
    event = json.loads(hit.body)
    assert set(event) == {"hook", "data"}
    assert event["hook"] == {"id": hook["id"], "event": "schedule.added", "target": sink.url + "/hook"}
    assert "auth_token" not in event["data"]
    assert event["data"] == {k: v for k, v in created.items() if k != "auth_token"}
    assert "secret" not in hit.body.decode()

    # A deleted hook is told of nothing more.
    reply = await client.call("DELETE", f"/api/v1/webhook/{hook['id']}/")
    assert reply.status == 204
    await client.create_schedule(cron_definition="0 9 * * 2", endpoint=sink.url + "/ours2")
    await asyncio.sleep(0.3)
    assert len(sink.paths("/hook")) == 1


# health and metrics


async def test_health_reports_database_and_scheduler(server: Server, client: SeedClient) -> None:
    reply = await client.call("GET", "/api/health/")
    assert reply.status == 200, reply.body
    assert reply.body["up"] is True
    assert reply.body["result"]["database"] == "Accessible"
    assert reply.body["result"]["scheduler"] == "Running"
    assert (await client.call("GET", "/api/health")).status == 200  # the trailing slash is optional

    assert server.scheduler is not None
    await server.scheduler.stop(0)
    reply = await client.call("GET", "/api/health/")
    assert reply.status == 503, reply.body
    assert reply.body["up"] is False
    assert reply.body["result"]["database"] == "Accessible"
    assert reply.body["result"]["scheduler"] == "Stopped"


async def test_metrics_api(client: SeedClient) -> None:
    body = await client.get_ok("/api/metrics/")
    assert set(body) == {"metrics_available"}
    names = body["metrics_available"]
    assert isinstance(names, list) and names == sorted(names)
    for name in ("veggiecron_runs_total", "veggiecron_jobs", "veggiecron_dispatch_lateness_seconds_bucket"):
        assert name in names
    reply = await client.call("POST", "/api/metrics/")
    assert reply.status == 201, reply.body  # as Seed Scheduler answers
    assert reply.body == {"scheduled_metrics_initiated": True}


async def test_prometheus_exposition(client: SeedClient, sink: Sink) -> None:
    async def scrape() -> str:
        reply = await client.call("GET", "/metrics", anonymous=True)
        assert reply.status == 200, reply.body
        assert reply.headers["Content-Type"].startswith("text/plain")
        text: str = reply.raw.decode()
        return text

    text = await scrape()
    for name in (
        "veggiecron_runs_total",
        "veggiecron_dispatch_lateness_seconds_bucket",
        'veggiecron_jobs{state="scheduled"}',
        "veggiecron_api_requests_total",
    ):
        assert name in text, name
    assert sample(text, 'veggiecron_runs_total{outcome="ok"}') == 0
    assert sample(text, 'veggiecron_jobs{state="scheduled"}') == 0
    assert (sample(text, 'veggiecron_api_requests_total{status="201"}') or 0) >= 1  # the fixture's token

    created = await client.create_schedule(cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/metered")
    await run_now(client, created)
    await wait_for(lambda: sink.paths("/metered"), timeout=4)

    async def delivered() -> str | None:
        text = await scrape()
        return text if (sample(text, 'veggiecron_runs_total{outcome="ok"}') or 0) >= 1 else None

    text = await wait_for(delivered, timeout=3)
    assert sample(text, 'veggiecron_jobs{state="scheduled"}') == 1
    assert (sample(text, "veggiecron_dispatch_lateness_seconds_count") or 0) >= 1
    assert (sample(text, 'veggiecron_api_requests_total{status="200"}') or 0) >= 1


async def test_seed_errors_keep_drf_shapes(client: SeedClient) -> None:
    reply = await client.call("DELETE", "/api/v1/schedule/")
    assert reply.status == 405 and reply.body == {"detail": 'Method "DELETE" not allowed.'}
    reply = await client.call(
        "POST", "/api/v1/schedule/", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400 and set(reply.body) == {"detail"}, reply.body
    assert await client.count("/api/v1/schedule/") == 0
