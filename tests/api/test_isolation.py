"""A second user walks every endpoint of both APIs: nothing of the first user's is reachable."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.helpers import Api, Sink, wait_for
from veggiecron.app import Server

PASSWORD = "s3cret-pass"


@pytest.fixture
async def two_users(server: Server, session: aiohttp.ClientSession) -> tuple[Api, Api]:
    """Alice, whose things are at stake, and mallory, who tries to reach them."""
    base = f"http://127.0.0.1:{server.port}"
    alice, mallory = Api(base, session), Api(base, session)
    await alice.register_and_login("alice", PASSWORD)
    await mallory.register_and_login("mallory", PASSWORD)
    return alice, mallory


async def test_nothing_of_another_user_is_readable_changeable_or_triggerable(
    two_users: tuple[Api, Api], sink: Sink
) -> None:
    alice, mallory = two_users
    base = alice.base

    # Alice's things: a job with runs, a Seed schedule with a failed task, a webhook, a token.
    await alice.create_job("secret", sink.url + "/secret", schedule="every 1 hours")
    status, _ = await alice.call("POST", "/job/secret/run")
    assert status == 202
    sink.status = 500
    status, schedule = await alice.call(
        "POST",
        "/api/v1/schedule/",
        json={"cron_definition": "0 0 1 1 *", "endpoint": sink.url + "/seed", "payload": {"x": 1}},
    )
    assert status == 201
    job_name = f"seed-{schedule['id']}"
    status, _ = await alice.call("POST", f"/job/{job_name}/run")
    assert status == 202

    async def failed() -> list[dict[str, Any]]:
        _, body = await alice.call("GET", "/api/v1/failed-tasks/")
        return list(body["results"])

    (failure,) = await wait_for(failed, timeout=10)
    sink.status = 200
    status, hook = await alice.call(
        "POST", "/api/v1/webhook/", json={"event": "schedule.added", "target": sink.url + "/hook"}
    )
    assert status == 201
    _, tokens = await alice.call("GET", "/tokens")
    alice_token_id = tokens["data"]["tokens"][0]["id"]
    _, users = await alice.call("GET", "/api/v1/user/")
    alice_user_url = users["results"][0]["url"]
    _, before_job = await alice.call("GET", "/job/secret")
    hits_before = len(sink.hits)

    change = {"data": {"url": sink.url + "/stolen"}, "enabled": False}
    native = [
        ("GET", "/job?name=secret", None),
        ("GET", "/job/secret", None),
        ("PUT", "/job/secret", change),
        ("PATCH", "/job/secret", change),
        ("POST", "/job/secret/run", None),
        ("GET", "/job/secret/runs", None),
        ("GET", "/job/secret/next", None),
        ("DELETE", "/job/secret", None),
        ("GET", f"/job/{job_name}", None),
        ("POST", f"/job/{job_name}/run", None),
        ("DELETE", f"/tokens/{alice_token_id}", None),
    ]
    for method, path, body in native:
        status, answer = await mallory.call(method, path, json=body)
        assert status == 404, (method, path, status, answer)
    seed_change = {"endpoint": sink.url + "/stolen", "enabled": False, "cron_definition": "* * * * *"}
    seed = [
        ("GET", schedule["url"], None),
        ("PUT", schedule["url"], seed_change),
        ("PATCH", schedule["url"], seed_change),
        ("DELETE", schedule["url"], None),
        ("GET", failure["url"], None),
        ("GET", f"/api/v1/webhook/{hook['id']}/", None),
        ("PUT", f"/api/v1/webhook/{hook['id']}/", {"event": "schedule.added", "target": sink.url + "/stolen"}),
        ("PATCH", f"/api/v1/webhook/{hook['id']}/", {"target": sink.url + "/stolen"}),
        ("DELETE", f"/api/v1/webhook/{hook['id']}/", None),
        ("GET", alice_user_url, None),
    ]
    for method, path, payload in seed:
        url = path if path.startswith("http") else base + path
        async with mallory.session.request(method, url, json=payload, headers=mallory.headers()) as response:
            assert response.status == 404, (method, path, response.status, await response.text())

    # Lists show mallory nothing of alice's, and a requeue by mallory leaves alice's failure alone.
    for path, key in (
        ("/api/v1/schedule/", "results"),
        ("/api/v1/failed-tasks/", "results"),
        ("/api/v1/webhook/", "results"),
    ):
        _, answer = await mallory.call("GET", path)
        assert answer[key] == [] and answer["count"] == 0, path
    _, answer = await mallory.call("GET", "/api/v1/user/")
    assert [u["username"] for u in answer["results"]] == ["mallory"]
    _, answer = await mallory.call("GET", "/job")
    assert answer["data"]["count"] == 0
    _, answer = await mallory.call("GET", "/tokens")
    assert answer["data"]["count"] == 1
    status, _ = await mallory.call("POST", "/api/v1/failed-tasks/")
    assert status == 201
    status, _ = await mallory.call("POST", "/api/v1/user/token/", json={"email": "alice@example.org"})
    assert status == 403
    # A schedule mallory creates does not reach alice's webhook.
    status, _ = await mallory.call(
        "POST", "/api/v1/schedule/", json={"cron_definition": "0 0 1 1 *", "endpoint": sink.url + "/m"}
    )
    assert status == 201

    # Everything of alice's is as it was, and nothing of hers was fired by mallory.
    _, after_job = await alice.call("GET", "/job/secret")
    assert {k: v for k, v in after_job["data"].items() if k != "runs"} == {
        k: v for k, v in before_job["data"].items() if k != "runs"
    }
    status, still = await alice.call("GET", schedule["url"].removeprefix(base))
    assert status == 200 and still["endpoint"] == sink.url + "/seed" and still["enabled"] is True
    assert await failed() == [failure]
    status, still_hook = await alice.call("GET", f"/api/v1/webhook/{hook['id']}/")
    assert status == 200 and still_hook["target"] == sink.url + "/hook"
    _, tokens_after = await alice.call("GET", "/tokens")
    assert tokens_after["data"]["count"] == tokens["data"]["count"]
    assert len(sink.hits) == hits_before
    assert sink.paths("/stolen") == [] and sink.paths("/hook") == []


async def test_a_cookie_one_target_sets_never_reaches_another_request(two_users: tuple[Api, Api], sink: Sink) -> None:
    alice, mallory = two_users
    sink.response_headers = {"Set-Cookie": "session=alice-secret; Path=/"}
    named = sink.url.replace("127.0.0.1", "localhost")  # a jar keeps no cookie of an IP address
    await alice.create_job("login", named + "/alice", schedule="every 1 hours")
    status, _ = await alice.call("POST", "/job/login/run")
    assert status == 202
    await wait_for(lambda: sink.paths("/alice"), timeout=5)
    await mallory.create_job("probe", named + "/mallory", schedule="every 1 hours")
    status, _ = await mallory.call("POST", "/job/probe/run")
    assert status == 202
    status, _ = await alice.call("POST", "/job/login/run")
    assert status == 202
    await wait_for(lambda: sink.paths("/mallory") and len(sink.paths("/alice")) == 2, timeout=5)
    # The runner keeps no cookie jar: neither another user's job nor the same job sends it back.
    assert all("Cookie" not in hit.headers for hit in sink.hits), [hit.headers.get("Cookie") for hit in sink.hits]
