"""A Seed schedule's auth_token over the real Seed API, fired at the real sink: stored sealed,
answered as "********" (sent back, it keeps the token), replaced by a new one, sent to the
endpoint in plain text. And a Seed schedule's requests and webhooks are signed (Standard Webhooks)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.api.test_seed import FAR_FUTURE_CRON, SeedClient, assert_field_error, header, native, run_now, service_client
from tests.api.test_signing import new_secret, verifies
from tests.helpers import Hit, Sink, wait_for
from veggiecron.app import Server

HIDDEN = "********"


@pytest.fixture
async def seed_client(server: Server, session: aiohttp.ClientSession) -> SeedClient:
    assert server.ctx is not None
    admin, _ = await server.ctx.accounts.issue_token(await server.ctx.accounts.ensure_admin("ops"))
    return await service_client(SeedClient(f"http://127.0.0.1:{server.port}", session, admin), "svc@example.org")


async def fire(client: SeedClient, sink: Sink, schedule: dict[str, Any], path: str) -> Hit:
    before = len(sink.paths(path))
    await run_now(client, schedule)
    await wait_for(lambda: len(sink.paths(path)) > before, timeout=10)
    return sink.paths(path)[before]


async def test_the_auth_token_is_answered_hidden_and_kept_when_sent_back(seed_client: SeedClient, sink: Sink) -> None:
    client = seed_client
    created = await client.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/t", payload={"a": 1}, auth_token="tok-secret-1"
    )
    assert created["auth_token"] == HIDDEN
    assert (await client.get_ok(created["url"]))["auth_token"] == HIDDEN
    listed = await client.get_ok("/api/v1/schedule/")
    assert [s["auth_token"] for s in listed["results"]] == [HIDDEN]
    status, body = await native(client).call("GET", "/job")
    assert body["data"]["jobs"][0]["data"]["headers"] == {"Authorization": {"secret": "set"}}
    assert "tok-secret-1" not in str(body) and "tok-secret-1" not in str(listed)
    assert header((await fire(client, sink, created, "/t")).headers, "Authorization") == "Token tok-secret-1"

    # The schedule as answered, sent back with a change: the token stays.
    sent_back = {**created, "payload": {"a": 2}}
    reply = await client.call("PUT", created["url"], json=sent_back)
    assert reply.status == 200 and reply.body["auth_token"] == HIDDEN, reply.body
    reply = await client.call("PATCH", created["url"], json={"payload": {"a": 3}})
    assert reply.status == 200 and reply.body["auth_token"] == HIDDEN
    hit = await fire(client, sink, created, "/t")
    assert header(hit.headers, "Authorization") == "Token tok-secret-1" and hit.body == b'{"a":3}'

    reply = await client.call("PATCH", created["url"], json={"auth_token": "tok-secret-2"})
    assert reply.status == 200 and reply.body["auth_token"] == HIDDEN
    assert header((await fire(client, sink, created, "/t")).headers, "Authorization") == "Token tok-secret-2"

    reply = await client.call("PATCH", created["url"], json={"auth_token": None})
    assert reply.status == 200 and reply.body["auth_token"] is None
    assert header((await fire(client, sink, created, "/t")).headers, "Authorization") is None


async def test_a_new_schedule_has_no_token_to_keep(seed_client: SeedClient, sink: Sink) -> None:
    reply = await seed_client.call(
        "POST",
        "/api/v1/schedule/",
        json={"interval_definition": "1 hours", "endpoint": sink.url + "/n", "auth_token": HIDDEN},
    )
    assert_field_error(reply, "auth_token")
    assert await seed_client.count("/api/v1/schedule/") == 0


async def test_seed_requests_and_webhooks_are_signed_with_the_owners_secrets(
    seed_client: SeedClient, sink: Sink
) -> None:
    """Standard Webhooks, verified with the reference library as a receiver would."""
    client = seed_client
    api = native(client)
    _, first = await new_secret(api)
    _, second = await new_secret(api)
    reply = await client.call(
        "POST", "/api/v1/webhook/", json={"event": "schedule.added", "target": sink.url + "/hook"}
    )
    assert reply.status == 201, reply.body
    created = await client.create_schedule(
        cron_definition=FAR_FUTURE_CRON, endpoint=sink.url + "/signed", payload={"n": 1}, auth_token="tok"
    )
    (hook,) = await wait_for(lambda: sink.paths("/hook"), timeout=5)
    delivery = await fire(client, sink, created, "/signed")
    for hit in (hook, delivery):
        for secret in (first, second):  # one signature per active secret
            assert verifies(secret, hit), hit.headers
        tampered = Hit(hit.method, hit.path, hit.headers, hit.body + b" ", hit.arrived_at)
        assert not verifies(first, tampered)
    assert delivery.headers["webhook-id"] == delivery.headers["Idempotency-Key"]
    assert hook.headers["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):  # a receiver holding another secret refuses it
        Webhook("whsec_" + "A" * 43 + "=").verify(delivery.body, delivery.headers)
