"""Signed requests (Standard Webhooks) over the real API, verified at a real local sink with the
spec's reference library exactly as a receiver would: secrets shown once and listed without the
secret, every request and notification verifies with each active secret, tampering fails, an
ended secret signs no more, and data.sign false leaves a job's requests unsigned."""

from __future__ import annotations

import base64
import glob
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.helpers import Api, Hit, Sink, start_server, test_config, wait_for
from veggiecron.app import Server
from veggiecron.sealed import WrongSecretsKey
from veggiecron.signing import key_of, signed_headers
from veggiecron.signing_service import MAX_SECRETS_PER_USER


async def new_secret(api: Api) -> tuple[int, str]:
    status, body = await api.call("POST", "/signing-secrets")
    assert status == 201, body
    return body["data"]["id"], body["data"]["secret"]


async def run_now(api: Api, sink: Sink, name: str, count: int) -> list[Hit]:
    before = len(sink.paths(f"/{name}"))
    status, body = await api.call("POST", f"/job/{name}/run")
    assert status in (200, 202), body
    await wait_for(lambda: len(sink.paths(f"/{name}")) >= before + count, timeout=10)
    return sink.paths(f"/{name}")[before:]


def verifies(secret: str, hit: Hit) -> bool:
    try:
        Webhook(secret).verify(hit.body, hit.headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


async def test_a_secret_is_shown_once_listed_by_id_and_ended(user_api: Api, server: Server) -> None:
    secret_id, secret = await new_secret(user_api)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    status, body = await user_api.call("GET", "/signing-secrets")
    assert status == 200 and [s["id"] for s in body["data"]["signing_secrets"]] == [secret_id]
    assert "secret" not in body["data"]["signing_secrets"][0] and secret[6:] not in str(body)
    assert body["data"]["signing_secrets"][0]["date_created_utc"]
    status, _ = await user_api.call("GET", "/signing-secrets", params={"user": "bob"})
    assert status == 403  # only admins read another user's
    assert server.ctx is not None
    admin = await server.ctx.accounts.ensure_admin("ops")
    token, _ = await server.ctx.accounts.issue_token(admin)
    status, body = await user_api.call("GET", "/signing-secrets", params={"user": "alice"}, token=token)
    assert status == 200 and [s["id"] for s in body["data"]["signing_secrets"]] == [secret_id]
    status, body = await user_api.call("GET", "/signing-secrets", token=token)
    assert status == 200 and body["data"]["count"] == 0  # the admin's own
    status, _ = await user_api.call("DELETE", f"/signing-secrets/{secret_id}", token=token)
    assert status == 404  # not the admin's secret
    status, _ = await user_api.call("DELETE", f"/signing-secrets/{secret_id}")
    assert status == 200
    status, _ = await user_api.call("DELETE", f"/signing-secrets/{secret_id}")
    assert status == 404
    for odd in ("nope", "%C2%B3", "%D9%A3"):  # "³" and "٣" are digits to str.isdigit, not ids
        status, _ = await user_api.call("DELETE", f"/signing-secrets/{odd}")
        assert status == 404, odd


async def test_a_user_holds_at_most_ten_secrets(user_api: Api, sink: Sink) -> None:
    # Each active secret lengthens every request's webhook-signature header: it stays well
    # under the 8 KiB a receiver takes in a header line.
    ids = [(await new_secret(user_api))[0] for _ in range(MAX_SECRETS_PER_USER)]
    status, body = await user_api.call("POST", "/signing-secrets")
    assert status == 409 and body["data"]["limit"] == MAX_SECRETS_PER_USER, body
    status, body = await user_api.call("GET", "/signing-secrets")
    assert body["data"]["count"] == MAX_SECRETS_PER_USER  # the refused one was not stored
    status, _ = await user_api.call("DELETE", f"/signing-secrets/{ids[0]}")
    assert status == 200
    await new_secret(user_api)  # room again


async def test_every_request_verifies_with_each_active_secret(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("plain", sink.url + "/plain", schedule="every 1 hours", data={"url": sink.url + "/plain"})
    (unsigned,) = await run_now(user_api, sink, "plain", 1)
    assert "webhook-signature" not in {k.lower() for k in unsigned.headers}  # no secret yet: unsigned

    first_id, first = await new_secret(user_api)
    _, second = await new_secret(user_api)  # rotation: both sign until one is ended
    url = sink.url + "/signed"
    data = {"url": url, "verb": "POST", "json": {"hello": "world"}, "number_of_clones": 2, "retries": 1}
    await user_api.create_job("signed", url, schedule="every 1 hours", data=data)
    sink.fail_first = 1  # one clone's first attempt fails and is retried
    hits = await run_now(user_api, sink, "signed", 3)
    assert len({h.headers["webhook-id"] for h in hits}) == 1  # one id for every retry and clone
    assert hits[0].headers["webhook-id"] == hits[0].headers["Idempotency-Key"]
    for hit in hits:
        assert len(hit.headers["webhook-signature"].split(" ")) == 2
        assert abs(int(hit.headers["webhook-timestamp"]) - hit.arrived_at) < 5
        assert verifies(first, hit) and verifies(second, hit)
        changed_body = Hit(hit.method, hit.path, hit.headers, hit.body + b" ", hit.arrived_at)
        assert not verifies(first, changed_body)
        changed_id = Hit(hit.method, hit.path, {**hit.headers, "webhook-id": "other"}, hit.body, hit.arrived_at)
        assert not verifies(first, changed_id)
        old = str(int(hit.headers["webhook-timestamp"]) - 600)
        assert not verifies(first, Hit(hit.method, hit.path, {**hit.headers, "webhook-timestamp": old}, hit.body, 0))
    # Signed truthfully ten minutes ago: too old for a receiver all the same.
    stale = signed_headers((key_of(first),), "msg_1", time.time() - 600, hits[0].body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(first).verify(hits[0].body, stale, json_parse=False)

    status, _ = await user_api.call("DELETE", f"/signing-secrets/{first_id}")
    assert status == 200
    (after,) = await run_now(user_api, sink, "plain", 1)
    assert verifies(second, after) and not verifies(first, after)
    assert len(after.headers["webhook-signature"].split(" ")) == 1


async def test_data_sign_false_leaves_a_job_unsigned(user_api: Api, sink: Sink) -> None:
    await new_secret(user_api)
    url = sink.url + "/quiet"
    job = await user_api.create_job("quiet", url, schedule="every 1 hours", data={"url": url, "sign": False})
    assert job["data"]["sign"] is False
    (hit,) = await run_now(user_api, sink, "quiet", 1)
    assert not {"webhook-id", "webhook-signature", "webhook-timestamp"} & {k.lower() for k in hit.headers}
    status, body = await user_api.call(
        "POST",
        "/job",
        json={"name": "bad", "type": "http", "data": {"url": url, "sign": "no"}, "schedule": "every 1 hours"},
    )
    assert status == 400 and "data.sign" in str(body)


async def test_notifications_are_signed(user_api: Api, sink: Sink) -> None:
    _, secret = await new_secret(user_api)
    sink.status = 500
    failing = sink.url + "/failing"
    await user_api.create_job(
        "failing", failing, schedule="every 1 hours", data={"url": failing}, notify_url=sink.url + "/events"
    )
    await run_now(user_api, sink, "failing", 1)
    await wait_for(lambda: sink.paths("/events"), timeout=10)
    (event,) = sink.paths("/events")
    assert Webhook(secret).verify(event.body, event.headers)["event"] == "failure"


async def test_secrets_are_sealed_at_rest_and_another_key_refuses_to_start(db_file: str) -> None:
    server = await start_server(test_config(db_file))
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(f"http://127.0.0.1:{server.port}", session)
            await api.register_and_login()
            _, secret = await new_secret(api)
    finally:
        await server.stop()
    stored = b"".join(Path(p).read_bytes() for p in glob.glob(db_file + "*"))  # the file and its WAL
    assert secret.encode() not in stored and secret[6:].encode() not in stored
    assert base64.b64decode(secret[6:]) not in stored
    # The same key opens them again: the restarted server signs with the secret.
    server = await start_server(test_config(db_file))
    try:
        assert server.ctx is not None and len(server.ctx.signing.book.keys(1)) == 1
    finally:
        await server.stop()
    other = test_config(db_file)
    other = replace(other, app=replace(other.app, key="a-changed-app-key-" + "x" * 32))
    refused = Server(other)
    try:
        with pytest.raises(WrongSecretsKey, match="security.secrets_key"):
            await refused.start()
    finally:
        await refused.stop()  # what the refused start opened
