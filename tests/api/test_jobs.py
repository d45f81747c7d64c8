"""Jobs over the real API: create, list, read, change, delete, isolation, validation and schedules."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.helpers import CLOSE, Api, Sink, assert_error, wait_for
from veggiecron.app import Server

LIMIT = 64 * 1024


def job_body(name: str, url: str, schedule: str = "every 1 hours", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "data": {"url": url}, "schedule": schedule, **extra}


async def job_count(api: Api) -> int:
    status, body = await api.call("GET", "/job")
    assert status == 200, body
    return int(body["data"]["count"])


async def get_job(api: Api, name: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/job/{name}")
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


def scheduled_at(hit: Any) -> float:
    return datetime.fromisoformat(hit.headers["X-Veggiecron-Scheduled-At"]).timestamp()


async def second_user(api: Api, username: str = "bob") -> Api:
    other = Api(api.base, api.session)
    await other.register_and_login(username)
    return other


# create


async def test_create_answers_the_job_and_a_location(user_api: Api, sink: Sink) -> None:
    before = time.time()
    data = {"url": sink.url + "/hook", "verb": "POST", "headers": {"X-A": "1"}, "body": "hi"}
    async with user_api.session.post(
        user_api.base + "/job",
        headers=user_api.headers(),
        json={"name": "hourly", "type": "http", "data": data, "schedule": "every 1 hours"},
    ) as response:
        status, body, location = response.status, await response.json(), response.headers.get("Location")
    assert status == 201, body
    assert body["id"] == "success"
    assert "hourly" in body["description"]
    assert location == "/job/hourly"
    job = body["data"]
    assert job["name"] == "hourly"
    assert job["type"] == "http"
    assert job["data"] == data
    assert job["schedule"] == "every hour"
    assert job["enabled"] is True
    assert job["state"] == "scheduled"
    assert job["timezone"] == "UTC"
    assert before - 1 <= job["date_created"] <= time.time() + 1
    assert job["date_updated"] == job["date_created"]
    assert time.time() < job["next_run"] <= time.time() + 3600 + 1
    # The Location leads to the same job.
    status, body = await user_api.call("GET", location)
    assert status == 200, body
    assert {k: v for k, v in body["data"].items() if k != "runs"} == job


async def test_create_with_a_form_body_takes_data_as_a_json_string(user_api: Api, sink: Sink) -> None:
    form = {
        "name": "formjob",
        "type": "http",
        "data": f'{{"url": "{sink.url}/form", "retries": 2}}',
        "schedule": "every 10 seconds",
        "enabled": "false",
    }
    status, body = await user_api.call("POST", "/job", data=form)
    assert status == 201, body
    job = body["data"]
    assert job["data"] == {"url": sink.url + "/form", "retries": 2}
    assert job["schedule"] == "every 10 seconds"
    assert job["enabled"] is False
    assert job["state"] == "disabled"
    assert (await get_job(user_api, "formjob"))["data"] == job["data"]


async def test_create_with_a_form_body_and_bad_data_json_is_400(user_api: Api, sink: Sink) -> None:
    form = {"name": "formjob", "type": "http", "data": "{not json", "schedule": "every 10 seconds"}
    status, body = await user_api.call("POST", "/job", data=form)
    assert_error(status, body, 400, "data")
    assert await job_count(user_api) == 0


async def test_create_defaults_type_enabled_and_timezone(user_api: Api, sink: Sink) -> None:
    status, body = await user_api.call(
        "POST", "/job", json={"name": "plain", "data": {"url": sink.url}, "schedule": "every 5 minutes"}
    )
    assert status == 201, body
    assert body["data"]["type"] == "http"
    assert body["data"]["enabled"] is True
    assert body["data"]["timezone"] == "UTC"


async def test_a_duplicate_name_is_409_for_the_same_user_only(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("dup", sink.url + "/one", schedule="every 1 hours")
    status, body = await user_api.call("POST", "/job", json=job_body("dup", sink.url + "/two"))
    assert_error(status, body, 409)
    assert await job_count(user_api) == 1
    assert (await get_job(user_api, "dup"))["data"]["url"] == sink.url + "/one"
    bob = await second_user(user_api)
    status, body = await bob.call("POST", "/job", json=job_body("dup", sink.url + "/bob"))
    assert status == 201, body
    assert (await get_job(bob, "dup"))["data"]["url"] == sink.url + "/bob"
    assert (await get_job(user_api, "dup"))["data"]["url"] == sink.url + "/one"


async def test_a_name_with_allowed_punctuation_round_trips(user_api: Api, sink: Sink) -> None:
    name = "nightly_backup.v2:eu-west"
    status, body = await user_api.call("POST", "/job", json=job_body(name, sink.url))
    assert status == 201, body
    assert (await get_job(user_api, name))["name"] == name
    status, body = await user_api.call("GET", "/job", params={"name": name})
    assert status == 200 and body["data"]["name"] == name


# list


async def test_list_shows_only_the_callers_jobs(user_api: Api, sink: Sink) -> None:
    for name in ("a1", "a2", "a3"):
        await user_api.create_job(name, sink.url + "/" + name, schedule="every 1 hours")
    bob = await second_user(user_api)
    await bob.create_job("b1", sink.url + "/b1", schedule="every 1 hours")
    status, body = await user_api.call("GET", "/job")
    assert status == 200
    assert body["id"] == "success"
    data = body["data"]
    assert data["count"] == 3
    assert data["offset"] == 0
    assert isinstance(data["limit"], int) and data["limit"] >= 3
    assert sorted(j["name"] for j in data["jobs"]) == ["a1", "a2", "a3"]
    status, body = await bob.call("GET", "/job")
    assert [j["name"] for j in body["data"]["jobs"]] == ["b1"]
    assert body["data"]["count"] == 1


async def test_list_paginates_with_limit_and_offset(user_api: Api, sink: Sink) -> None:
    for name in ("p1", "p2", "p3"):
        await user_api.create_job(name, sink.url + "/" + name, schedule="every 1 hours")
    status, first = await user_api.call("GET", "/job", params={"limit": 2})
    assert status == 200
    assert first["data"]["count"] == 3 and first["data"]["limit"] == 2 and first["data"]["offset"] == 0
    assert len(first["data"]["jobs"]) == 2
    status, rest = await user_api.call("GET", "/job", params={"limit": 2, "offset": 2})
    assert status == 200
    assert rest["data"]["count"] == 3 and rest["data"]["offset"] == 2
    assert len(rest["data"]["jobs"]) == 1
    names = [j["name"] for j in first["data"]["jobs"] + rest["data"]["jobs"]]
    assert sorted(names) == ["p1", "p2", "p3"]
    status, past_end = await user_api.call("GET", "/job", params={"offset": 3})
    assert status == 200 and past_end["data"]["jobs"] == [] and past_end["data"]["count"] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "x"),
        ("limit", "501"),
        ("limit", "1.5"),
        ("offset", "-1"),
        ("offset", "x"),
    ],
)
async def test_list_rejects_a_bad_page(user_api: Api, field: str, value: str) -> None:
    status, body = await user_api.call("GET", "/job", params={field: value})
    assert_error(status, body, 400, field)


async def test_list_accepts_the_largest_limit(user_api: Api) -> None:
    status, body = await user_api.call("GET", "/job", params={"limit": 500})
    assert status == 200, body
    assert body["data"]["limit"] == 500


# read one


async def test_get_one_by_path_and_by_query(user_api: Api, sink: Sink) -> None:
    created = await user_api.create_job("one", sink.url + "/one", schedule="every 1 hours")
    by_path = await get_job(user_api, "one")
    status, body = await user_api.call("GET", "/job", params={"name": "one"})
    assert status == 200, body
    by_query = body["data"]
    assert by_path == by_query
    assert by_path["runs"] == []
    assert {k: v for k, v in by_path.items() if k != "runs"} == created


async def test_get_one_lists_recent_runs(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("ran", sink.url + "/ran", schedule="every 1 hours")
    status, _ = await user_api.call("POST", "/job/ran/run")
    assert status == 202
    job = await wait_for(lambda: _job_with_runs(user_api, "ran"), timeout=5)
    assert len(job["runs"]) == 1
    assert job["runs"][0]["outcome"] == "ok"


async def _job_with_runs(api: Api, name: str) -> dict[str, Any] | None:
    job = await get_job(api, name)
    return job if job["runs"] else None


async def test_get_an_unknown_job_is_404(user_api: Api) -> None:
    status, body = await user_api.call("GET", "/job/nope")
    assert_error(status, body, 404)
    status, body = await user_api.call("GET", "/job", params={"name": "nope"})
    assert_error(status, body, 404)


# change


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_change_data(user_api: Api, sink: Sink, method: str) -> None:
    created = await user_api.create_job("edit", sink.url + "/old", schedule="every 1 hours")
    new_data = {"url": sink.url + "/new", "verb": "DELETE", "retries": 3}
    status, body = await user_api.call(method, "/job/edit", json={"data": new_data})
    assert status == 200, body
    assert body["id"] == "success"
    job = body["data"]
    assert job["data"] == new_data
    assert job["schedule"] == created["schedule"]
    assert job["next_run"] == created["next_run"]
    assert job["date_updated"] >= created["date_updated"]
    assert job["date_created"] == created["date_created"]
    stored = await get_job(user_api, "edit")
    assert stored["data"] == new_data
    # The change reaches the runner: a manual run uses the new data.
    status, _ = await user_api.call("POST", "/job/edit/run")
    assert status == 202
    await wait_for(lambda: sink.paths("/new"), timeout=3)
    assert sink.paths("/new")[0].method == "DELETE"
    assert sink.paths("/old") == []


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_change_schedule_recomputes_next_run(user_api: Api, sink: Sink, method: str) -> None:
    created = await user_api.create_job("resched", sink.url + "/r", schedule="every 1 hours")
    assert created["next_run"] > time.time() + 3000
    status, body = await user_api.call(method, "/job/resched", json={"schedule": "every 10 seconds"})
    assert status == 200, body
    job = body["data"]
    assert job["schedule"] == "every 10 seconds"
    assert time.time() < job["next_run"] <= time.time() + 10
    assert (await get_job(user_api, "resched"))["next_run"] == job["next_run"]


async def test_change_schedule_by_form_body(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("formedit", sink.url + "/f", schedule="every 1 hours")
    status, body = await user_api.call(
        "PATCH", "/job/formedit", data={"schedule": "every 2 hours", "data": f'{{"url": "{sink.url}/g"}}'}
    )
    assert status == 200, body
    assert body["data"]["schedule"] == "every 2 hours"
    assert body["data"]["data"] == {"url": sink.url + "/g"}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_change_timezone_moves_a_wall_clock_schedule(user_api: Api, sink: Sink, method: str) -> None:
    created = await user_api.create_job("daily", sink.url + "/d", schedule="every day @ 13:00")
    utc = datetime.fromtimestamp(created["next_run"], UTC)
    assert (utc.hour, utc.minute, utc.second) == (13, 0, 0)
    status, body = await user_api.call(method, "/job/daily", json={"timezone": "Asia/Kathmandu"})
    assert status == 200, body
    job = body["data"]
    assert job["timezone"] == "Asia/Kathmandu"
    local = datetime.fromtimestamp(job["next_run"], ZoneInfo("Asia/Kathmandu"))
    assert (local.hour, local.minute, local.second) == (13, 0, 0)
    assert time.time() < job["next_run"] <= time.time() + 86400
    assert job["next_run"] != created["next_run"]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_disable_and_enable_change_the_state(user_api: Api, sink: Sink, method: str) -> None:
    await user_api.create_job("toggle", sink.url + "/t", schedule="every 1 hours")
    status, body = await user_api.call(method, "/job/toggle", json={"enabled": False})
    assert status == 200, body
    assert body["data"]["enabled"] is False and body["data"]["state"] == "disabled"
    stored = await get_job(user_api, "toggle")
    assert stored["enabled"] is False and stored["state"] == "disabled"
    status, body = await user_api.call(method, "/job/toggle", json={"enabled": True})
    assert status == 200, body
    assert body["data"]["enabled"] is True and body["data"]["state"] == "scheduled"
    assert body["data"]["next_run"] > time.time()


async def test_disabling_stops_firing_and_enabling_resumes(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("ticker", sink.url + "/ticker", schedule="every 1 seconds")
    await wait_for(lambda: sink.paths("/ticker"), timeout=3)
    status, body = await user_api.call("PATCH", "/job/ticker", json={"enabled": False})
    assert status == 200, body
    disabled_at = time.time()
    # The one timed wait: nothing may fire for a while (a run already dispatched may still land).
    await asyncio.sleep(2.5)
    assert all(scheduled_at(h) < disabled_at for h in sink.paths("/ticker")), "a slot due after disabling ran"
    assert len([h for h in sink.paths("/ticker") if h.arrived_at > disabled_at + 0.5]) == 0
    assert (await get_job(user_api, "ticker"))["state"] == "disabled"
    status, body = await user_api.call("PATCH", "/job/ticker", json={"enabled": True})
    assert status == 200, body
    enabled_at = time.time()
    await wait_for(lambda: [h for h in sink.paths("/ticker") if scheduled_at(h) > enabled_at], timeout=3)


@pytest.mark.parametrize(
    "fields",
    [{"name": "renamed"}, {"foo": 1}, {"type": "http"}, {"enabled": True, "foo": 1}],
    ids=["name", "foo", "type", "valid-and-unknown"],
)
async def test_change_rejects_unknown_or_unchangeable_fields(user_api: Api, sink: Sink, fields: dict[str, Any]) -> None:
    created = await user_api.create_job("fixed", sink.url + "/x", schedule="every 1 hours")
    for method in ("PATCH", "PUT"):
        status, body = await user_api.call(method, "/job/fixed", json=fields)
        assert_error(status, body, 400, next(k for k in fields if k not in ("enabled",)))
    stored = await get_job(user_api, "fixed")
    assert {k: v for k, v in stored.items() if k != "runs"} == created
    status, body = await user_api.call("GET", "/job/renamed")
    assert status == 404


@pytest.mark.parametrize("payload", [{"json": {}}, {"data": b""}, {}], ids=["empty-object", "empty-bytes", "no-body"])
async def test_change_with_an_empty_body_is_400(user_api: Api, sink: Sink, payload: dict[str, Any]) -> None:
    created = await user_api.create_job("fixed", sink.url + "/x", schedule="every 1 hours")
    status, body = await user_api.call("PATCH", "/job/fixed", **payload)
    assert_error(status, body, 400)
    stored = await get_job(user_api, "fixed")
    assert {k: v for k, v in stored.items() if k != "runs"} == created


BAD_CHANGES = [
    ({"data": {"url": "ftp://x"}}, "data.url"),
    ({"data": {"verb": "GET"}}, "data.url"),
    ({"data": "not json"}, "data"),
    ({"data": [1, 2]}, "data"),
    ({"schedule": "every blue moon"}, "schedule"),
    ({"schedule": ""}, "schedule"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"enabled": "maybe"}, "enabled"),
    ({"enabled": "false", "schedule": "nope"}, "schedule"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_CHANGES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_CHANGES)])
async def test_change_rejects_bad_values_and_keeps_the_job(
    user_api: Api, sink: Sink, fields: dict[str, Any], field: str
) -> None:
    created = await user_api.create_job("fixed", sink.url + "/x", schedule="every 1 hours")
    status, body = await user_api.call("PATCH", "/job/fixed", json=fields)
    assert_error(status, body, 400, field)
    stored = await get_job(user_api, "fixed")
    assert {k: v for k, v in stored.items() if k != "runs"} == created


async def test_change_an_unknown_job_is_404(user_api: Api) -> None:
    status, body = await user_api.call("PATCH", "/job/nope", json={"enabled": False})
    assert_error(status, body, 404)


# delete


async def test_delete_removes_the_job_and_stops_it(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("doomed", sink.url + "/doomed", schedule="every 1 seconds")
    await user_api.create_job("witness", sink.url + "/witness", schedule="every 1 seconds")
    await wait_for(lambda: sink.paths("/doomed"), timeout=3)
    status, body = await user_api.call("DELETE", "/job/doomed")
    assert status == 200, body
    assert body["id"] == "success"
    assert body["data"]["name"] == "doomed"
    deleted_at = time.time()
    status, body = await user_api.call("GET", "/job/doomed")
    assert_error(status, body, 404)
    status, body = await user_api.call("GET", "/job", params={"name": "doomed"})
    assert_error(status, body, 404)
    assert [j["name"] for j in (await user_api.call("GET", "/job"))[1]["data"]["jobs"]] == ["witness"]
    # The witness job keeps firing: two of its slots after the delete prove the scheduler ran on.
    await wait_for(lambda: len([h for h in sink.paths("/witness") if scheduled_at(h) > deleted_at]) >= 2, timeout=4)
    assert all(scheduled_at(h) < deleted_at for h in sink.paths("/doomed")), "a slot due after the delete ran"
    # Deleting again, running or reading its runs: all 404.
    for method, path in (
        ("DELETE", "/job/doomed"),
        ("POST", "/job/doomed/run"),
        ("GET", "/job/doomed/runs"),
        ("PATCH", "/job/doomed"),
    ):
        status, body = await user_api.call(method, path, json={"enabled": True} if method == "PATCH" else None)
        assert_error(status, body, 404)


async def test_the_name_is_free_again_after_delete(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("reuse", sink.url + "/first", schedule="every 1 hours")
    status, _ = await user_api.call("DELETE", "/job/reuse")
    assert status == 200
    job = await user_api.create_job("reuse", sink.url + "/second", schedule="every 1 hours")
    assert job["data"]["url"] == sink.url + "/second"
    assert (await get_job(user_api, "reuse"))["runs"] == []


# another user's job


async def test_another_users_job_is_404_everywhere_and_unchanged(user_api: Api, sink: Sink) -> None:
    created = await user_api.create_job("secret", sink.url + "/secret", schedule="every 1 hours")
    bob = await second_user(user_api)
    attempts = [
        ("GET", "/job/secret", None, None),
        ("GET", "/job", None, {"name": "secret"}),
        ("PUT", "/job/secret", {"enabled": False}, None),
        ("PATCH", "/job/secret", {"data": {"url": sink.url + "/stolen"}}, None),
        ("PATCH", "/job/secret", {"schedule": "every 1 seconds"}, None),
        ("POST", "/job/secret/run", None, None),
        ("GET", "/job/secret/runs", None, None),
        ("DELETE", "/job/secret", None, None),
    ]
    for method, path, payload, params in attempts:
        status, body = await bob.call(method, path, json=payload, params=params)
        assert_error(status, body, 404)
        assert "secret" not in str(body["data"].get("url", "")), body
    status, body = await bob.call("GET", "/job")
    assert body["data"]["count"] == 0
    stored = await get_job(user_api, "secret")
    assert {k: v for k, v in stored.items() if k != "runs"} == created
    # Bob's /run must not have fired it: after a run of Alice's own job is recorded, "secret" has none.
    await user_api.create_job("control", sink.url + "/control", schedule="every 1 hours")
    status, _ = await user_api.call("POST", "/job/control/run")
    assert status == 202
    await wait_for(lambda: _job_with_runs(user_api, "control"), timeout=5)
    assert sink.paths("/secret") == [] and sink.paths("/stolen") == []
    assert (await get_job(user_api, "secret"))["runs"] == []


# validation on create

VALID = {"url": "http://127.0.0.1:9/hook"}
BAD_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("missing-name", {"name": None}, "name"),
    ("name-with-space", {"name": "has space"}, "name"),
    ("name-200-chars", {"name": "n" * 200}, "name"),
    ("name-with-slash", {"name": "a/b"}, "name"),
    ("name-not-string", {"name": 7}, "name"),
    ("type-ftp", {"type": "ftp"}, "type"),
    ("data-missing", {"data": None}, "data"),
    ("data-string", {"data": "http://127.0.0.1:9/"}, "data"),
    ("data-array", {"data": [VALID]}, "data"),
    ("data-number", {"data": 5}, "data"),
    ("url-missing", {"data": {"verb": "GET"}}, "data.url"),
    ("url-ftp", {"data": {"url": "ftp://x"}}, "data.url"),
    ("url-no-host", {"data": {"url": "http://"}}, "data.url"),
    ("url-no-host-path", {"data": {"url": "http:///path"}}, "data.url"),
    ("url-not-string", {"data": {"url": 80}}, "data.url"),
    ("url-with-space", {"data": {"url": "http://a b/"}}, "data.url"),
    ("data-unknown-field", {"data": {**VALID, "foo": 1}}, "data.foo"),
    ("verb-fetch", {"data": {**VALID, "verb": "FETCH"}}, "data.verb"),
    ("clones-0", {"data": {**VALID, "number_of_clones": 0}}, "data.number_of_clones"),
    ("clones-negative", {"data": {**VALID, "number_of_clones": -1}}, "data.number_of_clones"),
    ("clones-string", {"data": {**VALID, "number_of_clones": "2"}}, "data.number_of_clones"),
    ("clones-1000", {"data": {**VALID, "number_of_clones": 1000}}, "data.number_of_clones"),
    ("clones-bool", {"data": {**VALID, "number_of_clones": True}}, "data.number_of_clones"),
    ("shadows-yes", {"data": {**VALID, "enable_shadows": "yes"}}, "data.enable_shadows"),
    ("headers-string", {"data": {**VALID, "headers": "X-A: 1"}}, "data.headers"),
    ("headers-list", {"data": {**VALID, "headers": [["X-A", "1"]]}}, "data.headers"),
    ("header-newline", {"data": {**VALID, "headers": {"X-A": "1\r\nX-Injected: yes"}}}, "data.headers"),
    ("header-bad-name", {"data": {**VALID, "headers": {"X A": "1"}}}, "data.headers"),
    ("header-not-string", {"data": {**VALID, "headers": {"X-A": 1}}}, "data.headers"),
    ("body-not-string", {"data": {**VALID, "body": {"a": 1}}}, "data.body"),
    ("timeout-0", {"data": {**VALID, "timeout": 0}}, "data.timeout"),
    ("timeout-negative", {"data": {**VALID, "timeout": -5}}, "data.timeout"),
    ("timeout-string", {"data": {**VALID, "timeout": "x"}}, "data.timeout"),
    ("retries-negative", {"data": {**VALID, "retries": -1}}, "data.retries"),
    ("retries-11", {"data": {**VALID, "retries": 11}}, "data.retries"),
    ("retries-float", {"data": {**VALID, "retries": 1.5}}, "data.retries"),
    ("success-codes-abc", {"data": {**VALID, "success_codes": ["abc"]}}, "data.success_codes"),
    ("success-codes-empty", {"data": {**VALID, "success_codes": []}}, "data.success_codes"),
    ("success-codes-600", {"data": {**VALID, "success_codes": [600]}}, "data.success_codes"),
    ("schedule-missing", {"schedule": None}, "schedule"),
    ("schedule-number", {"schedule": 5}, "schedule"),
    ("schedule-0-seconds", {"schedule": "every 0 seconds"}, "schedule"),
    ("schedule-25-oclock", {"schedule": "every day @ 25:00"}, "schedule"),
    ("schedule-bad-cron", {"schedule": "61 * * * *"}, "schedule"),
    ("schedule-once-garbage", {"schedule": "once @ tomorrow"}, "schedule"),
    ("timezone-mars", {"timezone": "Mars/Olympus"}, "timezone"),
    ("timezone-empty", {"timezone": ""}, "timezone"),
    ("timezone-number", {"timezone": 3}, "timezone"),
    ("enabled-maybe", {"enabled": "maybe"}, "enabled"),
    ("unknown-top-field", {"foo": "bar"}, "foo"),
]


def _bad_create_payload(change: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "bad", "type": "http", "data": copy.deepcopy(VALID), "schedule": "every hour"}
    for key, value in change.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


async def test_create_rejects_bad_input_and_stores_nothing(user_api: Api) -> None:
    """Every case in BAD_CREATES against one server (a server per case costs seconds); all failures are listed."""
    failures = []
    for case, change, field in BAD_CREATES:
        status, body = await user_api.call("POST", "/job", json=_bad_create_payload(change))
        count = await job_count(user_api)
        if status != 400 or body.get("id") != "error" or body.get("data", {}).get("field") != field or count != 0:
            failures.append(f"{case}: expected 400 naming {field!r}, got {status} {body} with {count} jobs stored")
    assert not failures, "\n".join(failures)


async def test_create_rejects_a_name_with_a_trailing_newline(user_api: Api) -> None:
    """A `$`-anchored pattern lets "name\\n" through; the job was then stored and the Location header made a 500."""
    status, body = await user_api.call("POST", "/job", json=_bad_create_payload({"name": "nightly\n"}))
    assert_error(status, body, 400, "name")
    assert await job_count(user_api) == 0


async def test_body_and_json_together_are_400(user_api: Api) -> None:
    payload = job_body("both", "http://127.0.0.1:9/")
    payload["data"].update(body="text", json={"a": 1})
    status, body = await user_api.call("POST", "/job", json=payload)
    assert_error(status, body, 400)
    assert body["data"]["field"] in ("data.body", "data.json")
    assert await job_count(user_api) == 0


async def test_an_unknown_schedule_is_400_and_describes_the_grammar(user_api: Api) -> None:
    status, body = await user_api.call(
        "POST", "/job", json=job_body("moon", "http://127.0.0.1:9/", schedule="every blue moon")
    )
    assert_error(status, body, 400, "schedule")
    assert "every N seconds" in body["description"]
    assert "cron" in body["description"]
    assert await job_count(user_api) == 0


async def test_an_unknown_timezone_is_400(user_api: Api) -> None:
    status, body = await user_api.call(
        "POST",
        "/job",
        json=job_body("mars", "http://127.0.0.1:9/", schedule="every day @ 10:00", timezone="Mars/Olympus"),
    )
    assert_error(status, body, 400, "timezone")
    assert await job_count(user_api) == 0


@pytest.mark.parametrize(
    "raw", [b'{"name": "x", ', b"not json at all", b'{"name": "x"} trailing'], ids=["truncated", "text", "trailing"]
)
async def test_an_invalid_json_body_is_400_naming_body(user_api: Api, raw: bytes) -> None:
    status, body = await user_api.call("POST", "/job", data=raw, headers={"Content-Type": "application/json"})
    assert_error(status, body, 400, "body")
    assert await job_count(user_api) == 0


@pytest.mark.parametrize(
    "raw", [b'[{"name": "x"}]', b'"a string"', b"42", b"null"], ids=["array", "string", "number", "null"]
)
async def test_a_json_body_that_is_not_an_object_is_400(user_api: Api, raw: bytes) -> None:
    status, body = await user_api.call("POST", "/job", data=raw, headers={"Content-Type": "application/json"})
    assert_error(status, body, 400, "body")
    assert await job_count(user_api) == 0


async def test_an_empty_create_body_is_400(user_api: Api) -> None:
    status, body = await user_api.call("POST", "/job", data=b"", headers={"Content-Type": "application/json"})
    assert_error(status, body, 400)
    assert await job_count(user_api) == 0


# body size


async def test_a_body_over_the_limit_is_413_in_the_envelope(user_api: Api) -> None:
    payload = job_body("huge", "http://127.0.0.1:9/")
    payload["data"]["body"] = "x" * (LIMIT + 1024)
    status, body = await user_api.call("POST", "/job", json=payload, headers=CLOSE)
    assert_error(status, body, 413)
    assert body["data"].get("limit") == LIMIT
    assert await job_count(user_api) == 0


async def test_a_body_just_under_the_limit_is_accepted(user_api: Api) -> None:
    payload = job_body("big", "http://127.0.0.1:9/")
    payload["data"]["body"] = "x" * (LIMIT - 1024)
    status, body = await user_api.call("POST", "/job", json=payload)
    assert status == 201, body
    assert len(body["data"]["data"]["body"]) == LIMIT - 1024


async def test_a_chunked_body_over_the_limit_is_413_in_the_envelope(user_api: Api) -> None:
    """Without a Content-Length, tornado's max_body_size (limit + 1) trips before the handler can answer."""

    async def chunks() -> Any:
        for _ in range(LIMIT // 1024 + 8):
            yield b" " * 1024

    async with user_api.session.post(
        user_api.base + "/job",
        data=chunks(),
        headers={**user_api.headers(), "Content-Type": "application/json", **CLOSE},
    ) as response:
        status, raw = response.status, await response.read()
    assert status == 413, raw
    body = _json(raw)
    assert_error(status, body, 413)


def _json(raw: bytes) -> dict[str, Any]:
    parsed = json.loads(raw)
    assert isinstance(parsed, dict)
    return parsed


# schedules


def _expect_next_run(schedule: str, next_run: float, now: float) -> None:
    moment = datetime.fromtimestamp(next_run, UTC)
    intervals = {
        "every hour": 3600,
        "every 2 hours": 7200,
        "every minute": 60,
        "every 5 minutes": 300,
        "every 10 seconds": 10,
    }
    if schedule in intervals:
        assert now < next_run <= now + intervals[schedule] + 1
    elif schedule == "every day @ 13:00":
        assert (moment.hour, moment.minute, moment.second) == (13, 0, 0)
        assert now < next_run <= now + 86400 + 1
    elif schedule == "every 3 days @ 07:30":
        assert (moment.hour, moment.minute, moment.second) == (7, 30, 0)
        assert now < next_run <= now + 3 * 86400 + 1
    elif schedule == "*/5 * * * *":
        assert next_run % 300 == 0
        assert now < next_run <= now + 300 + 1
    else:
        raise AssertionError(schedule)


SCHEDULES = [
    ("every hour", "every hour"),
    ("every 2 hours", "every 2 hours"),
    ("every minute", "every minute"),
    ("every 5 minutes", "every 5 minutes"),
    ("every 10 seconds", "every 10 seconds"),
    ("every day @ 13:00", "every day @ 13:00"),
    ("every 3 days @ 7:30", "every 3 days @ 07:30"),
    ("*/5 * * * *", "*/5 * * * *"),
    ("Every   5  Minutes", "every 5 minutes"),
]


@pytest.mark.parametrize(("given", "echoed"), SCHEDULES, ids=[g for g, _ in SCHEDULES])
async def test_every_schedule_form_is_accepted_and_echoed(user_api: Api, given: str, echoed: str) -> None:
    now = time.time()
    status, body = await user_api.call("POST", "/job", json=job_body("sched", "http://127.0.0.1:9/", schedule=given))
    assert status == 201, body
    job = body["data"]
    assert job["schedule"] == echoed
    assert job["state"] == "scheduled"
    _expect_next_run(echoed, job["next_run"], now)
    stored = await get_job(user_api, "sched")
    assert stored["schedule"] == echoed
    assert stored["next_run"] == job["next_run"]


async def test_a_future_once_schedule_is_accepted_and_echoed(user_api: Api) -> None:
    at = int(time.time()) + 7200
    status, body = await user_api.call(
        "POST", "/job", json=job_body("later", "http://127.0.0.1:9/", schedule=f"once @ {at}")
    )
    assert status == 201, body
    assert body["data"]["schedule"] == f"once @ {at}"
    assert body["data"]["next_run"] == at
    assert body["data"]["state"] == "scheduled"


async def test_a_once_schedule_with_an_iso_timestamp(user_api: Api) -> None:
    at = int(time.time()) + 7200
    iso = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = await user_api.call(
        "POST", "/job", json=job_body("iso", "http://127.0.0.1:9/", schedule=f"once @ {iso}")
    )
    assert status == 201, body
    assert body["data"]["next_run"] == at


async def test_a_past_once_fires_once_then_is_done(user_api: Api, sink: Sink) -> None:
    past = int(time.time()) - 60
    status, body = await user_api.call(
        "POST", "/job", json=job_body("once", sink.url + "/once", schedule=f"once @ {past}")
    )
    assert status == 201, body
    assert body["data"]["schedule"] == f"once @ {past}"
    await wait_for(lambda: sink.paths("/once"), timeout=3)
    job = await wait_for(lambda: _job_in_state(user_api, "once", "done"), timeout=3)
    assert job["next_run"] is None
    assert job["enabled"] is True
    # Changing its data does not bring a finished job back.
    status, body = await user_api.call("PATCH", "/job/once", json={"data": {"url": sink.url + "/once", "retries": 1}})
    assert status == 200, body
    assert body["data"]["state"] == "done" and body["data"]["next_run"] is None
    await user_api.create_job("witness", sink.url + "/witness", schedule="every 1 seconds")
    # A past `once` would fire again at once if it were still scheduled; a witness slot later it has not.
    await wait_for(lambda: sink.paths("/witness"), timeout=3)
    assert len(sink.paths("/once")) == 1
    job = await wait_for(lambda: _job_with_runs(user_api, "once"), timeout=3)
    assert len(job["runs"]) == 1 and job["runs"][0]["outcome"] == "ok"
    assert job["state"] == "done" and job["next_run"] is None


async def _job_in_state(api: Api, name: str, state: str) -> dict[str, Any] | None:
    job = await get_job(api, name)
    return job if job["state"] == state else None


# other endpoints


async def test_health_reports_database_and_scheduler(api: Api) -> None:
    status, body = await api.call("GET", "/health")
    assert status == 200, body
    assert body["id"] == "success"
    assert body["data"]["database"] == "ok"
    assert body["data"]["scheduler"] == "ok"


async def test_index_answers_the_name(api: Api) -> None:
    status, body = await api.call("GET", "/")
    assert status == 200, body
    assert body["id"] == "success" and body["data"]["name"]


@pytest.mark.parametrize("path", ["/nope", "/job/a/b/c", "/jobs", "/register/extra"])
async def test_an_unknown_path_is_404_in_the_envelope(user_api: Api, session: aiohttp.ClientSession, path: str) -> None:
    async with session.get(user_api.base + path, headers={**user_api.headers(), **CLOSE}) as response:
        status, content_type = response.status, response.headers.get("Content-Type", "")
        body = await response.json(content_type=None)
    assert content_type.startswith("application/json")
    assert_error(status, body, 404)


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("DELETE", "/register", False),
        ("GET", "/login", False),
        ("PUT", "/health", False),
        ("PUT", "/job", True),
        ("DELETE", "/job", True),
        ("POST", "/job/x", True),
        ("GET", "/job/x/run", True),
        ("FOO", "/register", False),
    ],
)
async def test_a_wrong_method_is_405_in_the_envelope(
    user_api: Api, session: aiohttp.ClientSession, method: str, path: str, auth: bool
) -> None:
    headers = {**(user_api.headers() if auth else {}), **CLOSE}
    async with session.request(method, user_api.base + path, headers=headers) as response:
        status, content_type, raw = response.status, response.headers.get("Content-Type", ""), await response.text()
    assert status == 405, raw
    assert content_type.startswith("application/json")
    assert "<html" not in raw.lower()
    body = _json(raw.encode())
    assert_error(status, body, 405)


async def test_the_server_keeps_serving_after_errors(user_api: Api, server: Server) -> None:
    """A burst of bad requests leaves the API and health answering."""
    for raw in (b"{", b"[]", b'{"name": 1}'):
        status, _ = await user_api.call("POST", "/job", data=raw, headers={"Content-Type": "application/json"})
        assert status == 400
    status, body = await user_api.call("GET", "/health")
    assert status == 200 and body["data"]["scheduler"] == "ok"
    assert server.scheduler is not None and server.scheduler.is_alive()
