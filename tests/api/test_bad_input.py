"""Hostile input gets a 400 naming the field (or 413), never a 5xx, and changes nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api

GOOD: dict[str, Any] = {"name": "ok", "type": "http", "data": {"url": "http://127.0.0.1:9/"}, "schedule": "every hour"}


def with_data(**fields: Any) -> dict[str, Any]:
    return {**GOOD, "data": {**GOOD["data"], **fields}}


RAW_BODIES = [
    ("deep JSON", b'{"name": "x", "data": ' + b'{"a": ' * 2000 + b"1" + b"}" * 2000 + b"}", "body"),
    ("invalid UTF-8 in JSON", b'{"name": "\xff\xfe", "schedule": "every hour"}', "body"),
    ("a JSON array", b"[1, 2, 3]", "body"),
    (
        "an infinite number",
        b'{"name": "x", "data": {"url": "http://a/", "timeout": 1e999}, "schedule": "every hour"}',
        None,
    ),
]

JSON_BODIES = [
    ("NUL in the name", {**GOOD, "name": "bad\x00name"}, "name"),
    ("a 10,000-character name", {**GOOD, "name": "n" * 10_000}, "name"),
    ("NUL in the schedule", {**GOOD, "schedule": "every\x00hour"}, "schedule"),
    ("NUL in a header", with_data(headers={"X-A": "a\x00b"}), "data.headers"),
    ("NUL in the url", with_data(url="http://127.0.0.1:9/\x00"), "data.url"),
    ("a host name IDNA cannot decode", with_data(url="http://xn--a.com/"), "data.url"),
    ("a negative timeout", with_data(timeout=-1), "data.timeout"),
    ("an enormous timeout", with_data(timeout=10**30), "data.timeout"),
    ("negative clones", with_data(number_of_clones=-5), "data.number_of_clones"),
    ("enormous clones", with_data(number_of_clones=2**70), "data.number_of_clones"),
    ("enormous retries", with_data(retries=10**20), "data.retries"),
    ("an enormous once timestamp", {**GOOD, "schedule": "once @ 1e300"}, "schedule"),
    ("an enormous interval", {**GOOD, "schedule": f"every {10**30} seconds"}, "schedule"),
    ("an enormous day count", {**GOOD, "schedule": f"every {10**30} days @ 10:00"}, "schedule"),
    ("a 10,000-character timezone", {**GOOD, "timezone": "Z" * 10_000}, "timezone"),
    ("a huge jitter", {**GOOD, "jitter_seconds": 1e300}, "jitter_seconds"),
    ("a negative grace", {**GOOD, "grace_seconds": -1}, "grace_seconds"),
]


async def count_jobs(api: Api) -> int:
    _, body = await api.call("GET", "/job")
    return int(body["data"]["count"])


@pytest.mark.parametrize(("case", "raw", "field"), RAW_BODIES, ids=[c[0] for c in RAW_BODIES])
async def test_raw_hostile_bodies(user_api: Api, case: str, raw: bytes, field: str | None) -> None:
    async with user_api.session.post(
        user_api.base + "/job", data=raw, headers={**user_api.headers(), "Content-Type": "application/json"}
    ) as response:
        status, body = response.status, await response.json(content_type=None)
    assert status == 400, (case, body)
    assert body["id"] == "error" and "Traceback" not in body["description"]
    if field is not None:
        assert body["data"]["field"] == field, (case, body)
    assert await count_jobs(user_api) == 0


@pytest.mark.parametrize(("case", "body", "field"), JSON_BODIES, ids=[c[0] for c in JSON_BODIES])
async def test_hostile_json_fields(user_api: Api, case: str, body: dict[str, Any], field: str) -> None:
    status, answer = await user_api.call("POST", "/job", json=body)
    assert status == 400, (case, answer)
    assert answer["data"]["field"] == field, (case, answer)
    assert await count_jobs(user_api) == 0


async def test_hostile_form_fields_and_registration(api: Api) -> None:
    async with api.session.post(
        api.base + "/register",
        data=b"username=al%FFice&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        assert response.status == 400 and (await response.json())["data"]["field"] == "username"
    for username in ("a\x00b", "u" * 10_000, "-1", ""):
        status, answer = await api.call("POST", "/register", json={"username": username, "password": "pw"})
        assert status == 400 and answer["data"]["field"] == "username", username
    status, answer = await api.call("POST", "/register", json={"username": "alice", "password": "p\x00w"})
    assert status == 400 and answer["data"]["field"] == "password"
    status, answer = await api.call("POST", "/login", json={"username": "alice", "password": "pw"})
    assert status == 401  # none of the above created a user


async def test_hostile_seed_fields(user_api: Api) -> None:
    for body, field in (
        ({"interval_definition": f"{10**30} seconds", "endpoint": "http://127.0.0.1:9/"}, "interval_definition"),
        ({"interval_definition": "-5 seconds", "endpoint": "http://127.0.0.1:9/"}, "interval_definition"),
        ({"interval_definition": "1 minutes", "endpoint": "http://127.0.0.1:9/\x00"}, "endpoint"),
        ({"interval_definition": "1 minutes", "endpoint": "http://127.0.0.1:9/", "frequency": 2**70}, "frequency"),
        ({"cron_definition": "*\x00 * * * *", "endpoint": "http://127.0.0.1:9/"}, "cron_definition"),
    ):
        status, answer = await user_api.call("POST", "/api/v1/schedule/", json=body)
        assert status == 400 and field in answer, (body, answer)
    _, answer = await user_api.call("GET", "/api/v1/schedule/")
    assert answer["count"] == 0


async def test_a_405_names_the_allowed_methods(api: Api) -> None:
    async with api.session.put(api.base + "/health") as response:
        assert response.status == 405 and response.headers["Allow"] == "GET"
    async with api.session.delete(api.base + "/api/v1/failed-tasks/") as response:
        assert response.status in (401, 405)  # authentication is checked first on the Seed API
