"""Response assertions (`data.expect`) over the real server and a real local sink: each kind of
check fails a run the status code alone would call ok (or the reverse), with error_class "assertion"."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.api.test_runs import run_now, run_once, wait_for_runs
from tests.helpers import Api, Sink, wait_for


async def expect_run(api: Api, sink: Sink, name: str, expect: dict[str, Any], **data: Any) -> dict[str, Any]:
    return await run_once(api, name, {"url": f"{sink.url}/{name}", "expect": expect, **data})


def assert_assertion_failed(run: dict[str, Any], *words: str) -> None:
    assert run["outcome"] == "failed", run
    assert run["error_class"] == "assertion", run
    for word in words:
        assert word in run["error"], run


async def test_json_pointer_equals_fails_a_200_that_says_down(user_api: Api, sink: Sink) -> None:
    sink.body = b'{"status": "down"}'
    run = await expect_run(user_api, sink, "health", {"json": [{"pointer": "/status", "equals": "ok"}]})
    assert_assertion_failed(run, "/status", '"down"', '"ok"')
    assert run["status_code"] == 200 and run["attempts"] == 1
    sink.body = b'{"status": "ok"}'
    await run_now(user_api, "health")
    assert (await wait_for_runs(user_api, "health", 2))[0]["outcome"] == "ok"


async def test_json_exists_and_escaped_pointers(user_api: Api, sink: Sink) -> None:
    sink.body = orjson.dumps({"a/b": {"m~n": [1, {"ok": True}]}, "n": 1})
    checks = [
        {"pointer": "/a~1b/m~0n/1/ok", "equals": True},
        {"pointer": "/n", "equals": 1.0},  # JSON numbers: 1 is 1.0
        {"pointer": "/a~1b/m~0n/2", "exists": False},
        {"pointer": "/a~1b/m~0n/-", "exists": False},
    ]
    assert (await expect_run(user_api, sink, "fine", {"json": checks}))["outcome"] == "ok"
    run = await expect_run(user_api, sink, "gone", {"json": [{"pointer": "/missing", "exists": True}]})
    assert_assertion_failed(run, "/missing", "saw nothing")
    run = await expect_run(user_api, sink, "there", {"json": [{"pointer": "/n", "exists": False}]})
    assert_assertion_failed(run, "/n", "saw 1")
    run = await expect_run(user_api, sink, "truth", {"json": [{"pointer": "/n", "equals": True}]})
    assert_assertion_failed(run, "/n")  # true is not 1
    sink.body = b"<html>error</html>"
    run = await expect_run(user_api, sink, "html", {"json": [{"pointer": "/n", "exists": True}]})
    assert_assertion_failed(run, "not JSON", "<html>")


async def test_body_contains_reads_past_the_excerpt(user_api: Api, sink: Sink) -> None:
    sink.body = b"x" * 5000 + b" READY " + b"y" * 300
    assert (await expect_run(user_api, sink, "ready", {"body_contains": "READY"}))["outcome"] == "ok"
    run = await expect_run(user_api, sink, "late", {"body_contains": ["READY", "DONE"]})
    assert_assertion_failed(run, "body_contains[1]", "'DONE' not found")
    assert len(run["error"]) < 400  # what was seen is cut to 200 characters


async def test_body_not_contains(user_api: Api, sink: Sink) -> None:
    sink.body = b"<h1>Internal error</h1>"
    run = await expect_run(user_api, sink, "page", {"body_not_contains": ["error"]})
    assert_assertion_failed(run, "body_not_contains[0]", "Internal error")


async def test_header_matches(user_api: Api, sink: Sink) -> None:
    sink.response_headers = {"X-Version": "2.3.1"}
    ok = await expect_run(user_api, sink, "v2", {"header": {"name": "x-version", "matches": r"^2\."}})
    assert ok["outcome"] == "ok"
    run = await expect_run(user_api, sink, "v3", {"header": [{"name": "X-Version", "matches": r"^3\."}]})
    assert_assertion_failed(run, "X-Version", "2.3.1")
    run = await expect_run(user_api, sink, "none", {"header": {"name": "X-Absent", "matches": "."}})
    assert_assertion_failed(run, "X-Absent", "no such header")


async def test_max_ms(user_api: Api, sink: Sink) -> None:
    sink.delay = 0.3
    run = await expect_run(user_api, sink, "slow", {"max_ms": 100})
    assert_assertion_failed(run, "expect.max_ms")
    assert (await expect_run(user_api, sink, "patient", {"max_ms": 5000}))["outcome"] == "ok"


async def test_status_is_success_codes_by_another_name(user_api: Api, sink: Sink) -> None:
    sink.status = 302
    sink.response_headers = {"Location": "/elsewhere"}
    assert (await expect_run(user_api, sink, "moved", {"status": [200, "3xx"]}))["outcome"] == "ok"
    sink.status = 200
    run = await expect_run(user_api, sink, "strict", {"status": [204]})
    assert_assertion_failed(run, "expect.status", "200")


async def test_an_assertion_is_retried_only_when_asked(user_api: Api, sink: Sink) -> None:
    sink.body = b"nope"
    run = await expect_run(user_api, sink, "once", {"body_contains": "yes"}, retries=2, retry_backoff_seconds=0)
    assert_assertion_failed(run)
    assert run["attempts"] == 1 and len(sink.paths("/once")) == 1
    run = await expect_run(
        user_api, sink, "thrice", {"body_contains": "yes", "retry": True}, retries=2, retry_backoff_seconds=0
    )
    assert_assertion_failed(run)
    assert run["attempts"] == 3 and len(sink.paths("/thrice")) == 3


async def test_failed_assertions_pause_the_job(user_api: Api, sink: Sink) -> None:
    sink.body = b'{"status": "down"}'
    await user_api.create_job(
        "health",
        "",
        schedule="every 1 hours",
        data={"url": sink.url + "/health", "expect": {"json": [{"pointer": "/status", "equals": "ok"}]}},
        pause_after_failures=2,
    )
    for count in (1, 2):
        await run_now(user_api, "health")
        runs = await wait_for_runs(user_api, "health", count)
        assert_assertion_failed(runs[0], "/status")

    async def paused() -> dict[str, Any] | None:
        _, body = await user_api.call("GET", "/job/health")
        return body["data"] if body["data"]["state"] == "paused" else None

    job = await wait_for(paused, timeout=5)
    assert job["consecutive_failures"] == 2 and job["paused_reason"]
    assert job["data"]["expect"] == {"json": [{"pointer": "/status", "equals": "ok"}]}  # stored as given
    # The pause is in the owner's audit log, by the system.
    _, body = await user_api.call("GET", "/audit", params={"action": "job.paused"})
    (row,) = body["data"]["entries"]
    assert (row["actor"], row["target"]) == ("system", "job:health") and "/status" in row["changes"]["paused_reason"][
        "new"
    ]


@pytest.mark.parametrize(
    ("expect", "field"),
    [
        ({"json": [{"pointer": "status", "equals": "ok"}]}, "data.expect.json[0].pointer"),
        ({"json": [{"pointer": "/a~2", "exists": True}]}, "data.expect.json[0].pointer"),
        ({"json": [{"pointer": "/a", "equals": 1, "exists": True}]}, "data.expect.json[0]"),
        ({"header": {"name": "X", "matches": "(unclosed"}}, "data.expect.header[0].matches"),
        ({"body_contains": ["a"] * 3}, "data.expect.body_contains"),
        ({"json": [{"pointer": "/a", "exists": True}] * 7}, "data.expect.json"),
        ({"header": [{"name": "X", "matches": "y"}] * 5}, "data.expect.header"),
        ({"status": ["9xx"]}, "data.expect.status"),
        ({"max_ms": 0}, "data.expect.max_ms"),
        ({"max_ms": None}, "data.expect.max_ms"),
        ({"retry": "yes"}, "data.expect.retry"),
        ({"sometimes": 1}, "data.expect.sometimes"),
        ("ok", "data.expect"),
    ],
)
async def test_bad_assertions_are_a_400_naming_the_field(user_api: Api, sink: Sink, expect: Any, field: str) -> None:
    status, body = await user_api.call(
        "POST", "/job", json={"name": "bad", "schedule": "every 1 hours", "data": {"url": sink.url, "expect": expect}}
    )
    assert status == 400 and body["data"]["field"] == field, body
    status, body = await user_api.call("GET", "/job")
    assert body["data"]["jobs"] == []


async def test_status_and_success_codes_together_are_refused(user_api: Api, sink: Sink) -> None:
    data = {"url": sink.url, "success_codes": [200], "expect": {"status": [200]}}
    status, body = await user_api.call("POST", "/job", json={"name": "both", "schedule": "every 1 hours", "data": data})
    assert status == 400 and body["data"]["field"] == "data.expect.status", body
