"""Secret header values over the real API and dashboard, fired at the real sink: the target gets
the plain value, every answer, page and audit row says {"secret": "set"}, sending "set" back keeps
the secret and a new value replaces it (the dashboard: tests/ui/test_secret_pages.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.api.test_signing import run_now
from tests.helpers import Api, Sink, assert_error

TOKEN = "Bearer tok-4f1c9e-very-secret"
SET = {"secret": "set"}


async def job_of(api: Api, name: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/job/{name}")
    assert status == 200, body
    return body["data"]


async def test_a_secret_header_reaches_the_target_and_is_answered_as_set(user_api: Api, sink: Sink) -> None:
    url = sink.url + "/hidden"
    data = {"url": url, "headers": {"Authorization": {"secret": TOKEN}, "X-Plain": "shown"}}
    created = await user_api.create_job("hidden", url, schedule="every 1 hours", data=data)
    assert created["data"]["headers"] == {"Authorization": SET, "X-Plain": "shown"}
    (hit,) = await run_now(user_api, sink, "hidden", 1)
    assert hit.headers["Authorization"] == TOKEN and hit.headers["X-Plain"] == "shown"

    assert (await job_of(user_api, "hidden"))["data"]["headers"]["Authorization"] == SET
    status, body = await user_api.call("GET", "/job")
    assert status == 200 and body["data"]["jobs"][0]["data"]["headers"]["Authorization"] == SET
    status, body = await user_api.call("GET", "/job", params={"name": "hidden"})
    assert status == 200 and body["data"]["data"]["headers"]["Authorization"] == SET

    # Sent back as answered: kept. A changed other field does not disturb it.
    kept = {**data, "headers": {"Authorization": SET, "X-Plain": "other"}}
    status, body = await user_api.call("PATCH", "/job/hidden", json={"data": kept})
    assert status == 200 and body["data"]["data"]["headers"] == {"Authorization": SET, "X-Plain": "other"}
    (hit,) = await run_now(user_api, sink, "hidden", 1)
    assert hit.headers["Authorization"] == TOKEN and hit.headers["X-Plain"] == "other"

    # A new value replaces it.
    replaced = {**data, "headers": {"Authorization": {"secret": "Bearer new-one"}}}
    status, body = await user_api.call("PUT", "/job/hidden", json={"data": replaced})
    assert status == 200 and body["data"]["data"]["headers"] == {"Authorization": SET}
    (hit,) = await run_now(user_api, sink, "hidden", 1)
    assert hit.headers["Authorization"] == "Bearer new-one"

    # Left out: gone.
    status, body = await user_api.call("PATCH", "/job/hidden", json={"data": {"url": url}})
    assert status == 200 and "headers" not in body["data"]["data"]
    (hit,) = await run_now(user_api, sink, "hidden", 1)
    assert "Authorization" not in hit.headers
    for answer in (created, body):
        assert TOKEN not in json.dumps(answer) and "new-one" not in json.dumps(answer)


async def test_a_change_that_leaves_data_out_keeps_the_secret(user_api: Api, sink: Sink) -> None:
    """Found by a 10-minute fuzzing run: PATCH {"catch_up": null} of a job with a secret header
    was refused, the stored (sealed) data read back as if a request had sent it."""
    url = sink.url + "/kept"
    data = {"url": url, "headers": {"Authorization": {"secret": TOKEN}}}
    await user_api.create_job("kept", url, schedule="every 1 hours", data=data)
    for method, fields in (("PATCH", {"catch_up": None}), ("PUT", {"tags": ["t"]}), ("PATCH", {"enabled": False})):
        status, body = await user_api.call(method, "/job/kept", json=fields)
        assert status == 200, (method, fields, body)
        assert body["data"]["data"]["headers"] == {"Authorization": SET}
    (hit,) = await run_now(user_api, sink, "kept", 1)
    assert hit.headers["Authorization"] == TOKEN


async def test_bad_secret_values_are_refused_and_change_nothing(user_api: Api, sink: Sink) -> None:
    url = sink.url + "/x"
    for value in (
        SET,  # nothing to keep in a new job
        {"secret": {"sealed": "v1:AAAA"}},  # the stored form is not for requests
        {"secret": 5},
        {"secret": "a\nb"},
        {"secret": "x", "other": 1},
        {},
    ):
        status, body = await user_api.call(
            "POST",
            "/job",
            json={"name": "bad", "data": {"url": url, "headers": {"A": value}}, "schedule": "every 1 hours"},
        )
        assert_error(status, body, 400, "data.headers")
    status, body = await user_api.call("GET", "/job")
    assert body["data"]["count"] == 0
    await user_api.create_job("plain", url, schedule="every 1 hours", data={"url": url, "headers": {"A": "b"}})
    status, body = await user_api.call("PATCH", "/job/plain", json={"data": {"url": url, "headers": {"A": SET}}})
    assert_error(status, body, 400, "data.headers")
    assert (await job_of(user_api, "plain"))["data"]["headers"] == {"A": "b"}


async def test_the_audit_log_writes_a_secret_as_set(user_api: Api, sink: Sink) -> None:
    url = sink.url + "/a"
    await user_api.create_job(
        "audited", url, schedule="every 1 hours", data={"url": url, "headers": {"K": {"secret": TOKEN}}}
    )
    status, body = await user_api.call(
        "PATCH", "/job/audited", json={"data": {"url": url, "headers": {"K": {"secret": "another-secret"}}}}
    )
    assert status == 200, body
    status, body = await user_api.call("GET", "/audit", params={"target": "job:audited"})
    assert status == 200 and len(body["data"]["entries"]) == 2, body
    text = json.dumps(body)
    assert TOKEN not in text and "another-secret" not in text and "v1:" not in text
    assert '"K": {"secret": "set"}' in text
